"""vrrpkit and keepalived under faults, floods and load, in one run on the same lab: who holds the VIP.

    sudo .venv/bin/python bench/chaos.py                      # every scenario, both daemons (~12 min)
    sudo .venv/bin/python bench/chaos.py --only flood         # scenarios whose name contains "flood"
    sudo .venv/bin/python bench/chaos.py --soak 3600          # the soak alone: both daemons, one hour
         ... [--pps 60000] [--flood-seconds 10] [--loss-seconds 20] [--rounds N] [--loss-pattern] [--json]
         ... [--family 6]                                   # an IPv6 instance: VIP 2001:db8:100::1/128

Lab: h1 (priority 150) and h2 (priority 100) run the daemon under test, one VRRPv3 instance,
VRID 51, one /32 VIP; h3 is the rest of the LAN (the flooder, the CPU hogs). For each scenario and
daemon: start both, wait until h1 holds the VIP, start the window, break something, put it right,
end the window once exactly one host has held the VIP for 2 s; then stop both. Who holds the VIP is
read from the kernel's address notifications in h1 and h2 (bench/vipwatch.py), so a flap of a few
milliseconds is seen. Reported per scenario and daemon: seconds without exactly one VIP holder (of
which with two or more, with none) and how often the set of holders changed; for floods also the
CPU of both daemons (% of one core, process trees) and the packets per second that reached h1.

The floods are sent by bench/flood.c (compiled with gcc into the work directory at start), from h3,
to 224.0.0.18 (with --family 6: ff02::12, from h3's link-local address) with TTL 255: garbage (a
VRID 51 advert with a wrong checksum), a valid VRID 51 advert at priority 1, and a valid advert for
VRID 52, which nobody here runs.

Numbers from one machine mean little alone: both daemons run the same scenarios minutes apart on
the same lab, and the table is read side by side. No thresholds: this prints, it does not judge.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from labwatch import HolderWatch  # noqa: E402
from procstat import cpu_between, cpu_sample, mem_sample  # noqa: E402
from wire import WireCounter  # noqa: E402

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6  # noqa: E402
from vrrpkit.core.packet import Advertisement, encode  # noqa: E402
from vrrpkit.lab import Lab, LabProcess  # noqa: E402
from vrrpkit.lab.faults import DROP_PERIOD  # noqa: E402

DAEMONS = ("vrrpkit", "keepalived")
KEEPALIVED = "/usr/sbin/keepalived"
VIP = IPv4Address("198.51.100.1")
VIP6 = IPv6Address("2001:db8:100::1")  # --family 6: outside the lab's 2001:db8::/64
OTHER_VIP = {4: IPv4Address("198.51.100.2"), 6: IPv6Address("2001:db8:100::2")}  # VRID 52's, nobody's
VRID = 51
STABLE = 2.0  # seconds of exactly one holder that end a window


def vip_of(family: int) -> IPv4Address | IPv6Address:
    return VIP if family == 4 else VIP6


def vip_text(family: int) -> str:
    return f"{VIP}/32" if family == 4 else f"{VIP6}/128"


def source(lab: Lab, host: str, family: int) -> IPv4Address | IPv6Address:
    """The address a host's adverts come from: its lab address, or for IPv6 its link-local one."""
    return lab.addr(host) if family == 4 else lab.link_local(host)


