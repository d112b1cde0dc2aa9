"""vrrpkit side by side with keepalived: CPU, CPU per advert and memory, as ratios, in one run.

    sudo .venv/bin/python bench/run.py [--instances N] [--interval S] [--seconds T] [--json]
    sudo .venv/bin/python bench/run.py --quick            # N=20, T=3: a smoke test
    sudo .venv/bin/python bench/run.py --backup --family 6  # IPv6 instances (VIPs 2001:db8:100::/112)

For each daemon in turn (vrrpkit, then keepalived), with the same keepalived.conf text in the same
two-host lab: start it on h1 as MASTER of N VRRPv3 instances (VRIDs 1..N, priority 200, one /32 VIP
each from 198.51.100.0/24), wait until h1 holds every VIP, let it settle, then for T seconds sample
the CPU time and memory of the daemon's whole process tree (keepalived's VRRP child included)
while nftables counters in h2 count the adverts that actually reached the wire (and tcpdump in h2
times them). With `--backup` it also
measures the BACKUP role: keepalived on h2 is MASTER of the same VRIDs and h1's daemon receives.

Numbers from one machine mean little alone; the ratio vrrpkit/keepalived measured minutes apart on
the same kernel, CPU and lab is what we track. No thresholds: this prints, it does not judge.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from micro import render_micro, run_micro  # noqa: E402
from procstat import cpu_between, cpu_sample, mem_sample  # noqa: E402
from spy import record, render_profile, summarise  # noqa: E402
from wire import BigCapture, WireCounter  # noqa: E402

from vrrpkit.lab import Frame, Lab, LabProcess, read_pcap, wait_until  # noqa: E402

DAEMONS = ("vrrpkit", "keepalived")
VIP_NET = ipaddress.IPv4Network("198.51.100.0/24")
VIP_NET6 = ipaddress.IPv6Network("2001:db8:100::/112")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
KEEPALIVED = "/usr/sbin/keepalived"
MAX_VRID = 255


# --- configuration ------------------------------------------------------------------------------


def vip_of(vrid: int, family: int = 4) -> Address:
    """One /32 VIP per VRID: 198.51.100.1 .. 198.51.100.255 (as /32s, .255 is an ordinary address);
    IPv6: one /128, 2001:db8:100::1 ...."""
    return (VIP_NET if family == 4 else VIP_NET6).network_address + vrid


def source_of(lab: Lab, host: str, family: int) -> Address:
    """Where a host's adverts come from: its address, or for IPv6 its link-local one (both daemons)."""
    return lab.addr(host) if family == 4 else lab.link_local(host)


def make_config(
    instances: int,
    interval: float,
    *,
    priority: int = 200,
    state: str = "MASTER",
    spread: bool = False,
    family: int = 4,
) -> str:
    """keepalived.conf text that vrrpkit and keepalived both run unchanged.

    `vrrp_garp_master_delay 0`: no second burst of gratuitous ARPs 5 s after becoming MASTER, so
    the measured window is steady state (adverts only) whatever the settle time.
    `spread`: priority 150 + VRID mod 100 instead of `priority`, so Master_Down_Interval (hence the
    moment each instance becomes MASTER, hence the phase of its advert timer) differs per instance,
    as on a host whose instances failed over at different times.
    """
    if not 1 <= instances <= MAX_VRID:
        raise ValueError(f"instances must be 1..{MAX_VRID} (VRID is 8 bits, one interface and family)")
    parts = ["global_defs {\n    router_id bench\n    vrrp_version 3\n    vrrp_garp_master_delay 0\n}\n"]
    for vrid in range(1, instances + 1):
        parts.append(
            f"vrrp_instance VI_{vrid} {{\n"
            f"    state {state}\n"
            "    interface eth0\n"
            f"    virtual_router_id {vrid}\n"
            f"    priority {150 + vrid % 100 if spread else priority}\n"
            f"    advert_int {interval:g}\n"
            "    virtual_ipaddress {\n"
            f"        {vip_of(vrid, family)}/{32 if family == 4 else 128}\n"
            "    }\n"
            "}\n"
        )
    return "".join(parts)


