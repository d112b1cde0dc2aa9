"""ICMP echo and ICMP errors on one interface, non-blocking, for ``investigate``.

Why it exists: "the peer's multicast never arrives" only means something next to "the peer answers
unicast". An echo proves the host is up and the unicast path works. The same raw socket also
receives the ICMP errors that quote our own protocol-112 probes: *protocol unreachable* (IPv4 type 3
code 2, IPv6 type 4 code 1) means the peer has no VRRP socket open at all, i.e. no keepalived or
vrrpkit runs there (keepalived's unbound send socket absorbs any protocol-112 packet, so no error
comes back while it runs).

Frames are built by pure functions; the socket is bound to the interface so an echo can never
leave by another route.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from vrrpkit.core.config import IPAddress
from vrrpkit.core.packet import checksum as _checksum
from vrrpkit.io import consts
from vrrpkit.io.fdsocket import NOTHING_TO_READ, FdSocket

ECHO_PAYLOAD = b"vrrpkit-investigate"


@dataclass(frozen=True)
class EchoReply:
    src: IPAddress
    seq: int
    rtt: float  # seconds


@dataclass(frozen=True)
class IcmpError:
    """An ICMP error quoting one of our packets."""

    src: IPAddress  # who sent the error
    type: int
    code: int
    quoted_protocol: int
    quoted_dst: IPAddress

    @property
    def protocol_unreachable(self) -> bool:
        if isinstance(self.src, IPv4Address):
            return self.type == 3 and self.code == 2
        return self.type == 4 and self.code == 1


def echo_request(family: int, ident: int, seq: int, payload: bytes = ECHO_PAYLOAD) -> bytes:
    """ICMP (type 8) or ICMPv6 (type 128) echo request; the kernel fills the ICMPv6 checksum."""
    kind = 8 if family == 4 else 128
    header = struct.pack("!BBHHH", kind, 0, 0, ident & 0xFFFF, seq & 0xFFFF)
    if family == 6:
        return header + payload
    csum = _checksum(header + payload)
    return struct.pack("!BBHHH", kind, 0, csum, ident & 0xFFFF, seq & 0xFFFF) + payload


def parse_icmp(family: int, data: bytes, src: IPAddress) -> tuple[str, tuple[int, ...]] | IcmpError | None:
    """Classify one received ICMP message (pure).

    Returns ("echo-reply", (ident, seq)), an IcmpError quoting an IP packet, or None. ``data`` starts
    at the IP header for IPv4 (raw sockets deliver it) and at the ICMPv6 header for IPv6.
    """
    if family == 4:
        if len(data) < 20:
            return None
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < 8:
        return None
    kind, code = data[0], data[1]
    if (family == 4 and kind == 0) or (family == 6 and kind == 129):
        ident, seq = struct.unpack("!HH", data[4:8])
        return ("echo-reply", (ident, seq))
    quoted = data[8:]
    if family == 4 and kind in (3, 11, 12) and len(quoted) >= 20 and quoted[0] >> 4 == 4:
        return IcmpError(src, kind, code, quoted[9], IPv4Address(quoted[16:20]))
    if family == 6 and kind in (1, 3, 4) and len(quoted) >= 40 and quoted[0] >> 4 == 6:
        return IcmpError(src, kind, code, quoted[6], IPv6Address(quoted[24:40]))
    return None


class IcmpProber(FdSocket):
    """Echo requests to chosen hosts, replies and errors collected without blocking."""

    def __init__(self, ifname: str, family: int, src: IPAddress | None = None) -> None:
        """``src``: the source to send from. Give the interface's own address: during a split brain
        the kernel may pick a VIP as source, and the peer, holding the same VIP, answers itself."""
        self.family = family
        self.ifname = ifname
        self.ident = (os.getpid() ^ int.from_bytes(os.urandom(2), "big")) & 0xFFFF
        if family == 4:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        else:
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, consts.SO_BINDTODEVICE, ifname.encode())
            if src is not None:
                self.sock.bind((str(src), 0) if family == 4 else (str(src), 0, 0, 0))
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise
        self.ifindex = socket.if_nametoindex(ifname)
        self._sent: dict[tuple[IPAddress, int], float] = {}
        self.errors = 0

    def send(self, dst: IPAddress, seq: int) -> OSError | None:
        packet = echo_request(self.family, self.ident, seq)
        scope = self.ifindex if isinstance(dst, IPv6Address) and dst.is_link_local else 0
        target: tuple[object, ...] = (str(dst), 0) if self.family == 4 else (str(dst), 0, 0, scope)
        try:
            self.sock.sendto(packet, target)
        except OSError as exc:
            self.errors += 1
            return exc
        self._sent[(dst, seq & 0xFFFF)] = time.monotonic()
        return None

    def read(self, limit: int = 256) -> list[EchoReply | IcmpError]:
        out: list[EchoReply | IcmpError] = []
        for _ in range(limit):
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError as exc:
                if exc.errno not in NOTHING_TO_READ:
                    self.errors += 1
                break
            src = ip_address(addr[0].split("%", 1)[0])
            parsed = parse_icmp(self.family, data, src)
            if isinstance(parsed, IcmpError):
                out.append(parsed)
            elif parsed is not None:
                ident, seq = parsed[1]
                sent = self._sent.pop((src, seq), None)
                if ident == self.ident and sent is not None:
                    out.append(EchoReply(src, seq, time.monotonic() - sent))
        return out
