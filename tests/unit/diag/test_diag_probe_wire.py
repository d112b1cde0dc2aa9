"""The probe wire format (docs/probe.md) byte by byte, reply authentication, the responder's rules
(``probe_book``), and the probe's default interface."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv4Network, IPv6Address

import pytest

from vrrpkit.core.config import VRRP_GROUP6
from vrrpkit.core.packet import DropReason, InvalidPacket, checksum, inspect
from vrrpkit.diag import probe_book as pb
from vrrpkit.diag import probe_wire as pw
from vrrpkit.diag.probe_book import ProbeBook
from vrrpkit.diag.probe_wire import Kind, Path, ProbeMessage

KEY_A = pw.public_key(bytes([1]) * 32)
REQ = ProbeMessage(Kind.REQUEST, Path.VRRP_MULTICAST, 0x01020304, 7, 0x1122334455667788, vrid=254, public_key=KEY_A)
GROUP = IPv4Address("224.0.0.18")
A, B, C = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2"), IPv4Address("192.0.2.3")


def test_layout_matches_the_document() -> None:
    data = pw.encode_vrrp(REQ)
    assert len(data) == 88
    assert data[:6] == bytes([0x3F, 254, 0, 0, 0, 0])
    assert data[8:16] == b"VRKPROBE"
    assert data[16:20] == bytes([2, 1, 1, 0])  # format 2, request, vrrp-multicast, ttl 0
    assert data[20:24] == bytes.fromhex("01020304")
    assert struct.unpack("!I", data[24:28])[0] == 7
    assert data[28:36] == bytes.fromhex("1122334455667788")
    assert data[36:40] == bytes(4)
    assert data[40:72] == KEY_A and data[72:88] == bytes(16)  # a request carries no tag
    assert checksum(data) == 0  # the IPv4 form: RFC 1071 over the whole message


def test_udp_payload_is_the_body_only() -> None:
    assert pw.encode_body(REQ) == pw.encode_vrrp(REQ)[8:]
    assert len(pw.encode_body(REQ)) == pw.BODY_LEN == 80


def test_x25519_rfc7748_vectors() -> None:
    k = bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
    u = bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
    assert pw.x25519(k, u).hex() == "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    assert pw.public_key(alice).hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    assert pw.x25519(alice, pw.public_key(bob)).hex() == shared == pw.x25519(bob, pw.public_key(alice)).hex()


def test_round_trip_and_a_signed_reply() -> None:
    assert pw.decode_vrrp(pw.encode_vrrp(REQ)) == REQ
    b_private = bytes([2]) * 32
    b_public = pw.public_key(b_private)
    key_b = pw.pair_key(b_private, b_public, KEY_A)
    assert key_b == pw.pair_key(bytes([1]) * 32, KEY_A, b_public)  # both ends derive the same key
    reply = pw.reply_to(REQ, session=0xAABBCCDD, ttl=64, public_key=b_public, key=key_b)
    assert (reply.kind, reply.path, reply.seq, reply.time_ns) == (Kind.REPLY, REQ.path, 7, REQ.time_ns)
    assert (reply.session, reply.requester, reply.ttl) == (0xAABBCCDD, REQ.session, 64)
    decoded = pw.decode_body(pw.encode_body(reply))
    assert pw.verify(key_b, decoded)
    tampered = pw.decode_body(pw.encode_body(reply)[:24] + b"\x00" + pw.encode_body(reply)[25:])
    assert not pw.verify(key_b, tampered)
    assert not pw.verify(pw.pair_key(b_private, b_public, KEY_A, psk=b"other"), decoded)


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda d: d[:8] + b"XRKPROBE" + d[16:], "marker"),
        (lambda d: d[:16] + b"\x01" + d[17:], "format version 1"),
        (lambda d: d[:17] + b"\x09" + d[18:], "kind"),
        (lambda d: d[:18] + b"\x09" + d[19:], "path"),
        (lambda d: d[:30] + b"\xff" + d[31:], "checksum"),
        (lambda d: d[:1] + b"\x00" + d[2:], "VRID 0"),
        (lambda d: d[:80], "short"),
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


# --- the responder's rules -------------------------------------------------------------------------


def book(own: IPv4Address, peers: list[IPv4Address], session: int, seed: int, count: int = 3) -> ProbeBook:
    b = ProbeBook(peers, count, 0.2, session, bytes([seed]) * 32)
    b.own = {own}
    b.subnets = [IPv4Network("192.0.2.0/24")]
    return b


def exchange(requester: ProbeBook, responder: ProbeBook, path: Path, src: IPv4Address, dst: IPv4Address,
             t: float = 0.0) -> list[pb.Send]:  # fmt: skip
    """requester -> responder on ``path``; returns what the responder sends back."""
    msg = requester.request(path, 1, 1_000_000)
    if path.vrrp:
        return responder.on_vrrp(src, dst, 255, pw.encode_vrrp(msg), 2_000_000, t)
    return responder.on_udp(src, dst, 64, pw.encode_body(msg), 2_000_000, t)


def test_a_round_trip_is_answered_by_its_arrival_path_and_counted_once() -> None:
    a, b = book(A, [B], 10, 1), book(B, [A], 20, 2)
    [(data, to)] = exchange(a, b, Path.VRRP_UNICAST, A, B)
    assert to == A  # unicast in, unicast back to the source
    assert a.on_vrrp(B, A, 255, data, 3_000_000) == []
    assert a.on_vrrp(B, A, 255, data, 9_000_000) == []  # a duplicate is not counted twice
    stats = a.results[B].paths[Path.VRRP_UNICAST]
    assert stats.rtt_ms == {1: 2.0} and stats.ttl_at_peer == {255} and a.results[B].authenticated
    assert b.results[A].paths[Path.VRRP_UNICAST].heard == {1}
    [(_data, to)] = exchange(a, b, Path.VRRP_MULTICAST, A, GROUP)
    assert to is None  # multicast in, multicast back
    [(_data, to)] = exchange(a, b, Path.UDP_MULTICAST, A, pw.UDP_GROUP4)
    assert to is None


def test_a_request_whose_path_disagrees_with_its_arrival_is_not_answered() -> None:
    a, b = book(A, [B], 10, 1), book(B, [A], 20, 2)
    assert exchange(a, b, Path.VRRP_MULTICAST, A, B) == []  # says multicast, came unicast
    assert exchange(a, b, Path.VRRP_UNICAST, A, GROUP) == []  # says unicast, came to the group
    assert exchange(a, b, Path.UDP_UNICAST, A, pw.UDP_GROUP4) == []
    assert exchange(a, b, Path.UDP_UNICAST, A, None) == []  # type: ignore[arg-type]  # arrival unknown
    assert b.ignored["path-mismatch"] == 4


def test_only_the_subnet_and_listed_peers_are_answered_at_a_bounded_rate() -> None:
    a, b = book(A, [B], 10, 1), book(B, [A], 20, 2)
    assert exchange(a, b, Path.VRRP_UNICAST, IPv4Address("203.0.113.5"), B) == []  # spoofed foreign source
    assert b.ignored["foreign-source"] == 1
    answered = sum(len(exchange(a, b, Path.VRRP_UNICAST, C, B, t=0.0)) for _ in range(500))
    assert answered == b.limiter.burst  # C is on the subnet, but a burst at one instant is capped
    assert len(exchange(a, b, Path.VRRP_UNICAST, C, B, t=1.0)) == 1  # tokens come back with time


def test_a_forged_reply_is_not_counted() -> None:
    """Anyone on the link sees our request (session, seq, time); only the peer can sign the reply."""
    a, b = book(A, [B], 10, 1), book(B, [A], 20, 2)
    msg = a.request(Path.VRRP_MULTICAST, 1, 1_000_000)
    a.on_vrrp(B, GROUP, 255, pw.encode_vrrp(b.request(Path.VRRP_MULTICAST, 0, 5)), 1)  # B heard: its key kept
    forger = book(C, [A], 30, 3)
    key = pw.pair_key(forger.private, forger.public, a.public)  # a key of its own, not B's
    forged = pw.reply_to(msg, 20, 255, forger.public, key)
    assert a.on_vrrp(B, GROUP, 255, pw.encode_vrrp(forged), 2_000_000) == []
    unsigned = pw.reply_to(msg, 20, 255, b.public)  # B's key, no valid tag
    assert a.on_vrrp(B, GROUP, 255, pw.encode_vrrp(unsigned), 2_000_000) == []
    assert a.results[B].paths[Path.VRRP_MULTICAST].rtt_ms == {} and not a.results[B].authenticated
    assert any("second public key" in w for w in a.warnings) and a.ignored["bad-tag"] == 2


def test_state_stays_bounded_under_spoofed_sources() -> None:
    """3000 sources (three times every bound; version 1 kept a record per source: 20k, 77 MiB)."""
    b = book(B, [A], 20, 2)
    b.subnets = [IPv4Network("10.0.0.0/8")]
    for i in range(3000):
        src = IPv4Address(0x0A000000 + i)
        attacker = ProbeMessage(Kind.REQUEST, Path.VRRP_UNICAST, i + 100, i, 0, public_key=KEY_A)
        b.on_vrrp(src, B, 255, pw.encode_vrrp(attacker), 0, now=i / 1000)
    size = b.state_size()
    assert size["results"] <= 1 + pb.MAX_UNLISTED and size["sources"] <= pb.MAX_SOURCES
    assert size["keys"] <= pb.MAX_KEYS and size["peer_keys"] <= pb.MAX_SOURCES


def test_vrid_zero_and_an_unknown_format_are_ignored_not_fatal() -> None:
    a, b = book(A, [B], 10, 1), book(B, [A], 20, 2)
    data = bytearray(pw.encode_vrrp(a.request(Path.VRRP_UNICAST, 1, 0)))
    data[1] = 0
    data[6:8] = b"\0\0"
    data[6:8] = struct.pack("!H", checksum(bytes(data)))
    assert b.on_vrrp(A, B, 255, bytes(data), 0) == [] and b.ignored["malformed"] == 1


def test_ipv6_link_local_multicast_is_folded_into_the_listed_peer_by_its_key() -> None:
    listed, link_local = IPv6Address("2001:db8::2"), IPv6Address("fe80::2")
    me = IPv6Address("2001:db8::1")
    a = ProbeBook([listed], 2, 0.2, 7, bytes([1]) * 32)
    peer = ProbeBook([me], 2, 0.2, 40, bytes([2]) * 32)
    for src, path, dst in ((listed, Path.UDP_UNICAST, me), (link_local, Path.VRRP_MULTICAST, VRRP_GROUP6)):
        msg = a.request(path, 1, 0)
        key = pw.pair_key(peer.private, peer.public, a.public)
        reply = pw.reply_to(msg, 40, 64 if path is Path.UDP_UNICAST else 255, peer.public, key)
        data = pw.encode_body(reply) if not path.vrrp else pw.encode_vrrp(reply)
        sent = a.on_udp(src, dst, 64, data, 1_000_000) if not path.vrrp else a.on_vrrp(src, dst, 255, data, 2_000_000)
        assert sent == []
    a.on_vrrp(link_local, VRRP_GROUP6, 255, pw.encode_vrrp(peer.request(Path.VRRP_MULTICAST, 2, 0)), 0)
    impostor = IPv6Address("fe80::66")  # claims the peer's session, with a key of its own
    fake = ProbeMessage(Kind.REQUEST, Path.VRRP_MULTICAST, 40, 3, 0, public_key=KEY_A)
    a.on_vrrp(impostor, VRRP_GROUP6, 255, pw.encode_vrrp(fake), 0)
    merged = a.merged()
    assert [r.address for r in merged] == [listed, impostor]
    assert merged[0].paths[Path.VRRP_MULTICAST].received == 1 and merged[0].paths[Path.VRRP_MULTICAST].heard == {2}
    assert merged[0].paths[Path.UDP_UNICAST].rtt_ms == {1: 1.0}


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