# --- observing the lab ----------------------------------------------------------------------------


def vips_on(lab: Lab, host: str, family: int = 4) -> set[Address]:
    """Bench VIPs on the host's eth0, from `ip -j addr` inside the host."""
    done = lab.exec(host, ["ip", "-j", f"-{family}", "addr", "show", "dev", lab.iface])
    net, length = (VIP_NET, 32) if family == 4 else (VIP_NET6, 128)
    found = set()
    for link in json.loads(done.stdout or "[]"):
        for info in link.get("addr_info", []):
            addr = ipaddress.ip_address(info.get("local", "0.0.0.0"))
            if addr in net and info.get("prefixlen") == length:
                found.add(addr)
    return found


def vrrpkit_counters(lab: Lab, host: str) -> dict[str, int]:
    """Summed per-instance counters and states from `vrrpkit status --json` in the host."""
    done = lab.exec(host, lab.vrrpkit_argv("status", "--json"), timeout=30)
    snap = json.loads(done.stdout)
    totals = {"advert_sent": 0, "advert_rcvd": 0, "MASTER": 0, "BACKUP": 0}
    for inst in snap["instances"]:
        totals["advert_sent"] += inst["counters"]["advert_sent"]
        totals["advert_rcvd"] += inst["counters"]["advert_rcvd"]
        if inst["state"] in totals:
            totals[inst["state"]] += 1
    return totals


def vrrp_adverts(frames: list[Frame], src: Address, t0: float, t1: float) -> dict[int, list[float]]:
    """Arrival times of VRRP adverts from `src` in [t0, t1], by VRID (Ethernet frames from tcpdump;
    IPv6 without extension headers, as both daemons send)."""
    by_vrid: dict[int, list[float]] = {}
    want = src.packed
    for frame in frames:
        data = frame.data
        if not t0 <= frame.time <= t1 or len(data) < 14 + 20 + 8:
            continue
        if src.version == 4:
            if data[12:14] != b"\x08\x00" or data[14 + 9] != 112 or data[14 + 12 : 14 + 16] != want:
                continue
            vrrp = data[14 + (data[14] & 0x0F) * 4 :]
        else:
            if data[12:14] != b"\x86\xdd" or data[14 + 6] != 112 or data[14 + 8 : 14 + 24] != want:
                continue
            vrrp = data[14 + 40 :]
        if len(vrrp) < 8 or vrrp[0] & 0x0F != 1 or vrrp[2] == 0:  # adverts only; not priority-0 goodbyes
            continue
        by_vrid.setdefault(vrrp[1], []).append(frame.time)
    return by_vrid


