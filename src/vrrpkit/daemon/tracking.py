"""vrrp_script and track_file state, as keepalived computes it (rise/fall, strtol of the file)."""

from __future__ import annotations

import re
from typing import Any

from vrrpkit.io.scripts import RiseFall, ScriptRefused, run_command

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
