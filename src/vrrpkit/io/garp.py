"""Gratuitous ARP, unsolicited neighbour advertisements, and the ARP/NS prober for split brain.

Frames are built byte by byte (pure functions, unit-tested field by field) and sent on an
AF_PACKET socket bound to the interface, as keepalived does (``vrrp_arp.c``, ``vrrp_ndisc.c``):

* Gratuitous ARP: Ethernet dst ff:ff:ff:ff:ff:ff, src = the interface MAC (keepalived uses the
  real MAC unless ``use_vmac``), ARP *request*, sender MAC = interface MAC, sender IP = target IP
  = the VIP, and target MAC **ff:ff:ff:ff:ff:ff** (keepalived ``memset(arph->__ar_tha, 0xFF, ...)``;
  RFC 5227 would put zeros there, keepalived does not).
* Unsolicited NA: Ethernet dst 33:33:00:00:00:01, IPv6 src = the VIP itself, dst ff02::1, hop limit
  255, ICMPv6 type 136 with the Override flag, the Router flag when the interface forwards IPv6
  (keepalived reads ``net.ipv6.conf.IF.forwarding``), Solicited clear, and a target link-layer
  address option carrying the interface MAC.

The prober answers "does anyone else own this VIP?" for a master (design: a healthy master hears
no adverts, so silence proves nothing). It sends duplicate-address-detection style probes, which
every owner must answer and which poison no cache: an RFC 5227 ARP probe (sender IP 0.0.0.0) or an
RFC 4862 DAD neighbour solicitation (source ::, to the solicited-node group). Every MAC other than
ours that claims the address within the timeout is another owner.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import select
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from vrrpkit.core.config import IPAddress, Vip
from vrrpkit.core.packet import checksum as internet_checksum
from vrrpkit.io import consts
from vrrpkit.io.fdsocket import NOTHING_TO_READ, BpfInsn, FdSocket, attach_bpf

BROADCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
ALL_NODES = IPv6Address("ff02::1")
UNSPECIFIED6 = IPv6Address("::")
ARP_FRAME_LEN = 42
NA_FRAME_LEN = 86

_FLUSH_LIMIT = 100_000  # more than a full default receive buffer of minimum-size frames


# --- helpers ------------------------------------------------------------------------------------


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def parse_mac(text: str) -> bytes:
    mac = bytes(int(part, 16) for part in text.split(":"))
    if len(mac) != consts.ETH_ALEN:
        raise ValueError(f"not a MAC address: {text!r}")
    return mac


def multicast_mac(group: IPv6Address) -> bytes:
    """RFC 2464 section 7: 33:33 followed by the group's last 32 bits."""
    return b"\x33\x33" + group.packed[12:]


def solicited_node(address: IPv6Address) -> IPv6Address:
    """ff02::1:ffXX:XXXX, the group a DAD neighbour solicitation for ``address`` goes to."""
    return IPv6Address(b"\xff\x02" + b"\0" * 9 + b"\x01\xff" + address.packed[13:])


def icmpv6_checksum(src: IPv6Address, dst: IPv6Address, message: bytes) -> int:
    """RFC 4443 section 2.3: over the IPv6 pseudo-header (next header 58) and the message."""
    pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(message), consts.IPPROTO_ICMPV6)
    return internet_checksum(pseudo + message)


def interface_mac(ifname: str) -> bytes:
    """The interface's hardware address (SIOCGIFHWADDR, so it is read in our network namespace)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16s16x", ifname.encode()[:15])
        result = fcntl.ioctl(sock.fileno(), consts.SIOCGIFHWADDR, ifreq)
    return result[18:24]


def ipv6_forwarding(ifname: str) -> bool:
    """keepalived sets the NA Router flag from this sysctl; unreadable means not a router."""
    try:
        with open(f"/proc/sys/net/ipv6/conf/{ifname}/forwarding") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


# --- frame builders (pure) ----------------------------------------------------------------------


def _ethernet(dst: bytes, src: bytes, ethertype: int) -> bytes:
    return dst + src + struct.pack("!H", ethertype)


def _arp(op: int, sha: bytes, spa: IPv4Address, tha: bytes, tpa: IPv4Address) -> bytes:
    header = struct.pack("!HHBBH", consts.ARPHRD_ETHER, consts.ETH_P_IP, consts.ETH_ALEN, 4, op)
    return header + sha + spa.packed + tha + tpa.packed


def garp_frame(mac: bytes, vip: IPv4Address) -> bytes:
    """keepalived's gratuitous ARP for ``vip`` (42 bytes, unpadded as keepalived sends it)."""
    _check_mac(mac)
    return _ethernet(BROADCAST_MAC, mac, consts.ETH_P_ARP) + _arp(consts.ARPOP_REQUEST, mac, vip, BROADCAST_MAC, vip)