def conf(host: str, priority: int, interval: float, vip: str = f"{VIP}/32") -> str:
    """The same keepalived.conf text for both daemons (both start as BACKUP: a fair election)."""
    return (
        "global_defs {\n"
        f"    router_id {host}\n    vrrp_version 3\n    vrrp_garp_master_delay 0\n}}\n"
        "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n"
        f"    virtual_router_id {VRID}\n    priority {priority}\n    advert_int {interval:g}\n"
        f"    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    )


# --- the scenarios ------------------------------------------------------------------------------


@dataclass
class Ctx:
    lab: Lab
    kind: str
    args: argparse.Namespace
    flood: Path
    daemons: dict[str, LabProcess]
    extra: dict[str, Any]
    phase: float = 0.0  # drawn per round, the same for both daemons (phased faults, drop patterns)


@dataclass(frozen=True)
class Scenario:
    name: str
    interval: float
    run: Callable[[Ctx], None]
    # the fault starts at the same place between two of h1's adverts for both daemons (round n of
    # each): otherwise where it falls moves the time without one holder by up to an interval
    phased: bool = False


def _loss(pct: int) -> Callable[[Ctx], None]:
    """Random loss of every frame, or with --loss-pattern the same VRRP packets for both daemons
    of a round (a drop pattern drawn from the round's number: random loss compares luck, and one
    run more of three adverts lost in a row is a takeover more)."""

    def run(c: Ctx) -> None:
        if c.args.loss_pattern:
            count = pct * DROP_PERIOD // 100
            c.lab.drop_pattern("h1", random.Random(c.phase).sample(range(DROP_PERIOD), count))
        else:
            c.lab.loss("h1", pct)
        try:
            time.sleep(c.args.loss_seconds)
        finally:
            if c.args.loss_pattern:
                c.lab.drop_pattern("h1", [])
            else:
                c.lab.loss("h1", 0)

    return run


BURSTS, BURST_EVERY = 8, 40  # h1's adverts: three lost in a row every 40 (4 s at 0.1 s), 8 times


def _lost_bursts(c: Ctx) -> None:
    """Three of h1's adverts lost in a row, 8 times, nothing else: each time h2 takes over, and h1,
    alive all along, answers its first advert; how long both hold the VIP is how fast the answer
    comes and is acted on. The same packets for both daemons (a drop pattern, not chance). The
    switch counts a multicast advert once per port it leaves by (h2's and h3's), so each of h1's
    adverts is `copies` counts in a row: the pattern drops three whole adverts, and h1's answer (its
    next packet: h2 takes over before h1's fourth advert is due) gets through."""
    copies = len(c.lab.hosts) - 1
    first = BURST_EVERY // 2 * copies
    which = [first + BURST_EVERY * copies * n + k for n in range(BURSTS) for k in range(3 * copies)]
    c.lab.drop_pattern("h1", which)
    try:
        time.sleep(BURSTS * BURST_EVERY * 0.1 + 0.5)
    finally:
        c.lab.drop_pattern("h1", [])


def _sigstop(c: Ctx) -> None:
    c.extra["_stopped"] = time.monotonic()
    c.lab.fault_stop("h1")
    try:
        time.sleep(2.0)
    finally:
        c.extra["_thawed"] = time.monotonic()
        c.lab.fault_cont("h1")


def freeze_steps(watch: HolderWatch, stopped: float, thawed: float) -> dict[str, float]:
    """The SIGSTOP row taken apart, in ms. Its time with two holders is (thaw - last advert) minus
    h2's takeover plus h1's way back: an earlier takeover (a punctual Master_Down timer) lengthens
    the row as much as a slower step-down does, so the row alone cannot say which daemon is slower
    at what."""
    last = watch.last_advert("h2", stopped + 0.001)  # an advert on the wire as the signal lands counts
    took = watch.first_change("h2", stopped, True)
    first = watch.first_advert("h2", thawed)
    left = watch.first_change("h2", thawed, False)
    if last is None or took is None or first is None or left is None:
        return {}
    heard = first[0]
    return {
        "takeover_after_last_advert_ms": round(1000 * (took - last[0]), 3),
        "thaw_to_advert_ms": round(1000 * (heard - thawed), 3),
        "advert_to_stepdown_ms": round(1000 * (left - heard), 3),
    }


def _link_flap(c: Ctx) -> None:
    c.lab.link("h1", up=False)
    try:
        time.sleep(2.0)
    finally:
        c.lab.link("h1", up=True)


def _partition(c: Ctx) -> None:
    c.lab.partition(["h1"], ["h2", "h3"])
    try:
        time.sleep(3.0)
    finally:
        c.lab.heal()


def _multicast_cut(c: Ctx) -> None:
    c.lab.cloud(True)
    try:
        time.sleep(3.0)
    finally:
        c.lab.cloud(False)


def _reload_storm(c: Ctx) -> None:
    """10 SIGHUPs a second for 10 s to both daemons (keepalived's parent relays them)."""
    begin = time.monotonic()
    for n in range(100):
        time.sleep(max(0.0, begin + n * 0.1 - time.monotonic()))
        for host in ("h1", "h2"):
            c.daemons[host].signal(signal.SIGHUP)
    c.extra["sighups_per_daemon"] = 100


def _cpu_hogs(c: Ctx) -> None:
    """6 busy processes (3 per core) for 20 s, at 10 ms adverts."""
    hogs = [
        c.lab.popen("h3", [sys.executable, "-c", "while True: pass"], stdout=subprocess.DEVNULL)
        for _ in range(c.args.hogs)
    ]
    try:
        time.sleep(c.args.hog_seconds)
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


def flood_payload(kind: str, src: IPv4Address | IPv6Address, interval: float) -> bytes:
    """The VRRP packet a flood repeats, its checksum computed for ``src`` to the family's group."""
    family = src.version
    vip, group = (VIP, VRRP_GROUP4) if family == 4 else (VIP6, VRRP_GROUP6)
    if kind == "garbage":
        good = encode(Advertisement(3, VRID, 254, (vip,), interval), src, group)
        return good[:6] + bytes([good[6] ^ 0x5A, good[7] ^ 0xA5]) + good[8:]  # wrong checksum
    if kind == "low":
        return encode(Advertisement(3, VRID, 1, (vip,), interval), src, group)
    return encode(Advertisement(3, VRID + 1, 100, (OTHER_VIP[family],), interval), src, group)


def _flood(kind: str) -> Callable[[Ctx], None]:
    def run(c: Ctx) -> None:
        lab, args = c.lab, c.args
        flooder = source(lab, "h3", args.family)
        group = VRRP_GROUP4 if args.family == 4 else VRRP_GROUP6
        payload = flood_payload(kind, flooder, 0.1)
        counter = WireCounter(lab, "h1", peer=flooder, own=source(lab, "h1", args.family))
        pids = {h: p.pid for h, p in c.daemons.items()}
        try:
            n0, cpu0, t0 = counter.read(), {h: cpu_sample(p) for h, p in pids.items()}, time.monotonic()
            argv = [str(c.flood), "eth0", str(flooder), str(group), "255", payload.hex()]
            done = lab.exec("h3", [*argv, str(args.pps), str(args.flood_seconds)], timeout=args.flood_seconds + 30)
            t1, cpu1, n1 = time.monotonic(), {h: cpu_sample(p) for h, p in pids.items()}, counter.read()
        finally:
            counter.remove()
        wall = t1 - t0
        sent = json.loads(done.stdout.strip().splitlines()[-1])
        c.extra["flood_sent_pps"] = round(sent["sent"] / sent["seconds"])
        c.extra["flood_at_h1_pps"] = round((n1["rx-from-peer"] - n0["rx-from-peer"]) / wall)
        for host in pids:
            cpu_s, _source = cpu_between(cpu0[host], cpu1[host])
            c.extra[f"cpu_pct_{host}"] = round(100 * cpu_s / wall, 1)

    return run


SCENARIOS = [
    Scenario("loss 10%", 0.1, _loss(10)),
    Scenario("loss 30%", 0.1, _loss(30)),
    Scenario("3 adverts lost in a row, 8 times", 0.1, _lost_bursts),
    Scenario("SIGSTOP master 2 s", 0.1, _sigstop, phased=True),
    Scenario("link flap 2 s", 0.1, _link_flap, phased=True),
    Scenario("partition 3 s and heal", 0.1, _partition, phased=True),
    Scenario("multicast cut 3 s", 0.1, _multicast_cut, phased=True),
    Scenario("reload storm 10/s for 10 s", 0.1, _reload_storm),
    Scenario("CPU hogs at 10 ms adverts", 0.01, _cpu_hogs),
    Scenario("flood: garbage, same VRID", 0.1, _flood("garbage")),
    Scenario("flood: valid, same VRID, priority 1", 0.1, _flood("low")),
    Scenario("flood: valid, another VRID", 0.1, _flood("other")),
]


# --- running one scenario ---------------------------------------------------------------------------


def start(lab: Lab, kind: str, host: str, text: str) -> LabProcess:
    if kind == "vrrpkit":
        return lab.run_vrrpkit(host, text)
    return lab.run_keepalived(host, text, binary=KEEPALIVED)


def run_one(
    lab: Lab, kind: str, sc: Scenario, args: argparse.Namespace, flood: Path, phase: float = 0.0
) -> dict[str, Any]:
    family = args.family
    # not in floods: the watcher would read them
    heard = {"h2": str(source(lab, "h1", family))} if sc.phased else None
    watch = HolderWatch(lab, ["h1", "h2"], str(vip_of(family)), adverts_from=heard)
    daemons: dict[str, LabProcess] = {}
    try:
        daemons["h1"] = start(lab, kind, "h1", conf("h1", 150, sc.interval, vip_text(family)))
        daemons["h2"] = start(lab, kind, "h2", conf("h2", 100, sc.interval, vip_text(family)))
        if not watch.wait_holders({"h1"}, 30, stable=max(1.0, 20 * sc.interval)):
            raise RuntimeError(f"{kind}: h1 did not become the only holder: {watch.holders()}")
        ctx = Ctx(lab, kind, args, flood, daemons, {}, phase)
        if sc.phased:
            time.sleep(watch.until_phase("h2", sc.interval, phase))
        t0 = time.monotonic()
        sc.run(ctx)
        recovered = watch.wait_holders({"h1"}, 30, stable=STABLE)
        t1 = time.monotonic() - (STABLE if recovered else 0.0)
        alive = {h: p.alive() for h, p in daemons.items()}
        if "_thawed" in ctx.extra:
            ctx.extra.update(freeze_steps(watch, ctx.extra.pop("_stopped"), ctx.extra.pop("_thawed")))
        result = {"daemon": kind, **watch.timeline(t0, t1).as_dict(), **ctx.extra, "recovered": recovered}
        if not all(alive.values()):
            result["died"] = sorted(h for h, ok in alive.items() if not ok)
        return result
    finally:
        for proc in daemons.values():
            proc.stop(timeout=10)
        watch.close()


def machine() -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "load_avg_before": os.getloadavg(),
    }


