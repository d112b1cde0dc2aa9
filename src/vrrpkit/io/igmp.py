"""An IGMPv3 group-specific query: the agentless "does multicast reach the peers and back?" test.

Why: a healthy backup is silent, so hearing no adverts proves nothing. But every host whose VRRP
daemon joined 224.0.0.18 answers a query for that group with a membership report (Linux sends
reports for 224.0.0.x groups while ``igmp_link_local_mcast_reports`` is 1, the default). Our query
travels by multicast to the peers and their reports travel by multicast back to 224.0.0.22, so
reports arriving prove multicast works in both directions without any agent on the peers.

Why IGMPv3 and group-specific: a v2 query would switch the peers into IGMPv2 compatibility mode for
minutes (RFC 3376 8.12, the Older Version Querier Present timeout); a v3 query changes nothing on
them, and addressing it to the group only wakes the members of that group. Loopback is off, so our
own kernel never processes it. The maximum response time is 1 s, so reports come back inside a short
investigation window.
"""

from __future__ import annotations

import socket
import struct
from ipaddress import IPv4Address, IPv6Address

from vrrpkit.core.packet import checksum as _checksum
from vrrpkit.io import consts

IGMP_QUERY = 0x11


def igmpv3_query(group: IPv4Address, max_resp_ds: int = 10, qrv: int = 2, qqic: int = 125) -> bytes:
    """RFC 3376 4.1 membership query for ``group`` (0.0.0.0: general query), no sources."""
    if not 1 <= max_resp_ds <= 127:
        raise ValueError("max response time must be 0.1..12.7 s (no floating-point encoding here)")
    message = struct.pack("!BBH4sBBH", IGMP_QUERY, max_resp_ds, 0, group.packed, qrv & 0x7, qqic, 0)
    return message[:2] + struct.pack("!H", _checksum(message)) + message[4:]


def send_group_query(ifname: str, group: IPv4Address, max_resp_ds: int = 10) -> None:
    """Send one group-specific query out of ``ifname`` (TTL 1, no loopback). Raises OSError."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP) as sock:
        sock.setsockopt(socket.SOL_SOCKET, consts.SO_BINDTODEVICE, ifname.encode())
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        index = socket.if_nametoindex(ifname)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, struct.pack("4s4si", b"\0" * 4, b"\0" * 4, index))
        sock.sendto(igmpv3_query(group, max_resp_ds), (str(group), 0))


# --- MLD: the same question for IPv6 (RFC 3810) ------------------------------------------------

MLD_QUERY = 130
MLD_V1_REPORT = 131
MLD_V2_REPORT = 143
HOP_BY_HOP_ROUTER_ALERT = bytes([0, 0, 5, 2, 0, 0, 1, 0])  # next header (kernel's), len 0, RA=MLD, PadN


def mldv2_query(group: IPv6Address, max_resp_ms: int = 1000, qrv: int = 2, qqic: int = 125) -> bytes:
    """RFC 3810 5.1 multicast-address-specific query for ``group``, no sources (checksum 0: the
    kernel fills it in for a raw ICMPv6 socket). Like the IGMPv3 query it changes no listener's mode."""
    if not 1 <= max_resp_ms < 32768:
        raise ValueError("max response delay must be 1..32767 ms (no floating-point encoding here)")
    return struct.pack("!BBHHH16sBBH", MLD_QUERY, 0, 0, max_resp_ms, 0, group.packed, qrv & 0x7, qqic, 0)


def send_mld_query(ifname: str, group: IPv6Address, max_resp_ms: int = 1000) -> None:
    """Send one MLDv2 query for ``group`` out of ``ifname`` (hop limit 1, Router Alert). Raises OSError."""
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as sock:
        sock.setsockopt(socket.SOL_SOCKET, consts.SO_BINDTODEVICE, ifname.encode())
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        index = socket.if_nametoindex(ifname)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, HOP_BY_HOP_ROUTER_ALERT)
        sock.sendto(mldv2_query(group, max_resp_ms), (str(group), 0, 0, index))


def mld_report_groups(packet: bytes) -> set[IPv6Address]:
    """The groups an IPv6 packet reports listening to (MLDv1 or MLDv2 report behind a hop-by-hop
    header); empty for anything else. Pure: fed the tap's packets."""
    if len(packet) < 48 or packet[0] >> 4 != 6:
        return set()
    nxt, body = packet[6], packet[40:]
    if nxt == 0:  # hop-by-hop (MLD always carries Router Alert)
        size = (body[1] + 1) * 8
        nxt, body = body[0], body[size:]
    if nxt != consts.IPPROTO_ICMPV6 or len(body) < 8:
        return set()
    if body[0] == MLD_V1_REPORT and len(body) >= 24:
        return {IPv6Address(body[8:24])}
    if body[0] != MLD_V2_REPORT:
        return set()
    groups: set[IPv6Address] = set()
    count, off = struct.unpack("!H", body[6:8])[0], 8
    for _ in range(min(count, 64)):
        if len(body) < off + 20:
            break
        aux, nsrc = body[off + 1], struct.unpack("!H", body[off + 2 : off + 4])[0]
        groups.add(IPv6Address(body[off + 4 : off + 20]))
        off += 20 + 16 * nsrc + 4 * aux
    return groups