def arp_probe_frame(mac: bytes, target: IPv4Address) -> bytes:
    """RFC 5227 ARP probe: sender IP 0.0.0.0, target MAC zero. Owners reply; nobody caches us."""
    _check_mac(mac)
    zero = IPv4Address(0)
    return _ethernet(BROADCAST_MAC, mac, consts.ETH_P_ARP) + _arp(consts.ARPOP_REQUEST, mac, zero, ZERO_MAC, target)


def _ipv6_header(src: IPv6Address, dst: IPv6Address, payload_len: int, hop_limit: int = 255) -> bytes:
    return struct.pack("!IHBB", 6 << 28, payload_len, consts.IPPROTO_ICMPV6, hop_limit) + src.packed + dst.packed


def unsolicited_na_frame(mac: bytes, vip: IPv6Address, router: bool = False) -> bytes:
    """keepalived's unsolicited neighbour advertisement for ``vip`` (86 bytes)."""
    _check_mac(mac)
    flags = (0x80000000 if router else 0) | 0x20000000  # R, (S clear), O
    option = struct.pack("!BB", consts.ND_OPT_TARGET_LL_ADDR, 1) + mac
    body = struct.pack("!I", flags) + vip.packed + option
    message = struct.pack("!BBH", consts.ICMPV6_ND_NEIGHBOR_ADVERT, 0, 0) + body
    csum = icmpv6_checksum(vip, ALL_NODES, message)
    message = message[:2] + struct.pack("!H", csum) + message[4:]
    ethernet = _ethernet(multicast_mac(ALL_NODES), mac, consts.ETH_P_IPV6)
    return ethernet + _ipv6_header(vip, ALL_NODES, len(message)) + message


def dad_ns_frame(mac: bytes, target: IPv6Address) -> bytes:
    """RFC 4862 DAD neighbour solicitation: source ::, to the solicited-node group, no options.

    Every node owning ``target`` answers with an NA to ff02::1, and no neighbour cache learns us.
    """
    _check_mac(mac)
    group = solicited_node(target)
    message = struct.pack("!BBHI", consts.ICMPV6_ND_NEIGHBOR_SOLICIT, 0, 0, 0) + target.packed
    csum = icmpv6_checksum(UNSPECIFIED6, group, message)
    message = message[:2] + struct.pack("!H", csum) + message[4:]
    ethernet = _ethernet(multicast_mac(group), mac, consts.ETH_P_IPV6)
    return ethernet + _ipv6_header(UNSPECIFIED6, group, len(message)) + message


def _check_mac(mac: bytes) -> None:
    if len(mac) != consts.ETH_ALEN:
        raise ValueError(f"MAC address must be 6 bytes, got {len(mac)}")


# --- frame parsers (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A frame in which ``mac`` says it owns ``address``."""

    address: IPAddress
    mac: bytes
    kind: str  # "arp-reply", "arp-announce", "na"


def parse_claim(frame: bytes) -> Claim | None:
    """The ownership claim in an ARP reply, a gratuitous ARP or a neighbour advertisement, if any.

    ARP probes (sender IP 0.0.0.0) and other traffic claim nothing.
    """
    if len(frame) < 14:
        return None
    ethertype = struct.unpack("!H", frame[12:14])[0]
    if ethertype == consts.ETH_P_ARP and len(frame) >= ARP_FRAME_LEN:
        hrd, pro, hln, pln, op = struct.unpack("!HHBBH", frame[14:22])
        if (hrd, pro, hln, pln) != (consts.ARPHRD_ETHER, consts.ETH_P_IP, 6, 4):
            return None
        sha, spa = frame[22:28], IPv4Address(frame[28:32])
        if int(spa) == 0:
            return None
        if op == consts.ARPOP_REPLY:
            return Claim(spa, sha, "arp-reply")
        if op == consts.ARPOP_REQUEST and frame[38:42] == frame[28:32]:
            return Claim(spa, sha, "arp-announce")
        return None
    if ethertype == consts.ETH_P_IPV6 and len(frame) >= 14 + 40 + 24:
        if frame[20] != consts.IPPROTO_ICMPV6 or frame[54] != consts.ICMPV6_ND_NEIGHBOR_ADVERT:
            return None
        target = IPv6Address(frame[62:78])
        mac = frame[6:12]
        options = frame[78:]
        while len(options) >= 8 and options[1]:
            length = options[1] * 8
            if options[0] == consts.ND_OPT_TARGET_LL_ADDR and length >= 8:
                mac = options[2:8]
                break
            options = options[length:]
        return Claim(target, mac, "na")
    return None


