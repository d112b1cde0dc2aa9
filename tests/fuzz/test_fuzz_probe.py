"""Fuzz the probe responder: whatever arrives, ``ProbeBook.on_vrrp``/``on_udp`` return what to send
(or nothing) and never raise, every reply is a valid signed probe going back by its arrival path,
and the book's state stays within its bounds.

Inputs (10,000 per run, seeded ``random.Random``): valid requests and replies of every path and
kind mutated by byte writes, truncations, extensions and re-sealed checksums (so the checks behind
the checksum are reached), VRID 0, random bytes of length 0..120; from listed, on-subnet and
foreign sources, to our address, the groups and elsewhere. ``VRRPKIT_FUZZ_SEED`` changes the seed.
"""

from __future__ import annotations

import os
import random
import struct
from ipaddress import IPv4Address, IPv4Network

from hypothesis import given, settings
from hypothesis import strategies as st

from vrrpkit.core.config import VRRP_GROUP4
from vrrpkit.core.packet import checksum
from vrrpkit.diag import probe_book as pb
from vrrpkit.diag import probe_wire as pw
from vrrpkit.diag.probe_book import ProbeBook
from vrrpkit.diag.probe_wire import Kind, Path

SEED = int(os.environ.get("VRRPKIT_FUZZ_SEED", "112"))
ME, PEER = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")
SOURCES = [PEER, IPv4Address("192.0.2.77"), IPv4Address("203.0.113.9"), ME]
DESTS = [ME, VRRP_GROUP4, pw.UDP_GROUP4, IPv4Address("192.0.2.9")]


def responder() -> ProbeBook:
    b = ProbeBook([PEER], 10, 0.2, 0x5151, bytes([7]) * 32)
    b.own = {ME}
    b.subnets = [IPv4Network("192.0.2.0/24")]
    return b


def seeds(other: ProbeBook) -> list[bytes]:
    """Valid messages of every kind and path, as the peer would send them."""
    out = []
    for path in Path:
        req = other.request(path, 3, 123456789)
        out.append(pw.encode_vrrp(req))
        key = pw.pair_key(other.private, other.public, pw.public_key(bytes([7]) * 32))
        out.append(pw.encode_vrrp(pw.reply_to(req, other.session, 255, other.public, key)))
    return out


def reseal(data: bytearray) -> bytes:
    if len(data) >= 8:
        data[6:8] = b"\0\0"
        data[6:8] = struct.pack("!H", checksum(bytes(data)))
    return bytes(data)


def mutate(rnd: random.Random, data: bytes) -> bytes:
    d = bytearray(data)
    op = rnd.randrange(5)
    if op == 0 and d:
        for _ in range(rnd.randrange(1, 4)):
            d[rnd.randrange(len(d))] = rnd.randrange(256)
        return reseal(d) if rnd.random() < 0.7 else bytes(d)
    if op == 1:
        return bytes(d[: rnd.randrange(len(d) + 1)])
    if op == 2:
        return bytes(d + rnd.randbytes(rnd.randrange(1, 40)))
    if op == 3:
        d[1] = 0  # VRID 0: killed version 1's responder
        return reseal(d)
    return rnd.randbytes(rnd.randrange(0, 121))


def check(book: ProbeBook, sent: list[pb.Send], src: IPv4Address) -> None:
    for payload, to in sent:
        assert to in (None, src)
        msg = pw.decode_vrrp(payload) if len(payload) == pw.MESSAGE_LEN else pw.decode_body(payload)
        assert msg.kind is Kind.REPLY and msg.public_key == book.public and msg.session == book.session


def test_ten_thousand_random_and_mutated_packets_never_raise() -> None:
    rnd = random.Random(SEED)
    book = responder()
    valid = seeds(ProbeBook([ME], 10, 0.2, 0x7777, bytes([9]) * 32))
    answered = 0
    for i in range(10_000):
        data = mutate(rnd, rnd.choice(valid))
        src, dst = rnd.choice(SOURCES), rnd.choice(DESTS)
        now = i / 1000
        sent = book.on_vrrp(src, dst, rnd.randrange(256), data, i, now)
        sent += book.on_udp(src, rnd.choice([*DESTS, None]), rnd.randrange(256), data[8:], i, now)
        check(book, sent, src)
        answered += len(sent)
    size = book.state_size()
    assert size["results"] <= 1 + pb.MAX_UNLISTED and size["sources"] <= pb.MAX_SOURCES
    assert answered > 0  # the fuzz reached the answering path, not only the decoder
    assert all(len(s.heard) <= pb.MAX_HEARD for r in book.results.values() for s in r.paths.values())


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=120), src=st.sampled_from(SOURCES), dst=st.sampled_from(DESTS), ttl=st.integers(0, 255))
def test_any_bytes_any_addresses(data: bytes, src: IPv4Address, dst: IPv4Address, ttl: int) -> None:
    book = responder()
    check(book, book.on_vrrp(src, dst, ttl, data, 0), src)
    check(book, book.on_udp(src, dst, ttl, data, 0), src)
    header = bytes([pw.HEADER_BYTE, 254, 0, 0, 0, 0, 0, 0]) + pw.MARKER
    check(book, book.on_vrrp(src, dst, ttl, reseal(bytearray(header + data)), 0), src)
