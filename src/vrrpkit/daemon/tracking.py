"""vrrp_script and track_file state, as keepalived computes it (rise/fall, strtol of the file).

`Trackers` runs them for the daemon: one task per tracked script (each at its own interval), the
track files read when inotify says their directory changed (as keepalived: at once) and polled too
(for what inotify cannot see), every change reported through a callback so that the daemon feeds
the routers and nothing here knows about routers.

Track files are read as root but belong to whoever can write their directory (usually the
application they describe), so reading one must never block the loop: it is opened with
O_RDONLY|O_NONBLOCK as keepalived opens it, must be a regular file (a FIFO or device reads as 0,
said once in the log), and at most 128 bytes are read. `init_file` is written once, at start-up,
without following a symlink: a new file (0600, as keepalived's umask leaves it) is created with
O_EXCL|O_NOFOLLOW beside it and renamed over the name, so a dangling symlink is replaced rather
than followed (keepalived 2.2.7 does the same, measured).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping

from vrrpkit.config.model import ParseResult, ScriptConfig, TrackFileConfig
from vrrpkit.control.snapshot import ScriptStatus
from vrrpkit.core.config import InstanceConfig, TrackKind
from vrrpkit.core.tracks import file_fault
from vrrpkit.daemon.logsetup import fields
from vrrpkit.io.inotify import DirWatch
from vrrpkit.io.script_runner import RiseFall, run_script
from vrrpkit.io.scripts import Script

log = logging.getLogger("vrrpkit")
FILE_POLL = 0.5  # seconds between reads of the track files (besides inotify, which keepalived uses alone)
READ_BOUND = 128  # bytes of a track file that are read (keepalived reads a small buffer)
TrackValue = bool | int | None

_STRTOL = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


class ScriptTracker:
    """One vrrp_script: runs its resolved command every interval and turns exit codes into
    OK/failed with keepalived's rise/fall counter (``io.script_runner.RiseFall``)."""

    def __init__(self, name: str, config: ScriptConfig, script: Script) -> None:
        self.name = name
        self.config = config
        self.script = script
        self.counter = RiseFall(max(1, config.rise), max(1, config.fall), bool(config.init_fail))
        self.last_rc: int | None = None
        self.error: str | None = None
        self.timed_out = False  # the last run was killed at its timeout

    @property
    def ok(self) -> bool | None:
        return self.counter.state

    async def run_once(self) -> bool:
        """Run the script once; True when its OK/failed state changed."""
        timeout_cs = self.config.timeout_cs or self.config.interval_cs
        result = await run_script(self.script, timeout=max(timeout_cs, 1) / 100)
        self.last_rc, self.error, self.timed_out = result.returncode, result.error, result.timed_out
        return self.counter.update(result.ok) is not None


def log_script(tracker: ScriptTracker, before: int | None, changed: bool) -> None:
    """keepalived's lines: "Script `chk` now returning 1" when the exit code changes, then
    "VRRP_Script(chk) failed (exited with status 1)" or "VRRP_Script(chk) succeeded" when the
    rise/fall counter flips. A failure is a warning (``journalctl -p warning`` finds it)."""
    extra = fields(script=tracker.name)  # keepalived counts 0 before the first run (a first 0 is not said)
    if tracker.last_rc is not None and tracker.last_rc != (before or 0):
        log.info("Script `%s` now returning %d", tracker.name, tracker.last_rc, extra=extra)
    if not changed:
        return
    if tracker.ok:
        log.info("VRRP_Script(%s) succeeded", tracker.name, extra=fields(script=tracker.name, status="GOOD"))
        return
    if tracker.timed_out:  # keepalived 2.2.7's words for a run killed at its timeout (measured)
        log.warning("VRRP_Script(%s) timed_out", tracker.name, extra=fields(script=tracker.name, status="BAD"))
        return
    why = tracker.error or (f"exited with status {tracker.last_rc}" if tracker.last_rc is not None else "no result")
    log.warning("VRRP_Script(%s) failed (%s)", tracker.name, why, extra=fields(script=tracker.name, status="BAD"))


def file_fault_lines(cfg: InstanceConfig, old: Mapping[str, TrackValue], name: str, value: int) -> list[str]:
    """keepalived's lines when a track_file crosses its fault level for an instance (weight 0 and
    non-zero, or a weighted value at -254): '(VI_1): tracked file tf now FAULT state', and
    'leaving FAULT state' when it comes back (measured, keepalived 2.2.7)."""
    out = []
    for track in cfg.tracks:
        if track.kind is TrackKind.FILE and track.name == name:
            now = file_fault(track, value)
            if file_fault(track, old.get(name)) != now:
                out.append(f"({cfg.name}): tracked file {name} {'now' if now else 'leaving'} FAULT state")
    return out


