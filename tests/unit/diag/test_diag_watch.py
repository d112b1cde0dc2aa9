"""The per-VRID table behind `watch`: who is master, and which adverts are wrong (pure, fed sightings)."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_interface

import pytest

from vrrpkit.core.config import InstanceConfig, Vip
from vrrpkit.core.packet import Advertisement, build_ipv4, encode
from vrrpkit.diag import findings as F
from vrrpkit.diag import watch as watch_mod
from vrrpkit.diag.decode import Sighting, sight, sight_ip
from vrrpkit.diag.watch import Sender, VridTable

GROUP = IPv4Address("224.0.0.18")
A, B, C = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2"), IPv4Address("192.0.2.3")
VIP, OTHER = IPv4Address("192.0.2.100"), IPv4Address("192.0.2.200")


def ad(src: IPv4Address, t: float, prio: int = 100, vips: tuple[IPv4Address, ...] = (VIP,), ttl: int = 255,
       interval: float = 1.0, version: int = 2, auth: bytes = b"", outgoing: bool = False) -> Sighting:  # fmt: skip
    payload = encode(Advertisement(version, 51, prio, vips, interval, 1 if auth else 0, auth), src, GROUP)
    return sight(src, GROUP, ttl, payload, time=t, mac=f"02:00:00:00:00:0{str(src)[-1]}", outgoing=outgoing,
                 ifname="eth0")  # fmt: skip


def cfg(**kw: object) -> InstanceConfig:
    base: dict[str, object] = {"name": "VI_1", "interface": "eth0", "vrid": 51,
                               "vips": (Vip(ip_interface("192.0.2.100/24")),)}
    base.update(kw)
    return InstanceConfig(**base)  # type: ignore[arg-type]


def feed(table: VridTable, sightings: list[Sighting]) -> list[str]:
    out: list[str] = []
    for s in sorted(sightings, key=lambda s: s.time):
        out += [f.code for f in table.feed(s)]
    return out


def test_one_master_is_quiet_and_shows_in_the_table() -> None:
    t = VridTable([cfg()])
    assert feed(t, [ad(A, i) for i in range(5)]) == []
    [row] = t.table(now=4.5)
    assert row["masters"] == ["192.0.2.1"] and row["instance"] == "VI_1" and row["senders"][0]["adverts"] == 5


def test_preemption_handover_is_not_two_masters() -> None:
    """B (higher) starts; A sends at most once more, then stops: overlap of one advert."""
    sightings = [ad(A, i) for i in range(5)] + [ad(B, 4.5 + i, prio=200) for i in range(4)] + [ad(A, 5.0)]
    assert feed(VridTable([cfg()]), sightings) == []


def test_two_masters_interleaving_is_split_brain_once() -> None:
    t = VridTable([cfg()])
    codes = feed(t, [ad(A, i) for i in range(6)] + [ad(B, i + 0.5, prio=90) for i in range(6)])
    assert codes == [F.SPLIT_BRAIN]
    assert {m["src"] for m in t.flags[0].evidence["masters"]} == {"192.0.2.1", "192.0.2.2"}


def test_our_own_adverts_count_as_a_master() -> None:
    t = VridTable([cfg()], own_addresses=[B])
    codes = feed(t, [ad(A, i) for i in range(4)] + [ad(B, i + 0.5, outgoing=True) for i in range(4)])
    assert codes == [F.SPLIT_BRAIN] and any(m["ours"] for m in t.flags[0].evidence["masters"])


def test_foreign_cluster_on_our_vrid() -> None:
    t = VridTable([cfg()])
    assert feed(t, [ad(C, 0, prio=200, vips=(OTHER,)), ad(C, 1, prio=200, vips=(OTHER,))]) == [F.VRID_COLLISION]
    assert t.flags[0].evidence["their_vips"] == ["192.0.2.200"]


def test_without_config_the_first_sender_is_the_reference() -> None:
    t = VridTable()
    assert feed(t, [ad(A, 0), ad(C, 0.5, vips=(OTHER,))]) == [F.VRID_COLLISION]
    assert t.flags[0].evidence["reference"] == "first-sender"


def test_config_mismatches() -> None:
    assert feed(VridTable([cfg(auth_type=1, auth_pass=b"mine")]), [ad(A, 0, auth=b"theirs")]) == [F.AUTH_MISMATCH]
    assert feed(VridTable([cfg(advert_int_cs=200)]), [ad(A, 0)]) == [F.INTERVAL_MISMATCH]
    assert feed(VridTable([cfg(version=3, advert_int_cs=100)]), [ad(A, 0)]) == [F.VERSION_MISMATCH]
    assert feed(VridTable([cfg()]), [ad(A, 0, ttl=64), ad(A, 1, ttl=64)]) == [F.TTL_NOT_255]


def test_keepalived_s_ah_adverts_are_checked_against_the_configured_auth_pass() -> None:
    """The password is not on the wire with AH: the ICV is checked with the configuration's."""
    packet = bytes.fromhex("45c0004000010000ff3317eec00002c9e000001270040000c00002c900000002552bafdc36c0bf99285417b4"
                           "21339601020183cfc00002fa0000000000000000")  # fmt: skip (keepalived 2.2.7, test_ah.py)
    s = sight_ip(packet, time=0.0, ifname="eth0")
    assert s is not None
    ah = {"vips": (Vip(ip_interface("192.0.2.250/24")),), "auth_type": 2}
    assert feed(VridTable([cfg(**ah, auth_pass=b"secret12", priority=100)]), [s]) == []
    assert feed(VridTable([cfg(**ah, auth_pass=b"wrong", priority=100)]), [s]) == [F.AUTH_MISMATCH]
    assert feed(VridTable([cfg(vips=ah["vips"], priority=100)]), [s]) == [F.AUTH_MISMATCH]  # AH against none


