"""Raw IP protocol-112 sockets, one per (interface, family, mode), for an asyncio loop.

Thin on purpose: these classes move bytes and read the fields the core needs from the IP layer
(source, destination, TTL / hop limit). Every protocol decision (TTL must be 255, unicast vs
multicast, checksum forms) stays in ``vrrpkit.core``.

Why these socket options:

* ``SO_BINDTODEVICE``: VRRP is per link; a packet for VRID 1 on eth1 must never reach the eth0
  instance, and sends must leave through the configured interface whatever the routing table says.
* ``IP_MULTICAST_ALL = 0``: without it a raw socket receives every multicast group joined by any
  socket of the host (keepalived beside us, another instance's group).
* ``IP_HDRINCL`` (IPv4): the v3 checksum covers the source address, so we must choose the source
  rather than let routing choose it; keepalived writes the header itself too (TOS 0xc0, id 0, TTL 255).
* ``IPV6_CHECKSUM = 6`` (IPv6): the kernel fills in and verifies the pseudo-header checksum, as
  keepalived lets it; ``IPV6_RECVHOPLIMIT``/``IPV6_RECVPKTINFO`` give the hop limit and destination,
  since an IPv6 raw socket never sees the IP header.

Sends never raise: an ``OSError`` (ENETUNREACH when the link is down, ENOBUFS, ...) is counted in
``stats`` and returned, because a failed advert is an event for the log and metrics, not a crash.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6, IPAddress
from vrrpkit.core.packet import DropReason, InvalidPacket, build_ipv4, parse_ip
from vrrpkit.io import consts
from vrrpkit.io.fdsocket import NOTHING_TO_READ, FdSocket

RECV_BUFSIZE = 65535
_IPV6_ANCBUFSIZE = socket.CMSG_SPACE(4) + socket.CMSG_SPACE(20)


@dataclass(frozen=True)
class Datagram:
    """One received VRRP datagram, with the IP fields the core's receive rules need."""

    src: IPAddress
    dst: IPAddress
    ttl: int  # IPv4 TTL or IPv6 hop limit, as received
    payload: bytes  # the VRRP message, IP header removed
    ifname: str


@dataclass
class SocketStats:
    """Counters for metrics and ``vrrpkit status``.

    A send error is counted and returned, never raised. A receive error or a bad IP header is
    counted and raised as InvalidPacket, which ``drain()`` hands back as data.
    """

    sent: int = 0
    send_errors: int = 0
    last_send_error: str = ""
    received: int = 0
    receive_errors: int = 0
    bad_ip_headers: int = 0
    errors_by_errno: dict[str, int] = field(default_factory=dict)

    def count_send_error(self, exc: OSError) -> None:
        self.send_errors += 1
        name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        self.errors_by_errno[name] = self.errors_by_errno.get(name, 0) + 1
        self.last_send_error = f"{name}: {exc.strerror}"


