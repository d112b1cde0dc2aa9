"""The daemon: one asyncio loop wiring the sans-I/O core to the OS adapters.

read socket -> route by (interface, family, vrid) -> router.datagram_received -> settle sync groups
-> apply effects -> re-arm ONE timer at the earliest router deadline. Protocol decisions are made in
core; the parts here each do one job and are tested without root against recording fakes:
`intake` (the sockets, their kernel filters, bounded reads), `cycle` (the wake-up handlers, this
class's hot path), `applier` (effects to system calls and logs), `notify` (scripts, in order),
`splitbrain` (ARP/NS probing while MASTER), `tracking` (scripts and files), `reload` (what a SIGHUP
changes; carried out by `reloading.Reloading`, which this class inherits), `instance` and
`control.snapshot` (the typed state everyone reads). This class owns the loop, the timer and the
lifecycle, and nothing else.

The loop's order of work is the protocol's order of urgency (daemon/cycle.py): a due timer (an
advert to send) before reading more datagrams, one bounded batch per readable socket and wake-up,
but every datagram already queued before a BACKUP's Master_Down fires (the master's advert may be in
the queue behind a flood), and on SIGTERM the priority-0 adverts before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from vrrpkit.config.model import ParseResult
from vrrpkit.control.server import ControlServer
from vrrpkit.control.snapshot import Snapshot
from vrrpkit.core.config import InstanceConfig, IPAddress, Track, TrackKind
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State
from vrrpkit.core.sync import SyncGroup
from vrrpkit.daemon import systemd
from vrrpkit.daemon.applier import EffectApplier, SocketKey
from vrrpkit.daemon.cycle import Cycle
from vrrpkit.daemon.http import HttpServer
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.intake import Intake
from vrrpkit.daemon.notify import Notifier, Runner
from vrrpkit.daemon.ports import LinkEvents, Ports, RouteEvents, Timer, VrrpSocket, os_ports
from vrrpkit.daemon.proctrack import ProcessTrackers
from vrrpkit.daemon.reloading import Reloading
from vrrpkit.daemon.scriptset import ScriptSet, resolve_scripts
from vrrpkit.daemon.splitbrain import SplitBrainProber
from vrrpkit.daemon.tracking import Trackers, TrackValue
from vrrpkit.io import memory
from vrrpkit.io.script_runner import ScriptRunner

log = logging.getLogger("vrrpkit")

NOTIFY_TIMEOUT = 30.0
HOUSEKEEPING = 0.5  # seconds between looks for a late source address
PROBE_CHECK = 0.25  # seconds between looks for MASTERs due a split-brain probe (each probes every >= 1 s)


class Daemon(Reloading, Cycle):
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
    ) -> None:
        self.result = result
        self.files = files
        self.config_id = config_id
        self.control_path = control_path
        self.metrics_addr = metrics
        self.ports = ports or os_ports()
        self._load = load
        self.instances: dict[str, Instance] = {}
        self.groups: dict[str, SyncGroup] = {}  # by group name
        self.group_of: dict[str, SyncGroup] = {}  # by member instance name
        self.intake = Intake(self.ports, self._watch_socket, self._unwatch_socket)
        self.sockets: dict[SocketKey, VrrpSocket] = self.intake.sockets
        self.started = time.time()
        self.reloads = 0
        self.stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick: Timer | None = None  # the one protocol timer (a timerfd: sub-millisecond)
        self._next_deadline: float | None = None
        self._stop = asyncio.Event()
        self._links: LinkEvents | None = None
        self._route_events: RouteEvents | None = None
        self._control = ControlServer(control_path, self._control_request)
        self._background: set[asyncio.Task[Any]] = set()
        self._ready = False  # systemd hears READY=1 first, then STATUS updates
        self._status_pending = False
        self._deadline_of: dict[str, float] = {}  # instance -> its router's next deadline
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
            await self.start()
            await self._stop.wait()
        finally:
            await self.shutdown()
        log.info("Stopped vrrpkit")
        return 0

    def request_stop(self) -> None:
        if self._loop is not None and not self.stopping:
            self._goodbye()  # in the signal's own callback: nothing runs before the priority-0 adverts
        self._stop.set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tick = self.ports.timer()
        self.loop.add_reader(self._tick.fileno(), self._on_tick)
        self._links = self.ports.link_events()
        self.loop.add_reader(self._links.fileno(), self._on_link_events)
        self._route_events = self.ports.route_events()
        self.loop.add_reader(self._route_events.fileno(), self._on_route_events)
        with contextlib.suppress(Exception):  # a crashed run may have left its no_accept table
            self.ports.firewall().teardown()
        self.trackers.init_files(self.result)
        self.result = self._take_scripts(self.result, resolve_scripts(self.result))
        self._build(self.result, [cfg.name for cfg in self.result.instances])
        self.applier.routes.start_static()
        await self._control.start()
        if self.metrics_addr is not None:
            from vrrpkit.daemon.metrics import metrics_route

            self.http = HttpServer({"/metrics": metrics_route(self.snapshot)})
            await self.http.start(*self.metrics_addr)
        memory.release()  # before any timer runs: the collection's pause delays nothing
        self._start_routers(self.instances.values())
        self._spawn(self._housekeeping())
        self._spawn(self._split_brain_rounds())
        systemd.notify("READY=1", f"STATUS={self._status_line()}")
        self._ready = True
        log.info("vrrpkit started: %d instance(s) control=%s", len(self.instances), self.control_path)
        for diag in self.result.diagnostics:  # once: the load balancer in this file is not ours to run
            if diag.rule == "lvs-checker-only":
                log.info("%s:%d: %s", diag.file, diag.line, diag.message)

    async def shutdown(self) -> None:
        """SIGTERM: masters send priority 0, VIPs removed, notify_stop run, firewall removed."""
        if self._loop is not None and not self.stopping:
            self._goodbye()
        self.stopping = True
        systemd.notify("STOPPING=1")
        if self._tick is not None:
            with contextlib.suppress(Exception):
                self.loop.remove_reader(self._tick.fileno())
            self._tick.close()
            self._tick = None
        self.trackers.cancel()
        for task in list(self._background):
            task.cancel()
        await self.notifier.finish(NOTIFY_TIMEOUT)  # also kills every script process group still alive
        with contextlib.suppress(Exception):
            self.applier.teardown_firewall()
        self.applier.routes.stop_static()
        self.processes.stop()
        await self.applier.fifos.close()  # after the STOP lines
        await self.applier.mailer.finish()  # the Stopping mails get a bounded chance
        self.intake.close()
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

    # --- building ------------------------------------------------------------------------------

    def _build(self, result: ParseResult, new_names: Iterable[str], moved: Iterable[Instance] = ()) -> None:
        """Create what `new_names` need, file the `moved` (reconfigured, possibly renamed) instances
        under their new names, and rewire groups, sockets and trackers for `result`."""
        # where each keyword was written is for diagnostics (check, convert): ~2 KB per instance
        # that a running daemon never reads
        result = dataclasses.replace(result, sources={}, script_locs={}, fifo_locs={}, static_locs={})
        self.result = result
        g = result.globals
        self.applier.configure(g, {grp.name: grp for grp in result.sync_groups}, result.extras, self.scripts)
        self.applier.routes.configure(result.static, result.extras)
        self.applier.fifos.configure(g, self.scripts.fifo_scripts())
        self.applier.mailer.configure(g, {n: e.smtp_alert for n, e in result.extras.items()}, result.group_smtp_alert)
        self.trackers.configure(result, result.instances, self.scripts.track)
        self.processes.configure(result, result.instances)
        configs = {cfg.name: cfg for cfg in result.instances}
        for inst in moved:
            self.instances[inst.name] = inst
        held = {v.address for i in self.instances.values() if i.router.state is State.MASTER for v in i.cfg.vips}
        for name in new_names:
            self.instances[name] = self._make_instance(configs[name], held)
        self._rebuild_groups()
        self._rebuild_sockets()

    def _make_instance(
        self, cfg: InstanceConfig, held: set[IPAddress] | frozenset[IPAddress] = frozenset()
    ) -> Instance:
        netlink = self.ports.netlink
        address = None
        if cfg.unicast_src_ip is None and cfg.mcast_src_ip is None:
            address = self._source_address(cfg)
        router = VirtualRouter(cfg, address)
        for name, value in self._track_values(cfg.tracks).items():
            router.set_initial_track(name, value)
        if not netlink.link_is_up(cfg.interface):
            router.link_changed(False, 0.0)
        for vip in cfg.vips + cfg.excluded_vips:  # a crash (SIGKILL) leaves VIPs behind; not MASTER yet
            dev = vip.dev or cfg.interface
            if vip.address not in held and netlink.has_address(dev, vip.address):
                log.warning("(%s) removing leftover VIP %s from %s (not MASTER)", cfg.name, vip, dev)
                netlink.del_vip(dev, vip)
        self.applier.routes.remove_leftovers(cfg.name)
        return Instance(cfg, router)

    def _track_values(self, tracks: Iterable[Track]) -> dict[str, TrackValue]:
        """What the host knows now about these tracked objects (links, scripts that ran, processes, files)."""
        values: dict[str, TrackValue] = {}
        for track in tracks:
            if track.kind is TrackKind.INTERFACE:
                values[track.name] = self.ports.netlink.link_is_up(track.name)
            elif track.kind is TrackKind.PROCESS:
                values[track.name] = self.processes.initial(track.name)
            else:
                value = self.trackers.initial(track.kind, track.name)
                if value is not None:
                    values[track.name] = value
        return values

    def _source_address(self, cfg: InstanceConfig) -> IPAddress | None:
        """The interface's primary address (IPv6: link-local), never one of our own VIPs."""
        vips = [v.address for v in cfg.vips + cfg.excluded_vips]
        return self.ports.netlink.primary_address(cfg.interface, cfg.family, exclude=vips)

    def _rebuild_groups(self) -> None:
        for inst in self.instances.values():
            inst.router.group = None
            inst.router.set_group_view(fault=False, master=False)
        self.groups, self.group_of = {}, {}
        for spec in self.result.sync_groups:
            members = [self.instances[m] for m in spec.members if m in self.instances]
            if members:
                group = self.groups[spec.name] = SyncGroup(spec.name, [m.router for m in members])
                self.group_of.update({m.name: group for m in members})

    def _rebuild_sockets(self) -> None:
        self.intake.sync(self.instances.values())

    def _watch_socket(self, fd: int, key: SocketKey) -> None:
        self.loop.add_reader(fd, self._on_readable, key)

    def _unwatch_socket(self, fd: int) -> None:
        self.loop.remove_reader(fd)

    def _start_routers(self, instances: Iterable[Instance]) -> None:
        now = self._now()
        for inst in instances:
            inst.router.start(now)
        self._drain_all()

    def _take_scripts(self, result: ParseResult, scripts: ScriptSet) -> ParseResult:
        """The commands of a (re)load, checked once: keepalived's lines in the log, and the
        configuration without the trackers of disabled scripts."""
        self.scripts = scripts
        for level, line in scripts.log:
            log.log(level, "%s", line)
        return scripts.apply(result)

    # --- I/O events ----------------------------------------------------------------------------

    def _on_link_events(self) -> None:
        assert self._links is not None
        now = self._now()
        for ifname, up in self._links.drain():
            for inst in self.instances.values():
                if inst.cfg.interface == ifname:
                    if not up:
                        log.info("(%s) interface %s down", inst.name, ifname)
                    else:
                        self._refresh_address(inst, now)
                    inst.router.link_changed(up, now)
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
        while True:
            await asyncio.sleep(HOUSEKEEPING)
            now = self._now()
            waiting = [i for i in self.instances.values() if i.router.running and i.router.address is None]
            if any([self._refresh_address(inst, now) for inst in waiting]):
                self._drain_all()

    async def _split_brain_rounds(self) -> None:
        """Probe scheduling off the protocol's hot path: a look over every instance four times a
        second costs less than a look at each instance on each of its adverts."""
        while True:
            await asyncio.sleep(PROBE_CHECK)
            self.prober.check(self.instances.values(), self._now())

    # --- effects -------------------------------------------------------------------------------

    def _state_changed(self) -> None:
        """Tell systemd the new state counts, once per loop iteration however many changed (at
        start, 200 instances changing state must not cost 200 walks over 200 instances)."""
        if self._ready and not self._status_pending and self._loop is not None:
            self._status_pending = True
            self._loop.call_soon(self._send_status)

    def _send_status(self) -> None:
        self._status_pending = False
        systemd.notify(f"STATUS={self._status_line()}")

    # --- status --------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        now = self._now() if self._loop else 0.0
        return Snapshot(
            pid=os.getpid(),
            hostname=socket.gethostname(),
            uptime=round(time.time() - self.started, 3),
            reloads=self.reloads,
            unknown_vrid_packets=self.intake.unknown_vrids,
            scripts=self.trackers.statuses(),
            instances=[inst.status(now) for inst in self.instances.values()],
            counters=self.applier.counters() | {"process_scans": self.processes.scans},
            sockets=self.intake.statuses(),
        )

    def _status_line(self) -> str:
        states: dict[str, int] = {}
        for inst in self.instances.values():
            states[inst.router.state.value] = states.get(inst.router.state.value, 0) + 1
        return ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no instances"

    def _control_request(self, message: dict[str, Any]) -> dict[str, Any]:
        command = message.get("cmd")
        if command == "status":
            return self.snapshot().to_json()
        if command == "reload":
            self._spawn(self.reload())
            return {"ok": True}
        if command == "ping":
            return {"ok": True, "pid": os.getpid()}
        return {"error": f"unknown command {command!r}"}

    def _dump(self) -> None:
        """SIGUSR1: the state of every instance, in the log (keepalived writes a data file)."""
        for item in self.snapshot().instances:
            log.info(
                "(%s) state=%s vrid=%d prio=%d/%d master=%s vips=%s rcvd=%d sent=%d",
                item.name,
                item.state,
                item.vrid,
                item.effective_priority,
                item.base_priority,
                item.master,
                ",".join(item.vips),
                item.counters["advert_rcvd"],
                item.counters["advert_sent"],
            )
