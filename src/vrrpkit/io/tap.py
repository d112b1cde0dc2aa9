"""A packet tap for VRRP (and IGMP) on one interface, as tcpdump would see it.

Why a packet socket and not a protocol-112 socket: an AF_PACKET socket sees frames *before* the
host firewall, rp_filter and the group-membership check, and sees our own outgoing frames *after*
the output firewall. Comparing what the tap sees with what a protocol-112 socket receives is how
``investigate`` tells "never reached the NIC" (fabric, cloud) from "arrived and the host dropped it"
(firewall, rp_filter), and "our adverts never left" (output firewall) from "they left".

Choices:

* ``SOCK_DGRAM`` ("cooked"): the kernel strips the link header, so one parser serves Ethernet,
  VLANs and other link types; the source MAC still arrives in ``sll_addr``, which is what matches an
  advert to the MAC that answers ARP for a VIP.
* Bound to ``ETH_P_ALL``: outgoing frames are only copied to ETH_P_ALL taps
  (``dev_queue_xmit_nit``). A classic BPF program keeps everything but IP protocol 112 (and the
  protocols asked for, e.g. IGMP) in the kernel, so a busy link costs Python nothing.
* ``PACKET_ADD_MEMBERSHIP`` of 01:00:5e:00:00:12 / 33:33:00:00:00:12 (and 224.0.0.22's MAC for
  IGMPv3 reports): a NIC with a multicast filter would otherwise drop the group's frames when no
  daemon joined, which is exactly the case ``watch`` must still see. The membership lives as long
  as the socket and is not an IP join, so it changes nothing else on the host.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vrrpkit.io import consts
from vrrpkit.io.fdsocket import NOTHING_TO_READ, BpfInsn, FdSocket, attach_bpf

# Multicast MACs the tap asks the NIC to pass up: VRRP over IPv4 and IPv6, and IGMPv3 reports.
VRRP_MAC4 = bytes.fromhex("01005e000012")
VRRP_MAC6 = bytes.fromhex("333300000012")
IGMPV3_REPORT_MAC = bytes.fromhex("01005e000016")
DEFAULT_MACS = (VRRP_MAC4, VRRP_MAC6, IGMPV3_REPORT_MAC)

PACKET_HOST = 0
PACKET_BROADCAST = 1
PACKET_MULTICAST = 2
PACKET_OTHERHOST = 3

_SKF_AD_PROTOCOL = 0xFFFFF000  # SKF_AD_OFF + SKF_AD_PROTOCOL: A = ntohs(skb->protocol)


@dataclass(frozen=True)
class TapPacket:
    """One IP packet seen on the interface. ``data`` starts at the IP header."""

    time: float  # time.time() when read
    ifname: str
    pkttype: int  # PACKET_HOST, _BROADCAST, _MULTICAST, _OTHERHOST or consts.PACKET_OUTGOING
    mac: bytes  # link-layer source address (our own MAC for outgoing frames)
    ethertype: int
    data: bytes

    @property
    def outgoing(self) -> bool:
        return self.pkttype == consts.PACKET_OUTGOING


def bpf_program(protocols4: Sequence[int], protocols6: Sequence[int]) -> list[BpfInsn]:
    """Classic BPF for a cooked packet socket: accept IPv4 whose protocol is in ``protocols4``,
    IPv6 whose next header is in ``protocols6``, drop everything else.

    Pure, so the jump offsets are unit-tested rather than trusted.
    """
    ld_h_abs, ld_b_abs, jeq, ret = 0x28, 0x30, 0x15, 0x06
    v4, v6 = list(protocols4), list(protocols6)
    # Layout: [0] ld proto; [1] jeq IPv4; [2] jeq IPv6; [3] drop; v4 block; v6 block; accept.
    v4_start = 4
    v6_start = v4_start + (1 + len(v4) + 1 if v4 else 0)
    accept = v6_start + (1 + len(v6) + 1 if v6 else 0)
    prog: list[BpfInsn] = [(ld_h_abs, 0, 0, _SKF_AD_PROTOCOL)]
    prog.append((jeq, v4_start - 2 if v4 else 1, 0, consts.ETH_P_IP))
    prog.append((jeq, v6_start - 3 if v6 else 0, 0, consts.ETH_P_IPV6))
    prog.append((ret, 0, 0, 0))
    for block, offset in ((v4, 9), (v6, 6)):
        if not block:
            continue
        prog.append((ld_b_abs, 0, 0, offset))
        for proto in block:
            here = len(prog)
            prog.append((jeq, accept - here - 1, 0, proto))
        prog.append((ret, 0, 0, 0))
    assert len(prog) == accept
    prog.append((ret, 0, 0, 0x40000))
    return prog


def packet_mreq(ifindex: int, mac: bytes) -> bytes:
    """``struct packet_mreq`` for PACKET_ADD_MEMBERSHIP of one link-layer multicast address."""
    return struct.pack("iHH8s", ifindex, consts.PACKET_MR_MULTICAST, len(mac), mac)


class PacketTap(FdSocket):
    """Non-blocking tap on one interface; ``read()`` returns what arrived since the last call.

    Raises OSError at construction when the interface does not exist ("no interface with this
    name", no errno) or we lack CAP_NET_RAW (EPERM); the caller turns those into one clear line.
    """

    def __init__(
        self,
        ifname: str,
        protocols4: Sequence[int] = (consts.IPPROTO_VRRP, consts.IPPROTO_AH),  # AH: auth_type AH's adverts
        protocols6: Sequence[int] = (consts.IPPROTO_VRRP,),
        macs: Iterable[bytes] = DEFAULT_MACS,
    ) -> None:
        self.ifname = ifname
        self.ifindex = socket.if_nametoindex(ifname)
        self.errors = 0
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
        try:
            attach_bpf(self.sock, bpf_program(protocols4, protocols6))
            self.sock.bind((ifname, consts.ETH_P_ALL))
            for mac in macs:
                self.sock.setsockopt(consts.SOL_PACKET, consts.PACKET_ADD_MEMBERSHIP, packet_mreq(self.ifindex, mac))
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def read(self, limit: int = 256) -> list[TapPacket]:
        """Up to ``limit`` queued packets (bounded so one busy link cannot starve a loop)."""
        out: list[TapPacket] = []
        for _ in range(limit):
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError as exc:
                if exc.errno not in NOTHING_TO_READ:
                    self.errors += 1
                break
            # addr = (ifname, proto, pkttype, hatype, hwaddr)
            out.append(TapPacket(time.time(), self.ifname, addr[2], bytes(addr[4]), addr[1], bytes(data)))
        return out
