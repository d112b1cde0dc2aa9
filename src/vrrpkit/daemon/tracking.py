"""vrrp_script and track_file state, as keepalived computes it (rise/fall, strtol of the file).

`Trackers` runs them for the daemon: one task per tracked script (each at its own interval) and one
poll of the track files, reporting every change through a callback so that the daemon feeds the
routers and nothing here knows about routers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from vrrpkit.config.model import ParseResult
from vrrpkit.control.snapshot import ScriptStatus
from vrrpkit.core.config import InstanceConfig, TrackKind
from vrrpkit.daemon.logsetup import fields
from vrrpkit.io.scripts import RiseFall, ScriptRefused, run_command

log = logging.getLogger("vrrpkit")
FILE_POLL = 0.5  # seconds between reads of the track files (keepalived uses inotify)
TrackValue = bool | int | None

_STRTOL = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


class ScriptTracker:
    """One vrrp_script: runs it every interval and turns exit codes into OK/failed with
    keepalived's rise/fall counter (``io.scripts.RiseFall``)."""

    def __init__(self, name: str, script: Any, *, security: bool, default_user: Any) -> None:
        self.name = name
        self.script = script
        self.security = security
        self.user = (script.user, script.group) if script.user else default_user
        self.counter = RiseFall(max(1, script.rise), max(1, script.fall), bool(script.init_fail))
        self.last_rc: int | None = None
        self.error: str | None = None

    @property
    def ok(self) -> bool | None:
        return self.counter.state

    async def run_once(self) -> bool:
        """Run the script once; True when its OK/failed state changed."""
        timeout_cs = self.script.timeout_cs or self.script.interval_cs
        try:
            rc = await run_command(
                self.script.script, timeout=max(timeout_cs, 1) / 100, user=self.user, security=self.security
            )
            self.error = None
        except ScriptRefused as exc:
            rc, self.error = None, str(exc)
        self.last_rc = rc
        return self.counter.update(rc == 0) is not None


def log_script(tracker: ScriptTracker, before: int | None, changed: bool) -> None:
    """keepalived's lines: "Script `chk` now returning 1" when the exit code changes, then
    "VRRP_Script(chk) failed (exited with status 1)" or "VRRP_Script(chk) succeeded" when the
    rise/fall counter flips. A failure is a warning (``journalctl -p warning`` finds it)."""
    extra = fields(script=tracker.name)
    if tracker.last_rc is not None and tracker.last_rc != before:
        log.info("Script `%s` now returning %d", tracker.name, tracker.last_rc, extra=extra)
    if not changed:
        return
    if tracker.ok:
        log.info("VRRP_Script(%s) succeeded", tracker.name, extra=fields(script=tracker.name, status="GOOD"))
        return
    why = tracker.error or (f"exited with status {tracker.last_rc}" if tracker.last_rc is not None else "no result")
    log.warning("VRRP_Script(%s) failed (%s)", tracker.name, why, extra=fields(script=tracker.name, status="BAD"))


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


def read_track_file(path: str, init_value: int | None = None) -> int:
    """The tracked file's integer clamped to -254..254; a missing or unreadable file counts as 0
    (or is created with init_file's value, as keepalived does)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            value = parse_strtol(fh.read(127))
    except FileNotFoundError:
        if init_value is not None:
            try:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(f"{init_value}\n")
            except OSError:
                return 0
            return max(-254, min(254, init_value))
        return 0
    except OSError:
        return 0
    return max(-254, min(254, value))


class Trackers:
    """The tracked scripts and files of one configuration, kept across reloads where unchanged."""

    def __init__(self, on_change: Callable[[str, TrackValue], None]) -> None:
        self.on_change = on_change
        self.result = ParseResult()
        self.scripts: dict[str, ScriptTracker] = {}
        self.files: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def configure(self, result: ParseResult, instances: Iterable[InstanceConfig]) -> None:
        """(Re)start the script loops for what `instances` track. An unchanged script keeps its
        rise/fall counter, so a reload does not make a healthy script start over as unknown."""
        self.cancel()
        self.result = result
        wanted = {t.name for cfg in instances for t in cfg.tracks if t.kind is TrackKind.SCRIPT}
        g = result.globals
        default_user = (g.script_user, g.script_group) if g.script_user else None
        old, self.scripts = self.scripts, {}
        for name in sorted(wanted):
            script = result.scripts.get(name)
            if script is None:
                continue
            tracker = ScriptTracker(name, script, security=g.enable_script_security, default_user=default_user)
            previous = old.get(name)
            if previous is not None and previous.script == script:
                tracker.counter = previous.counter
            self.scripts[name] = tracker
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._script_loop(t)) for t in self.scripts.values()]
        self._tasks.append(loop.create_task(self._files_loop()))

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
        value = read_track_file(tf.path, tf.init_file)
        self.files[name] = value
        return value

    def statuses(self) -> dict[str, ScriptStatus]:
        return {n: ScriptStatus(t.ok, t.last_rc, t.error) for n, t in self.scripts.items()}

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    async def _script_loop(self, tracker: ScriptTracker) -> None:
        interval = max(tracker.script.interval_cs, 1) / 100
        while True:
            before = tracker.last_rc
            changed = await tracker.run_once()
            log_script(tracker, before, changed)
            if changed:
                self.on_change(tracker.name, tracker.ok)
            await asyncio.sleep(interval)

    async def _files_loop(self) -> None:
        while True:
            await asyncio.sleep(FILE_POLL)
            for name in list(self.result.track_files):
                old = self.files.get(name)
                value = self.read_file(name)
                if value != old:
                    self.on_change(name, value)
