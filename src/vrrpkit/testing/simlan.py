"""A simulated LAN of VRRP hosts on a fake clock: whole incidents replayed in milliseconds.

Each host runs real ``VirtualRouter`` objects; their SendAdvert effects become datagrams that the
LAN delivers (or loses, delays, partitions, drops when multicast is blocked) to the other hosts'
routers of the same family and VRID, with TTL 255. Everything is driven by one seeded
``random.Random``: the same seed and the same calls give the same history, so a failing
property-based test can be replayed exactly.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address

from vrrpkit.core import effects as fx
from vrrpkit.core.config import InstanceConfig, IPAddress, SyncGroupConfig
from vrrpkit.core.reconfig import identity
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.sync import SyncGroup


class FakeClock:
    """Time that moves only when told to; shared by the LAN and anything a test wants to time."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now

    def __call__(self) -> float:
        return self.now


@dataclass
class SimHost:
    name: str
    address: IPAddress
    configs: tuple[InstanceConfig, ...]
    sync_groups: tuple[SyncGroupConfig, ...] = ()
    routers: dict[str, VirtualRouter] = field(default_factory=dict)
    groups: list[SyncGroup] = field(default_factory=list)
    group_changes: list[tuple[float, fx.SyncGroupChanged]] = field(default_factory=list)
    vips: dict[str, set[IPAddress]] = field(default_factory=dict)  # instance -> addresses it holds
    up: bool = False
    sent: list[tuple[float, fx.SendAdvert]] = field(default_factory=list)
    garps: list[tuple[float, fx.SendGarp]] = field(default_factory=list)
    notifies: list[tuple[float, fx.Notify]] = field(default_factory=list)
    drops: list[fx.PacketDropped] = field(default_factory=list)
    mismatches: list[fx.Mismatch] = field(default_factory=list)
    claims_answered: list[tuple[float, fx.ClaimAnswered]] = field(default_factory=list)

    def held(self) -> set[IPAddress]:
        return set().union(*self.vips.values()) if self.vips else set()


Transition = tuple[float, str, str, str, str]


