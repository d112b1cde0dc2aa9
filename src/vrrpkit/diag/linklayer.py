"""From a captured frame to its IP packet, tolerantly: link types, VLAN tags, truncation, fragments (pure).

Why by hand when the capture *file* is read by a library: these are four fixed headers (Ethernet,
802.1Q/802.1ad tags, Linux cooked v1 and v2), and the hard part is what a dissector library does
not give us cheaply: every field that *is* present in a frame the snap length cut, and a clear
"this much is missing" for the rest, as tshark shows it. ``core.packet.parse_ip`` refuses such
packets (a router must); here nothing raises, and what could not be read is said.

Link types are the pcap LINKTYPE_ numbers (https://www.tcpdump.org/linktypes.html).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from vrrpkit.core.config import IPAddress
from vrrpkit.core.packet import checksum

LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in host order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4 or IPv6
LINKTYPE_LOOP = 108  # OpenBSD loopback: the family in network order
LINKTYPE_LINUX_SLL = 113  # tcpdump -i any, libpcap < 1.10
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276  # tcpdump -i any, libpcap >= 1.10
LINKTYPE_NAMES = {
    LINKTYPE_NULL: "null", LINKTYPE_ETHERNET: "ethernet", LINKTYPE_RAW: "raw", LINKTYPE_LOOP: "loop",
    LINKTYPE_LINUX_SLL: "linux-sll", LINKTYPE_IPV4: "ipv4", LINKTYPE_IPV6: "ipv6", LINKTYPE_LINUX_SLL2: "linux-sll2",
}  # fmt: skip

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
VLAN_TPIDS = {0x8100: "802.1Q", 0x88A8: "802.1ad", 0x9100: "802.1Q-in-Q"}
SLL_OUTGOING = 4  # packet type "sent by us" in a cooked header
_SLL_TYPES = {0: "in", 1: "in", 2: "in", 3: "in", 4: "out"}
IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options (fragment, 44, is read apart)
IPV6_FRAGMENT = 44


@dataclass(frozen=True)
class VlanTag:
    tpid: int
    pcp: int
    dei: int
    vid: int

    def as_dict(self) -> dict[str, Any]:
        return {"tpid": f"0x{self.tpid:04x}", "kind": VLAN_TPIDS.get(self.tpid, "?"), "vid": self.vid,
                "pcp": self.pcp, "dei": self.dei}  # fmt: skip


@dataclass(frozen=True)
class Link:
    """The link layer of one frame: who sent it, its tags, and the network-layer bytes behind them."""

    linktype: int
    src_mac: str = ""
    dst_mac: str = ""
    vlan: tuple[VlanTag, ...] = ()
    ethertype: int | None = None  # None: the link header itself is cut short
    network: bytes = b""
    outgoing: bool = False  # cooked captures say so; Ethernet captures do not
    ifindex: int | None = None  # SLL2 only

    def as_dict(self) -> dict[str, Any]:
        return {
            "dst": self.dst_mac or None,
            "src": self.src_mac or None,
            "type": f"0x{self.ethertype:04x}" if self.ethertype is not None else None,
        }


class UnsupportedLinkType(ValueError):
    """A capture of a link type we do not read (Wi-Fi radiotap, USB, ...): its frames are skipped."""


def mac_text(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def parse_link(linktype: int, data: bytes) -> Link:
    """Split ``data`` as captured on a link of type ``linktype``; raises UnsupportedLinkType only."""
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return Link(linktype, mac_text(data[6:12]) if len(data) >= 12 else "", mac_text(data[:6]))
        return _tags(Link(linktype, mac_text(data[6:12]), mac_text(data[:6])), struct.unpack("!H", data[12:14])[0],
                     data[14:])  # fmt: skip
    if linktype == LINKTYPE_LINUX_SLL:
        if len(data) < 16:
            return Link(linktype)
        pkttype, _hatype, alen = struct.unpack("!HHH", data[:6])
        src = mac_text(data[6 : 6 + min(alen, 8)])
        proto = struct.unpack("!H", data[14:16])[0]
        return _tags(Link(linktype, src, outgoing=pkttype == SLL_OUTGOING), proto, data[16:])
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(data) < 20:
            return Link(linktype)
        proto, _res, ifindex, _hatype, pkttype, alen = struct.unpack("!HHIHBB", data[:12])
        src = mac_text(data[12 : 12 + min(alen, 8)])
        return _tags(Link(linktype, src, outgoing=pkttype == SLL_OUTGOING, ifindex=ifindex), proto, data[20:])
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        family = data[0] >> 4 if data else 0
        return Link(linktype, ethertype=ETH_IPV6 if family == 6 else ETH_IPV4, network=data)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            return Link(linktype)
        af = struct.unpack("<I" if linktype == LINKTYPE_NULL else "!I", data[:4])[0]
        if af > 0xFFFF:  # a NULL capture written on a host of the other byte order
            af = struct.unpack(">I" if linktype == LINKTYPE_NULL else "<I", data[:4])[0]
        return Link(linktype, ethertype=ETH_IPV4 if af == 2 else (ETH_IPV6 if af in (10, 24, 28, 30) else af),
                    network=data[4:])  # fmt: skip
    raise UnsupportedLinkType(f"link type {LINKTYPE_NAMES.get(linktype, linktype)}")


def _tags(link: Link, ethertype: int, rest: bytes) -> Link:
    """Peel 802.1Q / 802.1ad tags (any depth) off ``rest``; a tag cut short ends the frame."""
    tags: list[VlanTag] = []
    while ethertype in VLAN_TPIDS:
        if len(rest) < 4:
            return Link(link.linktype, link.src_mac, link.dst_mac, tuple(tags), None, b"", link.outgoing, link.ifindex)
        tci, inner = struct.unpack("!HH", rest[:4])
        tags.append(VlanTag(ethertype, tci >> 13, (tci >> 12) & 1, tci & 0x0FFF))
        ethertype, rest = inner, rest[4:]
    return Link(link.linktype, link.src_mac, link.dst_mac, tuple(tags), ethertype, rest, link.outgoing, link.ifindex)


@dataclass(frozen=True)
class IpView:
    """An IP header read without judgement, and what the capture holds of its payload.

    ``payload`` is what was captured of the protocol data (never more than the header declares);
    ``truncated`` says the capture holds less than that. ``fragment`` is None for a whole datagram,
    "first" for the first fragment (more-fragments set, offset 0) and "later" for the others: only
    a first fragment carries a VRRP header, and no fragment carries a whole message.
    """

    version: int
    src: IPAddress
    dst: IPAddress
    ttl: int
    tos: int
    protocol: int | None  # None: IPv6 extension headers cut short
    payload: bytes
    declared: int  # payload length according to the header
    truncated: bool
    fragment: str | None = None
    header_ok: bool | None = None  # IPv4 header checksum; None for IPv6 or a cut header
    ident: int = 0


def read_ip(packet: bytes) -> IpView | None:
    """The IP header of ``packet`` (IPv4 or IPv6) or None when even the fixed header is not there."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        return _read_ipv4(packet)
    if version == 6:
        return _read_ipv6(packet)
    return None


