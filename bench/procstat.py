"""CPU time and memory of a daemon and all its descendants, read from /proc (Linux only).

keepalived forks a VRRP child (and vrrpkit might run scripts), so a daemon is a *tree* of processes:
we walk /proc/*/stat by parent pid from the daemon's pid at every sample.

CPU has two sources:
- `schedstat`: nanoseconds on a CPU, summed over every thread of every process of the tree. Exact,
  but a process that exits between two samples takes its time with it.
- `stat` ticks (utime+stime+cutime+cstime, 1/CLK_TCK s): coarse (10 ms), but a reaped child's
  time moves into its parent's cutime/cstime, so nothing is lost when children come and go.
`cpu_between()` uses schedstat when the tree had the same processes at both samples, else ticks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the comm, so index 0 is field 3 (state) of proc(5)."""
    text = _read(PROC / str(pid) / "stat")
    if text is None:
        return None
    return text[text.rfind(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """`root` and every live descendant (by ppid), root first; [] once root is gone."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    if _stat_fields(root) is None:
        return []
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


@dataclass(frozen=True)
class CpuSample:
    pids: frozenset[int]
    ticks: int  # utime+stime+cutime+cstime summed over the tree
    sched_ns: int  # schedstat run time summed over every thread of the tree
    switches: int  # voluntary context switches of every thread: how often the daemon went to sleep


def cpu_sample(root: int) -> CpuSample:
    pids = process_tree(root)
    ticks = 0
    sched_ns = 0
    switches = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is None:
            continue
        ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))  # proc(5) fields 14-17
        task_dir = PROC / str(pid) / "task"
        try:
            tids = os.listdir(task_dir)
        except FileNotFoundError:
            continue
        for tid in tids:
            text = _read(task_dir / tid / "schedstat")
            if text:
                sched_ns += int(text.split()[0])
            for line in (_read(task_dir / tid / "status") or "").splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    switches += int(line.split()[1])
    return CpuSample(frozenset(pids), ticks, sched_ns, switches)


def cpu_between(a: CpuSample, b: CpuSample) -> tuple[float, str]:
    """CPU seconds used by the tree between two samples, and which counter gave it."""
    if a.pids == b.pids and a.sched_ns and b.sched_ns >= a.sched_ns:
        return (b.sched_ns - a.sched_ns) / 1e9, "schedstat"
    return (b.ticks - a.ticks) / CLK_TCK, "stat-ticks"


@dataclass
class MemSample:
    rss_kb: int = 0  # VmRSS summed: shared pages of a forked child count twice (what `ps` adds up)
    pss_kb: int = 0  # proportional set size summed: shared pages split between sharers
    per_process: dict[int, int] = field(default_factory=dict)


def mem_sample(root: int) -> MemSample:
    sample = MemSample()
    for pid in process_tree(root):
        status = _read(PROC / str(pid) / "status") or ""
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                kb = int(line.split()[1])
                sample.rss_kb += kb
                sample.per_process[pid] = kb
        rollup = _read(PROC / str(pid) / "smaps_rollup") or ""
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                sample.pss_kb += int(line.split()[1])
    return sample
