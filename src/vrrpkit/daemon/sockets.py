"""The daemon's VRRP sockets: which are open, the kernel filter on each, reading them in bounded
batches, and the table that sends each datagram to the instances it is for.

One raw socket per (interface, family), shared by every instance there (keepalived does the same):
an instance sends and receives on its advert interface (its VMAC unless vmac_xmit_base). Several
groups on one interface (`mcast_dst_ip`) share one socket: the kernel only lets a raw socket see
the groups it joined, and two sockets on one interface would both get every unicast advert. A
socket that cannot be opened (a VMAC not made yet, an interface that `dynamic_interfaces` allows to
be missing) is logged and retried, never fatal.

Whenever the instances change, `rebuild` opens, re-joins and closes sockets, rebuilds the routes and
gives each socket the filter for exactly the instances on it (`vrrpkit.io.vrrp_filter`), so a flood
of what no instance can use stays in the kernel (with `log_unknown_vrids`, other VRIDs are let
through so that they can be logged, as keepalived logs them). `read` takes at most `limit`
datagrams per call: the loop serves due timers between batches, so a busy socket can neither delay
an advert nor starve the other sockets (`daemon/cycle.py`).

What is dropped here, before any router sees it, is counted per socket: datagrams for a VRID no
instance runs and IP packets that do not parse; the kernel's own count of what it dropped because
the queue was full is read on demand. The routers count the rest per instance and reason.

Receive buffers as keepalived 2.2.7 sizes them (vrrp_sockpool): a socket's SO_RCVBUF is the sum over
its instances of kernel_rx_buf_size, else the global vrrp_rx_bufs_policy's share (a fixed size, or
vrrp_rx_bufs_multiplier times the interface MTU or the advert's length); nothing set, the kernel's
default stays.

While every instance on a socket is BACKUP, the socket can be read lazily (`go_lazy`): the loop
watches its goodbye socket instead (only priority-0 adverts wake it, io/wake.py) and reads the
queue on a schedule, each datagram stamped with its arrival; `go_eager` undoes it the moment an
instance there is anything but BACKUP.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vrrpkit.control.snapshot import SocketStatus
from vrrpkit.core.config import InstanceConfig, IPAddress
from vrrpkit.core.packet import AUTH_AH
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.ports import AH_SOCKET, Ports, VrrpSocket
from vrrpkit.io.stamped import Batch, Known, known_key
from vrrpkit.io.vrrp_filter import Mode, VridRule, spec_for
from vrrpkit.io.vrrp_socket import Datagram

log = logging.getLogger("vrrpkit")

SocketKey = tuple[str, int]  # (interface, family), or (interface, AH_SOCKET)
RouteKey = tuple[str, int, int]  # (interface, family, vrid)
LAZY_RCVBUF_PER_INSTANCE = 2048  # bytes of SO_RCVBUF per instance a lazily read socket needs
UNKNOWN_VRID_LOG_EVERY = 60.0  # log_unknown_vrids: at most one line per (interface, VRID) per minute
_NO_ROUTE: list[Instance] = []
_NO_ROUTES: list[list[Instance]] = [_NO_ROUTE] * 256
_NO_STAMPS: list[float] = []
_NOTHING_KNOWN: dict[bytes, Known[Instance]] = {}


def socket_key(cfg: InstanceConfig) -> SocketKey:
    """The socket an instance sends and receives on."""
    return (cfg.advert_interface, AH_SOCKET if cfg.auth_type == AUTH_AH else cfg.family)


def label(key: SocketKey) -> str:
    return "IPv4 AH" if key[1] == AH_SOCKET else f"IPv{key[1]}"


@dataclass
class SocketCounters:
    received: int = 0  # datagrams read
    unknown_vrid: int = 0  # read, but no instance on this socket runs the VRID
    undecodable: int = 0  # the IP packet did not parse (or the read failed)


class SocketSet:
    def __init__(
        self,
        ports: Ports,
        add_reader: Callable[[int, SocketKey], None],
        remove_reader: Callable[[int], None],
    ) -> None:
        """``add_reader(fd, key)`` / ``remove_reader(fd)``: the loop's watch on a socket."""
        self.ports = ports
        self.add_reader = add_reader
        self.remove_reader = remove_reader
        self.sockets: dict[SocketKey, VrrpSocket] = {}  # shared with the EffectApplier, which sends
        self.joined: dict[SocketKey, frozenset[IPAddress]] = {}
        self.counters: dict[SocketKey, SocketCounters] = {}
        self._routes: dict[SocketKey, list[list[Instance]]] = {}  # per socket, indexed by VRID
        self.missing: dict[SocketKey, str] = {}  # wanted but could not be opened -> why
        self.errors = 0
        self.log_unknown = False  # global_defs log_unknown_vrids
        self._unknown_logged: dict[RouteKey, float] = {}
        self.rx_policy: tuple[str | None, int, int] = (None, 0, 3)  # (policy, size, multiplier)
        self.rcvbuf: dict[SocketKey, int] = {}  # the SO_RCVBUF each socket was given
        self.members: dict[SocketKey, list[Instance]] = {}  # the instances on each socket
        self.lazy: dict[SocketKey, int] = {}  # sockets read on a schedule -> the goodbye socket's fd
        # per lazy socket, the adverts its BACKUPs expect again byte for byte (io/stamped.py), and
        # under which key each instance's entry is
        self.known: dict[SocketKey, dict[bytes, Known[Instance]]] = {}
        self._known_as: dict[SocketKey, dict[str, bytes]] = {}

    # --- the hot path ---------------------------------------------------------------------------

    def read(self, key: SocketKey, limit: int) -> tuple[list[Datagram], list[list[Instance]], int, list[float]]:
        """Up to ``limit`` queued datagrams of one socket, the socket's routes (indexed by VRID, the
        datagram's second byte), how many were read in all (fewer than ``limit`` means the queue is
        empty), and, on a lazy socket, when each datagram arrived (else an empty list)."""
        sock = self.sockets.get(key)
        if sock is None:
            return [], _NO_ROUTES, 0, _NO_STAMPS
        datagrams, invalid = sock.drain(limit)
        counters = self.counters[key]
        counters.received += len(datagrams)
        if invalid:
            counters.undecodable += len(invalid)
            for bad in invalid:
                log.debug("dropped undecodable IP packet on %s: %s", key[0], bad)
        return datagrams, self._routes.get(key, _NO_ROUTES), len(datagrams) + len(invalid), sock.stamps

    def read_known(
        self, key: SocketKey, limit: int, check: Callable[[Iterable[Known[Instance]]], bool]
    ) -> tuple[Batch[Instance], list[list[Instance]]]:
        """`read` for a lazy socket: when every datagram is an advert in the socket's `known`
        table (and ``check`` agrees), the batch only says which came, how often and when."""
        sock = self.sockets.get(key)
        if sock is None:
            return Batch(0, None, [], [], [], []), _NO_ROUTES
        batch = sock.drain_known(limit, self.known.get(key, _NOTHING_KNOWN), check)
        counters = self.counters[key]
        counters.received += batch.read if batch.hits is not None else len(batch.good)
        if batch.bad:
            counters.undecodable += len(batch.bad)
            for bad in batch.bad:
                log.debug("dropped undecodable IP packet on %s: %s", key[0], bad)
        return batch, self._routes.get(key, _NO_ROUTES)

    def learn(self, key: SocketKey, datagrams: Iterable[Datagram]) -> list[Instance]:
        """After a lazy socket's datagrams went the ordinary way: the adverts their instances now
        expect again (`VirtualRouter.repeat`), in the socket's `known` table. Only an instance
        alone on its VRID here (one datagram, one router). Returns every instance they were for."""
        routes = self._routes.get(key, _NO_ROUTES)
        table = self.known.setdefault(key, {})
        keys = self._known_as.setdefault(key, {})
        looked: list[Instance] = []
        for vrid in {d.payload[1] for d in datagrams if len(d.payload) > 1}:
            targets = routes[vrid]
            looked.extend(targets)
            if len(targets) != 1:
                continue
            inst = targets[0]
            old = keys.pop(inst.name, None)
            if old is not None:
                table.pop(old, None)
            hot = inst.router.repeat
            if hot is not None:
                keys[inst.name] = known = known_key(hot[1], hot[2], hot[0])
                table[known] = Known(inst, hot[3], hot)
        return looked

    def arrived(self, key: SocketKey) -> float | None:
        """When the last datagram read from this socket arrived (monotonic), if the kernel says."""
        sock = self.sockets.get(key)
        return sock.arrived() if sock is not None else None

    def unknown_vrid(self, key: SocketKey, vrid: int, src: IPAddress, now: float) -> None:
        """A datagram of this socket went to no instance: counted (and, with log_unknown_vrids,
        logged: keepalived logs each one; once a minute per VRID is enough to see it under a flood)."""
        counters = self.counters[key]
        counters.unknown_vrid += 1
        if not self.log_unknown:
            return
        route = (key[0], key[1], vrid)
        last = self._unknown_logged.get(route)
        if last is None or now - last >= UNKNOWN_VRID_LOG_EVERY:
            self._unknown_logged[route] = now
            log.info("(%s): Received advert from %s for unknown VRID %d (%d unknown so far)",
                     key[0], src, vrid, counters.unknown_vrid)  # fmt: skip

    # --- lazy reading while every instance on a socket is BACKUP ------------------------------------

    def go_lazy(self, key: SocketKey) -> bool:
        """Watch the socket's goodbye socket instead of it, stamp its datagrams; False when this
        socket cannot (the goodbye socket could not be made): it stays eager."""
        sock = self.sockets.get(key)
        if sock is None or key in self.lazy or key[1] == AH_SOCKET:  # AH: each advert opened as it comes
            return key in self.lazy
        try:
            fd = sock.open_wake()
            if fd is None:
                return False
            sock.set_stamped(True)
        except OSError as exc:
            log.debug("reading %s (%s) as it arrives: no goodbye socket: %s", key[0], label(key), exc)
            sock.close_wake()
            return False
        self.remove_reader(sock.fileno())
        self.add_reader(fd, key)
        self.lazy[key] = fd
        return True

    def go_eager(self, key: SocketKey) -> None:
        """Back to reading the socket the moment something arrives."""
        fd = self.lazy.pop(key, None)
        self.known.pop(key, None)
        self._known_as.pop(key, None)
        sock = self.sockets.get(key)
        if fd is None or sock is None:
            return
        self.remove_reader(fd)
        sock.close_wake()
        with contextlib.suppress(OSError):  # stamps nobody reads
            sock.set_stamped(False)
        self.add_reader(sock.fileno(), key)

    def room_for(self, key: SocketKey, members: list[Instance]) -> bool:
        """Whether the socket's queue holds a few adverts per instance between two lazy reads: a
        receive buffer sized small on purpose (kernel_rx_buf_size, vrrp_rx_bufs_policy) is read
        eagerly, as the person who sized it expects. The kernel doubles SO_RCVBUF and charges
        each datagram ~1 KB (the buffer's true size), so 2 KB of SO_RCVBUF per instance."""
        size = self.rcvbuf.get(key)
        return size is None or size >= LAZY_RCVBUF_PER_INSTANCE * len(members)

    def clear_wake(self, key: SocketKey) -> None:
        sock = self.sockets.get(key)
        if sock is not None:
            sock.clear_wake()

    def keys_of(self, instances: Iterable[Instance]) -> set[SocketKey]:
        keys = {socket_key(i.cfg) for i in instances}
        return {k for k in keys if k in self.sockets}

    # --- keeping the set right --------------------------------------------------------------------

    def rebuild(self, instances: Iterable[Instance]) -> None:
        """Open, re-join or close sockets so that exactly what `instances` need exists; rebuild the
        routes, the kernel filters and the receive buffers."""
        insts = list(instances)
        for lazy in list(self.lazy):  # a reload changes who is on which socket: look again afterwards
            self.go_eager(lazy)
        wanted: dict[SocketKey, set[IPAddress]] = {}
        members: dict[SocketKey, list[Instance]] = {}
        for inst in insts:
            cfg = inst.cfg
            key = socket_key(cfg)
            needed = wanted.setdefault(key, set())
            members.setdefault(key, []).append(inst)
            if not cfg.unicast:
                needed.add(cfg.group)
        for stale in [k for k in self.sockets if k not in wanted]:
            self.close(stale)
        self.missing = {k: v for k, v in self.missing.items() if k in wanted}
        for key, group_set in wanted.items():
            groups = frozenset(group_set)
            current = self.sockets.get(key)
            if current is not None and current.unicast == (not groups) and groups >= self.joined[key]:
                for group in sorted(groups - self.joined[key], key=str):
                    current.join(group)
                self.joined[key] = groups
                continue
            if current is not None:
                self.close(key)
            self._open(key, groups)
        self._size_buffers(insts)  # before the filters, which take longer to build
        self.members = {k: v for k, v in members.items() if k in self.sockets}
        self._routes = {}
        for key, insts_here in members.items():
            table: list[list[Instance]] = [_NO_ROUTE] * 256
            for inst in insts_here:
                vrid = inst.cfg.vrid
                table[vrid] = [*table[vrid], inst]
            self._routes[key] = table
            self._filter(key, insts_here)

    def _filter(self, key: SocketKey, insts: list[Instance]) -> None:
        sock = self.sockets.get(key)
        if sock is None:
            return
        spec = spec_for(4 if key[1] == AH_SOCKET else key[1], [i.router.config for i in insts])
        if self.log_unknown:  # other VRIDs must reach us to be logged: drop nothing by VRID
            spec = dataclasses.replace(spec, rules=_every_vrid(spec.rules))
        try:
            sock.set_filter(spec)
        except (OSError, ValueError) as exc:  # without a filter user space still checks everything
            log.warning("no kernel filter on %s (%s): %s", key[0], label(key), exc)

    def _size_buffers(self, insts: list[Instance]) -> None:
        sizes: dict[SocketKey, int] = {}
        policy, fixed, multiplier = self.rx_policy
        for inst in insts:
            cfg = inst.cfg
            key = socket_key(cfg)
            share = cfg.kernel_rx_buf_size
            if not share and policy == "size":
                share = fixed
            elif not share and policy == "advert":
                share = multiplier * advert_length(cfg.version, cfg.family, len(cfg.vips))
            elif not share and policy == "mtu":
                sock = self.sockets.get(key)
                share = multiplier * ((sock.mtu() if sock is not None else None) or 1500)
            sizes[key] = sizes.get(key, 0) + share
        for key, size in sizes.items():
            sock = self.sockets.get(key)
            if sock is not None and size and self.rcvbuf.get(key) != size:
                try:
                    sock.set_rcvbuf(size)
                    self.rcvbuf[key] = size
                except OSError as exc:
                    log.warning("cannot set the receive buffer of the VRRP socket on %s to %d: %s", key[0], size, exc)

    def _open(self, key: SocketKey, groups: frozenset[IPAddress]) -> None:
        ordered = sorted(groups, key=str)
        try:
            sock = self.ports.open_socket(key[0], key[1], ordered[0] if ordered else None, not ordered)
            for group in ordered[1:]:
                sock.join(group)
        except OSError as exc:
            why = str(exc) or "no such interface"
            if self.missing.get(key) != why:
                log.error("cannot open the VRRP socket on %s (%s): %s; retrying", key[0], label(key), why)
            self.missing[key] = why
            self.errors += 1
            return
        if key in self.missing:
            log.info("VRRP socket on %s (%s) open", key[0], label(key))
            del self.missing[key]
        self.sockets[key] = sock
        self.joined[key] = groups
        self.counters.setdefault(key, SocketCounters())
        self.add_reader(sock.fileno(), key)

    def bound_to(self, ifname: str) -> bool:
        return any(key[0] == ifname for key in self.sockets)

    def bound_elsewhere(self, ifname: str, index: int | None) -> bool:
        """Whether a socket on `ifname` is bound to another index than the interface has now (None:
        it is gone): the interface was deleted, or deleted and made again, under us."""
        return any(key[0] == ifname and sock.ifindex != index for key, sock in self.sockets.items())

    def forget(self, interfaces: list[str]) -> None:
        """Close the sockets bound to these interfaces (made anew: a socket keeps the old index); the
        next `rebuild` opens them again."""
        for key in [k for k in self.sockets if k[0] in interfaces]:
            self.close(key)
            self.missing[key] = "interface made anew"

    def close(self, key: SocketKey) -> None:
        self.go_eager(key)
        sock = self.sockets.pop(key)
        self.joined.pop(key, None)
        self.rcvbuf.pop(key, None)
        self.remove_reader(sock.fileno())
        sock.close()

    def close_all(self) -> None:
        for key in list(self.sockets):
            self.close(key)

    # --- what status and metrics read -------------------------------------------------------------

    @property
    def unknown_vrid_total(self) -> int:
        return sum(c.unknown_vrid for c in self.counters.values())

    def statuses(self) -> list[SocketStatus]:
        out = []
        for key, sock in self.sockets.items():
            c = self.counters[key]
            try:
                overflow = sock.kernel_drops()
            except OSError:
                overflow = None
            out.append(SocketStatus(interface=key[0], family=key[1], received=c.received,
                                    unknown_vrid=c.unknown_vrid, undecodable=c.undecodable,
                                    queue_overflow=overflow, kernel_filter=sock.filter is not None,
                                    lazy=key in self.lazy))  # fmt: skip
        return out


def _every_vrid(rules: tuple[VridRule, ...]) -> tuple[VridRule, ...]:
    """The filter's rules plus an ANY rule for every other VRID (log_unknown_vrids)."""
    known = {r.vrid: r for r in rules}
    return tuple(known.get(vrid, VridRule(vrid, Mode.ANY)) for vrid in range(1, 256))


def advert_length(version: int, family: int, vips: int) -> int:
    """keepalived's vrrp_adv_len: the VRRP header, the VIPs (not the excluded ones), and for IPv4 the
    IP header and VRRPv2's authentication data (measured: 1000 x 32 for one IPv4 VIP in VRRPv3)."""
    if family == 4:
        return 20 + 8 + 4 * vips + (8 if version == 2 else 0)
    return 8 + 16 * vips
