"""The daemon: one asyncio loop wiring the sans-I/O core to the OS adapters.

read socket -> route by (interface, family, vrid) -> router.datagram_received -> settle sync groups
-> apply effects -> re-arm ONE timer at the earliest router deadline. Protocol decisions are made in
core; the parts here each do one job and are tested without root against recording fakes:
`applier` (effects to system calls and logs), `notify` (scripts, in order), `splitbrain` (ARP/NS
probing while MASTER), `tracking` (scripts and files), `reload` (what a SIGHUP changes; carried out
by `reloading.Reloading`, which this class inherits), `instance` and `control.snapshot` (the typed
state everyone reads). This class owns the loop, the sockets and the lifecycle, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from vrrpkit import __version__
from vrrpkit.config.model import ParseResult
from vrrpkit.control.server import ControlServer
from vrrpkit.control.snapshot import Snapshot
from vrrpkit.core import effects as fx
from vrrpkit.core.config import TrackKind
from vrrpkit.core.state import State
from vrrpkit.core.sync import SyncGroup
from vrrpkit.daemon import report, systemd
from vrrpkit.daemon.applier import EffectApplier, SocketKey
from vrrpkit.daemon.building import RETRY, Building
from vrrpkit.daemon.http import HttpServer
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.links import LinkManager
from vrrpkit.daemon.linkwatch import POLL_INTERVAL, Change, LinkWatch, watched
from vrrpkit.daemon.logsetup import DETAIL
from vrrpkit.daemon.notify import Notifier, Runner
from vrrpkit.daemon.ports import LinkEvents, Ports, RouteEvents, os_ports
from vrrpkit.daemon.proctrack import ProcessTrackers
from vrrpkit.daemon.reloading import Reloading
from vrrpkit.daemon.scriptset import ScriptSet, resolve_scripts
from vrrpkit.daemon.sockets import SocketSet
from vrrpkit.daemon.splitbrain import SplitBrainProber
from vrrpkit.daemon.status import dump, status_line
from vrrpkit.daemon.tracking import Trackers, TrackValue
from vrrpkit.io.script_runner import ScriptRunner

log = logging.getLogger("vrrpkit")
detail = logging.getLogger(DETAIL)  # keepalived's -D lines

NOTIFY_TIMEOUT = 30.0
HOUSEKEEPING = 0.5  # seconds between looks for a late source address


class Daemon(Reloading, Building):
    def __init__(
        self,
        result: ParseResult,
        *,
        files: list[str],
        config_id: str | None,
        control_path: str,
        metrics: tuple[str, int] | None = None,
        ports: Ports | None = None,
        runner: Runner | None = None,
        load: Callable[[list[str], str | None], ParseResult] | None = None,
        keep_vips: bool = False,
        dump_config: bool = False,
    ) -> None:
        self.result = result
        self.files = files
        self.config_id = config_id
        self.control_path = control_path
        self.metrics_addr = metrics
        self.keep_vips = keep_vips  # keepalived -V: VIPs stay when the daemon stops
        self.dump_config = dump_config  # keepalived -d: the configuration in the log at start
        self.ports = ports or os_ports()
        self._load = load
        self.instances: dict[str, Instance] = {}
        self.groups: dict[str, SyncGroup] = {}  # by group name
        self.group_of: dict[str, SyncGroup] = {}  # by member instance name
        self.socketset = SocketSet(
            self.ports, lambda fd, key: self.loop.add_reader(fd, self._on_readable, key), self._remove_reader
        )
        self.sockets = self.socketset.sockets
        self.started = time.time()
        self.reloads = 0
        self.stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()
        self._links: LinkEvents | None = None
        self._route_events: RouteEvents | None = None
        self._control = ControlServer(control_path, self._control_request)
        self._background: set[asyncio.Task[Any]] = set()
        self._ready = False  # systemd hears READY=1 first, then STATUS updates
        self._deadline_of: dict[str, float] = {}  # instance -> its router's next deadline
        self._retry_at = 0.0
        self.scripts = ScriptSet()
        self.http: HttpServer | None = None
        self.notifier = Notifier(runner or ScriptRunner(notify_timeout=NOTIFY_TIMEOUT))
        self.applier = EffectApplier(
            self.ports,
            self.sockets,
            self.notifier,
            call_later=lambda delay, fn, arg: self.loop.call_later(delay, fn, arg),
            wall_clock=time.time,
            on_state_change=self._state_changed,
        )
        self.prober = SplitBrainProber(self.ports, self._spawn)
        self.trackers = Trackers(self._tracker_changed)
        self.linkmgr = LinkManager(self.ports, self.applier.firewall_handle)
        self.linkwatch = LinkWatch(self.ports)
        self.processes = ProcessTrackers(self._tracker_changed)

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "the daemon has not started"
        return self._loop

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (or `request_stop()`), then release everything."""
        import signal

        loop = asyncio.get_running_loop()
        for sig, handler in (
            (signal.SIGTERM, self.request_stop),
            (signal.SIGINT, self.request_stop),
            (signal.SIGHUP, lambda: self._spawn(self._notified_reload())),
            (signal.SIGUSR1, lambda: dump(self.snapshot())),
            (signal.SIGUSR2, lambda: report.dump_stats(self.snapshot())),
        ):
            loop.add_signal_handler(sig, handler)
        log.info("Starting vrrpkit v%s", __version__)
        delay = self.result.globals.vrrp_startup_delay_cs / 100
        if delay > 0:
            log.info("Delaying startup for %g seconds (vrrp_startup_delay)", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
        try:
            await self.start()
            await self._stop.wait()
        finally:
            await self.shutdown()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        detail.info("Stopped - used %.6f user time, %.6f system time", usage.ru_utime, usage.ru_stime)
        log.info("Stopped vrrpkit v%s", __version__)
        return 0

    def request_stop(self) -> None:
        if not self._stop.is_set():
            log.info("Stopping")
        self._stop.set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._links = self.ports.link_events()
        self.loop.add_reader(self._links.fileno(), self._on_link_events)
        self._route_events = self.ports.route_events()
        self.loop.add_reader(self._route_events.fileno(), self._on_route_events)
        with contextlib.suppress(Exception):  # a crashed run may have left its no_accept table
            self.applier.clear_leftover_firewall(self.result.globals)
        self.trackers.init_files(self.result)
        self.result = self._take_scripts(self.result, resolve_scripts(self.result))
        self._build(self.result, [cfg.name for cfg in self.result.instances])
        self.applier.routes.start_static()
        await self._control.start()
        if self.metrics_addr is not None:
            from vrrpkit.daemon.metrics import metrics_route
            from vrrpkit.daemon.pages import status_routes

            # /metrics for Prometheus, / and /status.json for people: the same snapshot, read-only
            self.http = HttpServer({"/metrics": metrics_route(self.snapshot), **status_routes(self.snapshot)})
            await self.http.start(*self.metrics_addr)
        self._start_routers(self.instances.values())
        self._spawn(self._housekeeping())
        systemd.notify("READY=1", f"STATUS={status_line(self.instances.values())}")
        self._ready = True
        interval = systemd.watchdog_interval()
        if interval is not None:
            self._spawn(self._watchdog(interval))
        log.info("Startup complete: %d instance(s), control socket %s", len(self.instances), self.control_path)
        for diag in self.result.diagnostics:  # once: the load balancer in this file is not ours to run
            if diag.rule == "lvs-checker-only":
                log.info("%s:%d: %s", diag.file, diag.line, diag.message)
        if self.dump_config:
            report.dump_config(self.result)

    async def shutdown(self) -> None:
        """SIGTERM: masters send priority 0, VIPs removed, notify_stop run, firewall removed."""
        self.stopping = True
        self.applier.release_vips = not self.keep_vips
        systemd.notify("STOPPING=1")
        now = self._now() if self._loop else 0.0
        for inst in self.instances.values():
            inst.router.shutdown(now)
        self._drain(self.instances.values())
        if self._timer is not None:
            self._timer.cancel()
        self.trackers.cancel()
        for task in list(self._background):
            task.cancel()
        await self.notifier.finish(NOTIFY_TIMEOUT)  # also kills every script process group still alive
        self.socketset.close_all()
        self.linkmgr.close()  # VMACs gone, sysctls back as they were
        with contextlib.suppress(Exception):
            self.applier.teardown_firewall()
        self.applier.routes.stop_static()
        self.processes.stop()
        await self.applier.fifos.close()  # after the STOP lines
        await self.applier.mailer.finish()  # the Stopping mails get a bounded chance
        self.applier.close()
        self.prober.close()
        for events in (self._links, self._route_events):
            if events is not None:
                with contextlib.suppress(Exception):
                    self.loop.remove_reader(events.fileno())
                events.close()
        await self._control.close()
        if self.http is not None:
            await self.http.close()

    def _now(self) -> float:
        return self.loop.time()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self.loop.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _remove_reader(self, fd: int) -> None:
        self.loop.remove_reader(fd)

    def _start_routers(self, instances: Iterable[Instance]) -> None:
        now = self._now()
        for inst in instances:
            inst.router.start(now)
        self._drain_all()

    # --- systemd ---------------------------------------------------------------------------------

    async def _notified_reload(self) -> None:
        """A reload systemd can see: RELOADING=1 first, READY=1 when done (taken or refused)."""
        systemd.reloading()
        try:
            await self.reload()
        finally:
            systemd.notify("READY=1", f"STATUS={status_line(self.instances.values())}")

    async def _watchdog(self, interval: float) -> None:
        """WATCHDOG=1 from the loop itself: if the loop stops turning, the pings stop, and systemd
        (WatchdogSec=) kills and restarts the daemon."""
        while True:
            systemd.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    # --- I/O events ----------------------------------------------------------------------------

    def _on_readable(self, key: SocketKey) -> None:
        sock = self.socketset.sockets.get(key)
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
                targets = self.socketset.targets(key, vrid, dgram.src, now, self.result.globals.log_unknown_vrids)
                if not targets:
                    continue
                for inst in targets:
                    inst.router.datagram_received(dgram.payload, dgram.src, dgram.dst, dgram.ttl, now)
                    touched[inst.name] = inst
                    self._settle_group_of(inst, now)
        except Exception:  # a bug must cost one datagram, never the protocol loop
            log.exception("error while handling a datagram on %s", key[0])
        finally:
            self._drain(touched.values(), probe=False)

    def _on_timer(self) -> None:
        self._timer = None
        now = self._now()
        if (when := self.linkwatch.get_timer()) is not None and when <= now:
            self._links_changed(self.linkwatch.handle_timer(now), now)
        due = [self.instances[n] for n, d in self._deadline_of.items() if d <= now and n in self.instances]
        try:
            for inst in due:
                inst.router.handle_timer(now)
                self._settle_group_of(inst, now)  # followers move before the next member's timer
        except Exception:
            log.exception("error while running timers")
        finally:
            self._drain(due)

    def _on_link_events(self) -> None:
        assert self._links is not None
        now = self._now()
        self._links_changed(self.linkwatch.netlink_events(self._links.drain(), now), now)

    def _links_changed(self, changes: list[Change], now: float) -> None:
        """Link changes as instances see them (after linkbeat polling and up/down debouncing)."""
        if not changes:
            return
        for ifname, up in changes:
            if up:  # keepalived's interface_up: the static addresses and routes on it go back
                self.applier.routes.interface_up(ifname)
            for inst in self.instances.values():
                if ifname in watched(inst.cfg):
                    if up and ifname == inst.cfg.interface:
                        self._refresh_address(inst, now)
                    link_up = self.linkwatch.instance_up(inst.cfg)
                    if not link_up and inst.router.own_fault() is None:
                        log.info("(%s) interface %s down", inst.name, ifname)
                    if not up and ifname != inst.cfg.interface:
                        self._retry_at = 0.0  # a VMAC deleted under us: make it again at once, as keepalived
                    inst.router.link_changed(link_up, now)
                if any(t.kind is TrackKind.INTERFACE and t.name == ifname for t in inst.cfg.tracks):
                    inst.router.tracker_changed(ifname, up, now)
        self._drain_all()

    def _on_route_events(self) -> None:
        """Someone deleted routes, rules or addresses: MASTERs that lost a tracked one resign."""
        assert self._route_events is not None
        resign = self.applier.routes.deleted(self._route_events.drain())
        now = self._now()
        for name, why in resign:
            inst = self.instances.get(name)
            if inst is not None:
                inst.router.resign(now, why)
        if resign:
            self._drain([self.instances[n] for n, _ in resign if n in self.instances])

    def _tracker_changed(self, name: str, value: TrackValue) -> None:
        now = self._now()
        for inst in self.instances.values():
            inst.router.tracker_changed(name, value, now)
        self._drain_all()

    def _refresh_address(self, inst: Instance, now: float) -> bool:
        """An instance without a source address (no address on the interface yet) looks again."""
        if inst.router.address is None:
            address = self._source_address(inst.cfg)
            if address is not None:
                log.info("(%s) source address %s now on %s", inst.name, address, inst.cfg.interface)
                inst.router.address_changed(address, now)
                return True
        return False

    async def _housekeeping(self) -> None:
        """Slow looks at the host: late source addresses, track_src_ip, linkbeat polls, and retries of
        VMACs and sockets that could not be made (a failure must never stop the daemon)."""
        next_poll = 0.0
        while True:
            await asyncio.sleep(HOUSEKEEPING)
            now = self._now()
            changed = False
            try:
                waiting = [i for i in self.instances.values() if i.router.running and i.router.address is None]
                changed = any([self._refresh_address(inst, now) for inst in waiting])
                for inst in self.instances.values():
                    if inst.cfg.track_src_ip and inst.router.running:
                        inst.router.source_changed(self.linkmgr.source_present(inst.cfg), now)
                        changed = True
                if now >= next_poll:
                    next_poll = now + POLL_INTERVAL
                    self._links_changed(self.linkwatch.poll(now), now)
                if now >= self._retry_at:
                    self._retry_at = now + RETRY
                    changed = self._retry(now) or changed
            except Exception:  # housekeeping is best effort; the protocol loop must go on
                log.exception("error during housekeeping")
            if changed:
                self._drain_all()

    def _retry(self, now: float) -> bool:
        """Make VMACs that are missing (never made, or deleted under us) and reopen missing sockets."""
        redo = [i for i in self.instances.values() if i.cfg.vmac_links and (
            i.vmac_error is not None or not all(self.ports.netlink.interface_exists(n.name) for n in i.cfg.vmac_links))]
        for inst in redo:
            if inst.vmac_error is None:
                log.warning("(%s) VMAC interface missing, making it again", inst.name)
                self.linkmgr.release(inst.cfg)
            if self._make_vmacs(inst):
                inst.router.link_changed(self.linkwatch.instance_up(inst.cfg), now)
        if redo or self.socketset.missing:
            self.socketset.rebuild(self.instances.values())
        return bool(redo)

    # --- effects -------------------------------------------------------------------------------

    def _settle_group_of(self, inst: Instance, now: float) -> None:
        group = self.group_of.get(inst.name)
        if group is not None:
            group.settle(now)

    def _drain_all(self) -> None:
        """After rare events (start, reload, link, scripts): every instance, deadlines rebuilt."""
        self._deadline_of.clear()
        self._drain(self.instances.values())

    def _drain(
        self,
        instances: Iterable[Instance],
        probe: bool = True,
        extra_groups: Iterable[SyncGroup] = (),
        removals_first: bool = False,
    ) -> None:
        """Settle the sync groups of the instances that had input, apply their effects (and their
        group followers'), and re-arm the one timer. Only those instances are visited: a wake-up
        costs what it touched, not the number of instances. After a reload every instance's VIP
        removals go first (`removals_first`), so a VIP that moved between instances is not
        removed after its new holder added it."""
        now = self._now()
        touched = {inst.name: inst for inst in instances}
        groups = {id(g): g for g in extra_groups}
        groups.update({id(g): g for n in touched if (g := self.group_of.get(n)) is not None})
        for group in groups.values():
            group.settle(now)
            for router in group.members:
                inst = self.instances.get(router.name)
                if inst is not None and inst.router is router:
                    touched.setdefault(inst.name, inst)
        group_effects = [e for group in groups.values() for e in group.effects()]
        for effect in group_effects:  # keepalived announces a group's first state before its members'
            if isinstance(effect, fx.SyncGroupChanged) and effect.old is State.INIT:
                self._apply_group(effect)
        if removals_first:
            pending = [(inst, effect) for inst in touched.values() for effect in inst.router.effects()]
            for inst, effect in sorted(pending, key=lambda pair: not isinstance(pair[1], fx.DelVips)):
                self._apply(inst, effect)
        for inst in touched.values():
            for effect in inst.router.effects():
                self._apply(inst, effect)
        for effect in group_effects:
            if not (isinstance(effect, fx.SyncGroupChanged) and effect.old is State.INIT):
                self._apply_group(effect)
        for inst in touched.values():
            deadline = inst.router.get_timer() if inst.name in self.instances else None
            if deadline is None:
                self._deadline_of.pop(inst.name, None)
            else:
                self._deadline_of[inst.name] = deadline
        if probe:
            self.prober.check(touched.values(), now)
        else:
            self.prober.forget_left(touched.values())
        self._rearm()

    def _apply(self, inst: Instance, effect: fx.Effect) -> None:
        try:
            self.applier.apply(inst, effect)
        except Exception:  # an OS hiccup on one effect must not stop the protocol loop
            log.exception("(%s) failed to apply %s", inst.name, type(effect).__name__)

    def _apply_group(self, effect: fx.Effect) -> None:
        try:
            if isinstance(effect, fx.SyncGroupChanged):
                self.applier.group_changed(effect)
        except Exception:
            log.exception("failed to apply %s", type(effect).__name__)

    def _rearm(self) -> None:
        if self._loop is None:
            return
        when = min([*self._deadline_of.values(), *filter(None, [self.linkwatch.get_timer()])], default=None)
        if self._timer is not None:
            if when is not None and self._timer.when() == when:
                return
            self._timer.cancel()
            self._timer = None
        if when is not None:
            self._timer = self._loop.call_at(when, self._on_timer)

    def _state_changed(self) -> None:
        if self._ready:
            systemd.notify(f"STATUS={status_line(self.instances.values())}")

    # --- status --------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        now = self._now() if self._loop else 0.0
        wall = time.time()
        return Snapshot(
            pid=os.getpid(),
            hostname=socket.gethostname(),
            uptime=round(wall - self.started, 3),
            reloads=self.reloads,
            unknown_vrid_packets=self.socketset.unknown_vrid,
            scripts=self.trackers.statuses(),
            instances=[inst.status(now, wall) for inst in self.instances.values()],
            counters=self.applier.counters() | {
                "process_scans": self.processes.scans,
                "vmac_errors": sum(i.vmac_errors for i in self.instances.values()),
                "socket_errors": self.socketset.errors,
            },
            router_id=self.result.globals.router_id,
        )

    def _control_request(self, message: dict[str, Any]) -> dict[str, Any]:
        command = message.get("cmd")
        if command == "status":
            return self.snapshot().to_json()
        if command == "reload":
            self._spawn(self._notified_reload())
            return {"ok": True}
        if command == "ping":
            return {"ok": True, "pid": os.getpid()}
        return {"error": f"unknown command {command!r}"}