# --- sockets ------------------------------------------------------------------------------------


def _packet_socket(ifname: str, protocol: int, bpf: list[BpfInsn] | None = None) -> socket.socket:
    """AF_PACKET raw socket on one interface.

    Created with protocol 0 (receives nothing), filtered, and only then bound to ``protocol``, so
    no frame from another interface or of another kind slips in before the bind.
    """
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        if bpf:
            attach_bpf(sock, bpf)
        sock.bind((ifname, protocol))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


# ldh [12]; jeq 0x86dd; ldb [20]; jeq 58; ldb [54]; jeq 136; accept; drop. Only NAs wake us, so a
# busy IPv6 link costs a master nothing while it probes.
_BPF_NA_ONLY = [
    (0x28, 0, 0, 12),
    (0x15, 0, 5, consts.ETH_P_IPV6),
    (0x30, 0, 0, 20),
    (0x15, 0, 3, consts.IPPROTO_ICMPV6),
    (0x30, 0, 0, 54),
    (0x15, 0, 1, consts.ICMPV6_ND_NEIGHBOR_ADVERT),
    (0x06, 0, 0, 0xFFFF),
    (0x06, 0, 0, 0),
]


class GarpSender(FdSocket):
    """Sends keepalived-format gratuitous ARPs and unsolicited NAs on one interface.

    The socket is bound with protocol 0, so it never receives anything. The MAC is read when made
    and again by ``refresh_mac()``, which the daemon calls before each burst: an interface's MAC
    can change under us (a bond's fail_over_mac, an operator), and a GARP with the old one sends
    the neighbours to a MAC no longer there. keepalived 2.2.7 follows the change (measured).
    """

    def __init__(self, ifname: str, mac: bytes | None = None) -> None:
        self.ifname = ifname
        self.mac = interface_mac(ifname) if mac is None else mac
        self.sock = _packet_socket(ifname, 0)
        # the index it is bound to: made anew, the name names another, and this socket sends nowhere
        self.ifindex = socket.if_nametoindex(ifname)
        self.sent = 0
        self.errors = 0
        self.last_error = ""

    def refresh_mac(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # gone: the send fails and says so
            self.mac = interface_mac(self.ifname)

    def frame_for(self, address: IPAddress) -> bytes:
        if isinstance(address, IPv4Address):
            return garp_frame(self.mac, address)
        return unsolicited_na_frame(self.mac, address, router=ipv6_forwarding(self.ifname))

    def send_frame(self, frame: bytes) -> OSError | None:
        """Send one prebuilt frame; errors are counted and returned, never raised. The socket is
        bound to the interface, so no address: Python resolves an address's interface name with an
        ioctl per frame. (Bound with protocol 0, the kernel reads the frame's own ethertype.)"""
        try:
            self.sock.send(frame)
        except OSError as exc:
            self.errors += 1
            self.last_error = f"{errno.errorcode.get(exc.errno or 0, exc.errno)}: {exc.strerror}"
            return exc
        self.sent += 1
        return None

    def announce(self, vips: Iterable[Vip | IPAddress], count: int = 1) -> int:
        """Send ``count`` rounds of one GARP/NA per VIP (keepalived's ``vrrp_garp_interval`` 0).

        Returns the number of frames that failed to send.
        """
        frames = [self.frame_for(v.address if isinstance(v, Vip) else v) for v in vips]
        failed = 0
        for _ in range(count):
            for frame in frames:
                if self.send_frame(frame) is not None:
                    failed += 1
        return failed


class NeighborProber(FdSocket):
    """Collects the MAC addresses that claim an address, for split-brain detection.

    Usage from asyncio: ``loop.add_reader(prober.fileno(), prober.read)``, then per round
    ``prober.probe(vip)`` and, a timeout later, ``prober.finish(vip)`` for the set of other owners.
    Frames this host sent (PACKET_OUTGOING) and our own MAC never count.
    """

    def __init__(self, ifname: str, family: int, mac: bytes | None = None) -> None:
        if family not in (4, 6):
            raise ValueError(f"address family {family}")
        self.ifname = ifname
        self.family = family
        self._follow = mac is None  # the interface's own MAC, read again each round (it can change)
        self.mac = interface_mac(ifname) if mac is None else mac
        if family == 4:
            self.sock = _packet_socket(ifname, consts.ETH_P_ARP)
        else:
            self.sock = _packet_socket(ifname, consts.ETH_P_IPV6, _BPF_NA_ONLY)
        self.ifindex = socket.if_nametoindex(ifname)  # as GarpSender's
        self._claims: dict[IPAddress, dict[bytes, str]] = {}
        self._frames: dict[IPAddress, bytes] = {}  # a master probes the same VIPs every round
        self.errors = 0

    def probe_all(self, addresses: Iterable[IPAddress]) -> list[tuple[IPAddress, OSError]]:
        """One round for many addresses: flush once, then one probe each; returns the failures."""
        self.read(limit=_FLUSH_LIMIT)
        if self._follow:
            with contextlib.suppress(OSError, ValueError):
                mac = interface_mac(self.ifname)
                if mac != self.mac:  # the probes say who asks, and our own answers must not count
                    self.mac, self._frames = mac, {}
        failed = []
        for address in addresses:
            error = self._send_probe(address)
            if error is not None:
                failed.append((address, error))
        return failed

    def probe(self, address: IPAddress) -> OSError | None:
        """Send one probe for ``address`` and start (or keep) collecting claims for it.

        Frames queued before this call are read first, so only addresses already being collected
        can use them: a GARP the previous master sent long ago, still in the socket buffer, must
        not count as another owner now.
        """
        self.read(limit=_FLUSH_LIMIT)
        return self._send_probe(address)

    def _send_probe(self, address: IPAddress) -> OSError | None:
        self._claims.setdefault(address, {})
        frame = self._frames.get(address)
        if frame is None:
            if len(self._frames) >= 4096:
                self._frames.clear()
            if isinstance(address, IPv4Address):
                frame = self._frames[address] = arp_probe_frame(self.mac, address)
            else:
                frame = self._frames[address] = dad_ns_frame(self.mac, address)
        ethertype = struct.unpack("!H", frame[12:14])[0]
        try:
            self.sock.sendto(frame, (self.ifname, ethertype))
        except OSError as exc:
            self.errors += 1
            return exc
        return None

    def read(self, limit: int = 256) -> None:
        """Drain queued frames (bounded) and record claims for the addresses being probed."""
        for _ in range(limit):
            try:
                frame, addr = self.sock.recvfrom(2048)
            except OSError as exc:
                if exc.errno in NOTHING_TO_READ:
                    return
                self.errors += 1
                return
            if len(addr) > 2 and addr[2] == consts.PACKET_OUTGOING:
                continue
            claim = parse_claim(frame)
            if claim is None or claim.mac == self.mac:
                continue
            claims = self._claims.get(claim.address)
            if claims is not None:
                claims.setdefault(claim.mac, claim.kind)

    def claimants(self, address: IPAddress) -> frozenset[str]:
        """Other MACs (as text) that claimed ``address`` since its probing started."""
        return frozenset(format_mac(m) for m in self._claims.get(address, {}))

    def finish(self, address: IPAddress) -> frozenset[str]:
        """Stop collecting for ``address`` and return its claimants."""
        return self.finish_all([address])[0]

    def finish_all(self, addresses: Iterable[IPAddress]) -> list[frozenset[str]]:
        """`finish` for a round's addresses: the queue is read once for all of them (200 reads
        ending in EAGAIN were most of a round's cost), then each one's claimants."""
        self.read()
        out = []
        for address in addresses:
            out.append(self.claimants(address))
            self._claims.pop(address, None)
        return out


def probe_once(
    ifname: str, address: IPAddress, timeout: float = 1.0, probes: int = 3, mac: bytes | None = None
) -> frozenset[str]:
    """Blocking one-shot helper (the integration tests use it): the other MACs claiming ``address``.

    Sends ``probes`` probes spread over the first half of ``timeout`` (a lost frame should not
    hide an owner), then listens until the timeout. Not for the daemon's loop: it blocks.
    """
    family = 4 if isinstance(address, IPv4Address) else 6
    with NeighborProber(ifname, family, mac) as prober:
        start = time.monotonic()
        deadline = start + timeout
        gap = timeout / 2 / max(probes, 1)
        next_probe = start
        sent = 0
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if sent < probes and now >= next_probe:
                prober.probe(address)
                sent += 1
                next_probe = now + gap
            wait = min(deadline, next_probe if sent < probes else deadline) - now
            with contextlib.suppress(InterruptedError):
                readable, _, _ = select.select([prober.fileno()], [], [], max(wait, 0.0))
                if readable:
                    prober.read()
        return prober.finish(address)
