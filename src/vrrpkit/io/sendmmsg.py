"""sendmmsg(2) for a burst of prepared datagrams: a MASTER's every tick in one system call.

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
from collections.abc import Sequence
from typing import Any


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.POINTER(_Iovec)),
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


def _address(buf: bytes) -> int | None:
    value: int | None = ctypes.cast(ctypes.c_char_p(buf), ctypes.c_void_p).value
    return value


class Burst:
    """Datagrams (packet, sockaddr) prepared for sendmmsg. ``key`` identifies the burst by the ids
    of the caller's objects in ``owners``, which are kept alive here (so no id is reused while the
    key is), as are the bytes the array points into."""

    def __init__(self, owners: Sequence[object], messages: Sequence[tuple[bytes, bytes]]) -> None:
        self.key = tuple(map(id, owners))
        self._keep = (list(owners), list(messages))
        n = len(messages)
        self._iov = (_Iovec * n)()
        self._msgs = (_Mmsghdr * n)()
        for i, (packet, name) in enumerate(messages):
            self._iov[i].iov_base = _address(packet)
            self._iov[i].iov_len = len(packet)
            hdr = self._msgs[i].msg_hdr
            hdr.msg_name = _address(name)
            hdr.msg_namelen = len(name)
            hdr.msg_iov = ctypes.pointer(self._iov[i])
            hdr.msg_iovlen = 1
        self.size = n

    def send(self, fd: int) -> tuple[int, int]:
        """(how many messages left, errno of the failure or 0): all of them is (size, 0)."""
        sent = _sendmmsg()(fd, self._msgs, self.size, 0)
        if sent < 0:
            return 0, ctypes.get_errno()
        return sent, 0


def available() -> bool:
    try:
        _sendmmsg()
    except (OSError, AttributeError):
        return False
    return os.uname().sysname == "Linux"