class SimLan:
    """N hosts on one broadcast domain. Times are simulated seconds (``lan.now``)."""

    def __init__(self, seed: int = 0, delay: float = 0.0001, loss: float = 0.0, jitter: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.clock = FakeClock()
        self.delay = delay
        self.jitter = jitter
        self.loss = loss
        self.multicast_blocked = False
        self.hosts: dict[str, SimHost] = {}
        self.transitions: list[Transition] = []
        self.delivered = 0
        self.lost = 0
        self._groups: list[frozenset[str]] | None = None
        self._muted: dict[str, int] = {}  # host -> how many of its next adverts are lost
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    @property
    def now(self) -> float:
        return self.clock.now

    # --- building -----------------------------------------------------------------------------

    def add_host(
        self,
        name: str,
        ip: str,
        instances: Sequence[InstanceConfig] | str,
        start: bool = True,
        config_id: str | None = None,
    ) -> SimHost:
        """Add a host whose primary LAN address is ``ip``. ``instances`` are core configs, or
        keepalived.conf text (interfaces all map onto this LAN)."""
        groups: tuple[SyncGroupConfig, ...] = ()
        if isinstance(instances, str):
            configs, groups = _parse_config_text(instances, name, config_id)
        else:
            configs = tuple(instances)
        host = SimHost(name, ip_address(ip), configs, groups)
        self.hosts[name] = host
        if start:
            self.start(name)
        return host

    # --- faults and lifecycle -----------------------------------------------------------------

    def start(self, name: str) -> None:
        host = self.hosts[name]
        if host.up:
            return
        host.up = True
        host.routers = {cfg.name: VirtualRouter(cfg, host.address) for cfg in host.configs}
        host.groups = [
            SyncGroup(group.name, [host.routers[m] for m in group.members if m in host.routers])
            for group in host.sync_groups
        ]
        host.vips = {}
        for router in host.routers.values():
            router.start(self.now)
        self._drain(host)

    def crash(self, name: str) -> None:
        """The host vanishes silently (power loss): no priority 0, its VIPs gone with it."""
        host = self.hosts[name]
        host.up = False
        for router in host.routers.values():
            if router.state.value != "INIT":
                self.transitions.append((self.now, name, router.name, router.state.value, "INIT"))
        host.routers = {}
        host.groups = []
        host.vips = {}

    def stop(self, name: str) -> None:
        """Graceful stop (SIGTERM): masters send priority 0 and release their VIPs."""
        host = self.hosts[name]
        if not host.up:
            return
        for router in host.routers.values():
            router.shutdown(self.now)
        self._drain(host)
        host.up = False
        host.routers = {}
        host.groups = []

    def reload(self, name: str, instances: Sequence[InstanceConfig]) -> None:
        """SIGHUP with new configs, as the daemon applies them: a router whose identity
        (`core.reconfig.identity`) is still configured takes the new config in place and keeps its
        state; the others stop (a master sends priority 0) and new ones start."""
        host = self.hosts[name]
        host.configs = tuple(instances)
        if not host.up:
            return
        running = {identity(r.config): r for r in host.routers.values()}
        kept = []
        for cfg in instances:
            router = running.pop(identity(cfg), None)
            if router is not None:
                kept.append((router, cfg))
        for router in running.values():
            router.shutdown(self.now)
            for effect in router.effects():
                self._apply(host, effect)
        host.routers = {cfg.name: router for router, cfg in kept}
        host.vips = {cfg.name: host.vips.get(router.name, set()) for router, cfg in kept}
        started = [VirtualRouter(cfg, host.address) for cfg in instances if cfg.name not in host.routers]
        host.routers.update({router.name: router for router in started})
        host.groups = [
            SyncGroup(group.name, [host.routers[m] for m in group.members if m in host.routers])
            for group in host.sync_groups
        ]
        for router, cfg in kept:
            router.reconfigure(cfg, self.now)
        for router in started:
            router.start(self.now)
        self._drain(host)

    def tracker(self, host: str, instance: str, name: str, value: bool | int | None) -> None:
        self.hosts[host].routers[instance].tracker_changed(name, value, self.now)
        self._drain(self.hosts[host])

    def link(self, host: str, up: bool) -> None:
        for router in self.hosts[host].routers.values():
            router.link_changed(up, self.now)
        self._drain(self.hosts[host])

    def block_multicast(self, blocked: bool = True) -> None:
        self.multicast_blocked = blocked

    def partition(self, *groups: Iterable[str]) -> None:
        """Hosts only reach hosts of their own group; hosts not named form one more group."""
        sets = [frozenset(g) for g in groups]
        rest = frozenset(self.hosts) - frozenset().union(*sets)
        self._groups = [*sets, rest] if rest else sets

    def heal(self) -> None:
        self._groups = None

    def set_loss(self, loss: float) -> None:
        self.loss = loss

    def lose_adverts(self, host: str, count: int) -> None:
        """The next ``count`` adverts ``host`` sends are lost on the way to everyone (the chaos
        bench's "adverts lost in a row"): the host lives on and hears the others."""
        self._muted[host] = count

    def inject(self, host: str, data: bytes, src: str, dst: str, ttl: int = 255) -> None:
        """Deliver a raw datagram to every router of ``host`` (tests of receive rules)."""
        self._deliver(self.hosts[host], data, ip_address(src), ip_address(dst), ttl, None)

    # --- running ------------------------------------------------------------------------------

    def run(self, seconds: float) -> None:
        self.run_until(self.now + seconds)

    def run_until(self, end: float) -> None:
        while True:
            when = self._next_event()
            if when is None or when > end:
                break
            self.clock.now = max(self.now, when)
            self._step()
        self.clock.now = max(self.now, end)

    def _next_event(self) -> float | None:
        candidates = [self._queue[0][0]] if self._queue else []
        for host in self.hosts.values():
            for router in host.routers.values():
                timer = router.get_timer()
                if timer is not None:
                    candidates.append(timer)
        return min(candidates) if candidates else None

    def _step(self) -> None:
        now = self.now
        while self._queue and self._queue[0][0] <= now:
            _, _, action = heapq.heappop(self._queue)
            action()
        for host in list(self.hosts.values()):
            for router in list(host.routers.values()):
                timer = router.get_timer()
                if timer is not None and timer <= now:
                    router.handle_timer(now)
                    self._settle(host)  # followers move before the next member's timer is looked at
            self._drain(host)

    def _settle(self, host: SimHost) -> None:
        for group in host.groups:
            group.settle(self.now)

    def _drain(self, host: SimHost) -> None:
        self._settle(host)
        for router in list(host.routers.values()):
            for effect in router.effects():
                self._apply(host, effect)
        for group in host.groups:
            for effect in group.effects():
                self._apply(host, effect)

    def _apply(self, host: SimHost, effect: fx.Effect) -> None:
        if isinstance(effect, fx.SendAdvert):
            host.sent.append((self.now, effect))
            self._transmit(host, effect)
        elif isinstance(effect, fx.AddVips):
            host.vips.setdefault(effect.instance, set()).update(v.address for v in effect.vips)
        elif isinstance(effect, fx.DelVips):
            host.vips.get(effect.instance, set()).difference_update(v.address for v in effect.vips)
        elif isinstance(effect, fx.StateChanged):
            self.transitions.append((effect.at, host.name, effect.instance, effect.old.value, effect.new.value))
        elif isinstance(effect, fx.SendGarp):
            host.garps.append((self.now, effect))
        elif isinstance(effect, fx.Notify):
            host.notifies.append((self.now, effect))
        elif isinstance(effect, fx.PacketDropped):
            host.drops.append(effect)
        elif isinstance(effect, fx.Mismatch):
            host.mismatches.append(effect)
        elif isinstance(effect, fx.ClaimAnswered):
            host.claims_answered.append((self.now, effect))
        elif isinstance(effect, fx.SyncGroupChanged):
            host.group_changes.append((self.now, effect))

    def _reachable(self, a: str, b: str) -> bool:
        if self._groups is None:
            return True
        return any(a in g and b in g for g in self._groups)

    def _transmit(self, sender: SimHost, advert: fx.SendAdvert) -> None:
        if self._muted.get(sender.name, 0) > 0:
            self._muted[sender.name] -= 1
            self.lost += 1
            return
        if advert.dst.is_multicast:
            if self.multicast_blocked:
                self.lost += 1
                return
            targets = [h for h in self.hosts.values() if h is not sender]
        else:
            targets = [h for h in self.hosts.values() if h is not sender and self._owns(h, advert.dst)]
        for target in targets:
            if not self._reachable(sender.name, target.name) or (self.loss and self.rng.random() < self.loss):
                self.lost += 1
                continue
            delay = self.delay + (self.rng.uniform(0, self.jitter) if self.jitter else 0.0)
            deliver = functools.partial(self._deliver, target, advert.data, advert.src, advert.dst, 255, advert)
            self._schedule(self.now + delay, deliver)

    @staticmethod
    def _owns(host: SimHost, address: IPAddress) -> bool:
        if host.address == address:
            return True
        return any(
            r.config.unicast_src_ip == address or r.config.mcast_src_ip == address for r in host.routers.values()
        )

    def _schedule(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), action))

    def _deliver(
        self, host: SimHost, data: bytes, src: IPAddress, dst: IPAddress, ttl: int, advert: fx.SendAdvert | None
    ) -> None:
        if not host.up:
            return
        vrid = data[1] if len(data) > 1 else None
        self.delivered += 1
        for router in host.routers.values():
            if advert is None or (router.config.vrid == vrid and router.config.family == src.version):
                router.datagram_received(data, src, dst, ttl, self.now)
        self._drain(host)

    # --- observing ----------------------------------------------------------------------------

    def state(self, host: str, instance: str) -> str:
        h = self.hosts[host]
        router = h.routers.get(instance)
        return router.state.value if router is not None else "INIT"

    def router(self, host: str, instance: str) -> VirtualRouter:
        return self.hosts[host].routers[instance]

    def masters(self, instance: str | None = None, vrid: int | None = None) -> set[str]:
        found = set()
        for host in self.hosts.values():
            for router in host.routers.values():
                wanted = (instance is None or router.name == instance) and (vrid is None or router.config.vrid == vrid)
                if wanted and router.state.value == "MASTER":
                    found.add(host.name)
        return found

    def vip_holders(self, vip: str) -> set[str]:
        address = ip_address(vip.split("/")[0])
        return {h.name for h in self.hosts.values() if address in h.held()}


def _parse_config_text(
    text: str, host: str, config_id: str | None
) -> tuple[tuple[InstanceConfig, ...], tuple[SyncGroupConfig, ...]]:
    from vrrpkit import config as kconfig  # testing may use config (design.md)

    result = kconfig.load_string(text, filename=f"<{host}>", config_id=config_id or host)
    if not result.ok:
        problems = "\n".join(str(d) for d in result.diagnostics if d.severity == "error")
        raise ValueError(f"config for {host} has errors:\n{problems}")
    return tuple(result.instances), tuple(result.sync_groups)
