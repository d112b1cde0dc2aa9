"""Where the vrrpkit daemon spends its CPU: py-spy on the running daemon, summarised by function.

Used by `bench/run.py --profile DIR` in a window *after* the measured one (sampling costs the
daemon a little CPU, so it never overlaps the numbers of the report). Needs py-spy
(`.venv/bin/pip install py-spy`); without it the profile is skipped with a note.

`summarise()` reads py-spy's raw (collapsed) output, one line per distinct stack with its sample
count, and returns per function the share of the busy samples in which it is the leaf ("self") and
in which it is anywhere on the stack ("total"). Idle samples are not in py-spy's output unless
`--idle`, but py-spy often counts the event loop's epoll_wait as active; samples whose leaf is the
selector's select() are dropped too, so shares are of the time the daemon ran Python code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_ENTRY = ("vrrpkit/cli/", "vrrpkit/__main__")
_WAIT = ("selectors.py:EpollSelector.select", "selectors.py:PollSelector.select", "selectors.py:SelectSelector.select")
_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, rate: int = 1000) -> Path | None:
    """py-spy record of `pid` for `seconds` into `out` (collapsed stacks); None without py-spy."""
    tool = py_spy()
    if tool is None:
        return None
    argv = [tool, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", str(rate)]
    argv += ["--format", "raw", "--output", str(out), "--nonblocking"]
    subprocess.run(argv, check=True, capture_output=True, timeout=seconds + 60)
    return out


def _name(frame: str) -> str:
    """'handle_timer (vrrpkit/core/router.py:150)' -> 'vrrpkit/core/router.py:handle_timer'."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{match.group('func')}"


def summarise(raws: list[Path], top: int = 15) -> dict[str, Any]:
    """Shares per function over all the given py-spy raw files (e.g. one per round)."""
    self_count: Counter[str] = Counter()
    total_count: Counter[str] = Counter()
    samples = 0
    lines = [line for raw in raws for line in raw.read_text(errors="replace").splitlines()]
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_name(f) for f in stack.split(";") if f.strip() and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread (")]
        if not frames or frames[-1].endswith(_WAIT):
            continue  # the loop waiting in epoll_wait: py-spy does not always see that as idle
        samples += n
        self_count[frames[-1]] += n
        for name in set(frames):
            total_count[name] += n

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"function": k, "pct": round(100 * v / samples, 1)} for k, v in counter.most_common(top)]

    # Inclusive time: only vrrpkit's own functions below the entry points (main, asyncio.run, the
    # event loop are on every stack and say nothing).
    ours = Counter({k: v for k, v in total_count.items() if k.startswith("vrrpkit/") and not k.startswith(_ENTRY)})
    return {"busy_samples": samples, "self": share(self_count), "total": share(ours)}


def render_profile(summary: dict[str, Any], title: str) -> str:
    lines = [f"{title}: {summary['busy_samples']} busy samples"]
    for kind in ("self", "total"):
        lines.append(f"  by {kind} time" + (" (vrrpkit functions, callees included):" if kind == "total" else ":"))
        for row in summary[kind]:
            lines.append(f"    {row['pct']:5.1f}%  {row['function']}")
    return "\n".join(lines)