class _VrrpSocketBase(FdSocket):
    """What both families share: the interface, non-blocking reads, counters (fd and close: FdSocket)."""

    family: int

    def __init__(self, ifname: str, unicast: bool) -> None:
        self.ifname = ifname
        self.ifindex = socket.if_nametoindex(ifname)  # OSError (no errno) if missing: the caller says so
        self.unicast = unicast
        self.stats = SocketStats()

    def recv(self) -> Datagram | None:
        """One datagram, or None when nothing is queued. Raises InvalidPacket for a bad IP header."""
        raise NotImplementedError

    def drain(self, limit: int = 64) -> tuple[list[Datagram], list[InvalidPacket]]:
        """Read up to ``limit`` queued datagrams (bounded so one busy socket cannot starve the loop).

        Returns the good ones and the rejected ones separately, so the daemon can count drops by
        reason exactly as it does for the core's PacketDropped effects.
        """
        good: list[Datagram] = []
        bad: list[InvalidPacket] = []
        for _ in range(limit):
            try:
                datagram = self.recv()
            except InvalidPacket as exc:
                bad.append(exc)
                continue
            if datagram is None:
                break
            good.append(datagram)
        return good, bad

    def set_rcvbuf(self, size: int) -> None:
        """SO_RCVBUF (keepalived's kernel_rx_buf_size / vrrp_rx_bufs_policy); the kernel doubles it
        and caps it at net.core.rmem_max."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)

    def _bind_device(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, consts.SO_BINDTODEVICE, self.ifname.encode())

    def join(self, group: IPAddress) -> None:
        """Also receive `group` (another instance's mcast_dst_ip on this interface); OSError on failure."""
        if group.version == 4:
            mreqn = struct.pack("4s4si", group.packed, b"\0" * 4, self.ifindex)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        else:
            self.sock.setsockopt(socket.IPPROTO_IPV6, consts.IPV6_JOIN_GROUP, struct.pack("16si", group.packed,
                                                                                        self.ifindex))


class VrrpSocket4(_VrrpSocketBase):
    """IPv4 protocol-112 raw socket on one interface.

    ``group``: the multicast group joined (and used as the default destination) in multicast mode.
    ``unicast``: no group is joined; if ``src`` is given the socket is bound to it, so only
    datagrams addressed to our unicast source arrive (as keepalived binds its unicast socket).
    ``src``: the source address used when ``send`` is not told one (the instance's primary address
    or ``unicast_src_ip``/``mcast_src_ip``).
    """

    family = 4

    def __init__(
        self,
        ifname: str,
        group: IPv4Address = VRRP_GROUP4,
        unicast: bool = False,
        src: IPv4Address | None = None,
    ) -> None:
        super().__init__(ifname, unicast)
        self.group = group
        self.src = src
        self._packets: dict[tuple[bytes, IPv4Address, IPv4Address, int], tuple[bytes, tuple[str, int]]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, consts.IPPROTO_VRRP)
        try:
            self._bind_device()
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            self.sock.setsockopt(socket.IPPROTO_IP, consts.IP_MULTICAST_ALL, 0)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
            mreqn_if = struct.pack("4s4si", b"\0" * 4, b"\0" * 4, self.ifindex)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn_if)
            if unicast:
                if src is not None:
                    self.sock.bind((str(src), 0))
            else:
                mreqn = struct.pack("4s4si", group.packed, b"\0" * 4, self.ifindex)
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def send(
        self, data: bytes, dst: IPv4Address | None = None, src: IPv4Address | None = None, ttl: int = 255
    ) -> OSError | None:
        """Send one VRRP message (no IP header) with keepalived's IPv4 header; returns the error, if any.

        ``dst`` defaults to the group; ``src`` to the socket's ``src``. A missing source is an
        error (returned, counted): the v3 checksum was computed over a source and the kernel must
        not pick another one. ``ttl`` is 255 but for unicast_ttl.
        """
        dst = self.group if dst is None else dst
        src = self.src if src is None else src
        if src is None:
            exc = OSError(errno.EADDRNOTAVAIL, "no source address for the VRRP advert")
            self.stats.count_send_error(exc)
            return exc
        key = (data, src, dst, ttl)
        cached = self._packets.get(key)
        if cached is None:
            # A master resends the same message every interval: build each header (and its
            # checksum) once; the cache is bounded because a priority change makes new bytes.
            if len(self._packets) >= 1024:
                self._packets.clear()
            cached = self._packets[key] = (build_ipv4(src, dst, data, ttl=ttl), (str(dst), 0))
        packet, address = cached
        try:
            self.sock.sendto(packet, address)
        except OSError as exc:
            self.stats.count_send_error(exc)
            return exc
        self.stats.sent += 1
        return None

    def recv(self) -> Datagram | None:
        try:
            packet = self.sock.recv(RECV_BUFSIZE)
        except OSError as exc:
            if exc.errno in NOTHING_TO_READ:
                return None
            self.stats.receive_errors += 1
            raise InvalidPacket(DropReason.BAD_IP_HEADER, f"recv: {exc}") from exc
        try:
            ip = parse_ip(packet)
        except InvalidPacket:
            self.stats.bad_ip_headers += 1
            raise
        if ip.protocol != consts.IPPROTO_VRRP:  # cannot happen on a proto-112 socket; be explicit
            self.stats.bad_ip_headers += 1
            raise InvalidPacket(DropReason.NOT_VRRP, f"IP protocol {ip.protocol}")
        self.stats.received += 1
        return Datagram(src=ip.src, dst=ip.dst, ttl=ip.ttl, payload=ip.payload, ifname=self.ifname)