def _read_ipv4(packet: bytes) -> IpView | None:
    if len(packet) < 20:
        return None
    ihl = max(20, (packet[0] & 0x0F) * 4)
    total, ident, frag = struct.unpack("!HHH", packet[2:8])
    declared = max(0, total - ihl)
    payload = packet[ihl : ihl + declared] if len(packet) >= ihl else b""
    more, offset = bool(frag & 0x2000), frag & 0x1FFF
    fragment = "later" if offset else ("first" if more else None)
    header_ok = checksum(packet[:ihl]) == 0 if len(packet) >= ihl else None
    return IpView(4, IPv4Address(packet[12:16]), IPv4Address(packet[16:20]), packet[8], packet[1], packet[9], payload,
                  declared, len(payload) < declared, fragment, header_ok, ident)  # fmt: skip


def _read_ipv6(packet: bytes) -> IpView | None:
    if len(packet) < 40:
        return None
    plen = struct.unpack("!H", packet[4:6])[0]
    body = packet[40 : 40 + plen]
    declared = plen
    nxt: int | None = packet[6]
    fragment: str | None = None
    ident = 0
    while nxt in IPV6_EXTENSIONS or nxt == IPV6_FRAGMENT:
        if len(body) < 8:
            nxt = None
            break
        if nxt == IPV6_FRAGMENT:
            frag, ident = struct.unpack("!HI", body[2:8])
            offset, more = frag >> 3, bool(frag & 1)
            fragment = "later" if offset else ("first" if more else None)
            nxt, body, declared = body[0], body[8:], declared - 8
            if offset:
                break  # a later fragment: what follows is data, not a header
            continue
        size = (body[1] + 1) * 8
        nxt, body, declared = body[0], body[size:], declared - size
    tos = ((packet[0] & 0x0F) << 4) | (packet[1] >> 4)
    return IpView(6, IPv6Address(packet[8:24]), IPv6Address(packet[24:40]), packet[7], tos, nxt, body,
                  max(0, declared), len(body) < declared, fragment, None, ident)  # fmt: skip
