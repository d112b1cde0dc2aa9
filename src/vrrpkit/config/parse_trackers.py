"""vrrp_script, track_file and vrrp_track_process: the named trackers instances and sync groups refer to.

None needs keepalived's completion step, so each block becomes its final `ScriptConfig`,
`TrackFileConfig` or `ProcessTrackConfig` as soon as it is read; a block without its one required
keyword (`script`, `file`, `process`) is dropped, as keepalived drops it. Adding a keyword is an
entry in `SCRIPT_KEYWORDS`, `TRACK_FILE_KEYWORDS` or `PROCESS_KEYWORDS`, its name in
`keywords.IMPLEMENTED` and its field in the model class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vrrpkit.config.diagnostics import Location
from vrrpkit.config.lexer import Stmt
from vrrpkit.config.model import ProcessTrackConfig, ScriptConfig, TrackFileConfig
from vrrpkit.config.parser import Parser, bind
from vrrpkit.config.written import Written


@dataclass
class TrackerBlock:
    """One vrrp_script or track_file block being read: model field name -> value as written."""

    p: Parser
    values: dict[str, object] = field(default_factory=dict)
    script_loc: Location | None = None  # the last `script` line
    seen: dict[str, Location] = field(default_factory=dict)  # first lines of first-wins keywords


TrackerHandler = Callable[[TrackerBlock, Stmt], None]


def _setting(key: str, read: Callable[[Parser, Stmt], object | None]) -> TrackerHandler:
    """A keyword that sets one field; an invalid value leaves the field as it was."""

    def handle(b: TrackerBlock, s: Stmt) -> None:
        value = read(b.p, s)
        if value is not None:
            b.values[key] = value

    return handle


# --- vrrp_script --------------------------------------------------------------------------------


def _script(b: TrackerBlock, s: Stmt) -> None:
    if len(s.words) < 2:
        b.p.err(s.loc, "syntax", "`script` without a command: keepalived ignores the line", "warning")
        return
    b.values["script"] = " ".join(w.text for w in s.words[1:])
    b.script_loc = s.loc


def _script_weight(b: TrackerBlock, s: Stmt) -> None:
    """`weight N [reverse|noreverse]`."""
    w = b.p.int_arg(s, -253, 253)
    if w is not None:
        b.values["weight"] = w
    if len(s.words) > 2:
        if s.words[2].text in ("reverse", "noreverse"):
            b.values["reverse"] = s.words[2].text == "reverse"
        else:
            b.p.err(s.word_loc(2), "invalid-value", f"weight: unknown option {s.words[2].text!r}")


def _timeout(b: TrackerBlock, s: Stmt) -> None:
    """keepalived: 'vrrp script timeout must be greater than 0, setting to 1'."""
    cs = b.p.timer_cs(s, 0, 4294)
    if cs == 0:
        b.p.err(s.word_loc(1), "out-of-range", "vrrp_script timeout 0: keepalived uses 1 second")
        cs = 100
    if cs is not None:
        b.values["timeout_cs"] = cs


def _user(b: TrackerBlock, s: Stmt) -> None:
    """`user USER [GROUP]`: a later line without GROUP clears an earlier one's."""
    u = b.p.arg(s)
    if u is not None:
        b.values["user"] = u
        b.values["group"] = s.words[2].text if len(s.words) > 2 else None


def _init_fail(b: TrackerBlock, s: Stmt) -> None:
    b.values["init_fail"] = True


def _count(key: str) -> TrackerHandler:
    return _setting(key, lambda p, s: p.int_arg(s, 1, 2**31 - 1))


SCRIPT_KEYWORDS: dict[str, TrackerHandler] = {
    "script": _script,
    "interval": _setting("interval_cs", lambda p, s: p.timer_cs(s, 0.01, 4294)),
    "timeout": _timeout,
    "weight": _script_weight,
    "rise": _count("rise"),
    "fall": _count("fall"),
    "user": _user,
    "init_fail": _init_fail,
}


def parse_vrrp_script(p: Parser, written: Written, st: Stmt) -> None:
    name = p.named(st)
    b = TrackerBlock(p)
    end = p.block("vrrp_script", bind(SCRIPT_KEYWORDS, b), 1, st)
    if b.script_loc is None:
        # keepalived names the closing brace ('No script set for vrrp_script NAME - removing').
        where = st.loc if end is None else Location(st.file, end, 1)
        p.err(where, "syntax", f"vrrp_script {name} (line {st.line}) has no `script`; keepalived drops it")
        return
    written.scripts[name] = ScriptConfig(**b.values)  # type: ignore[arg-type]
    written.script_locs[name] = st.loc
    written.note_script(b.script_loc)


# --- track_file ---------------------------------------------------------------------------------


def _init_file(b: TrackerBlock, s: Stmt) -> None:
    """`init_file [VALUE] [overwrite]`: the value written at start-up (0 when absent or invalid)."""
    value = 0
    if len(s.words) > 1 and s.words[1].text != "overwrite":
        n = b.p.int_arg(s, -254, 254)
        value = n if n is not None else 0
    b.values["init_file"] = value
    b.values["init_overwrite"] = any(w.text == "overwrite" for w in s.words[1:])
    for i in range(2 if value or (len(s.words) > 1 and s.words[1].text != "overwrite") else 1, len(s.words)):
        if s.words[i].text != "overwrite":
            b.p.err(s.word_loc(i), "invalid-value", f"init_file: unknown option {s.words[i].text!r}")


def _file(b: TrackerBlock, s: Stmt) -> None:
    """keepalived keeps the first `file` ('File already set for track file - ignoring')."""
    path = b.p.arg(s, missing="keepalived ignores the line ('track file file name missing')")
    if path is not None and b.p.first_wins(b.seen, s, "the track_file's `file`"):
        b.values["path"] = path


