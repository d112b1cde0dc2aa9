"""What every socket-owning adapter in ``vrrpkit.io`` shares: the fd protocol, close, ``with``.

Each adapter (VRRP, packet tap, ARP/NS prober, GARP sender, ICMP prober, link monitor) owns exactly
one socket. The event loops that drive them only need ``fileno()`` (for ``loop.add_reader`` and
``select``), and every caller must be able to release the socket with ``close()`` or a ``with``
block, so those four methods live here once rather than in every class.

``NOTHING_TO_READ`` is the set of errnos a non-blocking read raises when the queue is simply empty
(or a signal interrupted the call): "come back when readable", never an error to count.
"""

from __future__ import annotations

import ctypes
import errno
import socket
import struct
from typing import Self

from vrrpkit.io import consts

NOTHING_TO_READ = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR})

BpfInsn = tuple[int, int, int, int]
"""One classic BPF instruction: (code, jt, jf, k), as ``struct sock_filter``."""


class FdSocket:
    """Base for a class that owns one socket in ``self.sock``; subclasses set it in ``__init__``."""

    sock: socket.socket

    def fileno(self) -> int:
        """For ``loop.add_reader`` and ``select``."""
        return self.sock.fileno()

    def close(self) -> None:
        """Release the socket; safe to call twice."""
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def attach_bpf(sock: socket.socket, program: list[BpfInsn]) -> None:
    """Attach a classic BPF program (SO_ATTACH_FILTER), so unwanted frames never leave the kernel.

    The kernel copies the program during the call, so the ctypes buffer may die right after it.
    """
    buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *insn) for insn in program))
    sock.setsockopt(socket.SOL_SOCKET, consts.SO_ATTACH_FILTER, struct.pack("HL", len(program), ctypes.addressof(buf)))
