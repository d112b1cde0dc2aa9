"""The daemon's VRRP sockets: which are open, the kernel filter on each, and reading them in bounded
batches, each datagram routed to the instances of its VRID.

One raw socket per (interface, family), shared by every instance there (keepalived does the same).
Whenever the instances change, `sync` opens and closes sockets, rebuilds the routes and gives each
socket the filter for exactly the instances on it (`vrrpkit.io.vrrp_filter`), so a flood of what no
instance can use stays in the kernel. `read` takes at most `limit` datagrams per call (the caller
routes them with the table it returns: one index per datagram, the loop's hottest line): the loop
serves due timers between batches, so a busy socket can neither delay an advert nor starve the
other sockets (`Daemon._on_readable`).

What is dropped here, before any router sees it, is counted per socket: datagrams for a VRID no
instance runs (when the filter lets them through, e.g. before it is attached) and IP packets that
do not parse; the kernel's own count of what it dropped because the queue was full is read on
demand. The routers count the rest per instance and reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vrrpkit.control.snapshot import SocketStatus
from vrrpkit.core.config import IPAddress
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.ports import Ports, VrrpSocket
from vrrpkit.io.vrrp_filter import spec_for
from vrrpkit.io.vrrp_socket import Datagram

log = logging.getLogger("vrrpkit")

SocketKey = tuple[str, int]  # (interface, family)
_NO_ROUTE: list[Instance] = []
_NO_ROUTES: list[list[Instance]] = [_NO_ROUTE] * 256


@dataclass
class SocketCounters:
    received: int = 0  # datagrams read
    unknown_vrid: int = 0  # read, but no instance on this socket runs the VRID
    undecodable: int = 0  # the IP packet did not parse (or the read failed)


class Intake:
    def __init__(
        self,
        ports: Ports,
        watch: Callable[[int, SocketKey], None],
        unwatch: Callable[[int], None],
    ) -> None:
        """``watch(fd, key)`` / ``unwatch(fd)``: the loop's add_reader/remove_reader for a socket."""
        self.ports = ports
        self._watch = watch
        self._unwatch = unwatch
        self.sockets: dict[SocketKey, VrrpSocket] = {}  # shared with the EffectApplier, which sends
        self.counters: dict[SocketKey, SocketCounters] = {}
        self._routes: dict[SocketKey, list[list[Instance]]] = {}  # per socket, indexed by VRID

    def sync(self, instances: Iterable[Instance]) -> None:
        """Open, close or re-join sockets for these instances; rebuild routes and kernel filters."""
        by_key: dict[SocketKey, list[Instance]] = {}
        for inst in instances:
            by_key.setdefault((inst.cfg.interface, inst.cfg.family), []).append(inst)
        wanted: dict[SocketKey, tuple[IPAddress | None, bool]] = {}
        for key, members in by_key.items():
            multicast = [i.cfg for i in members if not i.cfg.unicast]
            wanted[key] = (multicast[-1].group if multicast else None, bool(multicast))
        for stale in [k for k in self.sockets if k not in wanted]:
            self._close(stale)
        for key, (group, any_multicast) in wanted.items():
            current = self.sockets.get(key)
            if (
                current is not None
                and current.unicast == (not any_multicast)
                and (not any_multicast or current.group == group)
            ):
                continue
            if current is not None:
                self._close(key)
            sock = self.ports.open_socket(key[0], key[1], group, not any_multicast)
            self.sockets[key] = sock
            self.counters.setdefault(key, SocketCounters())
            self._watch(sock.fileno(), key)
        self._routes = {}
        for key, members in by_key.items():
            table: list[list[Instance]] = [_NO_ROUTE] * 256
            for inst in members:
                vrid = inst.cfg.vrid
                table[vrid] = [*table[vrid], inst]
            self._routes[key] = table
            try:
                self.sockets[key].set_filter(spec_for(key[1], [i.router.config for i in members]))
            except (OSError, ValueError) as exc:  # without a filter user space still checks everything
                log.warning("no kernel filter on %s (IPv%d): %s", key[0], key[1], exc)

    def read(self, key: SocketKey, limit: int) -> tuple[list[Datagram], list[list[Instance]], int]:
        """Up to ``limit`` queued datagrams of one socket, the socket's routes (indexed by VRID,
        the datagram's second byte: `route`), and how many were read in all (fewer than ``limit``
        means the queue is empty)."""
        sock = self.sockets.get(key)
        if sock is None:
            return [], _NO_ROUTES, 0
        datagrams, invalid = sock.drain(limit)
        counters = self.counters[key]
        counters.received += len(datagrams)
        if invalid:
            counters.undecodable += len(invalid)
            for bad in invalid:
                log.debug("dropped undecodable IP packet on %s: %s", key[0], bad)
        return datagrams, self._routes.get(key, _NO_ROUTES), len(datagrams) + len(invalid)

    def arrived(self, key: SocketKey) -> float | None:
        """When the last datagram read from this socket arrived (monotonic), if the kernel says."""
        sock = self.sockets.get(key)
        return sock.arrived() if sock is not None else None

    def unknown_vrid(self, key: SocketKey) -> None:
        """A datagram of this socket went to no instance."""
        self.counters[key].unknown_vrid += 1

    def keys_of(self, instances: Iterable[Instance]) -> set[SocketKey]:
        return {(i.cfg.interface, i.cfg.family) for i in instances if (i.cfg.interface, i.cfg.family) in self.sockets}

    def close(self) -> None:
        for key in list(self.sockets):
            self._close(key)

    def _close(self, key: SocketKey) -> None:
        sock = self.sockets.pop(key)
        self._unwatch(sock.fileno())
        sock.close()

    @property
    def unknown_vrids(self) -> int:
        return sum(c.unknown_vrid for c in self.counters.values())

    def statuses(self) -> list[SocketStatus]:
        out = []
        for key, sock in self.sockets.items():
            c = self.counters[key]
            try:
                overflow = sock.kernel_drops()
            except OSError:
                overflow = None
            out.append(
                SocketStatus(
                    interface=key[0],
                    family=key[1],
                    received=c.received,
                    unknown_vrid=c.unknown_vrid,
                    undecodable=c.undecodable,
                    queue_overflow=overflow,
                    kernel_filter=sock.filter is not None,
                )
            )
        return out
