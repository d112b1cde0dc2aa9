"""A lazy read's byte match (io/stamped.py) never mistakes a datagram for an advert it is not.

While a socket is read lazily, a datagram whose raw bytes match a BACKUP's known advert only moves
that BACKUP's Master_Down; it never reaches the parser or the router's rules. So the match must be
exact: the oracle is the ordinary path, the socket's own parse (`parse_ip`, then the fields a
router is given). For every datagram, a hit means the parse gives the known advert's source,
destination, TTL and VRRP message; and a 20-byte-header datagram whose parse gives them is a hit
(else the fast path would be no faster, not wrong).

Datagrams: test_fuzz_decode's IPv4 corpus as whole IP packets at TTL 255, each the table's entry,
sent as is, with another TTL, with IP options, and with the whole packet (header included)
mutated, then made into what the kernel would deliver on a protocol-112 raw socket (version 4, a
header length and total length that fit, trimmed to the total length, a valid header checksum;
anything else never arrives). Through a real recvmmsg with receive stamps: a Unix datagram
socket pair (the same system calls, no root). Case budget: 5% of ``VRRPKIT_FUZZ_CASES``.
"""

from __future__ import annotations

import os
import random
import socket
import struct
from collections.abc import Iterable
from ipaddress import IPv4Address

import pytest
from test_fuzz_decode import CORPUS, MUTATORS

from vrrpkit.core.packet import InvalidPacket, build_ipv4, checksum, parse_ip
from vrrpkit.io.stamped import Known, LazyReader, known_key
from vrrpkit.io.vrrp_socket import Datagram, SocketStats

TOTAL_CASES = int(os.environ.get("VRRPKIT_FUZZ_CASES", "100000"))
CASES = TOTAL_CASES * 5 // 100
SEED = int(os.environ.get("VRRPKIT_FUZZ_SEED", "0x4b4e4f57"), 0)  # "KNOW"
_SO_TIMESTAMPNS = 35

V4 = [(msg, src, dst) for msg, src, dst, _form in CORPUS if isinstance(src, IPv4Address)]


def parse(packet: bytes) -> Datagram:
    """The ordinary path's view of a datagram (what VrrpSocket4 hands a router)."""
    ip = parse_ip(packet)
    return Datagram(ip.src, ip.dst, ip.ttl, ip.payload, "lab0")


def delivered(packet: bytes) -> bytes | None:
    """What a protocol-112 raw socket would be given for these bytes, or None: the kernel drops
    a header that does not fit or is not IPv4, trims to the total length and has verified the
    header checksum (recomputed here, as the mutation broke it)."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != 112:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack("!H", packet[2:4])[0]
    if ihl < 20 or total < ihl or total > len(packet):
        return None
    header = packet[:10] + b"\0\0" + packet[12:ihl]
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + packet[ihl:total]


def with_options(packet: bytes) -> bytes:
    """The same datagram with a 4-byte IP option (router alert): a 24-byte header."""
    payload = packet[20:]
    header = bytearray(packet[:20] + b"\x94\x04\x00\x00")
    header[0] = 0x46
    header[2:4] = struct.pack("!H", 24 + len(payload))
    header[10:12] = b"\0\0"
    header[10:12] = struct.pack("!H", checksum(bytes(header)))
    return bytes(header) + payload


@pytest.fixture()
def pair() -> Iterable[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        b.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        b.setblocking(False)
        yield a, b
    finally:
        a.close()
        b.close()


def test_a_match_is_exactly_the_known_advert(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    rng = random.Random(SEED)
    reader = LazyReader(parse, SocketStats())
    outcomes = {"hit": 0, "miss": 0, "unparsed": 0}
    for case in range(CASES):
        msg, src, dst = V4[case % len(V4)]
        known = Known("VI_1", 255, None)
        table = {known_key(src, dst, msg): known}
        original = build_ipv4(src, dst, msg, ttl=255)
        roll = rng.random()
        if roll < 0.2:
            packet: bytes | None = original
        elif roll < 0.3:
            packet = build_ipv4(src, dst, msg, ttl=rng.randrange(255))
        elif roll < 0.35:
            packet = with_options(original)
        else:
            packet = delivered(rng.choice(MUTATORS)(rng, original))
        if packet is None:
            continue
        sender.send(packet)
        batch = reader.drain_known(receiver.fileno(), 64, table, lambda hits: True)
        assert batch.read == 1
        try:
            seen = parse(packet)
        except InvalidPacket:
            seen = None
        same = seen is not None and (seen.src, seen.dst, seen.ttl, seen.payload) == (src, dst, 255, msg)
        if batch.hits is not None:
            assert same, f"matched as the known advert, but parses as {seen}: {packet.hex()}"
            assert list(batch.hits) == [known] and batch.seen == [known] and not batch.good
            outcomes["hit"] += 1
            continue
        assert not (same and packet[0] == 0x45), f"the known advert, not matched: {packet.hex()}"
        assert len(batch.good) + len(batch.bad) == 1 and len(batch.stamps) == len(batch.good)
        outcomes["miss" if batch.good else "unparsed"] += 1
    print(f"\nknown-advert match: {outcomes}")
    assert outcomes["hit"] >= CASES // 10 and outcomes["miss"] >= CASES // 10
