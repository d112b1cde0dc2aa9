"""The probe wire format (docs/probe.md) byte by byte, the session's accounting, and its default interface."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

import pytest

from vrrpkit.core.packet import DropReason, InvalidPacket, checksum, inspect
from vrrpkit.diag import probe_wire as pw
from vrrpkit.diag.probe import ProbeSession
from vrrpkit.diag.probe_wire import Kind, Path, ProbeMessage

REQ = ProbeMessage(Kind.REQUEST, Path.VRRP_MULTICAST, 0x01020304, 7, 0x1122334455667788, vrid=254)


def test_layout_matches_the_document() -> None:
    data = pw.encode_vrrp(REQ)
    assert len(data) == 48
    assert data[:6] == bytes([0x3F, 254, 0, 0, 0, 0])
    assert data[8:16] == b"VRKPROBE"
    assert data[16:20] == bytes([1, 1, 1, 0])  # format 1, request, vrrp-multicast, ttl 0
    assert data[20:24] == bytes.fromhex("01020304")
    assert struct.unpack("!I", data[24:28])[0] == 7
    assert data[28:36] == bytes.fromhex("1122334455667788")
    assert data[36:48] == bytes(12)
    assert checksum(data) == 0  # the IPv4 form: RFC 1071 over the whole message


def test_udp_payload_is_the_body_only() -> None:
    assert pw.encode_body(REQ) == pw.encode_vrrp(REQ)[8:]
    assert len(pw.encode_body(REQ)) == pw.BODY_LEN == 40


def test_round_trip_and_reply() -> None:
    assert pw.decode_vrrp(pw.encode_vrrp(REQ)) == REQ
    reply = pw.reply_to(REQ, session=0xAABBCCDD, ttl=64)
    assert (reply.kind, reply.path, reply.seq, reply.time_ns) == (Kind.REPLY, REQ.path, 7, REQ.time_ns)
    assert (reply.session, reply.requester, reply.ttl) == (0xAABBCCDD, REQ.session, 64)
    assert pw.decode_body(pw.encode_body(reply)) == ProbeMessage(
        Kind.REPLY, REQ.path, 0xAABBCCDD, 7, REQ.time_ns, 64, REQ.session, vrid=0
    )


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda d: d[:8] + b"XRKPROBE" + d[16:], "marker"),
        (lambda d: d[:16] + b"\x02" + d[17:], "format version"),
        (lambda d: d[:17] + b"\x09" + d[18:], "kind"),
        (lambda d: d[:18] + b"\x09" + d[19:], "path"),
        (lambda d: d[:30] + b"\xff" + d[31:], "checksum"),
        (lambda d: d[:40], "short"),
    ],
)
def test_rejects(mutate: object, why: str) -> None:
    with pytest.raises(pw.NotAProbe):
        pw.decode_vrrp(mutate(pw.encode_vrrp(REQ)))  # type: ignore[operator]


def test_ipv6_skips_the_checksum_the_kernel_checked() -> None:
    data = bytearray(pw.encode_vrrp(REQ))
    data[6:8] = b"\x12\x34"  # as IPV6_CHECKSUM would have rewritten it
    assert pw.decode_vrrp(bytes(data), verify_checksum=False) == REQ


def test_every_vrrp_router_rejects_it_at_its_first_checks() -> None:
    """Our own codec (what `vrrpkit run` applies) drops it: length, since count is 0 with a body."""
    with pytest.raises(InvalidPacket) as info:
        inspect(pw.encode_vrrp(REQ), IPv4Address("192.0.2.1"), IPv4Address("224.0.0.18"))
    assert info.value.reason in (DropReason.LENGTH_MISMATCH, DropReason.BAD_TYPE)


def test_is_probe() -> None:
    assert pw.is_probe(pw.encode_vrrp(REQ))
    assert not pw.is_probe(bytes.fromhex("213398010101225cc0a800633131313100000000"))


def test_session_echoes_requests_and_counts_replies_once() -> None:
    peer = IPv4Address("192.0.2.2")
    s = ProbeSession("lo", [peer], count=3)  # no socket is opened before run()
    s.session = 99
    theirs = ProbeMessage(Kind.REQUEST, Path.UDP_UNICAST, 5, 2, 1000)
    reply = s.handle(peer, 64, theirs, 2000)
    assert reply is not None and (reply.requester, reply.ttl, reply.session) == (5, 64, 99)
    assert s.results[peer].paths[Path.UDP_UNICAST].heard == {2}
    warmup = ProbeMessage(Kind.REQUEST, Path.UDP_UNICAST, 5, 0, 1000)
    assert s.handle(peer, 64, warmup, 2000) is not None and s.results[peer].paths[Path.UDP_UNICAST].heard == {2}
    ours = ProbeMessage(Kind.REPLY, Path.VRRP_MULTICAST, 5, 1, 1_000_000, 255, requester=99)
    assert s.handle(peer, 255, ours, 3_000_000) is None
    assert s.handle(peer, 255, ours, 9_000_000) is None  # duplicate: not counted twice
    stats = s.results[peer].paths[Path.VRRP_MULTICAST]
    stats.sent = 3
    assert (stats.received, stats.rtt_ms, stats.ttl_at_peer, stats.loss) == (1, {1: 2.0}, {255}, 66.7)
    someone_elses = ProbeMessage(Kind.REPLY, Path.VRRP_MULTICAST, 5, 2, 0, 255, requester=1234)
    assert s.handle(peer, 255, someone_elses, 1) is None and stats.received == 1
    assert s.handle(peer, 255, ProbeMessage(Kind.REQUEST, Path.VRRP_MULTICAST, 99, 1, 0), 1) is None  # our own


def test_ipv6_link_local_multicast_is_folded_into_the_listed_peer_by_session() -> None:
    from ipaddress import IPv6Address

    listed, link_local = IPv6Address("2001:db8::2"), IPv6Address("fe80::2")
    s = ProbeSession("lo", [listed], count=2)
    s.session = 7
    s.handle(listed, 64, ProbeMessage(Kind.REPLY, Path.UDP_UNICAST, 40, 1, 0, 64, requester=7), 1_000_000)
    s.handle(link_local, 255, ProbeMessage(Kind.REPLY, Path.VRRP_MULTICAST, 40, 1, 0, 255, requester=7), 2_000_000)
    s.handle(link_local, 255, ProbeMessage(Kind.REQUEST, Path.VRRP_MULTICAST, 40, 2, 0), 2_000_000)
    [peer] = s.merged()
    assert peer.address == listed and peer.paths[Path.VRRP_MULTICAST].received == 1
    assert peer.paths[Path.VRRP_MULTICAST].heard == {2} and peer.paths[Path.UDP_UNICAST].rtt_ms == {1: 1.0}


def test_default_interface_is_the_one_holding_the_route_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """probe without -i: the interface whose address the kernel would send from, skipping the unreadable."""
    from vrrpkit.diag.probe import interface_towards
    from vrrpkit.io import netlink

    held = {"eth0": [IPv4Address("198.51.100.1")], "eth1": [IPv4Address("192.0.2.2")]}

    def addresses(name: str, family: int | None = None) -> list[netlink.AddressInfo]:
        if name not in held:
            raise OSError(19, f"no such interface: {name}")
        return [netlink.AddressInfo(a, 24, 0, 0, None, None) for a in held[name]]

    source: list[IPv4Address | None] = [IPv4Address("192.0.2.2")]
    monkeypatch.setattr(netlink, "route_source", lambda dst: source[0])
    monkeypatch.setattr(netlink, "interface_names", lambda: ["a-gone", "eth0", "eth1"])
    monkeypatch.setattr(netlink, "addresses", addresses)
    assert interface_towards(IPv4Address("192.0.2.1")) == "eth1"
    source[0] = IPv4Address("203.0.113.9")  # a source no interface holds (e.g. a lost race)
    assert interface_towards(IPv4Address("192.0.2.1")) is None
    source[0] = None  # no route
    assert interface_towards(IPv4Address("192.0.2.1")) is None
