"""Micro-benchmarks of the core's hot path, in microseconds per call (no keepalived equivalent).

- `handle_timer`: a MASTER's advert timer fires; the router re-arms it and emits the cached
  SendAdvert bytes, which we drain as the daemon does (`for e in router.effects()`).
- `datagram_received`: a BACKUP receives a valid VRRPv3 advert from a higher-priority master
  (decode + checksum + receive rules + re-arm of Master_Down_Timer), effects drained.
- `encode`: building the advert from scratch, what the advert cache saves on every tick.

Run alone: `.venv/bin/python bench/micro.py [--quick] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vrrpkit.config import DictLoader, load_string
from vrrpkit.core import effects as fx
from vrrpkit.core.packet import Advertisement, encode
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State

GROUP = IPv4Address("224.0.0.18")
MASTER_ADDR = IPv4Address("192.0.2.2")
BACKUP_ADDR = IPv4Address("192.0.2.1")


def _instance_conf(priority: int, state: str, interval: float) -> str:
    return (
        "global_defs {\n    vrrp_version 3\n    vrrp_garp_master_delay 0\n}\n"
        "vrrp_instance VI_1 {\n"
        f"    state {state}\n    interface eth0\n    virtual_router_id 1\n    priority {priority}\n"
        f"    advert_int {interval:g}\n"
        "    virtual_ipaddress {\n        198.51.100.1/32\n    }\n}\n"
    )


def _router(priority: int, state: str, address: IPv4Address, interval: float) -> VirtualRouter:
    result = load_string(_instance_conf(priority, state, interval), "bench.conf", loader=DictLoader({}))
    if not result.instances:
        raise SystemExit(f"micro-benchmark config did not parse: {result.diagnostics}")
    return VirtualRouter(result.instances[0], address)


def _drain(router: VirtualRouter) -> list[fx.Effect]:
    return list(router.effects())


def _master(interval: float) -> VirtualRouter:
    router = _router(200, "MASTER", MASTER_ADDR, interval)
    router.start(0.0)
    deadline = router.get_timer()
    assert deadline is not None
    router.handle_timer(deadline)  # Master_Down_Timer: BACKUP -> MASTER
    assert router.state is State.MASTER, router.state
    _drain(router)
    return router


def _time_per_call(step: Callable[[int], None], loops: int, repeats: int) -> dict[str, float]:
    """µs per call: best and median of `repeats` runs of `loops` calls (best = least disturbed)."""
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for i in range(loops):
            step(i)
        per_call.append((time.perf_counter_ns() - start) / loops / 1000)
    return {"best_us": round(min(per_call), 3), "median_us": round(statistics.median(per_call), 3), "calls": loops}


def bench_handle_timer(loops: int, repeats: int, interval: float = 0.1) -> dict[str, float]:
    router = _master(interval)
    now = [router.get_timer() or 0.0]
    sent = [0]

    def step(_: int) -> None:
        t = now[0]
        router.handle_timer(t)
        for effect in router.effects():
            if type(effect) is fx.SendAdvert:
                sent[0] += 1
        now[0] = router.get_timer() or t + interval

    result = _time_per_call(step, loops, repeats)
    if sent[0] != loops * repeats:
        raise RuntimeError(f"handle_timer sent {sent[0]} adverts in {loops * repeats} calls")
    return result


def bench_datagram_received(loops: int, repeats: int, interval: float = 0.1) -> dict[str, float]:
    master = _master(interval)
    master.handle_timer(master.get_timer() or 0.0)
    data = next(e.data for e in master.effects() if isinstance(e, fx.SendAdvert))
    backup = _router(100, "BACKUP", BACKUP_ADDR, interval)
    backup.start(0.0)
    _drain(backup)
    now = [0.0]
    before = backup.stats.advert_rcvd

    def step(_: int) -> None:
        now[0] += interval
        backup.datagram_received(data, MASTER_ADDR, GROUP, 255, now[0])
        for _effect in backup.effects():
            pass

    result = _time_per_call(step, loops, repeats)
    if backup.state is not State.BACKUP or backup.stats.advert_rcvd - before != loops * repeats:
        raise RuntimeError(f"datagram_received: state {backup.state}, counted {backup.stats.advert_rcvd - before}")
    return result


def bench_encode(loops: int, repeats: int) -> dict[str, float]:
    adv = Advertisement(version=3, vrid=1, priority=200, addresses=(IPv4Address("198.51.100.1"),), interval=0.1)
    return _time_per_call(lambda _: encode(adv, MASTER_ADDR, GROUP), loops, repeats)


def run_micro(quick: bool = False) -> dict[str, Any]:
    loops, repeats = (5_000, 3) if quick else (50_000, 7)
    return {
        "handle_timer_cached_advert": bench_handle_timer(loops, repeats),
        "datagram_received_valid_advert": bench_datagram_received(loops, repeats),
        "encode_advert_uncached": bench_encode(loops, repeats),
        "python": sys.version.split()[0],
    }


def render_micro(micro: dict[str, Any]) -> str:
    lines = [f"core hot path (Python {micro['python']}, one thread, no I/O), µs per call:"]
    for key, label in (
        ("handle_timer_cached_advert", "VirtualRouter.handle_timer (MASTER, cached advert) + drain"),
        ("datagram_received_valid_advert", "VirtualRouter.datagram_received (BACKUP, valid v3 advert) + drain"),
        ("encode_advert_uncached", "packet.encode (what the advert cache saves)"),
    ):
        row = micro[key]
        lines.append(f"  {label:<68} best {row['best_us']:7.2f}  median {row['median_us']:7.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (for a smoke test)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    micro = run_micro(args.quick)
    print(json.dumps(micro, indent=2) if args.json else render_micro(micro))
    return 0


if __name__ == "__main__":
    sys.exit(main())
