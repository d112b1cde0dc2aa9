"""A small synchronous rtnetlink client: the few requests the daemon makes, on one plain socket.

Why not pyroute2 (which this module replaced in the daemon): the daemon needs four requests (add and
delete an address, dump addresses, dump links), and pyroute2 0.9 brought ~230 modules and ~13 MB of
RSS for them, plus a private event-loop thread that every VIP change had to cross (a thread hand-off
and a GIL round trip between the Master_Down timer and the VIP). A request here is one sendto and
one recv: a kernel round trip, as keepalived makes it.

The message layouts are ``linux/netlink.h``, ``linux/rtnetlink.h`` and ``linux/if_addr.h``; the
builders and the parser are pure functions (tested byte for byte without root), and `Rtnl` only
moves the bytes.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from vrrpkit.io import consts

NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
RTATTR = struct.Struct("=HH")  # len, type
NLMSGERR = struct.Struct("=i")

RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4
IFA_CACHEINFO = 6
IFA_FLAGS = 8
RECV_SIZE = 65536
TIMEOUT = 10.0


def _align4(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, value: bytes) -> bytes:
    """One rtattr, padded to 4 bytes."""
    raw = RTATTR.pack(RTATTR.size + len(value), kind) + value
    return raw + b"\0" * (_align4(len(raw)) - len(raw))


def message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """A netlink message (header + body); the port id is 0 (the kernel fills in ours)."""
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, flags, seq, 0) + body


@dataclass(frozen=True)
class AddrMessage:
    """One RTM_NEWADDR as the kernel reports it: the header fields and the attributes we read."""

    family: int
    prefixlen: int
    flags: int  # IFA_FLAGS when present (32 bits), else the header's 8 bits
    scope: int
    index: int
    address: bytes | None  # IFA_ADDRESS
    local: bytes | None  # IFA_LOCAL
    label: str | None
    broadcast: bytes | None


def parse_attrs(data: bytes, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(type, value) for each rtattr in data[start:end]; stops at the first malformed one."""
    offset, end = start, min(end, len(data))
    while offset + RTATTR.size <= end:
        length, kind = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size or offset + length > end:
            return
        yield kind & 0x3FFF, data[offset + RTATTR.size : offset + length]  # drop NLA_F_NESTED/NET_BYTEORDER
        offset += _align4(length)


def parse_messages(data: bytes) -> Iterator[tuple[int, int, bytes, int, int]]:
    """(type, flags, the whole message, body offset, end offset) for each netlink message in a buffer."""
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, kind, flags, _seq, _pid = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size or offset + length > len(data):
            return
        yield kind, flags, data, offset + NLMSGHDR.size, offset + length
        offset += _align4(length)


def parse_addr(data: bytes, body: int, end: int) -> AddrMessage | None:
    """An RTM_NEWADDR body, or None when it is too short to be one."""
    if body + IFADDRMSG.size > end:
        return None
    family, prefixlen, flags, scope, index = IFADDRMSG.unpack_from(data, body)
    found: dict[int, bytes] = {}
    for kind, value in parse_attrs(data, body + IFADDRMSG.size, end):
        found.setdefault(kind, value)
    if IFA_FLAGS in found and len(found[IFA_FLAGS]) >= 4:
        flags = struct.unpack("=I", found[IFA_FLAGS][:4])[0]
    label = found.get(IFA_LABEL)
    return AddrMessage(
        family=family,
        prefixlen=prefixlen,
        flags=flags,
        scope=scope,
        index=index,
        address=found.get(IFA_ADDRESS),
        local=found.get(IFA_LOCAL),
        label=label.split(b"\0", 1)[0].decode(errors="replace") if label is not None else None,
        broadcast=found.get(IFA_BROADCAST),
    )


def error_code(data: bytes, body: int, end: int) -> int:
    """The errno of an NLMSG_ERROR (0 is an acknowledgement)."""
    if body + NLMSGERR.size > end:
        return errno.EPROTO
    code: int = NLMSGERR.unpack_from(data, body)[0]
    return -code


