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

* A kernel filter (``set_filter``, see ``vrrpkit.io.vrrp_filter``) keeps what no instance on the
  socket can use in the kernel, and a 1 MiB receive queue (``SO_RCVBUFFORCE``) absorbs bursts while
  the loop is busy, so a flood never pushes the master's adverts out of the queue.

Sends never raise: an ``OSError`` (ENETUNREACH when the link is down, ENOBUFS, ...) is counted in
``stats`` and returned, because a failed advert is an event for the log and metrics, not a crash.

Reading is the hot path of a BACKUP (every master's every advert) and of a flood: a master resends
identical bytes, so each socket remembers the last few packets it parsed and hands back the same
`Datagram` for the same bytes (no header parsing, no address objects); the routers then recognise
those objects by identity and skip decoding too (``vrrpkit.core.router``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6, IPAddress
from vrrpkit.core.effects import SendAdvert
from vrrpkit.core.packet import DropReason, InvalidPacket, build_ipv4, parse_ip
from vrrpkit.io import consts, sendmmsg, vrrp_filter
from vrrpkit.io.fdsocket import NOTHING_TO_READ, FdSocket, attach_bpf
from vrrpkit.io.lazysock import LazyReading
from vrrpkit.io.stamped import LazyReader, clock_offset

RECV_BUFSIZE = 65535
RECV_BUFSIZE4 = 4096  # the largest IPv4 advert is 60 + 1036 bytes; a smaller buffer reads faster
RECV_BUFSIZE6 = 8192  # the largest IPv6 advert is 8 + 255 x 16 bytes
RCVBUF = 1 << 20  # bytes of receive queue: ~1300 adverts, tens of ms of a flood while the loop is busy
PARSED_CACHE = 512  # distinct packets remembered per socket: every VRID's master, and some
_IPV6_ANCBUFSIZE = socket.CMSG_SPACE(4) + socket.CMSG_SPACE(20)
_SO_RCVBUFFORCE = 33
_SIOCGIFMTU = 0x8921
_SIOCGSTAMPNS = 0x8907


class Datagram(NamedTuple):
    """One received VRRP datagram, with the IP fields the core's receive rules need.

    A tuple rather than a frozen dataclass: one is built per received packet, and a tuple is
    built several times faster."""

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


class _VrrpSocketBase(LazyReading, FdSocket):
    """What both families share: the interface, non-blocking reads, counters (fd and close: FdSocket)."""

    family: int

    def __init__(self, ifname: str, unicast: bool) -> None:
        self.ifname = ifname
        self.ifindex = socket.if_nametoindex(ifname)  # OSError (no errno) if missing: the caller says so
        self.unicast = unicast
        self.stats = SocketStats()
        self.filter: vrrp_filter.FilterSpec | None = None
        self.filter_size = 0
        self._parsed: dict[bytes, Datagram] = {}
        self._burst: sendmmsg.Burst | None = None  # a MASTER's last burst of adverts, prepared
        # arrival of each datagram the last drain returned (monotonic), while stamping is on
        self.stamps: list[float] = []

    def close(self) -> None:
        self.close_wake()
        super().close()

    send: Callable[..., OSError | None]  # the family's: (message, destination, source, TTL)

    def _send_one(self, advert: SendAdvert) -> OSError | None:
        return self.send(advert.data, advert.dst, advert.src, advert.ttl)

    def _message(self, advert: SendAdvert) -> tuple[bytes, bytes, bytes]:
        """(packet, sockaddr, control messages) of an advert as sendmmsg sends it, built once."""
        raise NotImplementedError

    def send_many(self, adverts: Sequence[SendAdvert]) -> list[OSError | None]:
        """``send`` for a burst of adverts, in one sendmmsg call when it can; the errors per advert,
        as ``send`` returns them. A MASTER's tick is the same burst every time (the router hands
        over the same effect objects): then the prepared burst is sent as it is."""
        if len(adverts) < 2 or not sendmmsg.available():
            return [self._send_one(a) for a in adverts]
        burst = self._burst
        if burst is None or burst.key != tuple(map(id, adverts)):
            burst = self._burst = sendmmsg.Burst(adverts, [self._message(a) for a in adverts])
        sent, _errno = burst.send(self.sock.fileno())
        self.stats.sent += sent
        errors: list[OSError | None] = [None] * sent
        for advert in adverts[sent:]:  # the rest one by one: each error where it happened
            errors.append(self._send_one(advert))
        return errors

    def _remember(self, key: bytes, datagram: Datagram) -> Datagram:
        if len(self._parsed) >= PARSED_CACHE:
            self._parsed.clear()
        self._parsed[key] = datagram
        return datagram

    def arrived(self) -> float | None:
        """When the last datagram read arrived, on the ``time.monotonic()`` clock (the kernel's
        receive timestamp, SIOCGSTAMPNS), or None when the kernel has none. One system call per
        batch: a Master_Down counted from a datagram's arrival rather than from when the loop got
        to it (at 10 ms adverts the difference is a tenth of a millisecond and more)."""
        try:
            raw = fcntl.ioctl(self.sock.fileno(), _SIOCGSTAMPNS, bytes(16))
        except OSError:
            return None
        sec, nsec = struct.unpack("qq", raw)
        stamp: float = sec + nsec / 1e9 + clock_offset()
        return stamp

    def _grow_queue(self) -> None:
        # Receive timestamps for `arrived`: the first SIOCGSTAMPNS turns the kernel's stamping on
        # (and fails: nothing stamped yet). Not SO_TIMESTAMPNS, which would also add a control
        # message to every IPv6 recvmsg.
        with contextlib.suppress(OSError):
            fcntl.ioctl(self.sock.fileno(), _SIOCGSTAMPNS, bytes(16))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RCVBUF)  # beyond rmem_max (root)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)

    def set_filter(self, spec: vrrp_filter.FilterSpec) -> None:
        """Replace the kernel filter (the kernel swaps it atomically; nothing queued is lost).

        A host with little socket option memory (net.core.optmem_max) refuses a large filter with
        ENOMEM: then one that verifies the checksums of shorter adverts only, down to none."""
        if spec == self.filter:
            return
        for budget in (vrrp_filter.CHECKSUM_BUDGET, 1500, 500, 0):
            program = vrrp_filter.program(spec, budget)
            try:
                attach_bpf(self.sock, program)
            except OSError as exc:
                if exc.errno == errno.ENOMEM and budget:
                    continue
                raise
            self.filter, self.filter_size = spec, len(program)
            return

    def kernel_drops(self) -> int | None:
        """Datagrams the kernel dropped because this socket's queue was full (/proc/net/raw{,6}
        "drops"), or None when it cannot tell. Packets the filter refused are not in it."""
        inode = os.fstat(self.sock.fileno()).st_ino
        try:
            with open("/proc/net/raw" if self.family == 4 else "/proc/net/raw6") as f:
                for line in f:
                    fields = line.split()
                    if len(fields) > 12 and fields[9] == str(inode):
                        return int(fields[-1])
        except (OSError, ValueError):
            return None
        return None

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

    def mtu(self) -> int | None:
        """The bound interface's MTU, for vrrp_rx_bufs_policy MTU: SIOCGIFMTU on this socket, so
        sizing the buffer needs no netlink round trip (nor pyroute2, which the daemon avoids)."""
        try:
            ifreq = fcntl.ioctl(self.sock.fileno(), _SIOCGIFMTU, struct.pack("16si20x", self.ifname.encode(), 0))
        except OSError:
            return None
        mtu: int = struct.unpack_from("16si", ifreq)[1]
        return mtu

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
            self.sock.setsockopt(
                socket.IPPROTO_IPV6, consts.IPV6_JOIN_GROUP, struct.pack("16si", group.packed, self.ifindex)
            )
        self._joined(group)


class VrrpSocket4(_VrrpSocketBase):
    """IPv4 protocol-112 raw socket on one interface.

    ``group``: the multicast group joined (and used as the default destination) in multicast mode.
    ``unicast``: no group is joined; if ``src`` is given the socket is bound to it, so only
    datagrams addressed to our unicast source arrive (as keepalived binds its unicast socket).
    ``src``: the source address used when ``send`` is not told one (the instance's primary address
    or ``unicast_src_ip``/``mcast_src_ip``).
    """

    family = 4
    protocol = consts.IPPROTO_VRRP  # the IP protocol it receives (io/ah_socket.py: 51)

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
        self._packets: dict[tuple[bytes, int, int], tuple[bytes, tuple[str, int], IPv4Address, IPv4Address, bytes]] = {}
        self._groups = [] if unicast else [group]
        self._bound = src if unicast else None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, self.protocol)
        try:
            self._bind_device()
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            self.sock.setsockopt(socket.IPPROTO_IP, consts.IP_MULTICAST_ALL, 0)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
            self._grow_queue()
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
        packet, address, _, _, _ = self._prepared(data, dst, src, ttl)
        try:
            self.sock.sendto(packet, address)
        except OSError as exc:
            self.stats.count_send_error(exc)
            return exc
        self.stats.sent += 1
        return None

    def _prepared(
        self, data: bytes, dst: IPv4Address, src: IPv4Address, ttl: int = 255
    ) -> tuple[bytes, tuple[str, int], IPv4Address, IPv4Address, bytes]:
        key = (data, id(dst), ttl)
        cached = self._packets.get(key)
        if cached is None or cached[2] is not src or cached[3] is not dst:
            # A master resends the same message every interval (the router hands over the same
            # objects each time): build each header and its checksum once. Keyed by the message
            # and the destination object (hashing address objects costs more than building the
            # header; the entry holds the objects, so their ids stay theirs); bounded because a
            # priority change makes new bytes.
            if len(self._packets) >= 1024:
                self._packets.clear()
                self._burst = None
            packet = build_ipv4(src, dst, data, ttl=ttl)
            cached = self._packets[key] = (packet, (str(dst), 0), src, dst, sendmmsg.sockaddr_in(dst.packed))
        return cached

    def _message(self, advert: SendAdvert) -> tuple[bytes, bytes, bytes]:
        packet, _, _, _, name = self._prepared(advert.data, advert.dst, advert.src, advert.ttl)  # type: ignore[arg-type]
        return packet, name, b""

    def recv(self) -> Datagram | None:
        good, bad = self.drain(1)
        if bad:
            raise bad[0]
        return good[0] if good else None

    def drain(self, limit: int = 64) -> tuple[list[Datagram], list[InvalidPacket]]:
        """Read up to ``limit`` queued datagrams; the hot loop of a BACKUP and of a flood."""
        if self._stamped:
            return self._drain_stamped(limit)
        good: list[Datagram] = []
        bad: list[InvalidPacket] = []
        recv, known = self.sock.recv, self._known
        for _ in range(limit):
            try:
                good.append(known(recv(RECV_BUFSIZE4)))
            except InvalidPacket as exc:
                bad.append(exc)
            except OSError as exc:
                if exc.errno in NOTHING_TO_READ:
                    break
                self.stats.receive_errors += 1
                bad.append(InvalidPacket(DropReason.BAD_IP_HEADER, f"recv: {exc}"))
        self.stats.received += len(good)
        return good, bad

    def _make_reader(self) -> LazyReader:
        return LazyReader(self._known, self.stats)

    def _known(self, packet: bytes) -> Datagram:
        """The `Datagram` of these bytes: the very one handed out before for the same advert, or
        parsed now (InvalidPacket if it does not parse). The sender's kernel gives every packet its
        own IP id (and so header checksum), so the same advert is recognised by its addresses and
        body, then its TTL and length (the protocol is this socket's; the kernel trims a packet to
        its total length)."""
        if packet[0] == 0x45:
            key = packet[12:]
            known = self._parsed.get(key)
            if known is not None and known[2] == packet[8] and len(known[3]) + 20 == len(packet):
                return known
        else:
            key = packet
            known = self._parsed.get(key)
            if known is not None:
                return known
        return self._parse(packet, key)

    def _parse(self, packet: bytes, key: bytes) -> Datagram:
        try:
            ip = parse_ip(packet)
        except InvalidPacket:
            self.stats.bad_ip_headers += 1
            raise
        if ip.protocol != consts.IPPROTO_VRRP:  # cannot happen on a proto-112 socket; be explicit
            self.stats.bad_ip_headers += 1
            raise InvalidPacket(DropReason.NOT_VRRP, f"IP protocol {ip.protocol}")
        return self._remember(key, Datagram(ip.src, ip.dst, ip.ttl, ip.payload, self.ifname))


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
        self._groups = [] if unicast else [group]
        self._lazy_parsed: dict[bytes, Datagram] = {}  # as `_parsed`, for batch reads (their own keys)
        self._messages: dict[tuple[bytes, int, int, int], tuple[bytes, bytes, bytes, object, object]] = {}
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
            self._grow_queue()
            with contextlib.suppress(OSError):  # kernels before 4.20: nothing to turn off
                self.sock.setsockopt(ipv6, consts.IPV6_MULTICAST_ALL, 0)
            if not unicast:
                mreq = struct.pack("16si", group.packed, self.ifindex)
                self.sock.setsockopt(ipv6, consts.IPV6_JOIN_GROUP, mreq)
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def _message(self, advert: SendAdvert) -> tuple[bytes, bytes, bytes]:
        """The advert's source in IPV6_PKTINFO (and a hop limit other than 255), as ``send`` does;
        built once per (message, destination, source, hop limit) and handed back while the router
        hands over the same objects (as a MASTER's every tick does)."""
        key = (advert.data, id(advert.dst), id(advert.src), advert.ttl)
        cached = self._messages.get(key)
        if cached is None or cached[3] is not advert.dst or cached[4] is not advert.src:
            if len(self._messages) >= 1024:  # a priority change makes new bytes
                self._messages.clear()
                self._burst = None
            dst = advert.dst
            scope = self.ifindex if (dst.is_link_local or dst.is_multicast) else 0
            pktinfo = struct.pack("16sI", advert.src.packed, self.ifindex)
            control = sendmmsg.cmsg(socket.IPPROTO_IPV6, consts.IPV6_PKTINFO, pktinfo)
            if advert.ttl != 255:
                control += sendmmsg.cmsg(socket.IPPROTO_IPV6, consts.IPV6_HOPLIMIT, struct.pack("i", advert.ttl))
            name = sendmmsg.sockaddr_in6(dst.packed, scope)
            cached = self._messages[key] = (advert.data, name, control, advert.dst, advert.src)
        return cached[0], cached[1], cached[2]

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

    def drain(self, limit: int = 64) -> tuple[list[Datagram], list[InvalidPacket]]:
        if self._stamped:  # each datagram's control data then carries a stamp: a batch read
            return self._drain_stamped(limit)
        return super().drain(limit)

    def _make_reader(self) -> LazyReader:
        from vrrpkit.io.stamped6 import LazyReader6  # a host without IPv6 instances never loads it

        return LazyReader6(self._datagram, self.stats)

    def _datagram(self, src: bytes, dst: bytes, hop_limit: int, payload: bytes) -> Datagram:
        """A batch read's datagram: the very one handed out before for the same advert."""
        key = src + dst + hop_limit.to_bytes(4, "little", signed=True) + payload
        known = self._lazy_parsed.get(key)
        if known is None:
            if len(self._lazy_parsed) >= PARSED_CACHE:
                self._lazy_parsed.clear()
            datagram = Datagram(IPv6Address(src), IPv6Address(dst), hop_limit, payload, self.ifname)
            known = self._lazy_parsed[key] = datagram
        return known

    def recv(self) -> Datagram | None:
        try:
            data, ancdata, _flags, addr = self.sock.recvmsg(RECV_BUFSIZE6, _IPV6_ANCBUFSIZE)
        except OSError as exc:
            if exc.errno in NOTHING_TO_READ:
                return None
            self.stats.receive_errors += 1
            raise InvalidPacket(DropReason.BAD_IP_HEADER, f"recvmsg: {exc}") from exc
        key = data + b"".join(value for _level, _kind, value in ancdata) + addr[0].encode()
        known = self._parsed.get(key)
        if known is not None:
            self.stats.received += 1
            return known
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
        return self._remember(key, Datagram(src, dst, hop_limit, bytes(data), self.ifname))


VrrpSocket = VrrpSocket4 | VrrpSocket6


def open_vrrp_socket(
    ifname: str, family: int, group: IPAddress | None = None, unicast: bool = False, src: IPAddress | None = None
) -> VrrpSocket:
    """The socket for an instance's family, with the family's default group when none is given."""
    if family in (4, consts.IPPROTO_AH):  # 51: auth_type AH's own socket (io/ah_socket.py)
        g4 = VRRP_GROUP4 if group is None else group
        if not isinstance(g4, IPv4Address) or not (src is None or isinstance(src, IPv4Address)):
            raise ValueError("IPv4 socket needs IPv4 group and source")
        if family == consts.IPPROTO_AH:
            from vrrpkit.io.ah_socket import AhSocket4

            return AhSocket4(ifname, g4, unicast, src)
        return VrrpSocket4(ifname, g4, unicast, src)
    if family == 6:
        g6 = VRRP_GROUP6 if group is None else group
        if not isinstance(g6, IPv6Address) or not (src is None or isinstance(src, IPv6Address)):
            raise ValueError("IPv6 socket needs IPv6 group and source")
        return VrrpSocket6(ifname, g6, unicast, src)
    raise ValueError(f"address family {family}")