def gap_stats(by_vrid: dict[int, list[float]]) -> dict[str, float | None]:
    """Gaps between consecutive adverts of one VRID, in ms: how regularly the daemon keeps its timers."""
    gaps = sorted(b - a for times in by_vrid.values() for a, b in itertools.pairwise(times))
    if not gaps:
        return {"mean_ms": None, "p50_ms": None, "p99_ms": None, "max_ms": None}
    p99 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))]
    return {
        "mean_ms": round(statistics.fmean(gaps) * 1000, 2),
        "p50_ms": round(statistics.median(gaps) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "max_ms": round(gaps[-1] * 1000, 2),
    }


# --- one measurement --------------------------------------------------------------------------------


def start(lab: Lab, kind: str, host: str, conf: str) -> LabProcess:
    if kind == "vrrpkit":
        return lab.run_vrrpkit(host, conf)
    return lab.run_keepalived(host, conf, binary=KEEPALIVED)


def stop(lab: Lab, proc: LabProcess, host: str, family: int = 4) -> None:
    """SIGTERM (both daemons then remove their VIPs), and wait until the host holds none."""
    proc.stop(timeout=10)
    if not wait_until(lambda: not vips_on(lab, host, family), 10, interval=0.2):
        raise RuntimeError(f"{proc.kind} left VIPs on {host} after SIGTERM")


def _fail(proc: LabProcess, what: str) -> RuntimeError:
    tail = "\n".join(proc.log().splitlines()[-20:])
    return RuntimeError(f"{proc.kind} on {proc.host}: {what}\n--- last lines of its log ---\n{tail}")


def measure(
    lab: Lab,
    wire: WireCounter,
    kind: str,
    *,
    role: str,
    instances: int,
    interval: float,
    seconds: float,
    settle: float,
    startup_timeout: float,
    profile_to: Path | None = None,
    spread: bool = False,
    tag: str = "r1",
    family: int = 4,
) -> dict[str, Any]:
    """Run daemon `kind` on h1 in `role` ("master" alone, or "backup" to a keepalived master on h2)."""
    peer: LabProcess | None = None
    want = {vip_of(v, family) for v in range(1, instances + 1)}
    if role == "backup":
        master = make_config(instances, interval, state="MASTER", spread=spread, family=family)
        peer = start(lab, "keepalived", "h2", master)
        if not wait_until(lambda: vips_on(lab, "h2", family) >= want, startup_timeout, interval=0.2):
            raise _fail(peer, "the h2 master did not take every VIP")
        conf = make_config(instances, interval, priority=100, state="BACKUP", family=family)
    else:
        conf = make_config(instances, interval, spread=spread, family=family)
    proc = start(lab, kind, "h1", conf)
    try:
        started = time.monotonic()
        if role == "master":
            ready = wait_until(lambda: vips_on(lab, "h1", family) >= want or not proc.alive(), startup_timeout, 0.05)
            if not ready or not proc.alive():
                raise _fail(proc, f"did not hold all {instances} VIPs within {startup_timeout:g} s")
        else:
            # A BACKUP is silent; give it time to start and hear the master, then check it took no VIP.
            if kind == "vrrpkit":
                ok = wait_until(lambda: _vrrpkit_states(lab).get("BACKUP") == instances, startup_timeout, 0.5)
                if not ok:
                    raise _fail(proc, f"not all {instances} instances BACKUP within {startup_timeout:g} s")
            else:
                time.sleep(2.0)
        # From spawning the daemon until h1 holds every VIP (master role only; a BACKUP shows no sign).
        time_to_ready = round(time.monotonic() - started, 2) if role == "master" else None
        time.sleep(settle)
        if not proc.alive():
            raise _fail(proc, "exited")
        if role == "backup" and vips_on(lab, "h1", family):
            raise _fail(proc, "took VIPs while the h2 master is up")
        counters0 = vrrpkit_counters(lab, "h1") if kind == "vrrpkit" else None
        t_counters0 = time.time()
        expr = "ip proto 112" if family == 4 else "ip6 proto 112"
        capture = BigCapture(lab, "h2", lab.workdir / f"{kind}-{role}-{tag}.pcap", expr)
        try:
            mems = []
            n0 = wire.read()
            t0, c0 = time.time(), cpu_sample(proc.pid)
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                time.sleep(min(0.5, left))
                mems.append(mem_sample(proc.pid))
            t1, c1 = time.time(), cpu_sample(proc.pid)
            n1 = wire.read()
        finally:
            pcap, capture_dropped = capture.stop()
        counters1 = vrrpkit_counters(lab, "h1") if kind == "vrrpkit" else None
        t_counters1 = time.time()
        if not proc.alive():
            raise _fail(proc, "exited during the measurement")
        profile = None
        if profile_to is not None and kind == "vrrpkit":
            raw = record(proc.pid, seconds, profile_to)
            profile = str(raw) if raw is not None else None
        wall = t1 - t0
        cpu_s, cpu_source = cpu_between(c0, c1)
        h1_sent = n1["rx-from-peer"] - n0["rx-from-peer"]
        adverts = h1_sent if role == "master" else n1["tx-own"] - n0["tx-own"]
        sender = source_of(lab, "h1" if role == "master" else "h2", family)
        by_vrid = vrrp_adverts(read_pcap(pcap), sender, t0, t1)
        last = mems[-1] if mems else mem_sample(proc.pid)
        result: dict[str, Any] = {
            "daemon": kind,
            "role": role,
            "pids": sorted(c1.pids),
            "processes": len(c1.pids),
            "window_s": round(wall, 3),
            "time_to_all_vips_s": time_to_ready,
            "cpu_s": round(cpu_s, 4),
            "cpu_source": cpu_source,
            "cpu_pct_one_core": round(100 * cpu_s / wall, 2),
            "adverts_on_wire": adverts,
            "adverts_expected": round(instances / interval * wall),
            "adverts_per_s": round(adverts / wall, 1),
            "vrids_seen": len(by_vrid),
            "advert_gap": gap_stats(by_vrid),
            "captured": sum(len(v) for v in by_vrid.values()),
            "capture_dropped": capture_dropped,
            "cpu_us_per_advert": round(cpu_s * 1e6 / adverts, 2) if adverts else None,
            # Voluntary context switches: each is the daemon going back to sleep, i.e. one wake-up.
            "wakeups_per_s": round((c1.switches - c0.switches) / wall, 1),
            "rss_mb": round(max(m.rss_kb for m in mems or [last]) / 1024, 2),
            "pss_mb": round(max(m.pss_kb for m in mems or [last]) / 1024, 2),
            "rss_mb_per_process": {str(pid): round(kb / 1024, 2) for pid, kb in sorted(last.per_process.items())},
        }
        if role == "backup":
            result["h1_adverts_sent"] = h1_sent  # a healthy BACKUP sends none
        if counters0 is not None and counters1 is not None:
            # vrrpkit's own counters, over the slightly longer span between two `vrrpkit status` calls
            span = t_counters1 - t_counters0
            for key in ("advert_sent", "advert_rcvd"):
                result[f"counter_{key}_per_s"] = round((counters1[key] - counters0[key]) / span, 1)
        if profile is not None:
            result["profile_raw"] = profile
        return result
    finally:
        stop(lab, proc, "h1", family)
        if peer is not None:
            stop(lab, peer, "h2", family)


def _vrrpkit_states(lab: Lab) -> dict[str, int]:
    try:
        return vrrpkit_counters(lab, "h1")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError, KeyError):
        return {}


