"""Link state for the event loop: a plain non-blocking netlink socket subscribed to RTMGRP_LINK.

asyncio watches its fd directly (no pyroute2, no thread). Events are (interface, up) pairs, "up"
meaning IFF_UP and IFF_RUNNING as keepalived's ``IF_FLAGS_UP`` (``netlink.flags_up``); a receive
overrun (ENOBUFS) asks the kernel for a full dump, so a lost event is never a lost state.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
from collections.abc import Iterable

from vrrpkit.io import consts
from vrrpkit.io.fdsocket import FdSocket
from vrrpkit.io.netlink import flags_up

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_RTATTR = struct.Struct("=HH")


def _align4(n: int) -> int:
    return (n + 3) & ~3


def parse_link_messages(data: bytes) -> list[tuple[int, int, str | None, int]]:
    """(message type, ifindex, ifname, flags) for each RTM_NEWLINK/RTM_DELLINK in a netlink buffer."""
    result: list[tuple[int, int, str | None, int]] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        if kind in (consts.RTM_NEWLINK, consts.RTM_DELLINK) and length >= _NLMSGHDR.size + _IFINFOMSG.size:
            body = offset + _NLMSGHDR.size
            _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(data, body)
            name: str | None = None
            attr = body + _IFINFOMSG.size
            end = offset + length
            while attr + _RTATTR.size <= end:
                alen, atype = _RTATTR.unpack_from(data, attr)
                if alen < _RTATTR.size:
                    break
                if atype == consts.IFLA_IFNAME:
                    name = data[attr + _RTATTR.size : attr + alen].split(b"\0", 1)[0].decode(errors="replace")
                attr += _align4(alen)
            result.append((kind, index, name, flags))
        offset += _align4(length)
    return result


class LinkMonitor(FdSocket):
    """Link up/down events for asyncio: ``loop.add_reader(mon.fileno(), on_readable)``.

    ``drain()`` returns ``(ifname, up)`` for every watched interface whose state changed (and, the
    first time an interface is seen, its state). Call ``request_dump()`` once at start for the
    initial states; it is also sent automatically after ENOBUFS (events were lost, so resync).
    """

    def __init__(self, interfaces: Iterable[str] | None = None) -> None:
        self.interfaces = None if interfaces is None else frozenset(interfaces)
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, consts.NETLINK_ROUTE)
        try:
            self.sock.bind((0, consts.RTMGRP_LINK))
        except BaseException:
            self.sock.close()
            raise
        self._seq = 0
        self._state: dict[int, tuple[str, bool]] = {}
        self.overruns = 0  # ENOBUFS: events lost, a full dump asked for

    def request_dump(self) -> None:
        """Ask the kernel for every link; the answers arrive through ``drain`` like events."""
        self._seq += 1
        ifinfo = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(ifinfo), consts.RTM_GETLINK, consts.NLM_F_REQUEST | consts.NLM_F_DUMP, self._seq, 0
        )
        with contextlib.suppress(BlockingIOError):  # the next ENOBUFS or a later call retries
            self.sock.sendto(header + ifinfo, (0, 0))

    def drain(self, limit: int = 64) -> list[tuple[str, bool]]:
        """Read queued netlink datagrams (bounded) and return the state changes they carry."""
        events: list[tuple[str, bool]] = []
        for _ in range(limit):
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.overruns += 1
                    self.request_dump()
                    continue
                raise
            for kind, index, name, flags in parse_link_messages(data):
                events.extend(self._update(kind, index, name, flags))
        return events

    def _update(self, kind: int, index: int, name: str | None, flags: int) -> list[tuple[str, bool]]:
        old = self._state.get(index)
        if name is None:
            name = old[0] if old else None
        if name is None:
            return []
        events: list[tuple[str, bool]] = []
        if kind == consts.RTM_DELLINK:
            self._state.pop(index, None)
            if self._watched(name):
                events.append((name, False))
            return events
        up = flags_up(flags)
        if old is not None and old[0] != name and self._watched(old[0]) and old[1]:
            events.append((old[0], False))  # renamed away: the configured name is gone
        self._state[index] = (name, up)
        if self._watched(name) and (old is None or old != (name, up)):
            events.append((name, up))
        return events

    def _watched(self, name: str) -> bool:
        return self.interfaces is None or name in self.interfaces