class Rtnl:
    """One NETLINK_ROUTE socket for requests and their answers (never subscribed to events).

    A request is a kernel round trip answered at once: rtnetlink handles it inside the sendto and
    queues the answer (a dump's next part inside the recv that empties the queue). So the socket
    is non-blocking and waits (`_wait`, bounded by TIMEOUT) only should the answer not be there:
    a socket with a timeout would make Python poll() before every send and recv, two system calls
    on the way to a step-down's VIP removal. A lock makes a request and its answers one unit, so
    the module's shared instance is safe across threads.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, consts.NETLINK_ROUTE)
        try:
            self.sock.bind((0, 0))
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise
        self._seq = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self.sock.close()

    def request(self, kind: int, flags: int, body: bytes) -> list[tuple[int, bytes, int, int]]:
        """Send one request; return the answer messages (type, buffer, body, end) until the ACK or
        NLMSG_DONE. A non-zero NLMSG_ERROR raises OSError with its errno."""
        with self._lock:
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            seq = self._seq
            self._send(message(kind, flags | consts.NLM_F_REQUEST, seq, body))
            answers: list[tuple[int, bytes, int, int]] = []
            while True:
                data = self._recv()
                for mtype, _mflags, buf, start, end in parse_messages(data):
                    if NLMSGHDR.unpack_from(buf, start - NLMSGHDR.size)[3] != seq:
                        continue  # an answer to an earlier request that timed out
                    if mtype == consts.NLMSG_ERROR:
                        code = error_code(buf, start, end)
                        if code:
                            raise OSError(code, os.strerror(code))
                        return answers
                    if mtype == consts.NLMSG_DONE:
                        return answers
                    answers.append((mtype, buf, start, end))
                if not flags & consts.NLM_F_DUMP and not flags & NLM_F_ACK:
                    return answers

    def _send(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except BlockingIOError:
            self._wait(select.POLLOUT)
            self.sock.send(data)

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            self._wait(select.POLLIN)
            return self.sock.recv(RECV_SIZE)

    def _wait(self, event: int) -> None:
        """Until the socket is ready for ``event``; TimeoutError after TIMEOUT seconds."""
        poller = select.poll()
        poller.register(self.sock, event)
        if not poller.poll(TIMEOUT * 1000):
            raise TimeoutError(errno.ETIMEDOUT, "no answer from the kernel (rtnetlink)")

    def addresses(self, family: int = socket.AF_UNSPEC) -> list[AddrMessage]:
        """Every address of the namespace (RTM_GETADDR dump), in kernel order."""
        body = IFADDRMSG.pack(family, 0, 0, 0, 0)
        found = []
        for mtype, buf, start, end in self.request(RTM_GETADDR, consts.NLM_F_DUMP, body):
            if mtype == RTM_NEWADDR and (parsed := parse_addr(buf, start, end)) is not None:
                found.append(parsed)
        return found

    def change_address(self, add: bool, body: bytes) -> None:
        """RTM_NEWADDR (create, exclusive: EEXIST when present) or RTM_DELADDR, acknowledged."""
        if add:
            self.request(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body)
        else:
            self.request(RTM_DELADDR, NLM_F_ACK, body)


def addr_body(
    *,
    family: int,
    index: int,
    prefixlen: int,
    address: bytes,
    local: bytes | None = None,
    broadcast: bytes | None = None,
    scope: int = 0,
    label: str | None = None,
    flags: int = 0,
    lifetimes: tuple[int, int] | None = None,
) -> bytes:
    """The ifaddrmsg and attributes of an RTM_NEWADDR/RTM_DELADDR, in keepalived's order."""
    parts = [IFADDRMSG.pack(family, prefixlen, flags & 0xFF, scope, index)]
    if local is not None:
        parts.append(attr(IFA_LOCAL, local))
    parts.append(attr(IFA_ADDRESS, address))
    if broadcast is not None:
        parts.append(attr(IFA_BROADCAST, broadcast))
    if label is not None:
        parts.append(attr(IFA_LABEL, label.encode() + b"\0"))
    if flags:
        parts.append(attr(IFA_FLAGS, struct.pack("=I", flags)))
    if lifetimes is not None:
        parts.append(attr(IFA_CACHEINFO, struct.pack("=IIII", lifetimes[0], lifetimes[1], 0, 0)))
    return b"".join(parts)
