"""Reading a lazily read IPv4 VRRP socket: a whole queue at a time, each datagram with its arrival.

While every instance on a socket is BACKUP and hears its master, the daemon reads the socket once
per advert interval (daemon/cycle.py). Nearly everything queued then is a master's advert again,
byte for byte, and all a BACKUP does with one is move its Master_Down to the advert's arrival
(core/receive.py). So a batch is first matched, as raw bytes in the receive buffers, against the
table of adverts the daemon expects again (`Known`): when every datagram is one of them, the
batch is "each of these, this many times, the last arriving then" and no datagram object, address
or header parse is made. One datagram the table does not know (a new master, a goodbye, an
advert that changed, garbage) and the same buffers are parsed into datagrams in order, as any
read does, so the rare case keeps the exact order of events.

The byte key of an advert is its IPv4 source and destination and the VRRP message (`known_key`):
everything from offset 12 of a 20-byte header. What the key leaves out either differs on every
packet (IP id, header checksum) or is checked here (the first byte: version 4, no options; the
TTL) or by the kernel (the total length trims the datagram; a bad header checksum never arrives).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from vrrpkit.core.config import IPAddress
from vrrpkit.core.packet import DropReason, InvalidPacket
from vrrpkit.io import sendmmsg
from vrrpkit.io.fdsocket import NOTHING_TO_READ

if TYPE_CHECKING:
    from vrrpkit.io.vrrp_socket import Datagram, SocketStats

T = TypeVar("T")

BATCH_SLOTS = 64  # datagrams per recvmmsg of a lazily read socket (the daemon reads 64 at a time)
RECV_SLOT4 = 1200  # bytes per datagram there: the largest IPv4 advert is 60 + 1036
_MSG_TRUNC = 0x20
_PLAIN_IPV4 = 0x45  # version 4, a 20-byte header: what every VRRP implementation sends
# The kernel stamps in realtime; the timers run on the monotonic clock. Their difference moving by
# more than this between two reads is a step of the realtime clock (NTP slews at most 0.5 ms/s):
# the stamps of that read straddle it, and none is trusted.
STEP = 0.005


class Known(Generic[T]):
    """An advert expected again byte for byte, with the TTL it came with, and whom it is for.

    ``token`` is whatever the owner needs to tell that the entry is still true when it is used (the
    daemon keeps its router's own record of the advert there). Hashed by identity: a batch counts
    its datagrams per entry without hashing anything but the bytes."""

    __slots__ = ("owner", "token", "ttl")

    def __init__(self, owner: T, ttl: int, token: object) -> None:
        self.owner = owner
        self.ttl = ttl
        self.token = token


def known_key(src: IPAddress, dst: IPAddress, payload: bytes) -> bytes:
    """The bytes a `Known` advert is recognised by, in either family (io/stamped6.py for IPv6)."""
    return src.packed + dst.packed + payload


class Batch(NamedTuple, Generic[T]):
    """One read. Either ``hits`` (every datagram was a known advert: each entry's last arrival,
    monotonic) with ``seen`` (the entry of each datagram, in order, for counting), or, when one
    was not, ``good``/``bad``/``stamps`` as `LazyReader.drain` returns them."""

    read: int  # datagrams read, undecodable ones included
    hits: dict[Known[T], float] | None
    seen: list[Known[T]]
    good: list[Datagram]
    bad: list[InvalidPacket]
    stamps: list[float]


class LazyReader:
    """recvmmsg into buffers made once (`sendmmsg.StampedReader`, ~80 KB), then either matched
    against a table of known adverts or parsed; ``parse`` is the socket's own cached parser (the
    same `Datagram` object for the same advert, InvalidPacket when it does not parse)."""

    offset: float | None = None  # monotonic - realtime when the socket was last read (or marked)

    def __init__(self, parse: Callable[[bytes], Datagram], stats: SocketStats) -> None:
        self.reader = sendmmsg.StampedReader(BATCH_SLOTS, RECV_SLOT4)
        self.parse = parse
        self.stats = stats

    def mark(self) -> None:
        """Stamping starts: the clocks' difference now, against which the first read looks for a step."""
        self.offset = clock_offset()

    def _offset(self) -> float | None:
        """monotonic - realtime now, or None when the realtime clock stepped since the last read:
        a stamp from before the step would convert to the wrong arrival, off by the step (a BACKUP
        taking over early on a forward step, while its master is alive); each datagram of this
        read then counts from now, which at worst makes one Master_Down a read late."""
        offset = clock_offset()
        last, self.offset = self.offset, offset
        return offset if last is None or abs(offset - last) <= STEP else None

    def drain(self, fd: int, limit: int) -> tuple[list[Datagram], list[InvalidPacket], list[float]]:
        """Up to ``limit`` datagrams, parsed, each with its kernel receive time (monotonic)."""
        count = self.reader.receive(fd, limit)
        if count < 0:
            return [], self._failed(count), []
        return self._parse(count, self._offset())

    def drain_known(
        self, fd: int, limit: int, table: Mapping[bytes, Known[T]], check: Callable[[Iterable[Known[T]]], bool]
    ) -> Batch[T]:
        """`drain`, unless every datagram read is in ``table`` and ``check`` says the entries that
        came are all still true: then only which came, how often and when each last did."""
        count = self.reader.receive(fd, limit)
        if count < 0:
            return Batch(0, None, [], [], self._failed(count), [])
        offset = self._offset()  # once per read: a step it finds holds for the parse too
        matched = self._match(count, table)
        if matched is not None and check(matched[0]):
            self.stats.received += count
            return Batch(count, _arrivals(matched[0], offset), matched[1], [], [], [])
        good, bad, stamps = self._parse(count, offset)
        return Batch(count, None, [], good, bad, stamps)

    def _failed(self, count: int) -> list[InvalidPacket]:
        if -count in NOTHING_TO_READ:
            return []
        self.stats.receive_errors += 1
        return [InvalidPacket(DropReason.BAD_IP_HEADER, f"recvmmsg: {os.strerror(-count)}")]

    def _match(
        self, count: int, table: Mapping[bytes, Known[T]]
    ) -> tuple[dict[Known[T], tuple[int, int]], list[Known[T]]] | None:
        """The hot loop of an idle BACKUP: per datagram a slice, a table look-up and two compares.
        Each entry's last arrival as the kernel stamped it (realtime seconds, nanoseconds)."""
        reader = self.reader
        data, size, full, get = reader.data, reader.size, reader.full, table.get
        last: dict[Known[T], tuple[int, int]] = {}
        seen: list[Known[T]] = []
        start = 0
        for (controllen, flags, length), stamp in reader.slots(count):
            if controllen != full or flags & _MSG_TRUNC or data[start] != _PLAIN_IPV4:
                return None  # parsed after all, which gives an unstamped slot its control space back
            known = get(data[start + 12 : start + length].tobytes())
            if known is None or known.ttl != data[start + 8]:
                return None
            last[known] = stamp
            seen.append(known)
            start += size
        return last, seen

    def _parse(self, count: int, offset: float | None) -> tuple[list[Datagram], list[InvalidPacket], list[float]]:
        """Every slot read the ordinary way, in order, each with its arrival (monotonic; ``offset``
        from `_offset`)."""
        good: list[Datagram] = []
        bad: list[InvalidPacket] = []
        stamps: list[float] = []
        reader = self.reader
        now = time.time()
        stepped = offset is None  # a clock step: every datagram counts from now
        if offset is None:
            offset = time.monotonic() - now
        for i, ((controllen, flags, length), fields) in enumerate(reader.slots(count)):
            if controllen != reader.full:  # the kernel shortened the control space: give it back
                reader.restore(i)
            try:
                if flags & _MSG_TRUNC:  # longer than any advert: the codec would refuse it too
                    self.stats.bad_ip_headers += 1
                    raise InvalidPacket(DropReason.BAD_IP_HEADER, f"datagram over {reader.limit} bytes")
                stamp, datagram = self._slot(i, controllen, fields, length)
            except InvalidPacket as exc:
                bad.append(exc)
                continue
            good.append(datagram)
            stamps.append((now if stamp is None or stepped else stamp) + offset)  # no stamp came: from now
        self.stats.received += len(good)
        return good, bad, stamps

    def _slot(self, i: int, controllen: int, fields: tuple[Any, ...], length: int) -> tuple[float | None, Datagram]:
        """Slot ``i``'s arrival (realtime; None without a stamp) and datagram (InvalidPacket if
        it does not parse)."""
        reader = self.reader
        stamp = fields[0] + fields[1] * 1e-9 if controllen == reader.full else None
        return stamp, self.parse(reader.whole(i, length))


def _arrivals(last: Mapping[Known[T], tuple[int, int]], offset: float | None) -> dict[Known[T], float]:
    """Each known advert's last arrival, from the kernel's realtime (seconds, nanoseconds) to the
    monotonic clock (``offset`` from `LazyReader._offset`); now for all of them across a step."""
    if offset is None:
        return dict.fromkeys(last, time.monotonic())
    return {known: sec + nsec * 1e-9 + offset for known, (sec, nsec) in last.items()}


def clock_offset() -> float:
    """monotonic - realtime now, from two clock reads close together: a process preempted between
    them (a loaded host) would see the difference move by the time it waited, and take that for a
    step. Bounded: after three tries, the closest pair."""
    best, width = 0.0, float("inf")
    for _ in range(3):
        before = time.monotonic()
        real = time.time()
        spread = time.monotonic() - before
        if spread < width:
            best, width = before + spread / 2 - real, spread
        if spread < 0.0005:
            break
    return best