@contextmanager
def lab_up(name: str, workdir: Path, hosts: int = 3, ipv6: bool = False) -> Iterator[Lab]:
    lab = Lab(name=name, hosts=hosts, ipv6=ipv6, workdir=workdir)
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def build_flood(workdir: Path) -> Path:
    out = workdir / "flood"
    subprocess.run(["gcc", "-O2", "-o", str(out), str(BENCH_DIR / "flood.c")], check=True)
    return out


def run_chaos(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    chosen = [s for s in SCENARIOS if not args.only or args.only.lower() in s.name.lower()]
    report: dict[str, Any] = {"machine": machine(), "params": vars(args).copy(), "scenarios": []}
    workdir = Path(tempfile.mkdtemp(prefix="vrrpkit-chaos-"))
    rng = random.Random(args.seed)
    try:
        flood = build_flood(workdir)
        with lab_up(args.lab_name, workdir, ipv6=args.family == 6) as lab:
            for sc in chosen:
                rounds: dict[str, list[dict[str, Any]]] = {k: [] for k in DAEMONS}
                for rnd in range(args.rounds):
                    phase = rng.random()  # where between two adverts a phased fault starts, both daemons
                    for kind in DAEMONS if rnd % 2 == 0 else DAEMONS[::-1]:
                        say(f"[{sc.name}] {kind} (round {rnd + 1}/{args.rounds}) ...")
                        res = run_one(lab, kind, sc, args, flood, phase)
                        say("    " + json.dumps(res))
                        rounds[kind].append(res)
                report["scenarios"].append(
                    {"name": sc.name, "interval": sc.interval, **{k: _median(v) for k, v in rounds.items()}}
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["machine"]["load_avg_after"] = os.getloadavg()
    return report


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median time without one holder (a real round, not a blend)."""
    ordered = sorted(results, key=lambda r: (r["without_one_s"], r["changes"]))
    out = dict(ordered[len(ordered) // 2])
    if len(results) > 1:
        out["rounds"] = [{k: r[k] for k in ("without_one_s", "changes")} for r in results]
    return out


# --- the soak ----------------------------------------------------------------------------------------


def fd_count(pid: int) -> int:
    from procstat import process_tree

    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{p}/fd"))
    return total


def run_soak(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    """Both daemons at once, each in its own lab, for ``args.soak`` seconds at 0.1 s adverts; a
    SIGHUP to both of each pair every minute; RSS and open fds of every daemon sampled."""
    report: dict[str, Any] = {"machine": machine(), "seconds": args.soak, "daemons": {}}
    workdir = Path(tempfile.mkdtemp(prefix="vrrpkit-soak-"))
    labs: dict[str, Lab] = {}
    watches: dict[str, HolderWatch] = {}
    daemons: dict[str, dict[str, LabProcess]] = {}
    samples: dict[str, list[dict[str, Any]]] = {k: [] for k in DAEMONS}
    try:
        for i, kind in enumerate(DAEMONS):
            labs[kind] = Lab(name=f"{args.lab_name[:8]}s{i}", hosts=2, ipv6=False, workdir=workdir / kind)
            labs[kind].up()
            watches[kind] = HolderWatch(labs[kind], ["h1", "h2"], str(VIP))
            daemons[kind] = {
                "h1": start(labs[kind], kind, "h1", conf("h1", 150, 0.1)),
                "h2": start(labs[kind], kind, "h2", conf("h2", 100, 0.1)),
            }
        for kind in DAEMONS:
            if not watches[kind].wait_holders({"h1"}, 30, stable=2.0):
                raise RuntimeError(f"{kind}: h1 did not become the only holder")
        t0 = time.monotonic()
        next_hup = t0 + 60.0
        while (now := time.monotonic()) < t0 + args.soak:
            for kind in DAEMONS:
                for host, proc in daemons[kind].items():
                    mem = mem_sample(proc.pid)
                    samples[kind].append(
                        {"t": round(now - t0, 1), "host": host, "rss_kb": mem.rss_kb, "fds": fd_count(proc.pid)}
                    )
            if now >= next_hup:
                for kind in DAEMONS:
                    for proc in daemons[kind].values():
                        proc.signal(signal.SIGHUP)
                next_hup += 60.0
            say(f"soak {now - t0:6.0f}/{args.soak} s: " + ", ".join(
                f"{k} {samples[k][-2]['rss_kb'] / 1024:.1f}/{samples[k][-1]['rss_kb'] / 1024:.1f} MB"
                for k in DAEMONS
            ))
            time.sleep(min(args.soak_every, max(0.0, t0 + args.soak - time.monotonic())))
        t1 = time.monotonic()
        for kind in DAEMONS:
            per_host = {}
            for host in ("h1", "h2"):
                rows = [s for s in samples[kind] if s["host"] == host]
                first, last = rows[0], rows[-1]
                # growth: the last tenth of the run against the first tenth after warm-up
                tenth = max(1, len(rows) // 10)
                early = statistics.median(r["rss_kb"] for r in rows[tenth : 2 * tenth] or rows[:1])
                late = statistics.median(r["rss_kb"] for r in rows[-tenth:])
                per_host[host] = {
                    "rss_mb_first": round(first["rss_kb"] / 1024, 2),
                    "rss_mb_last": round(last["rss_kb"] / 1024, 2),
                    "rss_mb_max": round(max(r["rss_kb"] for r in rows) / 1024, 2),
                    "rss_growth_mb": round((late - early) / 1024, 2),
                    "fds_first": first["fds"],
                    "fds_last": last["fds"],
                    "fds_max": max(r["fds"] for r in rows),
                    "alive": daemons[kind][host].alive(),
                }
            report["daemons"][kind] = {"hosts": per_host, **watches[kind].timeline(t0, t1).as_dict()}
        report["samples"] = samples
    finally:
        for kind in list(daemons):
            for proc in daemons[kind].values():
                proc.stop(timeout=10)
        for watch in watches.values():
            watch.close()
        for lab in labs.values():
            lab.down()
        shutil.rmtree(workdir, ignore_errors=True)
    report["machine"]["load_avg_after"] = os.getloadavg()
    return report


# --- output ------------------------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"vrrpkit vs keepalived under chaos, IPv{report.get('params', {}).get('family', 4)}, {m['date']}, "
        f"kernel {m['kernel']}, Python {m['python']}",
        "load average before/after: "
        + " / ".join(" ".join(f"{x:.2f}" for x in m[k]) for k in ("load_avg_before", "load_avg_after") if k in m),
    ]
    if "scenarios" in report:
        lines += [
            "",
            f"{'scenario':<38}{'without one holder s':>24}{'holder changes':>18}{'CPU % h1+h2':>16}{'flood pps':>11}",
            f"{'':<38}{'vrrpkit / keepalived':>24}{'vk / ka':>18}{'vk / ka':>16}{'at h1':>11}",
        ]
        for row in report["scenarios"]:
            vk, ka = row["vrrpkit"], row["keepalived"]
            cpu = ""
            if "cpu_pct_h1" in vk:
                cpu = f"{vk['cpu_pct_h1'] + vk['cpu_pct_h2']:.0f} / {ka['cpu_pct_h1'] + ka['cpu_pct_h2']:.0f}"
            pps = str(vk.get("flood_at_h1_pps", ""))
            lines.append(
                f"{row['name']:<38}{vk['without_one_s']:>11.4f} / {ka['without_one_s']:<10.4f}"
                f"{vk['changes']:>8} / {ka['changes']:<7}{cpu:>16}{pps:>11}"
            )
    for row in report.get("scenarios", []):
        steps = [k for k in row["vrrpkit"] if k.endswith("_ms")]
        if steps:
            lines.append(f"  {row['name']}, ms, vrrpkit / keepalived:")
            for k in steps:
                vk, ka = row["vrrpkit"][k], row["keepalived"].get(k, float("nan"))
                lines.append(f"    {k[:-3].replace('_', ' '):<32}{vk:>10.3f} / {ka:.3f}")
    if "daemons" in report:
        lines += ["", f"soak {report['seconds']} s at 0.1 s adverts, SIGHUP every 60 s:"]
        for kind, data in report["daemons"].items():
            for host, h in data["hosts"].items():
                lines.append(
                    f"  {kind:<11}{host}: RSS {h['rss_mb_first']} -> {h['rss_mb_last']} MB (max {h['rss_mb_max']}, "
                    f"growth {h['rss_growth_mb']:+}), fds {h['fds_first']} -> {h['fds_last']} (max {h['fds_max']})"
                )
            lines.append(f"  {kind:<11}without one holder {data['without_one_s']} s, {data['changes']} changes")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="vrrpkit and keepalived under faults and floods (root only).")
    p.add_argument("--only", help="run the scenarios whose name contains this text")
    p.add_argument("--rounds", type=int, default=1, help="rounds per scenario and daemon; the median is shown")
    p.add_argument("--seed", type=int, default=1, help="where between two adverts the phased faults start")
    p.add_argument(
        "--loss-pattern",
        action="store_true",
        help="loss scenarios drop the same VRRP packets for both daemons of a round (not random frames)",
    )
    p.add_argument("--pps", type=int, default=60000, help="flood rate, packets per second (default 60000)")
    p.add_argument("--flood-seconds", type=float, default=10.0)
    p.add_argument("--loss-seconds", type=float, default=20.0)
    p.add_argument("--hogs", type=int, default=6)
    p.add_argument("--hog-seconds", type=float, default=20.0)
    p.add_argument("--soak", type=float, metavar="SECONDS", help="run the soak (both daemons at once) instead")
    p.add_argument("--soak-every", type=float, default=30.0, help="seconds between RSS/fd samples in the soak")
    p.add_argument("--family", type=int, choices=(4, 6), default=4, help="an IPv4 (default) or IPv6 instance")
    p.add_argument("--lab-name", default=f"chaos{os.getpid() % 10000}")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/chaos.py: needs root (network namespaces)", file=sys.stderr)
        return 2
    if not os.access(KEEPALIVED, os.X_OK) or not shutil.which("gcc"):
        print(f"bench/chaos.py: needs {KEEPALIVED} and gcc", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def say(msg: str) -> None:
        if not args.json or sys.stderr.isatty():
            print(msg, file=sys.stderr, flush=True)

    report = run_soak(args, say) if args.soak else run_chaos(args, say)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
