"""io/stamped6.py through real system calls, without root: a UDP socket on the IPv6 loopback gets
the same name and control messages as a raw VRRP socket (source in the name; timestamp, packet
info and hop limit in that order), so known adverts come back as hits, and anything else (another
hop limit, a missing stamp, a datagram too long) is parsed or refused as a raw socket's would be."""

from __future__ import annotations

import socket
import struct
import time
from collections import Counter
from collections.abc import Iterable
from ipaddress import IPv6Address

import pytest

from vrrpkit.core.packet import Advertisement, encode
from vrrpkit.io import consts
from vrrpkit.io.stamped import Known, known_key
from vrrpkit.io.stamped6 import HEAD6, RECV_SLOT6, LazyReader6, _walk
from vrrpkit.io.vrrp_socket import Datagram, SocketStats

LOOP = IPv6Address("::1")
VIP = IPv6Address("2001:db8::99")


def message(vrid: int, priority: int = 200) -> bytes:
    return encode(Advertisement(3, vrid, priority, (VIP,), 0.1), LOOP, LOOP)


def datagram(src: bytes, dst: bytes, hop: int, payload: bytes) -> Datagram:
    return Datagram(IPv6Address(src), IPv6Address(dst), hop, payload, "lo")


@pytest.fixture()
def pair() -> Iterable[tuple[socket.socket, socket.socket]]:
    try:
        receiver = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        receiver.bind(("::1", 0))
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    sender = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        receiver.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS
        receiver.setsockopt(socket.IPPROTO_IPV6, consts.IPV6_RECVHOPLIMIT, 1)
        receiver.setsockopt(socket.IPPROTO_IPV6, consts.IPV6_RECVPKTINFO, 1)
        receiver.setblocking(False)
        sender.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        sender.connect(receiver.getsockname())
        yield sender, receiver
    finally:
        sender.close()
        receiver.close()


def table_of(*vrids: int, hop: int = 255) -> dict[bytes, Known[str]]:
    return {known_key(LOOP, LOOP, message(v)): Known(f"VI_{v}", hop, None) for v in vrids}


def test_known_adverts_come_back_as_counts_and_last_arrivals(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    stats = SocketStats()
    reader = LazyReader6(datagram, stats)
    table = table_of(1, 2)
    before = time.monotonic()
    for vrid in (1, 2, 1, 1):
        sender.send(message(vrid))
    batch = reader.drain_known(receiver.fileno(), 64, table, lambda hits: True)
    after = time.monotonic()
    one, two = table[known_key(LOOP, LOOP, message(1))], table[known_key(LOOP, LOOP, message(2))]
    assert batch.read == 4 and batch.hits is not None and not batch.good, batch
    assert Counter(batch.seen) == {one: 3, two: 1}
    assert before - 0.01 <= batch.hits[two] <= batch.hits[one] <= after
    assert stats.received == 4


def test_another_hop_limit_or_an_unknown_advert_and_the_batch_is_parsed_in_order(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    sender, receiver = pair
    reader = LazyReader6(datagram, SocketStats())
    sender.send(message(1))
    sender.send(message(1, priority=0))  # a goodbye: not the known advert
    sender.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 64)
    sender.send(message(1))  # the known bytes at another hop limit
    batch = reader.drain_known(receiver.fileno(), 64, table_of(1), lambda hits: True)
    assert batch.hits is None and batch.read == 3
    assert [(d.payload[2], d.ttl, d.src, d.dst) for d in batch.good] == [
        (200, 255, LOOP, LOOP), (0, 255, LOOP, LOOP), (200, 64, LOOP, LOOP),
    ]  # fmt: skip
    assert len(batch.stamps) == 3 and batch.stamps == sorted(batch.stamps)


def test_without_stamps_the_control_data_is_walked(pair: tuple[socket.socket, socket.socket]) -> None:
    """A datagram queued before stamping was turned on has no timestamp: its control data is
    shorter than the fixed layout, read message by message, and it counts from the read."""
    sender, receiver = pair
    receiver.setsockopt(socket.SOL_SOCKET, 35, 0)
    reader = LazyReader6(datagram, SocketStats())
    sender.send(message(1))
    before = time.monotonic()
    batch = reader.drain_known(receiver.fileno(), 64, table_of(1), lambda hits: True)
    assert batch.hits is None and [(d.ttl, d.dst) for d in batch.good] == [(255, LOOP)]
    assert before <= batch.stamps[0] <= time.monotonic()
    receiver.setsockopt(socket.SOL_SOCKET, 35, 1)
    sender.send(message(1))  # the slot has its whole control space again
    assert reader.drain_known(receiver.fileno(), 64, table_of(1), lambda hits: True).hits is not None


def test_an_advert_past_the_resident_part_of_a_slot_is_read_whole(pair: tuple[socket.socket, socket.socket]) -> None:
    """40 addresses (648 bytes) reach past a slot's first HEAD6 bytes: matched and parsed whole."""
    sender, receiver = pair
    vips = tuple(IPv6Address(f"2001:db8::{i:x}") for i in range(1, 41))
    big = encode(Advertisement(3, 9, 200, vips, 0.1), LOOP, LOOP)
    assert len(big) > HEAD6
    reader = LazyReader6(datagram, SocketStats())
    sender.send(big)
    sender.send(message(1))
    parsed = reader.drain_known(receiver.fileno(), 64, {}, lambda hits: True)
    assert [d.payload for d in parsed.good] == [big, message(1)]
    table = {known_key(LOOP, LOOP, big): Known("VI_9", 255, None)}
    sender.send(big)
    sender.send(big)
    batch = reader.drain_known(receiver.fileno(), 64, table, lambda hits: True)
    assert batch.hits is not None and len(batch.seen) == 2


def test_a_datagram_longer_than_a_slot_is_refused(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    stats = SocketStats()
    reader = LazyReader6(datagram, stats)
    sender.send(message(1) + bytes(RECV_SLOT6))
    batch = reader.drain_known(receiver.fileno(), 64, table_of(1), lambda hits: True)
    assert batch.hits is None and not batch.good and len(batch.bad) == 1 and stats.bad_ip_headers == 1


def test_control_messages_are_read_in_any_order_and_missing_ones_are_none() -> None:
    def cmsg(level: int, kind: int, body: bytes) -> bytes:
        raw = struct.pack("=Qii", 16 + len(body), level, kind) + body
        return raw + bytes(-len(raw) % 8)

    dst = LOOP.packed
    hop = cmsg(socket.IPPROTO_IPV6, consts.IPV6_HOPLIMIT, struct.pack("=i", 7))
    info = cmsg(socket.IPPROTO_IPV6, consts.IPV6_PKTINFO, dst + struct.pack("=I", 1))
    stamp = cmsg(socket.SOL_SOCKET, 35, struct.pack("=qq", 5, 500_000_000))
    assert _walk(hop + info + stamp) == (5.5, (dst, 7))
    assert _walk(info) == (None, (dst, None))
    assert _walk(b"") == (None, (None, None))
    assert _walk(struct.pack("=Qii", 4, 0, 0)) == (None, (None, None))  # a length that cannot be: stop
