"""io/stamped.py through real system calls (recvmmsg with receive stamps on a Unix datagram socket
pair, no root): a batch of known adverts comes back as which came, how often and when each last
did; one datagram that is not known, or an entry the caller no longer vouches for, and the same
buffers are parsed in order, as an ordinary read."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterable
from ipaddress import IPv4Address

import pytest

from vrrpkit.core.packet import Advertisement, build_ipv4, encode, parse_ip
from vrrpkit.io import stamped
from vrrpkit.io.stamped import RECV_SLOT4, Known, LazyReader, known_key
from vrrpkit.io.vrrp_socket import Datagram, SocketStats

SRC, OTHER, GROUP = IPv4Address("192.0.2.2"), IPv4Address("192.0.2.3"), IPv4Address("224.0.0.18")
VIP = IPv4Address("192.0.2.99")


def message(vrid: int, priority: int = 200) -> bytes:
    return encode(Advertisement(3, vrid, priority, (VIP,), 0.1), SRC, GROUP)


def parse(packet: bytes) -> Datagram:
    ip = parse_ip(packet)
    return Datagram(ip.src, ip.dst, ip.ttl, ip.payload, "lab0")


@pytest.fixture()
def pair() -> Iterable[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        b.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS
        b.setblocking(False)
        yield a, b
    finally:
        a.close()
        b.close()


def table_of(*vrids: int) -> dict[bytes, Known[str]]:
    return {known_key(SRC, GROUP, message(v)): Known(f"VI_{v}", 255, None) for v in vrids}


def test_known_adverts_come_back_as_counts_and_last_arrivals(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    stats = SocketStats()
    reader = LazyReader(parse, stats)
    table = table_of(1, 2)
    before = time.monotonic()
    for vrid in (1, 2, 1, 1):
        sender.send(build_ipv4(SRC, GROUP, message(vrid)))
    batch = reader.drain_known(receiver.fileno(), 64, table, lambda hits: True)
    after = time.monotonic()
    one, two = table[known_key(SRC, GROUP, message(1))], table[known_key(SRC, GROUP, message(2))]
    assert batch.read == 4 and batch.hits is not None and not batch.good and not batch.stamps
    assert Counter(batch.seen) == {one: 3, two: 1}
    assert before - 0.01 <= batch.hits[two] <= batch.hits[one] <= after  # monotonic, the last copy's
    assert stats.received == 4
    # nothing queued: nothing read, no error
    empty = reader.drain_known(receiver.fileno(), 64, table, lambda hits: True)
    assert empty.read == 0 and not empty.good and not empty.bad


def test_one_unknown_datagram_and_the_batch_is_parsed_in_order(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    reader = LazyReader(parse, SocketStats())
    sender.send(build_ipv4(SRC, GROUP, message(1)))
    sender.send(build_ipv4(SRC, GROUP, message(1, priority=0)))  # a goodbye: not the known advert
    sender.send(build_ipv4(SRC, GROUP, message(1), ttl=64))  # the known bytes at another TTL
    batch = reader.drain_known(receiver.fileno(), 64, table_of(1), lambda hits: True)
    assert batch.hits is None and batch.read == 3
    assert [(d.payload[2], d.ttl) for d in batch.good] == [(200, 255), (0, 255), (200, 64)]
    assert len(batch.stamps) == 3 and batch.stamps == sorted(batch.stamps)


def test_entries_the_caller_no_longer_vouches_for_are_parsed(pair: tuple[socket.socket, socket.socket]) -> None:
    """The table is built after reads; a router may have changed since (a tracker, a timer)."""
    sender, receiver = pair
    reader = LazyReader(parse, SocketStats())
    asked: list[list[Known[str]]] = []
    sender.send(build_ipv4(SRC, GROUP, message(1)))
    batch = reader.drain_known(receiver.fileno(), 64, table_of(1), lambda hits: bool(asked.append(list(hits))))
    assert [k.owner for k in asked[0]] == ["VI_1"]
    assert batch.hits is None and [d.payload for d in batch.good] == [message(1)]


def test_a_header_with_options_or_another_source_is_not_matched(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    reader = LazyReader(parse, SocketStats())
    packet = build_ipv4(SRC, GROUP, message(1))
    options = bytes([0x46]) + packet[1:20] + b"\x94\x04\x00\x00" + packet[20:]
    sender.send(options)
    first = reader.drain_known(receiver.fileno(), 64, table_of(1), lambda hits: True)
    sender.send(build_ipv4(OTHER, GROUP, message(1)))
    second = reader.drain_known(receiver.fileno(), 64, table_of(1), lambda hits: True)
    assert first.hits is None and second.hits is None
    assert second.good[0].src == OTHER


def test_a_datagram_longer_than_a_slot_is_refused_not_matched(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    stats = SocketStats()
    reader = LazyReader(parse, stats)
    long = build_ipv4(SRC, GROUP, message(1) + bytes(RECV_SLOT4))
    table = {long[12:RECV_SLOT4]: Known("x", 255, None)}  # exactly what the slot holds
    sender.send(long)
    batch = reader.drain_known(receiver.fileno(), 64, table, lambda hits: True)
    assert batch.hits is None and not batch.good and len(batch.bad) == 1 and stats.bad_ip_headers == 1
    sender.send(build_ipv4(SRC, GROUP, message(1)))  # the slot is whole again
    assert reader.drain_known(receiver.fileno(), 64, table_of(1), lambda hits: True).hits is not None


def test_a_failed_read_is_an_error_not_an_empty_batch() -> None:
    stats = SocketStats()
    reader = LazyReader(parse, stats)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        fd = sock.fileno()
        sock.close()
        batch = reader.drain_known(fd, 64, table_of(1), lambda hits: True)
    assert batch.hits is None and batch.read == 0 and len(batch.bad) == 1 and stats.receive_errors == 1


@pytest.mark.parametrize(("known", "vouched"), [(True, True), (False, True), (True, False)],
                         ids=["matched", "parsed", "matched-then-parsed"])  # fmt: skip
def test_a_realtime_clock_step_between_reads_counts_the_read_from_now(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch, known: bool, vouched: bool
) -> None:
    """The kernel stamps in realtime; an advert that arrived before a step forward of 5 s would
    convert to 5 s before its arrival, and a BACKUP at 1 s adverts would take over early while its
    master is alive. Across a step every datagram of the read counts from the read (also when the
    batch matched and is parsed after all); the next read, in the new clock, converts again."""
    sender, receiver = pair
    reader = LazyReader(parse, SocketStats())
    table = table_of(1) if known else {}
    reader.mark()
    sender.send(build_ipv4(SRC, GROUP, message(1)))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5.0)
    before = time.monotonic()
    batch = reader.drain_known(receiver.fileno(), 64, table, lambda hits: vouched)
    assert (batch.hits is not None) == (known and vouched)
    arrived = list(batch.hits.values()) if batch.hits is not None else batch.stamps
    assert len(arrived) == 1 and before <= arrived[0] <= time.monotonic()  # now, not 5 s ago
    # The next read converts stamps again, with the offset after the step. (Only this process's
    # realtime is shifted here, not the kernel's, so the conversion reads 5 s early: the sign
    # that the stamp, not the read, was used.)
    sender.send(build_ipv4(SRC, GROUP, message(1)))
    batch = reader.drain_known(receiver.fileno(), 64, table, lambda hits: vouched)
    arrived = list(batch.hits.values()) if batch.hits is not None else batch.stamps
    assert len(arrived) == 1 and arrived[0] < time.monotonic() - 4.9


def test_without_a_step_each_datagram_counts_from_its_arrival(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    reader = LazyReader(parse, SocketStats())
    reader.mark()
    sender.send(build_ipv4(SRC, GROUP, message(1)))
    time.sleep(0.05)
    batch = reader.drain(receiver.fileno(), 64)
    assert len(batch[2]) == 1 and batch[2][0] <= time.monotonic() - 0.04


def test_a_preemption_between_the_clock_reads_is_not_a_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """The difference of the clocks is read again when the process lost the CPU between its two
    clock reads (there the monotonic clock moves 20 ms and the realtime one did not)."""
    ticks = iter([100.0, 100.02, 200.0, 200.0001])  # one slow pair, then a close one
    monkeypatch.setattr(time, "monotonic", lambda: next(ticks))
    monkeypatch.setattr(time, "time", lambda: 1000.0)
    assert stamped.clock_offset() == pytest.approx(200.00005 - 1000.0)
    ticks = iter([1.0, 1.01] * 3)  # never close: the closest of three
    assert stamped.clock_offset() == pytest.approx(1.005 - 1000.0)
