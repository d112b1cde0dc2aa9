"""What vrrp_track_process costs where the kernel sends no process events: one /proc scan, in microseconds.

Inside a network namespace (a container) the proc connector refuses to talk, so vrrpkit scans
/proc every 0.5 s (`vrrpkit.daemon.proctrack.SCAN_INTERVAL`) with a cache (`vrrpkit.io.proc`):
each scan lists /proc and reads `stat` only for new pids, the pids that matched last time and a
fixed round-robin slice (256) of the rest. Measured here:

- a synthetic /proc of N processes (default 10,000) in a temporary directory: the first (cold) scan,
  a steady scan (nothing changed), a scan after 10 processes appeared, plus counting the matches;
- this machine's real /proc, cold and steady;
- the baseline people use instead: a vrrp_script running `pgrep -x NAME` (fork, exec and a full
  /proc walk every time), as a ratio.

keepalived has no number to compare: its track_process is event-driven and, in a namespace, does not
work at all. Run: `.venv/bin/python bench/procscan.py [--processes N] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vrrpkit.config.model import ProcessTrackConfig
from vrrpkit.daemon.proctrack import MAX_FULL_INTERVAL, SCAN_BUDGET, SCAN_INTERVAL, matches
from vrrpkit.io.proc import ProcTable


def fake_proc(root: Path, n: int, first_pid: int = 1000) -> None:
    for pid in range(first_pid, first_pid + n):
        d = root / str(pid)
        d.mkdir()
        (d / "stat").write_text(f"{pid} (worker{pid % 50}) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 "
                                f"{pid * 7} 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median microseconds of `fn` over `repeat` runs."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


def count(table: ProcTable, cfg: ProcessTrackConfig) -> int:
    return sum(1 for p in table.procs.values() if p.comm == cfg.process and matches(cfg, p))


def synthetic(n: int, repeat: int) -> dict[str, Any]:
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        root = Path(tmp)
        fake_proc(root, n)
        cfg = ProcessTrackConfig("worker7")
        cold_table = ProcTable(str(root))
        t0 = time.perf_counter()
        cold_table.scan()
        cold = (time.perf_counter() - t0) * 1e6
        table = ProcTable(str(root))
        table.scan()
        reads0 = table.reads
        steady = timed(lambda: table.scan(), repeat)
        steady_reads = (table.reads - reads0) / repeat
        fake_proc(root, 10, first_pid=10**6)
        t0 = time.perf_counter()
        table.scan()
        after_new = (time.perf_counter() - t0) * 1e6
        counting = timed(lambda: count(table, cfg), repeat)
        hot = [p.pid for p in table.procs.values() if matches(cfg, p)]
        check = timed(lambda: table.check(hot), repeat)
        full_interval = min(MAX_FULL_INTERVAL, max(SCAN_INTERVAL, steady / 1e6 / SCAN_BUDGET))
        cpu = steady / 1e6 / full_interval + (check + counting) / 1e6 / SCAN_INTERVAL
        return {"processes": n, "cold_scan_us": round(cold), "steady_scan_us": round(steady),
                "steady_reads_per_scan": round(steady_reads, 1), "scan_after_10_new_us": round(after_new),
                "count_matches_us": round(counting), "matching": len(hot), "check_matching_us": round(check),
                "full_scan_interval_s": round(full_interval, 2), "cpu_percent_of_one_core": round(100 * cpu, 2)}


def real(repeat: int) -> dict[str, Any]:
    table = ProcTable("/proc")
    t0 = time.perf_counter()
    table.scan()
    cold = (time.perf_counter() - t0) * 1e6
    n = len(table.procs)
    steady = timed(lambda: table.scan(), repeat)
    result: dict[str, Any] = {"processes": n, "cold_scan_us": round(cold), "steady_scan_us": round(steady)}
    pgrep = shutil.which("pgrep")
    if pgrep:
        run = timed(lambda: subprocess.run([pgrep, "-x", "no-such-process"], capture_output=True, check=False),
                    max(3, repeat // 4))
        result["pgrep_run_us"] = round(run)
        result["pgrep_over_steady_scan"] = round(run / steady, 1)
    return result


def render(report: dict[str, Any]) -> str:
    s, r = report["synthetic"], report["real"]
    lines = [
        f"/proc scan for vrrp_track_process (every {SCAN_INTERVAL:g} s where the kernel sends no process events)",
        f"  synthetic /proc, {s['processes']} processes: cold {s['cold_scan_us'] / 1000:.1f} ms, "
        f"steady {s['steady_scan_us'] / 1000:.2f} ms ({s['steady_reads_per_scan']:.0f} files read), "
        f"after 10 new {s['scan_after_10_new_us'] / 1000:.2f} ms, "
        f"counting matches {s['count_matches_us'] / 1000:.2f} ms",
        f"    re-reading the {s['matching']} matching every {SCAN_INTERVAL:g} s: "
        f"{s['check_matching_us'] / 1000:.2f} ms; full scans every {s['full_scan_interval_s']:g} s (1% budget) "
        f"-> {s['cpu_percent_of_one_core']:.2f}% of one core",
        f"  this machine's /proc, {r['processes']} processes: cold {r['cold_scan_us'] / 1000:.2f} ms, "
        f"steady {r['steady_scan_us'] / 1000:.2f} ms",
    ]
    if "pgrep_run_us" in r:
        lines.append(f"  baseline: one `pgrep -x` (a vrrp_script) {r['pgrep_run_us'] / 1000:.2f} ms = "
                     f"{r['pgrep_over_steady_scan']}x a steady scan")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=10000, help="size of the synthetic /proc (default 10000)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    report = {"synthetic": synthetic(args.processes, args.repeat), "real": real(args.repeat)}
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
