"""Reading a lazily read IPv6 VRRP socket: io/stamped.py's batch read, for a socket that never
sees the IP header.

An IPv6 raw socket receives the VRRP message alone: the source comes in the datagram's address
(sockaddr_in6), the destination and hop limit in control messages (IPV6_PKTINFO, IPV6_HOPLIMIT)
beside the receive timestamp. So each slot keeps its source address too, and a slot whose control
data came whole and in the kernel's order (Linux's rawv6_recvmsg adds the timestamp first, then
ip6_datagram_recv_ctl the packet info and the hop limit) is read at fixed offsets, in the same
C call that unpacks the timestamps; any other slot is read by walking its control messages. The
byte key of an advert is IPv4's (`known_key`: source, destination, VRRP message), the hop limit
compared beside it as IPv4's TTL is.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from vrrpkit.core.packet import DropReason, InvalidPacket
from vrrpkit.io import consts, sendmmsg
from vrrpkit.io.stamped import BATCH_SLOTS, Known, LazyReader

if TYPE_CHECKING:
    from vrrpkit.io.vrrp_socket import Datagram, SocketStats

T = TypeVar("T")

# timestamp (cmsghdr, timespec); packet info (cmsghdr, destination, ifindex, padding); hop limit
CONTROL6 = struct.Struct("=16xqq8xii16s8x8xiii4x")
RECV_SLOT6 = 4096  # bytes per datagram: the largest IPv6 advert is 8 + 255 x 16
HEAD6 = 512  # of which resident: adverts of up to 31 addresses (the rest is touched only when used)
NAME6 = 28  # sockaddr_in6: family, port, flow info, the address at 8, scope id
_LAYOUT = (socket.IPPROTO_IPV6, consts.IPV6_PKTINFO, socket.IPPROTO_IPV6, consts.IPV6_HOPLIMIT)
_CMSG = struct.Struct("=Qii")  # cmsg_len, cmsg_level, cmsg_type
_TIMESPEC = struct.Struct("=qq")
_INT = struct.Struct("=i")
_SO_TIMESTAMPNS = 35
_MSG_TRUNC = 0x20

# A datagram's (source, destination, hop limit, VRRP message) as the socket hands it out.
MakeDatagram = Callable[[bytes, bytes, int, bytes], "Datagram"]


class LazyReader6(LazyReader):
    """`LazyReader` for IPv6: the same batches, with each datagram's addresses and hop limit from
    its name and control data rather than an IP header."""

    def __init__(self, datagram: MakeDatagram, stats: SocketStats) -> None:
        self.reader = sendmmsg.StampedReader(BATCH_SLOTS, RECV_SLOT6, CONTROL6, NAME6, head=HEAD6)
        self.datagram = datagram
        self.stats = stats

    def _match(
        self, count: int, table: Mapping[bytes, Known[T]]
    ) -> tuple[dict[Known[T], tuple[int, int]], list[Known[T]]] | None:
        """The hot loop of an idle IPv6 BACKUP: per datagram three slices, a table look-up and
        three compares."""
        reader = self.reader
        data, names, size, full, get = reader.data, reader.names, reader.size, reader.full, table.get
        last: dict[Known[T], tuple[int, int]] = {}
        seen: list[Known[T]] = []
        start = name = 0
        for i, ((controllen, flags, length), (sec, nsec, l1, t1, dst, l2, t2, hop)) in enumerate(reader.slots(count)):
            if controllen != full or flags & _MSG_TRUNC or (l1, t1, l2, t2) != _LAYOUT:
                return None  # parsed after all, which gives a short slot its control space back
            payload = data[start : start + length].tobytes() if length <= size else reader.whole(i, length)
            known = get(names[name + 8 : name + 24].tobytes() + dst + payload)
            if known is None or known.ttl != hop:
                return None
            last[known] = (sec, nsec)
            seen.append(known)
            start += size
            name += NAME6
        return last, seen

    def _slot(self, i: int, controllen: int, fields: tuple[Any, ...], length: int) -> tuple[float | None, Datagram]:
        reader = self.reader
        sec, nsec, l1, t1, dst, l2, t2, hop = fields
        stamp: float | None
        where: tuple[bytes | None, int | None]
        if controllen == reader.full and (l1, t1, l2, t2) == _LAYOUT:
            stamp, where = sec + nsec * 1e-9, (dst, hop)
        else:  # another layout (or a part missing): read it message by message
            full = reader.full
            stamp, where = _walk(reader.ctrl[i * full : i * full + min(controllen, full)].tobytes())
        dst_bytes, hop_limit = where
        if dst_bytes is None or hop_limit is None:
            self.stats.bad_ip_headers += 1
            raise InvalidPacket(DropReason.BAD_IP_HEADER, "no hop limit or destination in ancillary data")
        src = reader.names[i * NAME6 + 8 : i * NAME6 + 24].tobytes()
        return stamp, self.datagram(src, dst_bytes, hop_limit, reader.whole(i, length))

def _walk(control: bytes) -> tuple[float | None, tuple[bytes | None, int | None]]:
    """(realtime stamp, (destination, hop limit)) from control messages in any order; None for
    what is not there."""
    stamp: float | None = None
    dst: bytes | None = None
    hop: int | None = None
    at = 0
    while at + _CMSG.size <= len(control):
        length, level, kind = _CMSG.unpack_from(control, at)
        if length < _CMSG.size or at + length > len(control):
            break
        body = at + _CMSG.size
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and length >= _CMSG.size + _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(control, body)
            stamp = sec + nsec * 1e-9
        elif level == socket.IPPROTO_IPV6 and kind == consts.IPV6_PKTINFO and length >= _CMSG.size + 16:
            dst = control[body : body + 16]
        elif level == socket.IPPROTO_IPV6 and kind == consts.IPV6_HOPLIMIT and length >= _CMSG.size + 4:
            hop = _INT.unpack_from(control, body)[0]
        at += (length + 7) & ~7
    return stamp, (dst, hop)
