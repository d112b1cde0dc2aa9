"""Building the daemon's instances from a configuration: the half of `app.Daemon` that turns a
`ParseResult` into routers with their links, tracked values, sync groups and sockets.

`Daemon` inherits `Building` (as it inherits `Reloading`); the methods use only what `BuildHost`
names, so this file holds one job and the loop stays in app.py. Start-up and reload both come
through `_build`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Set
from typing import Protocol

from vrrpkit.config.model import ParseResult
from vrrpkit.core.config import InstanceConfig, IPAddress, Track, TrackKind
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State
from vrrpkit.core.sync import SyncGroup
from vrrpkit.daemon.applier import EffectApplier
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.links import LinkManager
from vrrpkit.daemon.linkwatch import LinkWatch, watched
from vrrpkit.daemon.ports import Ports
from vrrpkit.daemon.proctrack import ProcessTrackers
from vrrpkit.daemon.scriptset import ScriptSet
from vrrpkit.daemon.sockets import SocketSet
from vrrpkit.daemon.tracking import Trackers, TrackValue

log = logging.getLogger("vrrpkit")

RETRY = 5.0  # seconds between attempts to make a missing VMAC or socket


class BuildHost(Protocol):
    """What building needs of the daemon."""

    result: ParseResult
    instances: dict[str, Instance]
    groups: dict[str, SyncGroup]
    group_of: dict[str, SyncGroup]
    ports: Ports
    applier: EffectApplier
    scripts: ScriptSet
    trackers: Trackers
    processes: ProcessTrackers
    linkmgr: LinkManager
    linkwatch: LinkWatch
    socketset: SocketSet

    def _make_instance(self, written: InstanceConfig, held: Set[IPAddress] = frozenset()) -> Instance: ...
    def _make_vmacs(self, inst: Instance) -> bool: ...
    def _track_values(self, tracks: Iterable[Track]) -> dict[str, TrackValue]: ...
    def _source_address(self, cfg: InstanceConfig) -> IPAddress | None: ...
    def _rebuild_groups(self) -> None: ...


class Building:
    def _build(self: BuildHost, result: ParseResult, new_names: Iterable[str], moved: Iterable[Instance] = ()) -> None:
        """Create what `new_names` need, file the `moved` (reconfigured, possibly renamed) instances
        under their new names, and rewire groups, sockets and trackers for `result`."""
        # where each keyword was written is for diagnostics (check, convert): ~2 KB per instance
        # that a running daemon never reads
        result = dataclasses.replace(result, sources={}, script_locs={}, fifo_locs={}, static_locs={})
        self.result = result
        g = result.globals
        self.applier.configure(g, {grp.name: grp for grp in result.sync_groups}, result.extras, self.scripts,
                               interfaces=result.interfaces)
        self.applier.routes.configure(result.static, result.extras)
        self.applier.fifos.configure(g, self.scripts.fifo_scripts())
        self.applier.mailer.configure(g, {n: e.smtp_alert for n, e in result.extras.items()}, result.group_smtp_alert)
        self.trackers.configure(result, result.instances, self.scripts.track)
        self.processes.configure(result, result.instances)
        self.linkmgr.configure(g.disable_local_igmp)
        self.linkwatch.configure(result.interfaces, result.instances)
        self.socketset.rx_policy = (g.rx_bufs_policy, g.rx_bufs_size, g.rx_bufs_multiplier)
        self.socketset.log_unknown = g.log_unknown_vrids
        configs = {cfg.name: cfg for cfg in result.instances}
        for inst in moved:
            self.instances[inst.name] = inst
        held = {v.address for i in self.instances.values() if i.router.state is State.MASTER for v in i.cfg.vips}
        for name in new_names:
            self.instances[name] = self._make_instance(configs[name], held)
        self._rebuild_groups()
        self.socketset.rebuild(self.instances.values())

    def _make_instance(self: BuildHost, written: InstanceConfig, held: Set[IPAddress] = frozenset()) -> Instance:
        netlink = self.ports.netlink
        cfg = self.linkmgr.name_fallback(written, self.result.globals.vmac_prefix)
        address = None
        if cfg.unicast_src_ip is None and cfg.mcast_src_ip is None:
            address = self._source_address(cfg)
        router = VirtualRouter(cfg, address)
        inst = Instance(cfg, router, written=written if written != cfg else None)
        for name, value in self._track_values(cfg.tracks).items():
            router.set_initial_track(name, value)
        if self.result.globals.dynamic_interfaces and not netlink.interface_exists(cfg.interface):
            log.warning("(%s) interface %s does not exist (yet): FAULT until it does", cfg.name, cfg.interface)
        elif cfg.vmac_links:
            self._make_vmacs(inst)
        router.link_changed(self.linkwatch.instance_up(cfg), 0.0)
        for vip in cfg.vips + cfg.excluded_vips:  # a crash (SIGKILL) leaves VIPs behind; not MASTER yet
            dev = cfg.device_of(vip)
            if vip.address not in held and netlink.has_address(dev, vip.address):
                log.warning("(%s) removing leftover VIP %s from %s (not MASTER)", cfg.name, vip, dev)
                netlink.del_vip(dev, vip)
        self.linkmgr.promote_secondaries(cfg)
        if cfg.track_src_ip:
            router.source_changed(self.linkmgr.source_present(cfg), 0.0)
        self.applier.routes.remove_leftovers(cfg.name)
        return inst

    def _make_vmacs(self: BuildHost, inst: Instance) -> bool:
        """Make the instance's VMACs; whatever was bound to an earlier link of the same name (a socket,
        an ARP sender) is dropped, since it still points at the old interface index."""
        if not self.linkmgr.make_for(inst, RETRY):
            return False
        names = [link.name for link in inst.cfg.vmac_links]
        self.socketset.forget(names)
        self.applier.forget_interfaces(names)
        for name in watched(inst.cfg):
            self.linkwatch.refresh(name)
        return True

    def _track_values(self: BuildHost, tracks: Iterable[Track]) -> dict[str, TrackValue]:
        """What the host knows now about these tracked objects (links, scripts that ran, processes, files)."""
        values: dict[str, TrackValue] = {}
        for track in tracks:
            if track.kind is TrackKind.INTERFACE:
                values[track.name] = self.linkwatch.is_up(track.name)
            elif track.kind is TrackKind.PROCESS:
                values[track.name] = self.processes.initial(track.name)
            else:
                value = self.trackers.initial(track.kind, track.name)
                if value is not None:
                    values[track.name] = value
        return values

    def _source_address(self: BuildHost, cfg: InstanceConfig) -> IPAddress | None:
        """The interface's primary address (IPv6: link-local), never one of our own VIPs."""
        vips = [v.address for v in cfg.vips + cfg.excluded_vips]
        return self.ports.netlink.primary_address(cfg.interface, cfg.family, exclude=vips)

    def _rebuild_groups(self: BuildHost) -> None:
        for inst in self.instances.values():
            inst.router.group = None
            inst.router.set_group_view(fault=False, master=False)
        self.groups, self.group_of = {}, {}
        for spec in self.result.sync_groups:
            members = [self.instances[m] for m in spec.members if m in self.instances]
            if members:
                group = self.groups[spec.name] = SyncGroup(spec.name, [m.router for m in members])
                self.group_of.update({m.name: group for m in members})

    def _take_scripts(self: BuildHost, result: ParseResult, scripts: ScriptSet) -> ParseResult:
        """The commands of a (re)load, checked once: keepalived's lines in the log, and the
        configuration without the trackers of disabled scripts."""
        self.scripts = scripts
        for level, line in scripts.log:
            log.log(level, "%s", line)
        return scripts.apply(result)
