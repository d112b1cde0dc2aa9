"""Reload execution (SIGHUP): the half of `app.Daemon` that carries out `reload.plan_reload`.

`Daemon` inherits `Reloading`; its methods use only what `ReloadHost` names, so the daemon's loop
stays in app.py and this file holds one job: stop what goes, re-file what is reconfigured (a rename
included), build what comes, reconfigure the routers in place, and drain once with every VIP
removal first (see the "Reload" section of docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from vrrpkit.config.model import ParseResult
from vrrpkit.core.config import InstanceConfig, Track
from vrrpkit.core.reconfig import diff
from vrrpkit.core.state import State
from vrrpkit.core.sync import SyncGroup
from vrrpkit.daemon import systemd
from vrrpkit.daemon.applier import EffectApplier
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.links import LinkManager
from vrrpkit.daemon.linkwatch import LinkWatch
from vrrpkit.daemon.ports import Ports
from vrrpkit.daemon.reload import plan_reload, refusal
from vrrpkit.daemon.sayings import Sayings
from vrrpkit.daemon.scriptset import ScriptSet, resolve_scripts
from vrrpkit.daemon.status import status_line
from vrrpkit.daemon.tracking import TrackValue

log = logging.getLogger("vrrpkit")


class ReloadHost(Protocol):
    """What reload execution needs of the daemon."""

    stopping: bool
    reloads: int
    files: list[str]
    config_id: str | None
    instances: dict[str, Instance]
    groups: dict[str, SyncGroup]
    group_of: dict[str, SyncGroup]
    ports: Ports
    applier: EffectApplier
    sayings: Sayings
    linkmgr: LinkManager
    linkwatch: LinkWatch
    _load: Callable[[list[str], str | None], ParseResult] | None
    _deadline_of: dict[str, float]

    def _now(self) -> float: ...
    def _build(self, result: ParseResult, new_names: Iterable[str], moved: Iterable[Instance] = ()) -> None: ...
    def _start_routers(self, instances: Iterable[Instance]) -> None: ...
    def _track_values(self, tracks: Iterable[Track]) -> dict[str, TrackValue]: ...
    def _make_vmacs(self, inst: Instance) -> bool: ...
    def _relink(self, inst: Instance, old: InstanceConfig) -> None: ...
    def _take_scripts(self, result: ParseResult, scripts: ScriptSet) -> ParseResult: ...
    def apply_reload(self, result: ParseResult, scripts: ScriptSet | None = None) -> bool: ...
    def _drain(
        self, instances: Iterable[Instance], extra_groups: Iterable[SyncGroup] = (), removals_first: bool = False
    ) -> None: ...
    def _read_lazy(self) -> None: ...


class Reloading:
    async def reload(self: ReloadHost) -> None:
        """SIGHUP: read and check the files off the loop, then apply (or keep the running config)."""
        from vrrpkit.config import load_files

        log.info("Reloading ...")  # keepalived's words, and "Reload complete" at the end
        load = self._load or load_files

        def read() -> tuple[ParseResult, ScriptSet]:
            """The files, and every command in them resolved and checked (file lookups only)."""
            result = load(self.files, self.config_id)
            return result, resolve_scripts(result)

        try:
            result, scripts = await asyncio.get_running_loop().run_in_executor(None, read)
        except OSError as exc:  # a missing file, or one keepalived would skip (a FIFO, an executable)
            from vrrpkit.config.files import cannot_read

            log.error("Reload failed: %s; keeping the running configuration", cannot_read(exc))
            return
        for diag in result.diagnostics:
            if diag.severity != "info":
                (log.error if diag.severity == "error" else log.warning)("%s", diag)
        self.apply_reload(result, scripts)

    def apply_reload(self: ReloadHost, result: ParseResult, scripts: ScriptSet | None = None) -> bool:
        """Apply a new config as keepalived does (see `daemon/reload.py`): unchanged instances carry
        on, changed ones take the new config in place and keep their state (a VIP moves only when
        the edit changes who should be master), and only an identity change restarts an instance (a
        master sends priority 0 first). Returns whether the new config was taken."""
        if self.stopping:
            log.warning("Reload ignored: shutting down")
            return False
        self.sayings.flush()  # what is still to be said of a takeover comes before the reload's lines
        why = refusal(result, self.ports.netlink.interface_exists)
        if why is not None:
            log.error("Reload failed: %s", why)
            return False
        result = self._take_scripts(result, scripts if scripts is not None else resolve_scripts(result))
        self._read_lazy()  # adverts that came before the reload count from when they came
        plan = plan_reload({n: i.configured for n, i in self.instances.items()}, result.instances)
        now = self._now()
        stopped = []
        for name in plan.stop:
            if name in plan.restart:
                log.info("(%s) interface, VRID, family or unicast mode changed, restarting instance", name)
            else:
                log.info("(%s) removed from the configuration, stopping instance", name)
            inst = self.instances.pop(name)
            inst.router.shutdown(now)
            stopped.append(inst)
        self._drain(stopped, extra_groups={self.group_of[i.name] for i in stopped if i.name in self.group_of})
        configs = {cfg.name: cfg for cfg in result.instances}
        for inst in stopped:  # a restarted instance keeps the VMACs its new configuration still wants
            wanted = configs[inst.name].vmac_links if inst.name in plan.restart else ()
            self.linkmgr.release(inst.cfg, keep=frozenset(k.name for k in wanted if k in inst.cfg.vmac_links))
        ran = {name: g.said for name, g in self.groups.items()}  # what ran before (the rest it forms)
        moved: list[tuple[Instance, InstanceConfig, InstanceConfig | None]] = []
        for old_name, new_name in plan.reconfigure:
            inst = self.instances.pop(old_name)
            moved.append((inst, inst.cfg, inst.written))
            written = configs[new_name]
            # the identity includes the written VMACs: a VMAC renamed at start (vrrp1.51) stays so
            inst.reconfigure(written.replace(vmac=inst.cfg.vmac) if inst.written is not None else written)
            inst.written = written if inst.cfg != written else None
            self._relink(inst, moved[-1][1])
        self.applier.routes.renamed(dict(plan.reconfigure))
        self.applier.ah.renamed(dict(plan.reconfigure), (inst.name for inst in stopped))
        try:
            self._build(result, plan.start, [inst for inst, _, _ in moved])
        except OSError as exc:
            # the restarted instances are already stopped: run what could be built, and say so loudly
            log.error("Reload failed while building instances: %s; running %d instance(s)", exc, len(self.instances))
            for inst, old, old_written in moved:
                inst.reconfigure(old)
                inst.written = old_written
                self.instances[inst.name] = inst
            back = {new: old for old, new in plan.reconfigure}  # their old names again
            self.applier.routes.renamed(back)
            self.applier.ah.renamed(back, ())
            self._start_routers([i for i in self.instances.values() if not i.router.running])
            return False
        self.reloads += 1
        now = self._now()
        for inst, old, _ in moved:
            new = inst.cfg
            log.info("(%s) configuration changed, state kept: %s", inst.name, diff(old, new).describe(old, new))
            added = [t for t in new.tracks if t not in old.tracks]
            inst.router.reconfigure(new, now, self._track_values(added))
            inst.router.link_changed(self.linkwatch.instance_up(new), now)  # a VMAC that could not be made
        for inst in (self.instances[n] for n in plan.start):
            inst.router.start(now)
        for name, group in self.groups.items():  # a group made or joined by this reload: one state at once
            group.reconcile(now, formed=name not in ran, was=ran.get(name))
        self._deadline_of.clear()
        self._drain(self.instances.values(), removals_first=True)
        if result.globals.fifo_write_vrrp_states_on_reload:
            self.applier.write_states(self.instances.values(), self.groups.values())
        for inst, old, _ in moved:
            if inst.router.state is State.MASTER and old.accept_mode != inst.cfg.accept_mode:
                try:
                    self.applier.accept_changed(inst, old)
                except Exception:
                    log.exception("(%s) failed to change accept mode", inst.name)
        log.info(
            "Reload complete: %d instance(s), %d kept, %d changed in place, %d restarted",
            len(self.instances),
            len(plan.keep),
            len(plan.reconfigure),
            len(plan.start),
        )
        systemd.notify(f"STATUS={status_line(self.instances.values())}")
        return True

    def _relink(self: ReloadHost, inst: Instance, old: InstanceConfig) -> None:
        """A reconfigured instance's VMACs follow its new config, as keepalived 2.2.7 does in place
        (measured: the old VMAC deleted, the new one made, 'setting VIPs', still MASTER). A master's
        VIPs on an interface that stays (use_vmac turned on) are removed here; the router sets every
        moved VIP again (`ConfigDiff.vips_moved`)."""
        new = inst.cfg
        if self.linkmgr.reconfigured(old, new):
            if inst.router.state is State.MASTER:
                gone = {link.name for link in old.vmac_links}
                for vip in old.vips + old.excluded_vips:
                    dev = old.device_of(vip)
                    if dev not in gone and dev != new.device_of(vip):
                        try:
                            self.ports.netlink.del_vip(dev, vip)
                        except OSError as exc:
                            log.error("(%s) cannot remove %s from %s: %s", new.name, vip, dev, exc)
            if new.vmac_links:
                self._make_vmacs(inst)
        self.linkmgr.promote_secondaries(new)
