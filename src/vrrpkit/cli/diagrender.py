"""Rendering shared by `decode`, `watch`, `probe` and `investigate`: progress, findings, errors.

The diag package returns data and the cli turns it into terminal text: each command renders its own
report (its ``render``), and what more than one of them draws lives here.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal (design: quiet when piped)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._drawn = False

    def __call__(self, message: str, fraction: float) -> None:
        if not self.enabled:
            return
        width = 24
        filled = int(max(0.0, min(1.0, fraction)) * width)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {message[:60]:<60}")
        self.stream.flush()
        self._drawn = True

    def done(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r" + " " * 90 + "\r")
            self.stream.flush()
            self._drawn = False


def finding_lines(f: dict[str, Any], evidence: bool = True) -> list[str]:
    sev = f["severity"]
    lines = [f"{sev:<7} {f['code']}: {f['message']}"]
    if evidence and sev != "info" and f.get("evidence"):
        lines.append("        evidence: " + json.dumps(f["evidence"], sort_keys=True, default=str)[:600])
    for i, fix_line in enumerate(str(f.get("fix") or "").splitlines()):
        lines.append(("        fix: " if i == 0 else "             ") + fix_line)
    return lines


def safe(text: object) -> str:
    """A field for the terminal: anything that is not printable (escape sequences, newlines, other
    control characters) is shown escaped, so what arrives from the network cannot drive the
    terminal of whoever runs the command."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))


def fail(command: str, message: str) -> int:
    """One clear line on stderr, exit 2 (usage or environment)."""
    print(f"vrrpkit {command}: {message}", file=sys.stderr)
    return 2
