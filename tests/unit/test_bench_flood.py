"""bench/chaos.py's flood packets, read back by the codec: the garbage flood must fail only its
checksum, and the valid ones must be what the table says they are (VRID 51 at priority 1, VRID 52),
in both families, or the flood rows measure something else. bench/flood.c sends these bytes as they
are (IPv4 behind its own header, IPv6 on a raw socket that leaves the checksum alone)."""

from __future__ import annotations

import importlib.util
import sys
import threading
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from types import ModuleType

import pytest

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6
from vrrpkit.core.packet import DropReason, InvalidPacket, decode

CHAOS = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


def chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_chaos", CHAOS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("src", [ip_address("192.0.2.3"), ip_address("fe80::76:6bff:fe00:3")])
def test_the_flood_packets_are_what_the_table_says(src: IPv4Address | IPv6Address) -> None:
    bench = chaos()
    group = VRRP_GROUP4 if src.version == 4 else VRRP_GROUP6
    vip = bench.VIP if src.version == 4 else bench.VIP6
    with pytest.raises(InvalidPacket) as bad:
        decode(bench.flood_payload("garbage", src, 0.1), src, group)
    assert bad.value.reason is DropReason.BAD_CHECKSUM
    low = decode(bench.flood_payload("low", src, 0.1), src, group)
    assert (low.version, low.vrid, low.priority, low.addresses, low.interval_cs) == (3, 51, 1, (vip,), 10)
    other = decode(bench.flood_payload("other", src, 0.1), src, group)
    assert (other.vrid, other.priority, other.addresses) == (52, 100, (bench.OTHER_VIP[src.version],))


def test_the_sigstop_row_taken_apart() -> None:
    """The SIGSTOP row is (thaw - last advert) - takeover + way back: each step from the watch's
    stamps, so a run says which daemon is slower at what (bench/chaos.py `freeze_steps`)."""
    bench = chaos()
    watch = bench.HolderWatch.__new__(bench.HolderWatch)  # no lab: the stamps are the input
    watch.hosts = ["h1", "h2"]
    watch._lock = threading.Lock()
    watch.adverts = {"h1": [], "h2": [(9.9, 150), (10.0, 150), (12.5004, 150), (12.6, 150)]}
    watch.events = {"h1": [(1.0, True)], "h2": [(1.0, False), (10.3615, True), (12.5007, False)]}
    steps = bench.freeze_steps(watch, stopped=10.05, thawed=12.5)
    assert steps == {
        "takeover_after_last_advert_ms": 361.5,
        "thaw_to_advert_ms": 0.4,
        "advert_to_stepdown_ms": 0.3,
    }
    assert bench.freeze_steps(watch, stopped=10.05, thawed=13.0) == {}  # h1 never heard again: no steps
    row = {"name": "SIGSTOP master 2 s", "interval": 0.1}
    row["vrrpkit"] = {"without_one_s": 2.1389, "changes": 2, **steps}
    row["keepalived"] = {"without_one_s": 2.1388, "changes": 2, **steps}
    machine = {"date": "d", "kernel": "k", "python": "p", "load_avg_before": (0, 0, 0)}
    text = bench.render({"machine": machine, "scenarios": [row]})
    assert "    advert to stepdown                   0.300 / 0.300" in text
