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
from ipaddress import IPv4Address

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
