"""Thin wrappers over ip(8), nft(8) and /proc that the lab needs.

The lab shells out to the same tools an operator would type, instead of talking netlink itself: the
commands are what a human reads in a failing test's log, and `lab` may not import `vrrpkit.io`.
Every helper here works on a *named* network namespace; none of them changes the root namespace.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Any


class LabError(RuntimeError):
    """Something the lab needed from the system failed; the message names the command and its stderr."""


def tool(name: str) -> str:
    """Absolute path of a system tool, also when /usr/sbin is missing from a sudo/pytest PATH."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise LabError(f"{name} not found; install it (apt-get install -y iproute2 nftables tcpdump)")
    return found


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    check: bool = True,
    timeout: float = 20.0,
) -> subprocess.CompletedProcess[str]:
    """Run a short-lived tool; with `check`, turn a failure into LabError carrying its stderr."""
    try:
        done = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout:g}s: {' '.join(argv)}") from exc
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise LabError(f"command failed ({done.returncode}): {' '.join(argv)}: {detail}")
    return done


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`ip [-n NETNS] ARGS`; `-n` enters the namespace for this one command only."""
    argv = [tool("ip")]
    if netns is not None:
        argv += ["-n", netns]
    return run([*argv, *args], check=check)


def ip_batch(lines: Sequence[str], *, netns: str) -> None:
    """Several `ip` commands in one process (`ip -batch -`): lab start-up is mostly these."""
    run([tool("ip"), "-n", netns, "-batch", "-"], input="\n".join(lines) + "\n")


def ip_json(*args: str, netns: str | None = None) -> Any:
    """`ip -j ...` parsed; an empty output (nothing to list) becomes []."""
    out = ip("-j", *args, netns=netns).stdout.strip()
    return json.loads(out) if out else []


def nft(script: str, *, netns: str) -> None:
    """Apply an nft script atomically (one transaction) inside `netns`."""
    run([tool("ip"), "netns", "exec", netns, tool("nft"), "-f", "-"], input=script)


def nft_json(*args: str, netns: str) -> Any:
    out = run([tool("ip"), "netns", "exec", netns, tool("nft"), "-j", *args]).stdout
    return json.loads(out) if out.strip() else {}


def write_sysctls(netns: str, values: dict[str, str]) -> None:
    """Write /proc/sys/net values as seen from `netns` (they are per namespace), skipping absent keys.

    Uses `sh` rather than sysctl(8) so that nothing beyond the base system is assumed; absent keys
    (e.g. bridge-nf-call-* without br_netfilter) are not an error.
    """
    script = "; ".join(
        f"[ -e /proc/sys/{key.replace('.', '/')} ] && echo {value} > /proc/sys/{key.replace('.', '/')}"
        for key, value in values.items()
    )
    run([tool("ip"), "netns", "exec", netns, "sh", "-c", script + "; true"])


def netns_list() -> list[str]:
    """Names of all named network namespaces (the files in /run/netns)."""
    return sorted(entry["name"] for entry in ip_json("netns", "list"))


def netns_pids(netns: str) -> list[int]:
    """Pids of every process whose network namespace is `netns` (zombies have none and are skipped)."""
    done = ip("netns", "pids", netns, check=False)
    return [int(word) for word in done.stdout.split() if word.isdigit()]


def netns_delete(netns: str) -> None:
    ip("netns", "del", netns, check=False)


def proc_starttime(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot, or None when it is gone or a zombie.

    Recorded next to each pid in the lab's state so that a recycled pid is never signalled.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def pid_alive(pid: int, starttime: int | None) -> bool:
    """True when `pid` still runs and is the same process (same start time) as the one recorded."""
    now = proc_starttime(pid)
    return now is not None and (starttime is None or now == starttime)


def send_signal(pid: int, sig: int, *, group: bool = False) -> bool:
    """Signal a process (or its process group); False when nothing was there to receive it."""
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_netns_processes(namespaces: Sequence[str], *, grace: float) -> None:
    """Terminate everything running inside `namespaces`: SIGTERM (+SIGCONT for stopped ones), then SIGKILL.

    This is what makes cleanup work after a crash: whatever the state file forgot, the kernel still
    knows which processes live in the lab's namespaces.
    """
    deadline = time.monotonic() + grace
    sent_term: set[int] = set()
    while True:
        pids = {pid for ns in namespaces for pid in netns_pids(ns)}
        if not pids:
            return
        late = time.monotonic() >= deadline
        for pid in pids:
            if late:
                send_signal(pid, signal.SIGKILL)
            elif pid not in sent_term:
                send_signal(pid, signal.SIGTERM)
                send_signal(pid, signal.SIGCONT)
                sent_term.add(pid)
        if late and time.monotonic() >= deadline + 5.0:
            raise LabError(f"processes survive SIGKILL in {', '.join(namespaces)}: {sorted(pids)}")
        time.sleep(0.05)


def matching(pattern: str, names: Sequence[str]) -> list[str]:
    rx = re.compile(pattern)
    return [name for name in names if rx.fullmatch(name)]
