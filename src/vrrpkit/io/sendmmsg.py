"""sendmmsg(2) for a burst of prepared datagrams: a MASTER's every tick in one system call; and
recvmmsg(2) with receive timestamps, for a BACKUP socket read on a schedule (`StampedReader`).

A host with 200 instances sends 200 adverts per tick, and every tick the same 200 packets (each
one's header and bytes are built once, `VrrpSocket4.send`). Python pays for each ``sendto``
(argument parsing, the address conversion, one kernel entry), which is most of a MASTER's CPU.
The burst is therefore prepared once as a ``struct mmsghdr`` array pointing at those very packets
and handed to the kernel in one call; it is rebuilt only when the burst changes. Python's
``socket`` has no sendmmsg, so libc's is called through ctypes (Linux only, as everything here).

A partial send (the kernel stops at the first failing message) is finished message by message by
the caller, so every error is still seen and counted where it happened.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import mmap


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),  # an address: a ctypes pointer object per message cost ~350 B each
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


_libc: Any = None


def _sendmmsg() -> Any:
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)  # the interpreter's own libc
        libc.sendmmsg.argtypes = [ctypes.c_int, ctypes.POINTER(_Mmsghdr), ctypes.c_uint, ctypes.c_int]
        libc.sendmmsg.restype = ctypes.c_int
        _libc = libc
    return _libc.sendmmsg


def sockaddr_in(address: bytes) -> bytes:
    """``struct sockaddr_in`` for a 4-byte IPv4 address, port 0."""
    return struct.pack("=HH4s8x", socket.AF_INET, 0, address)


def sockaddr_in6(address: bytes, scope: int) -> bytes:
    """``struct sockaddr_in6`` for a 16-byte IPv6 address, port 0, no flow label."""
    return struct.pack("=HHI16sI", socket.AF_INET6, 0, 0, address, scope)


def cmsg(level: int, kind: int, body: bytes) -> bytes:
    """One control message as the kernel reads it from msg_control (header, body, padding)."""
    raw = struct.pack("=Qii", socket.CMSG_LEN(len(body)), level, kind) + body
    return raw + bytes(socket.CMSG_SPACE(len(body)) - len(raw))


def _address(buf: bytes) -> int | None:
    value: int | None = ctypes.cast(ctypes.c_char_p(buf), ctypes.c_void_p).value
    return value


class Burst:
    """Datagrams (packet, sockaddr, control messages) prepared for sendmmsg. ``key`` identifies the
    burst by the ids of the caller's objects in ``owners``, which are kept alive here (so no id is
    reused while the key is), as are the bytes the array points into. IPv6 puts each advert's
    source in its control data (IPV6_PKTINFO); IPv4 has none (its header is in the packet)."""

    def __init__(self, owners: Sequence[object], messages: Sequence[tuple[bytes, bytes, bytes]]) -> None:
        self.key = tuple(map(id, owners))
        self._keep = (list(owners), list(messages))
        n = len(messages)
        self._iov = (_Iovec * n)()
        self._msgs = (_Mmsghdr * n)()
        iov, step = ctypes.addressof(self._iov), ctypes.sizeof(_Iovec)
        for i, (packet, name, control) in enumerate(messages):
            self._iov[i].iov_base = _address(packet)
            self._iov[i].iov_len = len(packet)
            hdr = self._msgs[i].msg_hdr
            hdr.msg_name = _address(name)
            hdr.msg_namelen = len(name)
            if control:
                hdr.msg_control = _address(control)
                hdr.msg_controllen = len(control)
            hdr.msg_iov = iov + i * step
            hdr.msg_iovlen = 1
        self.size = n

    def send(self, fd: int) -> tuple[int, int]:
        """(how many messages left, errno of the failure or 0): all of them is (size, 0)."""
        sent = _sendmmsg()(fd, self._msgs, self.size, 0)
        if sent < 0:
            return 0, ctypes.get_errno()
        return sent, 0


_available: bool | None = None


def available() -> bool:
    """Whether this libc has sendmmsg (asked once: a MASTER asks on every tick)."""
    global _available
    if _available is None:
        try:
            _sendmmsg()
        except (OSError, AttributeError):
            _available = False
        else:
            _available = os.uname().sysname == "Linux"
    return _available


_recv: Any = None


def _recvmmsg() -> Any:
    global _recv
    if _recv is None:
        fn = ctypes.CDLL(None, use_errno=True).recvmmsg
        fn.argtypes = [ctypes.c_int, ctypes.POINTER(_Mmsghdr), ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
        fn.restype = ctypes.c_int
        _recv = fn
    return _recv


MSG_DONTWAIT = 0x40
STAMP = struct.Struct("qq")
_MMSGHDR = ctypes.sizeof(_Mmsghdr)
_SLOT_AT = _Msghdr.msg_controllen.offset  # msg_controllen, msg_flags, then mmsghdr's msg_len
# each mmsghdr from its msg_controllen: (msg_controllen, msg_flags, msg_len), padded to the next one
_SLOT = struct.Struct(f"={_SLOT_AT}xQi{_Mmsghdr.msg_len.offset - _Msghdr.msg_flags.offset - 4}xI4x")
_STAMP_AT = struct.Struct("=16xqq")  # each control slot: the cmsghdr, then the timespec


class StampedReader:
    """recvmmsg(2) into buffers made once, with each datagram's SO_TIMESTAMPNS control message: a
    lazily read BACKUP socket (daemon/cycle.py) drains a hundred adverts at a time and must know
    when each arrived. Python's recvmsg would build a tuple, a list, a control tuple and the
    source address string per datagram (a third of such a read's CPU); here one call fills the
    array and each datagram costs a slice and a timestamp unpack.

    ``control`` is the layout of a slot's control data when everything asked for came (its size is
    the slot's), the timestamp first: an IPv6 socket also gets its destination and hop limit there
    (io/stamped6.py). ``name_size`` keeps each datagram's source address (`names`); an IPv4 socket
    reads its source in the IP header and needs none.

    ``head``: a slot's first bytes go to `data` (``head`` apart), the rest of the ``size`` a slot
    holds to pages that stay untouched, hence out of RSS, until a datagram that long arrives
    (`whole` joins the two). An IPv6 slot must hold 4 KB (255 addresses) where adverts are a few
    dozen bytes: 64 slots would otherwise keep 256 KB resident."""

    def __init__(
        self, slots: int, size: int, control: struct.Struct = _STAMP_AT, name_size: int = 0, head: int = 0
    ) -> None:
        head = min(head or size, size)
        self.capacity, self.size, self.limit = slots, head, size
        self._data = ctypes.create_string_buffer(slots * head)
        rest = size - head
        self._tail: mmap.mmap | None = None
        if rest:
            import mmap  # only an IPv6 reader splits its slots

            self._tail = mmap.mmap(-1, slots * rest)
        tail = ctypes.addressof(ctypes.c_char.from_buffer(self._tail)) if self._tail is not None else 0
        self._ctrl_size = self.full = control.size
        self._control = control
        self._ctrl = ctypes.create_string_buffer(slots * self._ctrl_size)
        self._names = ctypes.create_string_buffer(max(1, slots * name_size))
        self.name_size = name_size
        self.data = memoryview(self._data).cast("B")
        self.ctrl = memoryview(self._ctrl).cast("B")
        self.names = memoryview(self._names).cast("B")
        self._iov = (_Iovec * (2 * slots))()
        self._msgs = (_Mmsghdr * slots)()
        base, ctrl, names = ctypes.addressof(self._data), ctypes.addressof(self._ctrl), ctypes.addressof(self._names)
        iov, step = ctypes.addressof(self._iov), 2 * ctypes.sizeof(_Iovec)
        for i in range(slots):
            self._iov[2 * i].iov_base = base + i * head
            self._iov[2 * i].iov_len = head
            self._iov[2 * i + 1].iov_base = tail + i * rest
            self._iov[2 * i + 1].iov_len = rest
            hdr = self._msgs[i].msg_hdr
            hdr.msg_iov = iov + i * step
            hdr.msg_iovlen = 2 if rest else 1
            hdr.msg_control = ctrl + i * self._ctrl_size
            hdr.msg_controllen = self._ctrl_size
            if name_size:
                hdr.msg_name = names + i * name_size
                hdr.msg_namelen = name_size
        self._short: list[int] = []  # slots whose control length the kernel shortened
        self._hdrs = memoryview(self._msgs).cast("B")

    def receive(self, fd: int, limit: int) -> int:
        """Fill up to ``limit`` slots; how many, or minus the errno (-EAGAIN: nothing queued). Slot
        i's bytes start at ``i * size`` in `data`; `slots` says how long each is and when it came."""
        msgs = self._msgs
        for i in self._short:  # the kernel wrote how much control data it used: restore the space
            msgs[i].msg_hdr.msg_controllen = self._ctrl_size
        self._short.clear()
        count: int = _recvmmsg()(fd, msgs, min(limit, self.capacity), MSG_DONTWAIT, None)
        if count < 0:
            return -ctypes.get_errno()
        return count

    def slots(self, count: int) -> Iterator[tuple[tuple[int, int, int], tuple[Any, ...]]]:
        """((msg_controllen, msg_flags, length), control) of the first ``count`` slots, unpacked
        in two C calls rather than two per slot; control is ``control``'s fields, seconds and
        nanoseconds first. The time is realtime, and the fields only meaningful when
        msg_controllen is `full` (everything asked for came, in that layout)."""
        heads = _SLOT.iter_unpack(self._hdrs[: count * _MMSGHDR])
        stamps = self._control.iter_unpack(self.ctrl[: count * self.full])
        return zip(heads, stamps, strict=True)

    def whole(self, slot: int, length: int) -> bytes:
        """Slot ``slot``'s datagram of ``length`` bytes, the part past `size` included."""
        start = slot * self.size
        if length <= self.size or self._tail is None:
            return self.data[start : start + length].tobytes()
        rest = self.limit - self.size
        spilled = self._tail[slot * rest : slot * rest + length - self.size]
        return self.data[start : start + self.size].tobytes() + spilled

    def restore(self, slot: int) -> None:
        """This slot came without a stamp, and the kernel shortened its control space: give it
        back before the next call."""
        self._short.append(slot)
