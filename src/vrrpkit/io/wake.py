"""The goodbye socket: what wakes the daemon while every instance on an interface is BACKUP.

A BACKUP's master sends the same advert every interval, and all the BACKUP does with it is move
its Master_Down later. Read the moment each one arrives, every advert costs the daemon a trip
round its event loop, and in Python that trip, not the advert, is most of a BACKUP's CPU
(keepalived, in C, wakes once per advert for less). Nothing in such an advert is urgent: the
Master_Down it moves is a deadline, and the daemon reads whatever is queued before any deadline
fires. One advert is urgent: a master's goodbye (priority 0), from which the backups count only
Skew_Time.

So while every instance on an (interface, family) is BACKUP, the daemon reads that VRRP socket on
a schedule (`vrrpkit.daemon.cycle`), counting each advert from its kernel receive timestamp
(SO_TIMESTAMPNS, `set_stamped`), and watches this second socket instead: the same
protocol on the same interface and groups, with a kernel filter that lets through nothing but
priority-0 adverts. Its datagrams are only a signal: they are thrown away, and the VRRP socket's
queue, where the same goodbye waits in order behind the adverts before it, is read at once. A
flood of priority-0 packets therefore costs what any flood cost before: one bounded read per
wake-up, the VRRP socket's own filter and checks unchanged.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterable

from vrrpkit.core.config import IPAddress
from vrrpkit.io import bpf, consts
from vrrpkit.io.fdsocket import BpfInsn, FdSocket, attach_bpf

CLEAR_BOUND = 64  # datagrams thrown away per wake-up, at most (the rest wake the loop again)


def goodbye_program(family: int = 4) -> list[BpfInsn]:
    """Accept a VRRP packet whose priority byte (the third of the VRRP header) is 0; drop
    everything else. An IPv4 socket's filter sees the IP header (of any length) first, an IPv6
    raw socket's starts at the VRRP header."""
    a = bpf.Asm()
    if family == 4:
        a.op(bpf.LDX_MSH, 0)  # X = 4 * (IP[0] & 0xf): where VRRP starts
        a.op(bpf.LD_B_IND, 2)  # A = priority
    else:
        a.op(bpf.LD_B_ABS, 2)
    a.jump(bpf.JEQ_K, 0, None, "drop")
    a.op(bpf.RET_K, bpf.ACCEPT_ALL)
    a.label("drop")
    a.op(bpf.RET_K, 0)
    return a.assemble()


class GoodbyeSocket(FdSocket):
    """A raw protocol-112 socket of ``family`` on ``ifname`` that receives only priority-0 adverts:
    for multicast, those sent to ``groups``; for unicast (``groups`` empty), those to ``src`` when
    it is given (as the VRRP socket it shadows is bound)."""

    def __init__(
        self, ifname: str, groups: Iterable[IPAddress], src: IPAddress | None = None, family: int = 4
    ) -> None:
        ifindex = socket.if_nametoindex(ifname)
        kind = socket.AF_INET if family == 4 else socket.AF_INET6
        self.sock = socket.socket(kind, socket.SOCK_RAW, consts.IPPROTO_VRRP)
        try:
            # the filter first: nothing else is ever queued here
            attach_bpf(self.sock, goodbye_program(family))
            self.sock.setsockopt(socket.SOL_SOCKET, consts.SO_BINDTODEVICE, ifname.encode())
            joined = False
            if family == 4:
                self.sock.setsockopt(socket.IPPROTO_IP, consts.IP_MULTICAST_ALL, 0)
                for group in groups:
                    mreqn = struct.pack("4s4si", group.packed, b"\0" * 4, ifindex)
                    self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
                    joined = True
            else:
                with contextlib.suppress(OSError):  # kernels before 4.20: nothing to turn off
                    self.sock.setsockopt(socket.IPPROTO_IPV6, consts.IPV6_MULTICAST_ALL, 0)
                for group in groups:
                    mreq = struct.pack("16si", group.packed, ifindex)
                    self.sock.setsockopt(socket.IPPROTO_IPV6, consts.IPV6_JOIN_GROUP, mreq)
                    joined = True
            if not joined and src is not None:
                self.sock.bind((str(src), 0))
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def clear(self) -> int:
        """Throw away what is queued (up to CLEAR_BOUND); how many there were."""
        recv = self.sock.recv
        for count in range(CLEAR_BOUND):
            try:
                recv(64)
            except OSError:  # empty (or failing: nothing is lost, the VRRP socket is read anyway)
                return count
        return CLEAR_BOUND
