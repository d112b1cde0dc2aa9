"""The daemon: a thin asyncio loop between the sans-I/O core and the OS adapters.

read socket -> route by (interface, family, vrid) -> router.datagram_received -> apply effects ->
re-arm ONE timer at the earliest router deadline. Everything protocol-related is decided in core;
here we only move bytes, addresses and processes, and log in keepalived's words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vrrpkit.control.server import ControlServer
from vrrpkit.core import effects as fx
from vrrpkit.core.config import InstanceConfig, IPAddress, TrackKind
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State
from vrrpkit.core.sync import SyncGroup
from vrrpkit.daemon import systemd
from vrrpkit.daemon.tracking import ScriptTracker, read_track_file
from vrrpkit.io import netlink
from vrrpkit.io.garp import GarpSender, NeighborProber
from vrrpkit.io.nft import NoAcceptFirewall
from vrrpkit.io.scripts import ScriptRunner, as_user, prepare, script_security_problems
from vrrpkit.io.vrrp_socket import VrrpSocket4, VrrpSocket6, open_vrrp_socket

if TYPE_CHECKING:
    from vrrpkit.config import ParseResult

log = logging.getLogger("vrrpkit")

SocketKey = tuple[str, int]  # (interface, family)
NOTIFY_TIMEOUT = 30.0
PROBE_EVERY_ADVERTS = 3


@dataclass
class Instance:
    cfg: InstanceConfig
    router: VirtualRouter
    notify: dict[str, str]
    transitions: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=20))
    split_brain: frozenset[str] = frozenset()
    suspects: frozenset[str] = frozenset()
    split_brain_events: int = 0
    next_probe: float = 0.0
    mismatches: dict[str, int] = field(default_factory=dict)


class Daemon:
    def __init__(
        self,
        result: ParseResult,
        *,
        files: list[str],
        config_id: str | None,
        control_path: str,
        metrics: tuple[str, int] | None = None,
    ) -> None:
        self.result = result
        self.files = files
        self.config_id = config_id
        self.control_path = control_path
        self.metrics_addr = metrics
        self.instances: dict[str, Instance] = {}
        self.sync_groups: list[SyncGroup] = []
        self.sockets: dict[SocketKey, VrrpSocket4 | VrrpSocket6] = {}
        self.routes: dict[tuple[str, int, int], list[Instance]] = {}
        self.garp: dict[str, GarpSender] = {}
        self.probers: dict[SocketKey, NeighborProber] = {}
        self.firewall: NoAcceptFirewall | None = None
        self.scripts: dict[str, ScriptTracker] = {}
        self.script_tasks: list[asyncio.Task[None]] = []
        self.files_state: dict[str, int] = {}
        self.started = time.time()
        self.reloads = 0
        self.unknown_vrid = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()
        self._link_monitor: netlink.LinkMonitor | None = None
        self._control = ControlServer(control_path, self._control_request)
        self._background: list[asyncio.Task[None]] = []
        self.runner = ScriptRunner(notify_timeout=NOTIFY_TIMEOUT)
        self._ready = False  # systemd hears READY=1 first, then STATUS updates
        self._group_states: dict[str, str] = {}
        self._stopping = False
        self._deadline_of: dict[str, float] = {}  # instance -> its router's next deadline
        self._notify_tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._loop = loop
        for sig, handler in (
            (signal.SIGTERM, self._stop.set),
            (signal.SIGINT, self._stop.set),
            (signal.SIGHUP, lambda: self._spawn(self.reload())),
            (signal.SIGUSR1, self._dump),
        ):
            loop.add_signal_handler(sig, handler)
        delay = self.result.globals.vrrp_startup_delay_cs / 100
        if delay > 0:
            log.info("Delaying startup for %g seconds (vrrp_startup_delay)", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
        try:
            self._link_monitor = netlink.LinkMonitor()
            loop.add_reader(self._link_monitor.fileno(), self._on_link_events)
            self._remove_stale_firewall()
            self._build(self.result)
            await self._control.start()
            if self.metrics_addr is not None:
                from vrrpkit.daemon.metrics import serve_metrics

                serve_metrics(self, *self.metrics_addr)
            self._start_routers(self.instances.values())
            self._background.append(loop.create_task(self._track_files_loop()))
            systemd.notify("READY=1", f"STATUS={self._status_line()}")
            self._ready = True
            log.info("vrrpkit started: %d instance(s) control=%s", len(self.instances), self.control_path)
            await self._stop.wait()
        finally:
            self._stopping = True
            systemd.notify("STOPPING=1")
            await self._shutdown()
        log.info("Stopped vrrpkit")
        return 0

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _spawn(self, coro: Any) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._background.append(task)
        task.add_done_callback(lambda t: self._background.remove(t) if t in self._background else None)

    def _build(self, result: ParseResult) -> None:
        """Create routers, sync groups, sockets and trackers for a config (start or reload)."""
        self.result = result
        for cfg in result.instances:
            if cfg.name in self.instances:
                continue
            self.instances[cfg.name] = self._make_instance(cfg)
        self._rebuild_sync_groups()
        self._rebuild_sockets()
        self._rebuild_scripts()

    def _make_instance(self, cfg: InstanceConfig) -> Instance:
        address = None
        if cfg.unicast_src_ip is None and cfg.mcast_src_ip is None:
            address = _source_address(cfg)
        router = VirtualRouter(cfg, address)
        for track in cfg.tracks:
            if track.kind is TrackKind.INTERFACE:
                router.set_initial_track(track.name, netlink.link_is_up(track.name))
            elif track.kind is TrackKind.FILE:
                router.set_initial_track(track.name, self._read_file_track(track.name))
            elif track.kind is TrackKind.SCRIPT:
                script = self.result.scripts.get(track.name)
                if script is not None and script.init_fail:
                    router.set_initial_track(track.name, False)
                existing = self.scripts.get(track.name)
                if existing is not None and existing.ok is not None:
                    router.set_initial_track(track.name, existing.ok)
        if not netlink.link_is_up(cfg.interface):
            router.link_changed(False, 0.0)
        inst = Instance(cfg, router, dict(cfg.notify))
        self._remove_leftover_vips(cfg)
        return inst

    def _remove_leftover_vips(self, cfg: InstanceConfig) -> None:
        """A crash (SIGKILL) leaves VIPs behind; we are not MASTER yet, so they must go."""
        for vip in cfg.vips + cfg.excluded_vips:
            dev = vip.dev or cfg.interface
            if netlink.has_address(dev, vip.address):
                log.warning("(%s) removing leftover VIP %s from %s (not MASTER)", cfg.name, vip, dev)
                netlink.del_vip(dev, vip)

    def _rebuild_sync_groups(self) -> None:
        for inst in self.instances.values():
            inst.router.sync = None
        self.sync_groups = []
        for group in self.result.sync_groups:
            members = [self.instances[m].router for m in group.members if m in self.instances]
            if members:
                self.sync_groups.append(SyncGroup(group.name, members))

    def _rebuild_sockets(self) -> None:
        wanted: dict[SocketKey, tuple[IPAddress | None, bool]] = {}
        for inst in self.instances.values():
            cfg = inst.cfg
            key = (cfg.interface, cfg.family)
            group, any_multicast = wanted.get(key, (None, False))
            if not cfg.unicast:
                group, any_multicast = cfg.group, True
            wanted[key] = (group, any_multicast)
        for key in list(self.sockets):
            if key not in wanted:
                self._close_socket(key)
        for key, (group, any_multicast) in wanted.items():
            current = self.sockets.get(key)
            if (
                current is not None
                and current.unicast == (not any_multicast)
                and (not any_multicast or current.group == group)
            ):
                continue
            if current is not None:
                self._close_socket(key)
            sock = open_vrrp_socket(key[0], key[1], group=group, unicast=not any_multicast)
            self.sockets[key] = sock
            assert self._loop is not None
            self._loop.add_reader(sock.fileno(), self._on_readable, key)
        self.routes = {}
        for inst in self.instances.values():
            cfg = inst.cfg
            self.routes.setdefault((cfg.interface, cfg.family, cfg.vrid), []).append(inst)

    def _close_socket(self, key: SocketKey) -> None:
        sock = self.sockets.pop(key)
        assert self._loop is not None
        self._loop.remove_reader(sock.fileno())
        sock.close()

    def _rebuild_scripts(self) -> None:
        for task in self.script_tasks:
            task.cancel()
        self.script_tasks = []
        wanted = {t.name for i in self.instances.values() for t in i.cfg.tracks if t.kind is TrackKind.SCRIPT}
        security = self.result.globals.enable_script_security
        old = self.scripts
        self.scripts = {}
        for name in sorted(wanted):
            script = self.result.scripts.get(name)
            if script is None:
                continue
            tracker = ScriptTracker(name, script, security=security, default_user=self._script_user())
            previous = old.get(name)
            if previous is not None and previous.script == script:
                tracker.counter = previous.counter
            self.scripts[name] = tracker
            assert self._loop is not None
            self.script_tasks.append(self._loop.create_task(self._script_loop(tracker)))

    def _start_routers(self, instances: Any) -> None:
        now = self._now()
        for inst in instances:
            inst.router.start(now)
        self._drain_all()

    async def _shutdown(self) -> None:
        """SIGTERM: masters send priority 0, VIPs removed, notify_stop run, firewall removed."""
        now = self._now() if self._loop else 0.0
        for inst in self.instances.values():
            inst.router.shutdown(now)
        self._drain_all()
        if self._timer is not None:
            self._timer.cancel()
        for task in [*self.script_tasks, *self._background]:
            task.cancel()
        await self._finish_notifies()  # also kills every script process group still alive
        if self.firewall is not None:
            with contextlib.suppress(Exception):
                self.firewall.teardown()
        for key in list(self.sockets):
            self._close_socket(key)
        for sender in self.garp.values():
            sender.close()
        for prober in self.probers.values():
            prober.close()
        if self._link_monitor is not None:
            with contextlib.suppress(Exception):
                assert self._loop is not None
                self._loop.remove_reader(self._link_monitor.fileno())
            self._link_monitor.close()
        await self._control.close()

    async def _finish_notifies(self) -> None:
        """Let queued notify scripts (notify_stop above all) finish, then kill what is left."""
        pending = list(self._notify_tasks)
        if pending:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), NOTIFY_TIMEOUT)
        self.runner.terminate_all()

    # --- reload ----------------------------------------------------------------------------------

    async def reload(self) -> None:
        """SIGHUP: validate first; on error keep running the old config. Unchanged instances keep
        their state (no VIP flap); changed ones restart as new (a master sends priority 0 first)."""
        from vrrpkit.config import load_files

        log.info("Reloading configuration (SIGHUP)")
        result = await asyncio.get_running_loop().run_in_executor(None, lambda: load_files(self.files, self.config_id))
        for diag in result.diagnostics:
            if diag.severity != "info":
                (log.error if diag.severity == "error" else log.warning)("%s", diag)
        if not result.ok:
            log.error("Reload failed: configuration has errors, keeping the running configuration")
            return
        if self._stopping:
            log.warning("Reload ignored: shutting down")
            return
        missing = sorted({c.interface for c in result.instances if not netlink.interface_exists(c.interface)})
        if missing:
            log.error(
                "Reload failed: interface(s) %s do not exist, keeping the running configuration", ", ".join(missing)
            )
            return
        now = self._now()
        new = {cfg.name: cfg for cfg in result.instances}
        stopped: list[Instance] = []
        for name, inst in list(self.instances.items()):
            if new.get(name) != inst.cfg:
                why = "removed" if name not in new else "changed"
                log.info("(%s) configuration %s, restarting instance", name, why)
                inst.router.shutdown(now)
                stopped.append(inst)
                del self.instances[name]
        self._apply_effects_of(stopped)
        kept = set(self.instances)
        try:
            self._build(result)
            self.reloads += 1
            self._start_routers([i for n, i in self.instances.items() if n not in kept])
        except OSError as exc:
            # the old instances are already stopped: run what could be built, and say so loudly
            log.error("Reload failed while building instances: %s; running %d instance(s)", exc, len(self.instances))
            self._start_routers([i for i in self.instances.values() if not i.router.running])
            return
        log.info("Reload done: %d instance(s), %d restarted", len(self.instances), len(self.instances) - len(kept))
        systemd.notify(f"STATUS={self._status_line()}")

    # --- I/O events -----------------------------------------------------------------------------

    def _on_readable(self, key: SocketKey) -> None:
        sock = self.sockets.get(key)
        if sock is None:
            return
        datagrams, invalid = sock.drain()
        for bad in invalid:
            log.debug("dropped undecodable IP packet on %s: %s", key[0], bad)
        now = self._now()
        touched: dict[str, Instance] = {}
        try:
            for dgram in datagrams:
                vrid = dgram.payload[1] if len(dgram.payload) > 1 else 0
                targets = self.routes.get((key[0], key[1], vrid))
                if not targets:
                    self.unknown_vrid += 1
                    continue
                for inst in targets:
                    inst.router.datagram_received(dgram.payload, dgram.src, dgram.dst, dgram.ttl, now)
                    touched[inst.cfg.name] = inst
        except Exception:  # a bug must cost one datagram, never the protocol loop
            log.exception("error while handling a datagram on %s", key[0])
        finally:
            self._drain(touched.values())

    def _on_timer(self) -> None:
        self._timer = None
        now = self._now()
        due = [self.instances[n] for n, d in self._deadline_of.items() if d <= now and n in self.instances]
        try:
            for inst in due:
                inst.router.handle_timer(now)
        except Exception:
            log.exception("error while running timers")
        finally:
            self._drain(due, probe=True)

    def _on_link_events(self) -> None:
        assert self._link_monitor is not None
        now = self._now()
        for ifname, up in self._link_monitor.drain():
            for inst in self.instances.values():
                if inst.cfg.interface == ifname:
                    if not up:
                        log.info("(%s) interface %s down", inst.cfg.name, ifname)
                    else:
                        self._refresh_address(inst, now)
                    inst.router.link_changed(up, now)
                if any(t.kind is TrackKind.INTERFACE and t.name == ifname for t in inst.cfg.tracks):
                    inst.router.tracker_changed(ifname, up, now)
        self._drain_all()

    def _refresh_address(self, inst: Instance, now: float) -> None:
        """An instance without a source address (no address on the interface yet) looks again."""
        if inst.router.address is None:
            address = _source_address(inst.cfg)
            if address is not None:
                log.info("(%s) source address %s now on %s", inst.cfg.name, address, inst.cfg.interface)
                inst.router.address_changed(address, now)

    async def _script_loop(self, tracker: ScriptTracker) -> None:
        interval = max(tracker.script.interval_cs, 1) / 100
        while True:
            changed = await tracker.run_once()
            if changed:
                now = self._now()
                state = "succeeded" if tracker.ok else "failed"
                log.info("Script `%s` now returning %s (%s)", tracker.name, tracker.last_rc, state)
                for inst in self.instances.values():
                    inst.router.tracker_changed(tracker.name, tracker.ok, now)
                self._drain_all()
            await asyncio.sleep(interval)

    def _read_file_track(self, name: str) -> int:
        tf = self.result.track_files.get(name)
        if tf is None:
            return 0
        value = read_track_file(tf.path, tf.init_file)
        self.files_state[name] = value
        return value

    async def _track_files_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = self._now()
            changed = False
            for name in list(self.result.track_files):
                old = self.files_state.get(name)
                value = self._read_file_track(name)
                if value != old:
                    changed = True
                    for inst in self.instances.values():
                        inst.router.tracker_changed(name, value, now)
            for inst in self.instances.values():
                if inst.router.address is None and inst.router.running:
                    self._refresh_address(inst, now)
                    changed = changed or inst.router.address is not None
            if changed:
                self._drain_all()

    # --- effects ----------------------------------------------------------------------------------

    def _drain_all(self) -> None:
        """After rare events (start, reload, link, scripts): every instance, deadlines rebuilt."""
        self._deadline_of.clear()
        self._drain(self.instances.values(), probe=True)

    def _drain(self, instances: Iterable[Instance], probe: bool = False) -> None:
        """Apply the effects of the instances that had input, and re-arm the one timer. Only those
        instances are visited: a wake-up costs what it touched, not the number of instances."""
        touched = list(instances)
        self._apply_effects_of(touched)
        for inst in touched:
            deadline = inst.router.get_timer()
            if deadline is None:
                self._deadline_of.pop(inst.cfg.name, None)
            else:
                self._deadline_of[inst.cfg.name] = deadline
        if probe:
            self._probe_split_brain(touched)
        self._rearm()

    def _apply_effects_of(self, instances: list[Instance]) -> None:
        for inst in instances:
            for effect in inst.router.effects():
                try:
                    self._apply(inst, effect)
                except Exception:  # an OS hiccup on one effect must not stop the protocol loop
                    log.exception("(%s) failed to apply %s", inst.cfg.name, type(effect).__name__)

    def _apply(self, inst: Instance, effect: fx.Effect) -> None:
        name = inst.cfg.name
        if isinstance(effect, fx.SendAdvert):
            sock = self.sockets.get((effect.interface, effect.src.version))
            if sock is None:
                return
            error = sock.send(effect.data, effect.dst, effect.src)  # type: ignore[arg-type]
            if error is not None:
                log.warning("(%s) send advert error %s (%s) dst=%s", name, error.errno, error.strerror, effect.dst)
            elif effect.priority == 0:
                log.info("(%s) sent 0 priority", name)
        elif isinstance(effect, fx.AddVips):
            for vip in effect.vips:
                netlink.add_vip(vip.dev or effect.interface, vip)
            if not inst.cfg.accept_mode:
                self._firewall().add(effect.interface, [v.address for v in effect.vips])
            log.info("(%s) Setting VIPs: %s", name, " ".join(map(str, effect.vips)))
        elif isinstance(effect, fx.DelVips):
            for vip in effect.vips:
                netlink.del_vip(vip.dev or effect.interface, vip)
            if self.firewall is not None and not inst.cfg.accept_mode:
                self.firewall.remove(effect.interface, [v.address for v in effect.vips])
            log.info("(%s) Removing VIPs: %s", name, " ".join(map(str, effect.vips)))
        elif isinstance(effect, fx.SendGarp):
            sender = self.garp.get(effect.interface)
            if sender is None:
                sender = self.garp[effect.interface] = GarpSender(effect.interface)
            v6 = bool(effect.vips) and effect.vips[0].address.version == 6
            g = self.result.globals
            spacing = (g.gna_interval_cs if v6 else g.garp_interval_cs) / 100
            if spacing <= 0:
                sender.announce(effect.vips, effect.count)
            else:  # vrrp_garp_interval / vrrp_gna_interval: pace the frames (switch rate limits)
                frames = [sender.frame_for(v.address) for _ in range(effect.count) for v in effect.vips]
                assert self._loop is not None
                for i, frame in enumerate(frames):
                    self._loop.call_later(i * spacing, sender.send_frame, frame)
            kind = "unsolicited NA" if effect.vips and effect.vips[0].address.version == 6 else "gratuitous ARP"
            log.info(
                "(%s) Sending/queueing %s on %s for %s (x%d)",
                name,
                kind,
                effect.interface,
                " ".join(str(v.address) for v in effect.vips),
                effect.count,
            )
        elif isinstance(effect, fx.StateChanged):
            inst.transitions.append({"at": time.time(), "old": effect.old, "new": effect.new, "reason": effect.reason})
            if effect.new in ("MASTER", "BACKUP", "FAULT"):
                log.info("(%s) Entering %s STATE reason=%r", name, effect.new, effect.reason)
            if effect.reason == "advertisement timeout":
                log.info("(%s) Receive advertisement timeout", name)
            if self._ready:
                systemd.notify(f"STATUS={self._status_line()}")
            if inst.router.sync is not None:
                self._group_changed(inst.router.sync)
        elif isinstance(effect, fx.Notify):
            self._queue_notify(inst, effect)
        elif isinstance(effect, fx.PacketDropped):
            if effect.reason.value not in ("not-running", "own-advert", "owner-ignores-adverts"):
                log.warning("(%s) dropped advert from %s: %s %s", name, effect.src, effect.reason.value, effect.detail)
        elif isinstance(effect, fx.Mismatch):
            count = inst.mismatches.get(effect.kind, 0)
            inst.mismatches[effect.kind] = count + 1
            if count % 100 == 0:
                if effect.kind == "address-list":
                    log.warning(
                        "(%s) ip address associated with VRID %d not present in MASTER advert from %s: %s",
                        name,
                        inst.cfg.vrid,
                        effect.src,
                        effect.detail,
                    )
                else:
                    log.warning("(%s) advertisement interval mismatch with %s: %s", name, effect.src, effect.detail)
        elif isinstance(effect, fx.PriorityChanged):
            log.info("(%s) Changing effective priority from %d to %d", name, effect.old, effect.new)

    def _remove_stale_firewall(self) -> None:
        """A crashed run may have left its no_accept table (dropping VIP traffic): start clean."""
        with contextlib.suppress(Exception):
            NoAcceptFirewall().teardown()

    def _script_user(self) -> tuple[str, str | None] | None:
        g = self.result.globals
        return (g.script_user, g.script_group) if g.script_user else None

    def _firewall(self) -> NoAcceptFirewall:
        if self.firewall is None:
            self.firewall = NoAcceptFirewall()
            self.firewall.setup()
        return self.firewall

    def _rearm(self) -> None:
        if self._loop is None:
            return
        when = min(self._deadline_of.values(), default=None)
        if self._timer is not None:
            if when is not None and self._timer.when() == when:
                return
            self._timer.cancel()
            self._timer = None
        if when is not None:
            self._timer = self._loop.call_at(when, self._on_timer)

    # --- notify -------------------------------------------------------------------------------------

    def _queue_notify(self, inst: Instance, effect: fx.Notify) -> None:
        """Run notify_<state> then `notify` (keepalived's order and arguments), chained per
        instance so that BACKUP can never overtake MASTER, each with a timeout."""
        cfg = inst.cfg
        specific = effect.state.lower()  # the parser keys notify_<state> by <state>
        commands: list[tuple[str, list[str]]] = []
        if specific and specific in inst.notify:
            commands.append((inst.notify[specific], []))
        if "notify" in inst.notify and effect.state != "MASTER_RX_LOWER_PRI":
            commands.append((inst.notify["notify"], ["INSTANCE", cfg.name, effect.state, str(effect.priority)]))
        self._run_notifies(cfg.name, commands)

    def _run_notifies(self, key: str, commands: list[tuple[str, list[str]]]) -> None:
        globals_ = self.result.globals
        for command, args in commands:
            try:
                script = prepare(command, as_user(self._script_user()))
            except (KeyError, ValueError) as exc:
                log.warning("(%s) cannot run notify %r: %s", key, command, exc)
                continue
            problems = script_security_problems(script) if globals_.enable_script_security else []
            if problems:
                log.warning("(%s) SECURITY VIOLATION - refusing notify %r: %s", key, command, "; ".join(problems))
                continue
            task = self.runner.notify(key, script, args)
            self._notify_tasks.add(task)
            task.add_done_callback(lambda t, c=command, n=key: self._notify_done(t, n, c))

    def _group_changed(self, group: SyncGroup) -> None:
        """vrrp_sync_group notify_*: run once per group transition, with `GROUP name STATE 0`."""
        state = group.state.value
        if self._group_states.get(group.name) == state or state == "INIT":
            return
        self._group_states[group.name] = state
        log.info("VRRP_Group(%s) Syncing instances to %s state", group.name, state)
        spec = next((g for g in self.result.sync_groups if g.name == group.name), None)
        if spec is None:
            return
        notify = dict(spec.notify)
        commands = []
        if state.lower() in notify:
            commands.append((notify[state.lower()], []))
        if "notify" in notify:
            commands.append((notify["notify"], ["GROUP", group.name, state, "0"]))
        self._run_notifies(f"group:{group.name}", commands)

    def _notify_done(self, task: asyncio.Task[Any], instance: str, command: str) -> None:
        self._notify_tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.warning("(%s) notify %r failed: %s", instance, command, exc)
            return
        result = task.result()
        if not result.ok:
            log.warning(
                "(%s) notify %r exited rc=%s timed_out=%s", instance, command, result.returncode, result.timed_out
            )

    # --- split-brain detection --------------------------------------------------------------------

    def _probe_split_brain(self, instances: Iterable[Instance]) -> None:
        """Silence proves nothing (a healthy master hears no adverts either), so while MASTER we ask
        the LAN who else answers ARP/NS for our VIPs: any other MAC means another master."""
        if self._loop is None:
            return
        now = self._now()
        for inst in instances:
            if inst.router.state is not State.MASTER or not inst.cfg.vips or now < inst.next_probe:
                continue
            settle = max(1.0, PROBE_EVERY_ADVERTS * inst.cfg.advert_int_cs / 100)
            if now - inst.router.state_since < settle:
                # a handover leaves the old master holding the VIP until our first advert reaches
                # it: give the protocol time to settle before calling it a split brain
                inst.next_probe = inst.router.state_since + settle
                continue
            inst.next_probe = now + max(1.0, PROBE_EVERY_ADVERTS * inst.cfg.advert_int_cs / 100)
            self._spawn(self._probe_instance(inst))

    async def _probe_instance(self, inst: Instance) -> None:
        cfg = inst.cfg
        key = (cfg.interface, cfg.family)
        try:
            prober = self.probers.get(key)
            if prober is None:
                prober = self.probers[key] = NeighborProber(cfg.interface, cfg.family)
            vip = cfg.vips[0].address
            prober.probe(vip)
            await asyncio.sleep(0.3)
            others = prober.finish(vip)
        except OSError as exc:
            log.debug("(%s) VIP probe failed: %s", cfg.name, exc)
            return
        if inst.router.state is not State.MASTER:
            return
        suspects, inst.suspects = inst.suspects, others
        others = others & suspects  # seen by two probes in a row: not a handover in flight
        if others and others != inst.split_brain:
            inst.split_brain_events += 1
            log.error(
                "(%s) SPLIT BRAIN: %s is also answering for VIP %s (our adverts are not reaching it, or theirs "
                "not reaching us; run `vrrpkit investigate`)",
                cfg.name,
                ", ".join(sorted(others)),
                vip,
            )
        elif not others and inst.split_brain:
            log.info("(%s) split brain over: only this host answers for %s", cfg.name, vip)
        inst.split_brain = others

    # --- status ------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        now = self._now() if self._loop else 0.0
        out = []
        for inst in self.instances.values():
            r, cfg = inst.router, inst.cfg
            out.append(
                {
                    "name": cfg.name,
                    "vrid": cfg.vrid,
                    "interface": cfg.interface,
                    "version": cfg.version,
                    "state": r.state.value,
                    "base_priority": cfg.priority,
                    "effective_priority": r.priority,
                    "address": str(r.address) if r.address else None,
                    "master": str(r.master_address) if r.master_address else None,
                    "master_priority": r.master_priority,
                    "vips": [str(v) for v in cfg.vips],
                    "advert_int": cfg.advert_int_cs / 100,
                    "master_advert_int": r.master_adver_int_cs / 100,
                    "mode": "unicast" if cfg.unicast else "multicast",
                    "peers": [str(p.address) for p in cfg.unicast_peers],
                    "time_in_state": round(now - r.state_since, 3),
                    "fault_reason": r.fault_reason,
                    "counters": r.stats.as_dict(),
                    "mismatches": dict(inst.mismatches),
                    "split_brain": sorted(inst.split_brain),
                    "split_brain_events": inst.split_brain_events,
                    "transitions": list(inst.transitions),
                    "sync_group": cfg.sync_group,
                }
            )
        return {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "uptime": round(time.time() - self.started, 3),
            "reloads": self.reloads,
            "unknown_vrid_packets": self.unknown_vrid,
            "scripts": {n: {"ok": t.ok, "last_rc": t.last_rc} for n, t in self.scripts.items()},
            "instances": out,
        }

    def _status_line(self) -> str:
        states: dict[str, int] = {}
        for inst in self.instances.values():
            states[inst.router.state.value] = states.get(inst.router.state.value, 0) + 1
        return ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no instances"

    def _control_request(self, message: dict[str, Any]) -> dict[str, Any]:
        command = message.get("cmd")
        if command == "status":
            return self.snapshot()
        if command == "reload":
            self._spawn(self.reload())
            return {"ok": True}
        if command == "ping":
            return {"ok": True, "pid": os.getpid()}
        return {"error": f"unknown command {command!r}"}

    def _dump(self) -> None:
        """SIGUSR1: the state of every instance, in the log (keepalived writes a data file)."""
        for item in self.snapshot()["instances"]:
            log.info(
                "(%s) state=%s vrid=%d prio=%d/%d master=%s vips=%s rcvd=%d sent=%d",
                item["name"],
                item["state"],
                item["vrid"],
                item["effective_priority"],
                item["base_priority"],
                item["master"],
                ",".join(item["vips"]),
                item["counters"]["advert_rcvd"],
                item["counters"]["advert_sent"],
            )


def _source_address(cfg: InstanceConfig) -> IPAddress | None:
    """The interface's primary address (IPv6: link-local), never one of our own VIPs."""
    vips = [v.address for v in cfg.vips + cfg.excluded_vips]
    return netlink.primary_address(cfg.interface, cfg.family, exclude=vips)