def parse_strtol(text: str) -> int:
    """C strtol(text, NULL, 0): leading blanks, sign, 0x hex, leading-0 octal; junk gives 0."""
    match = _STRTOL.match(text)
    if not match:
        return 0
    sign, digits = match.groups()
    if digits.lower().startswith("0x"):
        value = int(digits, 16)
    elif digits.startswith("0") and len(digits) > 1:
        value = int(digits, 8)
    else:
        value = int(digits)
    return -value if sign == "-" else value


class NotRegular(OSError):
    """The track file is a FIFO, socket, device or directory: never read."""


def read_track_file(path: str) -> int:
    """The tracked file's integer clamped to -254..254; missing or unreadable counts as 0. Raises
    NotRegular for anything but a regular file (the caller says so once)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError:
        return 0
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegular(errno.EINVAL, "not a regular file", path)
        data = os.read(fd, READ_BOUND)
    except NotRegular:
        raise
    except OSError:
        return 0
    finally:
        os.close(fd)
    return max(-254, min(254, parse_strtol(data.decode("ascii", errors="replace"))))


def init_track_file(tf: TrackFileConfig) -> str | None:
    """keepalived's init_file, once at start-up: write the value when the file does not exist (a
    dangling symlink counts as missing) or with `overwrite`; never through a symlink. Returns what
    went wrong, for the log."""
    if tf.init_file is None:
        return None
    try:
        os.stat(tf.path)
        if not tf.init_overwrite:
            return None
    except FileNotFoundError:
        pass
    except OSError as exc:
        return f"cannot check {tf.path}: {exc.strerror}"
    directory = os.path.dirname(tf.path) or "."
    # os.urandom as secrets.token_hex does, without importing secrets (hashlib: ~3 MB of libcrypto)
    tmp = os.path.join(directory, f".{os.path.basename(tf.path)}.{os.urandom(6).hex()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        return f"cannot create {tf.path}: {exc.strerror}"
    try:
        try:
            os.write(fd, f"{tf.init_file}\n".encode())
        finally:
            os.close(fd)
        os.rename(tmp, tf.path)  # replaces a symlink itself, never its target
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return f"cannot write {tf.path}: {exc.strerror}"
    return None


def next_start(last: float, now: float, interval: float) -> float:
    """When a script started at `last` next starts, now that its run ended at `now`: one interval
    later, or the first start of that cadence still ahead (keepalived skips a start while the
    script runs: 'Track script ... is already running')."""
    due = last + interval
    if due < now:
        due += ((now - due) // interval + 1) * interval
    return due


class Trackers:
    """The tracked scripts and files of one configuration, kept across reloads where unchanged."""

    def __init__(self, on_change: Callable[[str, TrackValue], None]) -> None:
        self.on_change = on_change
        self.result = ParseResult()
        self.scripts: dict[str, ScriptTracker] = {}
        self.files: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._not_regular: set[str] = set()  # paths already reported as not a regular file
        self._watch: DirWatch | None = None
        self._watch_loop: asyncio.AbstractEventLoop | None = None

    def init_files(self, result: ParseResult) -> None:
        """init_file, once at start-up (a reload never rewrites a track file)."""
        for name, tf in result.track_files.items():
            problem = init_track_file(tf)
            if problem is not None:
                log.warning("track_file %s: init_file not written: %s", name, problem)

    def configure(
        self, result: ParseResult, instances: Iterable[InstanceConfig], scripts: Mapping[str, Script] | None = None
    ) -> None:
        """(Re)start the script loops for what `instances` track, with the commands as `scripts`
        resolved them (a script without a runnable command is not run). An unchanged script keeps
        its rise/fall counter, so a reload does not make a healthy script start over as unknown."""
        self.cancel()
        self.result = result
        wanted = {t.name for cfg in instances for t in cfg.tracks if t.kind is TrackKind.SCRIPT}
        old, self.scripts = self.scripts, {}
        for name in sorted(wanted):
            config = result.scripts.get(name)
            resolved = (scripts or {}).get(name)
            if config is None or resolved is None or not resolved.runnable:
                continue
            tracker = ScriptTracker(name, config, resolved)
            previous = old.get(name)
            if previous is not None and (previous.config, previous.script) == (config, resolved):
                # its last exit code too: 'now returning' says a change, and a reload changes nothing
                tracker.counter, tracker.last_rc = previous.counter, previous.last_rc
                tracker.error, tracker.timed_out = previous.error, previous.timed_out
                if tracker.ok is not None:  # keepalived 2.2.7's line for a script kept by a reload (measured)
                    log.info("VRRP_Script(%s) considered %ssuccessful on reload", name, "" if tracker.ok else "un",
                             extra=fields(script=name))  # fmt: skip
            self.scripts[name] = tracker
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._script_loop(t)) for t in self.scripts.values()]
        if result.track_files:  # no poll without a file to read: two wake-ups a second saved
            self._tasks.append(loop.create_task(self._files_loop()))
            self._watch_files(loop)

    def _watch_files(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read a track file again as soon as its directory says it was written, renamed or
        removed. Without inotify (or a watch: a missing directory, no watches left) the poll
        alone sees the change, up to FILE_POLL later."""
        try:
            watch = DirWatch()
        except OSError as exc:
            log.info("track files are polled only: inotify unavailable (%s)", exc.strerror)
            return
        for directory in sorted({os.path.dirname(os.path.abspath(tf.path)) for tf in self.result.track_files.values()}):
            try:
                watch.watch(directory)
            except OSError as exc:
                log.info("track files in %s are polled only: %s", directory, exc.strerror)
        self._watch = watch
        self._watch_loop = loop
        loop.add_reader(watch.fd, self._files_changed)

    def _files_changed(self) -> None:
        watch = self._watch
        if watch is None:
            return
        try:
            paths = watch.changed()
        except OSError as exc:  # never the loop: the poll goes on
            log.warning("inotify read failed (%s): track files are polled only", exc.strerror)
            self._unwatch()
            return
        files = self.result.track_files.items()
        self._read_files(n for n, tf in files if paths is None or os.path.abspath(tf.path) in paths)

    def _read_files(self, names: Iterable[str]) -> None:
        for name in list(names):
            old = self.files.get(name)
            value = self.read_file(name)
            if value != old:
                self.on_change(name, value)

    def _unwatch(self) -> None:
        if self._watch is not None:
            if self._watch_loop is not None and not self._watch_loop.is_closed():
                self._watch_loop.remove_reader(self._watch.fd)
            self._watch.close()
            self._watch = None

    def initial(self, kind: TrackKind, name: str) -> TrackValue:
        """The value a new router starts from (None: unknown until the first run)."""
        if kind is TrackKind.FILE:
            return self.read_file(name)
        if kind is TrackKind.SCRIPT:
            tracker = self.scripts.get(name)
            if tracker is not None and tracker.ok is not None:
                return tracker.ok
            script = self.result.scripts.get(name)
            if script is not None and script.init_fail:
                return False
        return None

    def read_file(self, name: str) -> int:
        tf = self.result.track_files.get(name)
        if tf is None:
            return 0
        try:
            value = read_track_file(tf.path)
            self._not_regular.discard(tf.path)
        except NotRegular:
            if tf.path not in self._not_regular:
                self._not_regular.add(tf.path)
                log.warning("track_file %s: %s is not a regular file; it counts as 0 until it is one", name, tf.path)
            value = 0
        self.files[name] = value
        return value

    def statuses(self) -> dict[str, ScriptStatus]:
        return {n: ScriptStatus(t.ok, t.last_rc, t.error) for n, t in self.scripts.items()}

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self._unwatch()

    async def _script_loop(self, tracker: ScriptTracker) -> None:
        """One run per interval, started on a fixed cadence as keepalived starts them (measured:
        1.000 s apart for a 50 ms script at interval 1, where waiting the interval after each run
        drifted to 1.057 s); a run longer than the interval skips the starts it overlaps."""
        interval = max(tracker.config.interval_cs, 1) / 100
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            before = tracker.last_rc
            changed = await tracker.run_once()
            log_script(tracker, before, changed)
            if changed:
                self.on_change(tracker.name, tracker.ok)
            now = loop.time()
            due = next_start(due, now, interval)
            await asyncio.sleep(due - now)

    async def _files_loop(self) -> None:
        while True:
            await asyncio.sleep(FILE_POLL)
            self._read_files(self.result.track_files)
