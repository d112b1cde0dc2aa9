"""Linux constants that Python 3.11's ``socket`` module lacks, in one place.

Why one module: the values come from kernel headers (``linux/in.h``, ``linux/in6.h``,
``linux/if_packet.h``, ``linux/if_ether.h``, ``linux/if_addr.h``, ``linux/rtnetlink.h``); when a
later Python grows one of them, only this file changes. Where ``socket`` already has a name we
reuse it, so a value can never disagree with the running interpreter.
"""

from __future__ import annotations

import socket
from typing import Final

# --- IPv4 socket options (linux/in.h) ---------------------------------------------------------
IP_MULTICAST_ALL: Final = getattr(socket, "IP_MULTICAST_ALL", 49)
"""0: deliver only the groups this socket joined. The default (1) leaks every group joined by any
socket on the host into a raw socket, so two daemons (or keepalived beside us) see each other's
groups."""
IP_PKTINFO: Final = getattr(socket, "IP_PKTINFO", 8)
IP_RECVTTL: Final = getattr(socket, "IP_RECVTTL", 12)

# --- IPv6 socket options (linux/in6.h) --------------------------------------------------------
IPV6_CHECKSUM: Final = getattr(socket, "IPV6_CHECKSUM", 7)
IPV6_RECVPKTINFO: Final = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO: Final = getattr(socket, "IPV6_PKTINFO", 50)
IPV6_RECVHOPLIMIT: Final = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT: Final = getattr(socket, "IPV6_HOPLIMIT", 52)
IPV6_MULTICAST_ALL: Final = getattr(socket, "IPV6_MULTICAST_ALL", 29)
"""IPv6 twin of IP_MULTICAST_ALL (Linux >= 4.20)."""
IPV6_MULTICAST_HOPS: Final = socket.IPV6_MULTICAST_HOPS
IPV6_UNICAST_HOPS: Final = socket.IPV6_UNICAST_HOPS
IPV6_MULTICAST_LOOP: Final = socket.IPV6_MULTICAST_LOOP
IPV6_MULTICAST_IF: Final = socket.IPV6_MULTICAST_IF
IPV6_JOIN_GROUP: Final = socket.IPV6_JOIN_GROUP

# --- generic socket options -------------------------------------------------------------------
SO_BINDTODEVICE: Final = getattr(socket, "SO_BINDTODEVICE", 25)
SO_ATTACH_FILTER: Final = getattr(socket, "SO_ATTACH_FILTER", 26)

# --- AF_PACKET (linux/if_packet.h) ------------------------------------------------------------
SOL_PACKET: Final = getattr(socket, "SOL_PACKET", 263)
PACKET_ADD_MEMBERSHIP: Final = getattr(socket, "PACKET_ADD_MEMBERSHIP", 1)
PACKET_DROP_MEMBERSHIP: Final = getattr(socket, "PACKET_DROP_MEMBERSHIP", 2)
PACKET_MR_MULTICAST: Final = getattr(socket, "PACKET_MR_MULTICAST", 0)
PACKET_MR_PROMISC: Final = getattr(socket, "PACKET_MR_PROMISC", 1)
PACKET_MR_ALLMULTI: Final = getattr(socket, "PACKET_MR_ALLMULTI", 2)
PACKET_OUTGOING: Final = getattr(socket, "PACKET_OUTGOING", 4)
"""sll_pkttype of frames this host sent, as seen by a packet socket: never someone else's answer."""

# --- Ethernet (linux/if_ether.h) ---------------------------------------------------------------
ETH_P_ALL: Final = 0x0003
ETH_P_IP: Final = 0x0800
ETH_P_ARP: Final = 0x0806
ETH_P_RARP: Final = 0x8035
ETH_P_IPV6: Final = 0x86DD
ETH_ALEN: Final = 6
ARPHRD_ETHER: Final = 1
ARPOP_REQUEST: Final = 1
ARPOP_REPLY: Final = 2

# --- interface ioctls (linux/sockios.h) and flags (linux/if.h) -------------------------------
SIOCGIFHWADDR: Final = 0x8927
IFF_UP: Final = 0x1
IFF_RUNNING: Final = 0x40
IFF_LOWER_UP: Final = 0x10000

# --- protocols ---------------------------------------------------------------------------------
IPPROTO_VRRP: Final = 112
IPPROTO_AH: Final = 51  # auth_type AH (RFC 2338's IPsec Authentication Header)
IPPROTO_ICMPV6: Final = socket.IPPROTO_ICMPV6
ICMPV6_ND_NEIGHBOR_SOLICIT: Final = 135
ICMPV6_ND_NEIGHBOR_ADVERT: Final = 136
ND_OPT_SOURCE_LL_ADDR: Final = 1
ND_OPT_TARGET_LL_ADDR: Final = 2

# --- rtnetlink (linux/rtnetlink.h, linux/netlink.h, linux/if_addr.h) --------------------------
NETLINK_ROUTE: Final = 0
RTMGRP_LINK: Final = 0x1
RTM_NEWLINK: Final = 16
RTM_DELLINK: Final = 17
RTM_GETLINK: Final = 18
NLMSG_ERROR: Final = 2
NLMSG_DONE: Final = 3
NLM_F_REQUEST: Final = 0x1
NLM_F_DUMP: Final = 0x300
IFLA_IFNAME: Final = 3
IFA_F_SECONDARY: Final = 0x01
IFA_F_NODAD: Final = 0x02
IFA_F_HOMEADDRESS: Final = 0x10
IFA_F_DEPRECATED: Final = 0x20
IFA_F_MANAGETEMPADDR: Final = 0x100
IFA_F_NOPREFIXROUTE: Final = 0x200
IFA_F_MCAUTOJOIN: Final = 0x400
INFINITY_LIFE_TIME: Final = 0xFFFFFFFF