def test_strict_config_compares_without_its_ignored_auth_block() -> None:
    """keepalived drops the authentication block in strict mode; so must the comparison."""
    assert feed(VridTable([cfg(strict=True, auth_type=1, auth_pass=b"x")]), [ad(A, 0)]) == []


def test_bad_checksum_is_flagged_and_counted() -> None:
    payload = encode(Advertisement(2, 51, 100, (VIP,), 1.0), A, GROUP)
    broken = payload[:6] + b"\0\0" + payload[8:]
    s = sight_ip(build_ipv4(A, GROUP, broken))
    assert s is not None
    t = VridTable([cfg()])
    assert [f.code for f in t.feed(s)] == [F.BAD_CHECKSUM]
    assert t.table(now=0)[0]["senders"][0]["invalid"] == {"bad-checksum": 1}


def _spoofed(n: int, rounds: int, start: float = 0.0) -> list[Sighting]:
    """n senders from 10.0.0.0/16, all with priority 100, each advertising ``rounds`` times."""
    srcs = [IPv4Address(0x0A000000 + i) for i in range(1, n + 1)]
    return [ad(src, start + r + i / (10 * n)) for r in range(rounds) for i, src in enumerate(srcs)]


def test_per_packet_work_is_bounded_whatever_the_number_of_spoofed_masters(monkeypatch: pytest.MonkeyPatch) -> None:
    """200 spoofed concurrent masters: each packet is compared with a bounded number of senders (the
    old table compared every pair: ~40,000 comparisons, 61 ms a packet)."""
    calls = {"n": 0}
    real = watch_mod._interleaved

    def counting(a: Sender, b: Sender) -> bool:
        calls["n"] += 1
        return real(a, b)

    monkeypatch.setattr(watch_mod, "_interleaved", counting)
    t = VridTable([cfg()])
    for s in _spoofed(200, 3):
        t.feed(s)
    calls["n"] = 0
    t.feed(ad(A, 3.5))
    assert calls["n"] <= watch_mod.MAX_SENDERS
    [row] = t.table(now=3.5)
    assert len(row["senders"]) <= watch_mod.MAX_SENDERS and row["senders_evicted"] >= 200 - watch_mod.MAX_SENDERS


def test_state_stays_bounded_under_5000_spoofed_sources() -> None:
    t = VridTable([cfg()])
    for s in _spoofed(5000, 1):
        t.feed(s)
    for s in _spoofed(300, 3, start=10.0):  # split brains between spoofed masters, in every combination
        t.feed(s)
    [row] = t.table(now=13.0)
    assert len(t.rows[("eth0", 4, 51)].senders) == watch_mod.MAX_SENDERS
    assert len(t.flags) <= watch_mod.MAX_FLAGS
    assert row["senders_evicted"] > 5000 - watch_mod.MAX_SENDERS


def test_a_password_from_the_wire_is_escaped_and_ours_never_shown() -> None:
    t = VridTable([cfg(auth_type=1, auth_pass=b"s3cret")])
    codes = feed(t, [ad(B, i, prio=90, auth=b"\x1b[2Jx") for i in range(2)])
    assert F.AUTH_MISMATCH in codes
    flag = next(f for f in t.flags if f.code == F.AUTH_MISMATCH)
    assert "\x1b" not in flag.message and "\\x1b[2Jx" in flag.message
    assert "s3cret" not in flag.message and "s3cret" not in str(flag.evidence)


def test_the_timeline_stays_bounded_under_spoofed_senders() -> None:
    from vrrpkit.diag import timeline as tl

    t = tl.Timeline()
    for s in _spoofed(2000, 1):
        t.feed(s)
    [hist] = t.vrids.values()
    assert len(hist.current) <= tl.MAX_CURRENT and len(hist.runs) <= tl.MAX_RUNS