# --- the whole run ------------------------------------------------------------------------------------

RATIO_KEYS = ("cpu_pct_one_core", "cpu_us_per_advert", "rss_mb", "pss_mb")


def ratios(vrrpkit: dict[str, Any], keepalived: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in RATIO_KEYS:
        a, b = vrrpkit.get(key), keepalived.get(key)
        out[key] = round(a / b, 2) if a is not None and b else None
    return out


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        ka = subprocess.run([KEEPALIVED, "--version"], capture_output=True, text=True, check=False, timeout=10)
        ka_version = (ka.stdout + ka.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        ka_version = None
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "keepalived": ka_version,
        "load_avg_before": os.getloadavg(),
    }


@contextmanager
def _lab(name: str, workdir: Path, family: int = 4) -> Iterator[Lab]:
    lab = Lab(name=name, hosts=2, ipv6=family == 6, workdir=workdir)
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def run_bench(
    *,
    instances: int,
    interval: float,
    seconds: float,
    settle: float,
    roles: list[str],
    rounds: int,
    micro: bool,
    quick: bool,
    lab_name: str,
    keep_logs: Path | None,
    progress: bool,
    profile_dir: Path | None = None,
    spread: bool = False,
    family: int = 4,
) -> dict[str, Any]:
    def say(msg: str) -> None:
        if progress:
            print(msg, file=sys.stderr, flush=True)

    startup_timeout = max(30.0, instances * 0.2)
    report: dict[str, Any] = {
        "params": {
            "instances": instances,
            "interval_s": interval,
            "seconds": seconds,
            "settle_s": settle,
            "roles": roles,
            "rounds": rounds,
            "quick": quick,
            "priorities": "150 + VRID mod 100" if spread else "200",
            "family": family,
        },
        "machine": machine(),
        "roles": {},
    }
    workdir = keep_logs or Path(tempfile.mkdtemp(prefix="vrrpkit-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    try:
        with _lab(lab_name, workdir, family) as lab:
            wire = WireCounter(lab, "h2", peer=source_of(lab, "h1", family), own=source_of(lab, "h2", family))
            for role in roles:
                runs: dict[str, list[dict[str, Any]]] = {d: [] for d in DAEMONS}
                for rnd in range(rounds):
                    for kind in DAEMONS:
                        say(f"[{role} round {rnd + 1}/{rounds}] {kind}: {instances} instances, {seconds:g} s ...")
                        result = measure(
                            lab,
                            wire,
                            kind,
                            role=role,
                            instances=instances,
                            interval=interval,
                            seconds=seconds,
                            settle=settle,
                            startup_timeout=startup_timeout,
                            profile_to=profile_dir / f"vrrpkit-{role}-r{rnd + 1}.txt" if profile_dir else None,
                            spread=spread,
                            tag=f"r{rnd + 1}",
                            family=family,
                        )
                        say(
                            f"    cpu {result['cpu_pct_one_core']}%  {result['cpu_us_per_advert']} µs/advert  "
                            f"rss {result['rss_mb']} MB  adverts {result['adverts_on_wire']}"
                        )
                        runs[kind].append(result)
                chosen = {kind: _median_run(results) for kind, results in runs.items()}
                if profile_dir is not None:
                    raws = [Path(r["profile_raw"]) for r in runs["vrrpkit"] if r.get("profile_raw")]
                    chosen["vrrpkit"]["profile"] = summarise(raws) if raws else {"skipped": "py-spy not installed"}
                report["roles"][role] = {
                    **chosen,
                    "ratio": ratios(chosen["vrrpkit"], chosen["keepalived"]),
                    "all_rounds": runs if rounds > 1 else None,
                }
    finally:
        if keep_logs is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report["machine"]["load_avg_after"] = os.getloadavg()
    if micro:
        say("micro-benchmarks of the core ...")
        report["micro"] = run_micro(quick)
    return report


def _median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median CPU (a real run, not a blend of several)."""
    ordered = sorted(results, key=lambda r: r["cpu_pct_one_core"])
    return ordered[len(ordered) // 2]


def render(report: dict[str, Any]) -> str:
    p, m = report["params"], report["machine"]
    lines = [
        f"vrrpkit vs keepalived: {p['instances']} VRRPv3 IPv{p.get('family', 4)} instances, "
        f"advert_int {p['interval_s']:g} s, "
        f"priority {p['priorities']}, {p['seconds']:g} s window, {m['date']}",
        f"machine: {m['cpus']} CPU ({m['cpu_model']}), kernel {m['kernel']}, Python {m['python']}, {m['keepalived']}",
        "load average before/after: "
        + " / ".join(" ".join(f"{x:.2f}" for x in m[k]) for k in ("load_avg_before", "load_avg_after") if k in m),
    ]
    if p["rounds"] > 1:
        lines.append(f"{p['rounds']} rounds, daemons alternating; each column is its median-CPU round")
    cols = [
        ("CPU % of one core", "cpu_pct_one_core", "{:.2f}"),
        ("CPU µs per advert", "cpu_us_per_advert", "{:.1f}"),
        ("RSS MB (sum)", "rss_mb", "{:.1f}"),
        ("PSS MB", "pss_mb", "{:.1f}"),
    ]
    for role, data in report["roles"].items():
        vk, ka, ratio = data["vrrpkit"], data["keepalived"], data["ratio"]
        per = "sent" if role == "master" else "received"
        lines.append("")
        peer = "nothing" if role == "master" else "keepalived MASTER"
        lines.append(f"role {role.upper()} (µs per advert {per}; h2: {peer})")
        lines.append(f"  {'':<20}{'vrrpkit':>12}{'keepalived':>12}{'vrrpkit/keepalived':>20}")
        for label, key, fmt in cols:
            a, b, r = vk.get(key), ka.get(key), ratio.get(key)
            fa = fmt.format(a) if a is not None else "-"
            fb = fmt.format(b) if b is not None else "-"
            fr = f"{r:.2f}x" if r is not None else "-"
            lines.append(f"  {label:<20}{fa:>12}{fb:>12}{fr:>20}")
        for label, key in (
            ("adverts/s on wire", "adverts_per_s"),
            ("wake-ups/s", "wakeups_per_s"),
            ("processes", "processes"),
        ):
            lines.append(f"  {label:<20}{vk[key]!s:>12}{ka[key]!s:>12}")
        gap_a, gap_b = vk["advert_gap"], ka["advert_gap"]
        lines.append(f"  {'advert gap mean ms':<20}{gap_a['mean_ms']!s:>12}{gap_b['mean_ms']!s:>12}")
        lines.append(f"  {'advert gap p50 ms':<20}{gap_a['p50_ms']!s:>12}{gap_b['p50_ms']!s:>12}")
        lines.append(f"  {'advert gap p99 ms':<20}{gap_a['p99_ms']!s:>12}{gap_b['p99_ms']!s:>12}")
        lines.append(f"  {'advert gap max ms':<20}{gap_a['max_ms']!s:>12}{gap_b['max_ms']!s:>12}")
        lines.append(f"  {'expected adverts/s':<20}{p['instances'] / p['interval_s']:>12.1f}")
    for role, data in report["roles"].items():
        prof = data["vrrpkit"].get("profile")
        if prof and "busy_samples" in prof:
            lines += ["", render_profile(prof, f"vrrpkit profile, role {role.upper()} (py-spy, after the window)")]
    if "micro" in report:
        lines += ["", render_micro(report["micro"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark vrrpkit side by side with keepalived in a network-namespace lab (root only)."
    )
    parser.add_argument("--instances", "-n", type=int, default=None, help="VRRP instances (1..255; default 200)")
    parser.add_argument("--interval", type=float, default=0.1, help="advert_int in seconds (default 0.1)")
    parser.add_argument("--seconds", "-t", type=float, default=None, help="measurement window (default 10)")
    parser.add_argument("--settle", type=float, default=None, help="wait after all MASTER (default 2, quick 1)")
    parser.add_argument("--quick", action="store_true", help="smoke test: N=20, T=3, short micro-benchmarks")
    parser.add_argument("--backup", action="store_true", help="also measure the BACKUP role (keepalived master on h2)")
    parser.add_argument(
        "--spread", action="store_true", help="priorities 150..249 so that instances' advert timers do not share ticks"
    )
    parser.add_argument("--rounds", type=int, default=1, help="alternate the daemons R times; report the median")
    parser.add_argument("--family", type=int, choices=(4, 6), default=4, help="IPv4 (default) or IPv6 instances")
    parser.add_argument("--no-micro", action="store_true", help="skip the core micro-benchmarks")
    parser.add_argument("--lab-name", default=f"bench{os.getpid() % 10000}", help="lab name (<= 10 chars)")
    parser.add_argument("--keep-logs", type=Path, help="keep configs, daemon logs and pcaps in this directory")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the vrrpkit daemon after each window; stacks in DIR"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = parser.parse_args(argv)

    instances = args.instances if args.instances is not None else (20 if args.quick else 200)
    seconds = args.seconds if args.seconds is not None else (3.0 if args.quick else 10.0)
    settle = args.settle if args.settle is not None else (1.0 if args.quick else 2.0)
    if os.geteuid() != 0:
        print("bench/run.py: needs root (network namespaces)", file=sys.stderr)
        return 2
    if not os.access(KEEPALIVED, os.X_OK):
        print(f"bench/run.py: no keepalived at {KEEPALIVED}", file=sys.stderr)
        return 2
    if not 1 <= instances <= MAX_VRID:
        print(f"bench/run.py: --instances must be 1..{MAX_VRID} (VRIDs are 8 bits)", file=sys.stderr)
        return 2
    if not 0.01 <= args.interval <= 40.95 or seconds <= 0 or args.rounds < 1:
        print("bench/run.py: --interval must be 0.01..40.95 s, --seconds > 0, --rounds >= 1", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the lab's finally runs on SIGTERM
    report = run_bench(
        instances=instances,
        interval=args.interval,
        seconds=seconds,
        settle=settle,
        roles=["master", "backup"] if args.backup else ["master"],
        rounds=args.rounds,
        micro=not args.no_micro,
        quick=args.quick,
        lab_name=args.lab_name,
        keep_logs=args.keep_logs,
        profile_dir=args.profile,
        spread=args.spread,
        family=args.family,
        progress=not args.json or sys.stderr.isatty(),
    )
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
