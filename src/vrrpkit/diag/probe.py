"""``vrrpkit probe``: does protocol 112 (and UDP) get between these hosts, by multicast and unicast?

Run it on every host at the same time with the same peer list, like omping. Each host sends, every
``interval``, on four paths: protocol 112 to the VRRP group (TTL 255, exactly like an advert),
protocol 112 to each peer, UDP to a group (TTL 1) and UDP to each peer. Whoever receives a request
echoes it back *on the same path* (multicast requests by multicast, unicast by unicast), with the TTL
it saw, so each path measures only itself: a cloud that eats multicast shows as 100% loss on both
multicast paths and none on the unicast ones; a host firewall that drops protocol 112 shows as loss
on the VRRP paths only. Besides the round trip (sent / received / loss / latency), each host counts
the peers' requests it heard, which tells the direction of a one-way loss.

The wire format is docs/probe.md (``probe_wire``). Probes never disturb VRRP instances: they use
an unused VRID and a header every implementation rejects at its first check. What the network may
make the responder do (answer whom, by which path, how often, keeping what) is ``probe_book``.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import select
import socket
import struct
import time
from collections.abc import Callable
from ipaddress import IPv4Address, ip_address
from typing import Any

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6, IPAddress
from vrrpkit.diag import probe_wire as pw
from vrrpkit.diag.probe_book import PathStats, PeerResult, ProbeBook, ProbeReport
from vrrpkit.diag.probe_wire import Path
from vrrpkit.io import consts
from vrrpkit.io.fdsocket import FdSocket

__all__ = ["PathStats", "PeerResult", "ProbeError", "ProbeReport", "ProbeSession", "interface_towards"]

Progress = Callable[[str, float], None]
_IP_TTL = 2  # cmsg type of IP_RECVTTL data


class ProbeError(Exception):
    """Cannot probe at all (no such interface, not root, mixed families): exit 2."""


def interface_towards(peer: IPAddress) -> str | None:
    """The interface holding the source address the kernel would use towards ``peer`` (probe's
    default ``-i``); None when there is no route or no interface holds that address."""
    from vrrpkit.io import netlink

    local = netlink.route_source(peer)
    if local is None:
        return None
    for name in netlink.interface_names():
        try:
            if any(a.address == local for a in netlink.addresses(name)):
                return name
        except OSError:
            continue  # gone since the listing, or unreadable: it cannot be the answer
    return None


class _Udp(FdSocket):
    """One UDP socket on the probe port: joined to the probe group, TTL of each datagram reported."""

    def __init__(self, ifname: str, family: int) -> None:
        self.family = family
        self.ifindex = socket.if_nametoindex(ifname)
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        self.sock = socket.socket(af, socket.SOCK_DGRAM)
        try:
            s = self.sock
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, consts.SO_BINDTODEVICE, ifname.encode())
            if family == 4:
                s.setsockopt(socket.IPPROTO_IP, consts.IP_MULTICAST_ALL, 0)
                s.setsockopt(socket.IPPROTO_IP, consts.IP_RECVTTL, 1)
                s.setsockopt(socket.IPPROTO_IP, consts.IP_PKTINFO, 1)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, pw.UDP_MCAST_TTL)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
                mreqn = struct.pack("4s4si", b"\0" * 4, b"\0" * 4, self.ifindex)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
                s.bind(("0.0.0.0", pw.UDP_PORT))
                join = struct.pack("4s4si", pw.UDP_GROUP4.packed, b"\0" * 4, self.ifindex)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, join)
            else:
                ipv6 = socket.IPPROTO_IPV6
                with contextlib.suppress(OSError):  # kernels before 4.20
                    s.setsockopt(ipv6, consts.IPV6_MULTICAST_ALL, 0)
                s.setsockopt(ipv6, consts.IPV6_RECVHOPLIMIT, 1)
                s.setsockopt(ipv6, consts.IPV6_RECVPKTINFO, 1)
                s.setsockopt(ipv6, consts.IPV6_MULTICAST_HOPS, pw.UDP_MCAST_TTL)
                s.setsockopt(ipv6, consts.IPV6_MULTICAST_LOOP, 0)
                s.setsockopt(ipv6, consts.IPV6_MULTICAST_IF, self.ifindex)
                s.bind(("::", pw.UDP_PORT))
                s.setsockopt(ipv6, consts.IPV6_JOIN_GROUP, struct.pack("16si", pw.UDP_GROUP6.packed, self.ifindex))
            s.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def send(self, data: bytes, dst: IPAddress) -> OSError | None:
        target: tuple[Any, ...] = (str(dst), pw.UDP_PORT)
        if self.family == 6:
            scope = self.ifindex if (dst.is_link_local or dst.is_multicast) else 0
            target = (str(dst), pw.UDP_PORT, 0, scope)
        try:
            self.sock.sendto(data, target)
        except OSError as exc:
            return exc
        return None

    def recv(self) -> list[tuple[IPAddress, IPAddress | None, int, bytes]]:
        """(source, the destination it was sent to, TTL, payload) of each waiting datagram."""
        out: list[tuple[IPAddress, IPAddress | None, int, bytes]] = []
        for _ in range(256):
            try:
                data, anc, _flags, addr = self.sock.recvmsg(2048, socket.CMSG_SPACE(4) + socket.CMSG_SPACE(20))
            except OSError:
                break  # EAGAIN: drained; anything else: try again on the next readable
            ttl = 0
            dst_addr: IPAddress | None = None
            for level, kind, value in anc:
                if (level, kind) in ((socket.IPPROTO_IP, _IP_TTL), (socket.IPPROTO_IPV6, consts.IPV6_HOPLIMIT)):
                    ttl = struct.unpack("i", value[:4])[0] if len(value) >= 4 else value[0]
                elif (level, kind) == (socket.IPPROTO_IP, consts.IP_PKTINFO) and len(value) >= 12:
                    dst_addr = IPv4Address(value[8:12])  # in_pktinfo.ipi_addr: the header's destination
                elif (level, kind) == (socket.IPPROTO_IPV6, consts.IPV6_PKTINFO) and len(value) >= 16:
                    dst_addr = ipaddress.IPv6Address(value[:16])
            with contextlib.suppress(ValueError):
                out.append((ip_address(addr[0].split("%", 1)[0]), dst_addr, ttl, bytes(data)))
        return out


class ProbeSession(ProbeBook):
    """One run of the probe on one interface. ``run()`` blocks for count x interval + wait seconds."""

    def __init__(
        self,
        ifname: str,
        peers: list[IPAddress],
        vrid: int = pw.DEFAULT_VRID,
        count: int = 10,
        interval: float = 0.2,
        wait: float = 2.0,
        src: IPAddress | None = None,
        key: bytes | None = None,
    ) -> None:
        if not peers:
            raise ProbeError("no peers: name the other hosts with --peer IP[,IP...] (run the probe there too)")
        families = {p.version for p in peers}
        if len(families) != 1:
            raise ProbeError("peers mix IPv4 and IPv6: probe one family at a time")
        if not 1 <= vrid <= 255:
            raise ProbeError(f"--vrid {vrid} out of range 1..255")
        if not 1 <= count <= 100000 or not 0.001 <= interval <= 60 or not 0 <= wait <= 600:
            raise ProbeError("--count 1..100000, --interval 0.001..60 s and --wait 0..600 s")
        if not os.path.isdir(f"/sys/class/net/{ifname}"):
            raise ProbeError(f"no such interface: {ifname}")
        psk = hashlib.sha256(key).digest() if key is not None else None
        session = int.from_bytes(os.urandom(4), "big") or 1
        super().__init__(peers, count, interval, session, os.urandom(32), psk, vrid)
        self.ifname = ifname
        self.family = families.pop()
        self.group: IPAddress = VRRP_GROUP4 if self.family == 4 else VRRP_GROUP6
        self.udp_group: IPAddress = pw.UDP_GROUP4 if self.family == 4 else pw.UDP_GROUP6
        self.interval, self.wait = interval, wait
        self.src = src

    def run(self, progress: Progress | None = None) -> ProbeReport:
        from vrrpkit.io import netlink
        from vrrpkit.io.vrrp_socket import VrrpSocket4, VrrpSocket6

        report = progress or (lambda _m, _f: None)
        try:
            infos = netlink.addresses(self.ifname)
            self.own = {a.address for a in infos}
            self.subnets = [ipaddress.ip_interface(f"{a.address}/{a.prefixlen}").network for a in infos]
            if self.src is None:
                self.src = netlink.primary_address(self.ifname, self.family)
        except OSError as exc:
            raise ProbeError(f"cannot read the addresses of {self.ifname}: {exc}") from exc
        for p in list(self.results):
            if p in self.own:
                del self.results[p]  # the same --peer list on every host: skip ourselves
        if not self.results:
            raise ProbeError("every --peer is an address of this host")
        try:
            if self.family == 4:
                if not isinstance(self.src, IPv4Address):
                    raise ProbeError(f"{self.ifname} has no IPv4 address to send from")
                vrrp: Any = VrrpSocket4(self.ifname, VRRP_GROUP4, src=self.src)
            else:
                vrrp = VrrpSocket6(self.ifname, VRRP_GROUP6, src=None)  # the kernel picks per destination
        except PermissionError as exc:
            raise ProbeError("probe needs root (raw protocol-112 sockets): run it with sudo") from exc
        except OSError as exc:
            raise ProbeError(f"cannot open a protocol-112 socket on {self.ifname}: {exc}") from exc
        try:
            udp = _Udp(self.ifname, self.family)
        except OSError as exc:
            vrrp.close()
            raise ProbeError(f"cannot open UDP port {pw.UDP_PORT} on {self.ifname}: {exc}") from exc
        start = time.monotonic()
        try:
            self._loop(vrrp, udp, start, report)
        finally:
            vrrp.close()
            udp.close()
        if self.vrid in self.vrids:
            self.warnings.append(f"VRID {self.vrid} is in use on this link: rerun with --vrid N, N unused")
        peers = self.merged()
        listed = [r for r in peers if r.listed]
        others = [r for r in peers if not r.listed]
        for r in listed:
            if not any(s.heard or s.rtt_ms for s in r.paths.values()):
                self.warnings.append(f"{r.address}: response message never received (is the probe running there?)")
        return ProbeReport(self.ifname, self.src, self.session, self.vrid, self.count, self.interval,
                           listed + others, sorted(self.vrids), self.warnings, time.monotonic() - start,
                           "psk" if self.psk else "session", dict(self.ignored))  # fmt: skip

    def _loop(self, vrrp: Any, udp: _Udp, start: float, report: Progress) -> None:
        """Warm up, then count. Warm-up (omping's "waiting for response msg"): announce with seq 0,
        which is answered but never counted, until every peer was heard on any path or ``wait``
        seconds passed, so a host started a moment later does not read as loss."""
        peers = [p for p in self.results if self.results[p].listed]
        fds = [vrrp.fileno(), udp.fileno()]
        warm_until = start + max(self.wait, 1.0)
        counting_from: float | None = None
        deadline = warm_until + (self.count - 1) * self.interval + self.wait
        seq = 0
        next_send = start
        last_report = 0.0
        while True:
            now = time.monotonic()
            if counting_from is None and (now >= warm_until or all(self._heard_from(p) for p in peers)):
                counting_from = next_send = now
                deadline = now + (self.count - 1) * self.interval + self.wait
            if now >= deadline:
                break
            if now >= next_send and (counting_from is None or seq < self.count):
                if counting_from is not None:
                    seq += 1
                self._send_round(vrrp, udp, seq, peers)
                next_send = (counting_from + seq * self.interval) if counting_from is not None else now + self.interval
            if now - last_report >= 0.2:
                what = f"{seq}/{self.count} sent" if counting_from is not None else "waiting for the peers"
                report(f"probing {len(peers)} peer(s): {what}", seq / self.count)
                last_report = now
            wake = min(deadline, next_send if (counting_from is None or seq < self.count) else deadline, now + 0.2)
            readable, _, _ = select.select(fds, [], [], max(0.0, wake - now))
            if vrrp.fileno() in readable:
                self._read_vrrp(vrrp)
            if udp.fileno() in readable:
                self._read_udp(udp)

    def _heard_from(self, peer: IPAddress) -> bool:
        r = self.results[peer]
        if any(s.seen_any for s in r.paths.values()):
            return True
        key = self.peer_keys.get(peer)
        unlisted = (o.address for o in self.results.values() if not o.listed)
        return key is not None and any(self.peer_keys.get(a) == key for a in unlisted)

    def _send_round(self, vrrp: Any, udp: _Udp, seq: int, peers: list[IPAddress]) -> None:
        """One request on every path; seq 0 is the uncounted warm-up announcement."""
        counted = 1 if seq else 0
        msg = self.request(Path.VRRP_MULTICAST, seq, time.monotonic_ns())
        if vrrp.send(pw.encode_vrrp(msg)) is None:
            for p in peers:
                self.results[p].paths[Path.VRRP_MULTICAST].sent += counted
        msg = self.request(Path.UDP_MULTICAST, seq, time.monotonic_ns())
        if udp.send(pw.encode_body(msg), self.udp_group) is None:
            for p in peers:
                self.results[p].paths[Path.UDP_MULTICAST].sent += counted
        for p in peers:
            if vrrp.send(pw.encode_vrrp(self.request(Path.VRRP_UNICAST, seq, time.monotonic_ns())), p) is None:
                self.results[p].paths[Path.VRRP_UNICAST].sent += counted
            if udp.send(pw.encode_body(self.request(Path.UDP_UNICAST, seq, time.monotonic_ns())), p) is None:
                self.results[p].paths[Path.UDP_UNICAST].sent += counted

    def _read_vrrp(self, vrrp: Any) -> None:
        good, _bad = vrrp.drain()
        for d in good:
            for payload, dst in self.on_vrrp(d.src, d.dst, d.ttl, d.payload, time.monotonic_ns(), time.monotonic(),
                                             verify_checksum=self.family == 4):  # fmt: skip
                vrrp.send(payload, dst)

    def _read_udp(self, udp: _Udp) -> None:
        for src, dst, ttl, data in udp.recv():
            for payload, to in self.on_udp(src, dst, ttl, data, time.monotonic_ns(), time.monotonic()):
                udp.send(payload, self.udp_group if to is None else to)