def _file_weight(b: TrackerBlock, s: Stmt) -> None:
    """`weight N [reverse]`; keepalived complains about any other word after the number."""
    if b.p.arg(s, missing="keepalived ignores the line ('No weight specified for track file')") is None:
        return
    w = b.p.int_arg(s, -254, 254)
    if w is not None:
        b.values["weight"] = w
    for i in range(2, len(s.words)):
        if s.words[i].text != "reverse":
            b.p.err(s.word_loc(i), "invalid-value", f"track_file weight: unknown option {s.words[i].text!r}")


TRACK_FILE_KEYWORDS: dict[str, TrackerHandler] = {
    "file": _file,
    "weight": _file_weight,
    "init_file": _init_file,
}


def parse_track_file(p: Parser, written: Written, st: Stmt) -> None:
    name = p.named(st)
    b = TrackerBlock(p)
    p.block("track_file", bind(TRACK_FILE_KEYWORDS, b), 1, st)
    if "path" not in b.values:
        p.err(st.loc, "syntax", f"track_file {name} has no `file`; keepalived drops it")
        return
    written.track_files[name] = TrackFileConfig(**b.values)  # type: ignore[arg-type]


# --- vrrp_track_process ---------------------------------------------------------------------------

COMM_LEN = 15  # the kernel keeps 15 characters of a process name (TASK_COMM_LEN - 1)


def _process(b: TrackerBlock, s: Stmt) -> None:
    """`process NAME [PARAM...]`: a quoted word is one element, so names and parameters may hold blanks."""
    if len(s.words) < 2:
        b.p.arg(s)
        return
    b.values["process"] = s.words[1].text
    b.values["params"] = tuple(w.text for w in s.words[2:]) or None
    b.script_loc = s.loc


def _param_match(b: TrackerBlock, s: Stmt) -> None:
    """`param_match [initial|partial]`: bare, it means "exactly these parameters" (none if none are given)."""
    mode = s.words[1].text if len(s.words) > 1 else "exact"
    if mode not in ("exact", "initial", "partial"):
        b.p.err(s.word_loc(1), "invalid-value", f"param_match: {mode!r} is not initial or partial")
        return
    b.values["param_match"] = mode
    b.values["param_match_given"] = True
    b.values["full_command"] = True


def _process_weight(b: TrackerBlock, s: Stmt) -> None:
    w = b.p.int_arg(s, -254, 254)
    if w is not None:
        b.values["weight"] = w
    if len(s.words) > 2:
        if s.words[2].text == "reverse":
            b.values["reverse"] = True
        else:
            b.p.err(s.word_loc(2), "invalid-value", f"weight: unknown option {s.words[2].text!r}")


def _quorum(b: TrackerBlock, s: Stmt) -> None:
    q = b.p.int_arg(s, 1, 65535)
    if q is None:
        return
    if q > int(b.values.get("quorum_max", 2**32 - 1)):  # type: ignore[call-overload]
        b.p.err(s.word_loc(1), "invalid-value", "quorum is greater than quorum_max: keepalived ignores it")
        return
    b.values["quorum"] = q


def _quorum_max(b: TrackerBlock, s: Stmt) -> None:
    """`quorum_max 0` means "up while no such process runs" (keepalived sets quorum to 0 with it)."""
    qm = b.p.int_arg(s, 0, 65535)
    if qm is None:
        return
    quorum = int(b.values.get("quorum", 1))  # type: ignore[call-overload]
    if (qm or quorum > 1) and qm < quorum:
        b.p.err(s.word_loc(1), "invalid-value", "quorum_max is less than quorum: keepalived ignores it")
        return
    b.values["quorum_max"] = qm
    b.values["quorum"] = 0 if qm == 0 else max(quorum, 1)


def _delay(*keys: str) -> TrackerHandler:
    def handle(b: TrackerBlock, s: Stmt) -> None:
        cs = b.p.timer_cs(s, 0.000001, 3600)
        if cs is not None:
            for key in keys:
                b.values[key] = cs

    return handle


def _full_command(b: TrackerBlock, s: Stmt) -> None:
    b.values["full_command"] = True


PROCESS_KEYWORDS: dict[str, TrackerHandler] = {
    "process": _process,
    "param_match": _param_match,
    "weight": _process_weight,
    "quorum": _quorum,
    "quorum_max": _quorum_max,
    "fork_delay": _delay("fork_delay_cs"),
    "terminate_delay": _delay("terminate_delay_cs"),
    "delay": _delay("fork_delay_cs", "terminate_delay_cs"),
    "full_command": _full_command,
}


def parse_vrrp_track_process(p: Parser, written: Written, st: Stmt) -> None:
    name = p.named(st)
    b = TrackerBlock(p)
    p.block("vrrp_track_process", bind(PROCESS_KEYWORDS, b), 1, st)
    if b.script_loc is None:
        p.err(st.loc, "syntax", f"vrrp_track_process {name} has no `process`; keepalived drops it")
        return
    values = dict(b.values)
    given = bool(values.pop("param_match_given", False))
    if given and values.get("params") is None:
        values["params"] = ()  # `param_match` without parameters: the command must have none
    process = str(values["process"])
    if values.get("params"):
        values["full_command"] = True  # keepalived: parameters are matched on the command line
    if not values.get("full_command") and len(process) > COMM_LEN:
        p.err(b.script_loc, "invalid-value",
              f"process {process!r} is longer than the {COMM_LEN} characters the kernel keeps of a process name, "
              f"so it can never match; add full_command to match the command line instead")
    written.track_processes[name] = ProcessTrackConfig(**values)  # type: ignore[arg-type]