class VrrpSocket6(_VrrpSocketBase):
    """IPv6 protocol-112 raw socket on one interface (VRRPv3 only).

    The kernel computes and verifies the checksum (IPV6_CHECKSUM at offset 6), so a datagram with
    a bad checksum never reaches us. ``src``, when given, goes in IPV6_PKTINFO on every send
    (keepalived sends from the interface's link-local address); without one the kernel picks the
    source (link-local for ff02::12).
    """

    family = 6

    def __init__(
        self,
        ifname: str,
        group: IPv6Address = VRRP_GROUP6,
        unicast: bool = False,
        src: IPv6Address | None = None,
    ) -> None:
        super().__init__(ifname, unicast)
        self.group = group
        self.src = src
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, consts.IPPROTO_VRRP)
        try:
            self._bind_device()
            ipv6 = socket.IPPROTO_IPV6
            self.sock.setsockopt(ipv6, consts.IPV6_CHECKSUM, 6)
            self.sock.setsockopt(ipv6, consts.IPV6_MULTICAST_HOPS, 255)
            self.sock.setsockopt(ipv6, consts.IPV6_UNICAST_HOPS, 255)
            self.sock.setsockopt(ipv6, consts.IPV6_MULTICAST_LOOP, 0)
            self.sock.setsockopt(ipv6, consts.IPV6_MULTICAST_IF, self.ifindex)
            self.sock.setsockopt(ipv6, consts.IPV6_RECVHOPLIMIT, 1)
            self.sock.setsockopt(ipv6, consts.IPV6_RECVPKTINFO, 1)
            with contextlib.suppress(OSError):  # kernels before 4.20: nothing to turn off
                self.sock.setsockopt(ipv6, consts.IPV6_MULTICAST_ALL, 0)
            if not unicast:
                mreq = struct.pack("16si", group.packed, self.ifindex)
                self.sock.setsockopt(ipv6, consts.IPV6_JOIN_GROUP, mreq)
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def send(
        self, data: bytes, dst: IPv6Address | None = None, src: IPv6Address | None = None, ttl: int = 255
    ) -> OSError | None:
        """Send one VRRP message; the source goes in IPV6_PKTINFO so it is exactly the one given, and a
        hop limit other than 255 (unicast_ttl) in IPV6_HOPLIMIT."""
        dst = self.group if dst is None else dst
        src = self.src if src is None else src
        ancillary = []
        if src is not None:
            pktinfo = struct.pack("16sI", src.packed, self.ifindex)
            ancillary.append((socket.IPPROTO_IPV6, consts.IPV6_PKTINFO, pktinfo))
        if ttl != 255:
            ancillary.append((socket.IPPROTO_IPV6, consts.IPV6_HOPLIMIT, struct.pack("i", ttl)))
        scope = self.ifindex if (dst.is_link_local or dst.is_multicast) else 0
        try:
            self.sock.sendmsg([data], ancillary, 0, (str(dst), 0, 0, scope))
        except OSError as exc:
            self.stats.count_send_error(exc)
            return exc
        self.stats.sent += 1
        return None

    def recv(self) -> Datagram | None:
        try:
            data, ancdata, _flags, addr = self.sock.recvmsg(RECV_BUFSIZE, _IPV6_ANCBUFSIZE)
        except OSError as exc:
            if exc.errno in NOTHING_TO_READ:
                return None
            self.stats.receive_errors += 1
            raise InvalidPacket(DropReason.BAD_IP_HEADER, f"recvmsg: {exc}") from exc
        hop_limit: int | None = None
        dst: IPv6Address | None = None
        for level, kind, value in ancdata:
            if level != socket.IPPROTO_IPV6:
                continue
            if kind == consts.IPV6_HOPLIMIT and len(value) >= 4:
                hop_limit = struct.unpack("i", value[:4])[0]
            elif kind == consts.IPV6_PKTINFO and len(value) >= 16:
                dst = IPv6Address(value[:16])
        if hop_limit is None or dst is None:
            self.stats.bad_ip_headers += 1
            raise InvalidPacket(DropReason.BAD_IP_HEADER, "no hop limit or destination in ancillary data")
        src = IPv6Address(addr[0].split("%", 1)[0])
        self.stats.received += 1
        return Datagram(src=src, dst=dst, ttl=hop_limit, payload=bytes(data), ifname=self.ifname)


VrrpSocket = VrrpSocket4 | VrrpSocket6


def open_vrrp_socket(
    ifname: str, family: int, group: IPAddress | None = None, unicast: bool = False, src: IPAddress | None = None
) -> VrrpSocket:
    """The socket for an instance's family, with the family's default group when none is given."""
    if family == 4:
        g4 = VRRP_GROUP4 if group is None else group
        if not isinstance(g4, IPv4Address) or not (src is None or isinstance(src, IPv4Address)):
            raise ValueError("IPv4 socket needs IPv4 group and source")
        return VrrpSocket4(ifname, g4, unicast, src)
    if family == 6:
        g6 = VRRP_GROUP6 if group is None else group
        if not isinstance(g6, IPv6Address) or not (src is None or isinstance(src, IPv6Address)):
            raise ValueError("IPv6 socket needs IPv6 group and source")
        return VrrpSocket6(ifname, g6, unicast, src)
    raise ValueError(f"address family {family}")
