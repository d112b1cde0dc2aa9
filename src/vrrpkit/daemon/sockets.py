"""The daemon's raw sockets: one per (interface, family), joined to every multicast group its
instances use, and the table that sends a datagram to the instances it is for.

An instance sends and receives on its advert interface (its VMAC unless vmac_xmit_base). Several
groups on one interface (`mcast_dst_ip`) share one socket: the kernel only lets a raw socket see
the groups it joined, and two sockets on one interface would both get every unicast advert. A
socket that cannot be opened (a VMAC not made yet, an interface that `dynamic_interfaces` allows to
be missing) is logged and retried, never fatal.

Receive buffers as keepalived 2.2.7 sizes them (vrrp_sockpool): a socket's SO_RCVBUF is the sum over
its instances of kernel_rx_buf_size, else the global vrrp_rx_bufs_policy's share (a fixed size, or
vrrp_rx_bufs_multiplier times the interface MTU or the advert's length); nothing set, the kernel's
default stays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from vrrpkit.core.config import IPAddress
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.ports import Ports, VrrpSocket

log = logging.getLogger("vrrpkit")

SocketKey = tuple[str, int]  # (interface, family)
RouteKey = tuple[str, int, int]  # (interface, family, vrid)
UNKNOWN_VRID_LOG_EVERY = 60.0  # log_unknown_vrids: at most one line per (interface, VRID) per minute


class SocketSet:
    def __init__(
        self,
        ports: Ports,
        add_reader: Callable[[int, SocketKey], None],
        remove_reader: Callable[[int], None],
    ) -> None:
        self.ports = ports
        self.add_reader = add_reader
        self.remove_reader = remove_reader
        self.sockets: dict[SocketKey, VrrpSocket] = {}
        self.joined: dict[SocketKey, frozenset[IPAddress]] = {}
        self.routes: dict[RouteKey, list[Instance]] = {}
        self.missing: dict[SocketKey, str] = {}  # wanted but could not be opened -> why
        self.errors = 0
        self.unknown_vrid = 0
        self._unknown_logged: dict[RouteKey, float] = {}
        self.rx_policy: tuple[str | None, int, int] = (None, 0, 3)  # (policy, size, multiplier)
        self.rcvbuf: dict[SocketKey, int] = {}  # the SO_RCVBUF each socket was given

    def targets(self, key: SocketKey, vrid: int, src: IPAddress, now: float, log_unknown: bool) -> list[Instance]:
        """The instances a datagram is for; an unknown VRID is counted (and, with log_unknown_vrids,
        logged: keepalived logs each one; once a minute per VRID is enough to see it under a flood)."""
        route = (key[0], key[1], vrid)
        found = self.routes.get(route)
        if found:
            return found
        self.unknown_vrid += 1
        if log_unknown:
            last = self._unknown_logged.get(route)
            if last is None or now - last >= UNKNOWN_VRID_LOG_EVERY:
                self._unknown_logged[route] = now
                log.info("(%s): Received advert from %s for unknown VRID %d (%d unknown so far)",
                         key[0], src, vrid, self.unknown_vrid)
        return []

    def rebuild(self, instances: Iterable[Instance]) -> None:
        """Open, re-join or close sockets so that exactly what `instances` need exists."""
        insts = list(instances)
        wanted: dict[SocketKey, set[IPAddress]] = {}
        for inst in insts:
            cfg = inst.cfg
            needed = wanted.setdefault((cfg.advert_interface, cfg.family), set())
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
        self.routes = {}
        for inst in insts:
            cfg = inst.cfg
            self.routes.setdefault((cfg.advert_interface, cfg.family, cfg.vrid), []).append(inst)
        self._size_buffers(insts)

    def _size_buffers(self, insts: list[Instance]) -> None:
        sizes: dict[SocketKey, int] = {}
        policy, fixed, multiplier = self.rx_policy
        for inst in insts:
            cfg = inst.cfg
            key: SocketKey = (cfg.advert_interface, cfg.family)
            share = cfg.kernel_rx_buf_size
            if not share and policy == "size":
                share = fixed
            elif not share and policy == "advert":
                share = multiplier * advert_length(cfg.version, cfg.family, len(cfg.vips))
            elif not share and policy == "mtu":
                state = self.ports.vmacs.state(key[0])
                share = multiplier * (state.mtu if state is not None else 1500)
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
                log.error("cannot open the VRRP socket on %s (IPv%d): %s; retrying", key[0], key[1], why)
            self.missing[key] = why
            self.errors += 1
            return
        if key in self.missing:
            log.info("VRRP socket on %s (IPv%d) open", key[0], key[1])
            del self.missing[key]
        self.sockets[key] = sock
        self.joined[key] = groups
        self.add_reader(sock.fileno(), key)

    def forget(self, interfaces: list[str]) -> None:
        """Close the sockets bound to these interfaces (made anew: a socket keeps the old index); the
        next `rebuild` opens them again."""
        for key in [k for k in self.sockets if k[0] in interfaces]:
            self.close(key)
            self.missing[key] = "interface made anew"

    def close(self, key: SocketKey) -> None:
        sock = self.sockets.pop(key)
        self.joined.pop(key, None)
        self.rcvbuf.pop(key, None)
        self.remove_reader(sock.fileno())
        sock.close()

    def close_all(self) -> None:
        for key in list(self.sockets):
            self.close(key)


def advert_length(version: int, family: int, vips: int) -> int:
    """keepalived's vrrp_adv_len: the VRRP header, the VIPs (not the excluded ones), and for IPv4 the
    IP header and VRRPv2's authentication data (measured: 1000 x 32 for one IPv4 VIP in VRRPv3)."""
    if family == 4:
        return 20 + 8 + 4 * vips + (8 if version == 2 else 0)
    return 8 + 16 * vips
