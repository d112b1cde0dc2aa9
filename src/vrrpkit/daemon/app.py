"""The daemon: one asyncio loop wiring the sans-I/O core to the OS adapters.

read socket -> route by (interface, family, vrid) -> router.datagram_received -> settle sync groups
-> apply effects -> re-arm ONE timer at the earliest router deadline. Protocol decisions are made in
core; the parts here each do one job and are tested without root against recording fakes:
`sockets` (the VRRP sockets, their kernel filters, bounded reads), `cycle` (the wake-up handlers,
this class's hot path), `applier` (effects to system calls and logs), `notify` (scripts, in order),
`splitbrain` (ARP/NS probing while MASTER), `tracking` (scripts and files), `reload` (what a SIGHUP
changes; carried out by `reloading.Reloading`), `building` (instances from a configuration),
`instance` and `control.snapshot` (the typed state everyone reads). This class owns the loop, the
timer and the lifecycle, and nothing else.

The loop's order of work is the protocol's order of urgency (daemon/cycle.py): a due timer (an
advert to send) before reading more datagrams, one bounded batch per readable socket and wake-up,
but every datagram already queued before a BACKUP's Master_Down fires (the master's advert may be in
the queue behind a flood), and on SIGTERM the priority-0 adverts before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import selectors
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from functools import partial
from types import FrameType
from typing import Any

from vrrpkit import __version__
from vrrpkit.config.model import ParseResult
from vrrpkit.control.server import ControlServer
from vrrpkit.control.snapshot import Snapshot
from vrrpkit.core.config import TrackKind
from vrrpkit.core.sync import SyncGroup
from vrrpkit.daemon import report, systemd
from vrrpkit.daemon.addresses import our_vips, sources_moved, vips_deleted
from vrrpkit.daemon.applier import EffectApplier
from vrrpkit.daemon.building import RETRY, Building
from vrrpkit.daemon.cycle import Cycle
from vrrpkit.daemon.http import HttpServer
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.links import LinkManager
from vrrpkit.daemon.linkwatch import POLL_INTERVAL, Change, LinkWatch, watched
from vrrpkit.daemon.logsetup import DETAIL
from vrrpkit.daemon.notify import Notifier, Runner
from vrrpkit.daemon.ports import LinkEvents, Ports, RouteEvents, Timer, os_ports
from vrrpkit.daemon.proctrack import ProcessTrackers
from vrrpkit.daemon.reloading import Reloading
from vrrpkit.daemon.rounds import Rounds
from vrrpkit.daemon.sayings import Sayings
from vrrpkit.daemon.scriptset import ScriptSet, resolve_scripts
from vrrpkit.daemon.sockets import SocketKey, SocketSet
from vrrpkit.daemon.splitbrain import SplitBrainProber
from vrrpkit.daemon.status import dump, status_line
from vrrpkit.daemon.stopping import Stopping, Unsaid
from vrrpkit.daemon.tracking import Trackers, TrackValue, file_fault_lines
from vrrpkit.io import memory
from vrrpkit.io.eventloop import ReadyFirstSelector
from vrrpkit.io.script_runner import ScriptRunner

log = logging.getLogger("vrrpkit")
detail = logging.getLogger(DETAIL)  # keepalived's -D lines

NOTIFY_TIMEOUT = 30.0
HOUSEKEEPING = 0.5  # seconds between looks at the host, at least (daemon/rounds.py)
HOUSEKEEPING_LATEST = 2.0  # the longest wait, in HOUSEKEEPINGs, when no protocol wake-up starts a round
PREPARE_EVERY = 2.0  # seconds between rounds of building ahead what a takeover or a stop sends first
# The selector waits in the stdlib's epoll `select`, called by the daemon's own (io/eventloop.py)
_SELECTS = frozenset({selectors.DefaultSelector.select.__code__, ReadyFirstSelector.select.__code__})
_RUN_ONCE = getattr(getattr(asyncio.BaseEventLoop, "_run_once", None), "__code__", None)  # a private name


def _waiting(frame: FrameType) -> bool:
    """Whether a signal's frame is the event loop waiting for its next events (and no callback of
    ours running: a script's subprocess select or the netlink thread's loop is not this). On a
    Python whose loop looks different, never: the signal is then served as asyncio would."""
    if _RUN_ONCE is None or frame.f_code not in _SELECTS:
        return False
    back = frame.f_back
    while back is not None and back.f_code in _SELECTS:  # the daemon's selector calls epoll's
        back = back.f_back
    return back is not None and back.f_code is _RUN_ONCE


class Daemon(Reloading, Building, Cycle, Stopping):
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
        self._rounds: Rounds | None = None  # when housekeeping runs next (made with the loop)
        self._tick: Timer | None = None  # the one protocol timer (a timerfd: sub-millisecond)
        self._next_deadline: float | None = None
        self._takeover: Instance | None = None
        self._waited_at = -1e9
        self._status_pending = False
        self._stop = asyncio.Event()
        self._said_stopping = False
        self._links: LinkEvents | None = None
        self._route_events: RouteEvents | None = None
        self._vip_set: tuple[object, frozenset[str]] = (None, frozenset())  # (the config it is of, our VIPs)
        self._control = ControlServer(control_path, self._control_request)
        self._background: set[asyncio.Task[Any]] = set()
        self._ready = False  # systemd hears READY=1 first, then STATUS updates
        self._deadline_of: dict[str, float] = {}  # instance -> its router's next deadline
        self._lazy_reads: dict[SocketKey, asyncio.TimerHandle] = {}  # lazy socket -> its next read
        self._lazy_after: dict[SocketKey, float] = {}
        self._unsaid: Unsaid = {}  # what Stopping._farewell did, to say
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
        self.sayings = Sayings(lambda fn: self.loop.call_soon(fn))
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
        stops = {sig: signal.signal(sig, self._on_stop_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        for sig, handler in (
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
            for sig, old in stops.items():
                signal.signal(sig, old)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        detail.info("Stopped - used %.6f user time, %.6f system time", usage.ru_utime, usage.ru_stime)
        log.info("Stopped vrrpkit v%s", __version__)
        return 0

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM and SIGINT as Python delivers them, not through asyncio (whose handlers run a
        loop iteration or two later: 0.1-0.15 ms measured). When the signal found the loop waiting
        in its selector, nothing of ours is half done, and the priority-0 adverts go out from here;
        the rest of the stop is the loop's next callback, before anything the wait returned."""
        try:
            if frame is not None and _waiting(frame) and self._loop is not None and not self.stopping:
                self._farewell(self._say_stopping)
        except Exception:  # the stop itself must still happen
            log.exception("failed to send the priority-0 adverts")
        asyncio.get_running_loop().call_soon_threadsafe(self.request_stop)

    def request_stop(self) -> None:
        if self._loop is not None and not self.stopping:
            self.applier.release_vips = not self.keep_vips
            # in the signal's own callback: nothing, not even a log line, before the goodbyes
            self._goodbye(then=self._say_stopping)
        else:
            self._say_stopping()
        self._stop.set()

    def _say_stopping(self) -> None:
        if not self._said_stopping:  # once: the signal's handler, the stop, a second SIGTERM
            self._said_stopping = True
            log.info("Stopping")

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tick = self.ports.timer()
        self.loop.add_reader(self._tick.fileno(), self._on_tick)
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
        memory.release()  # before any timer runs: the collection's pause delays nothing
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
        self.applier.release_vips = not self.keep_vips
        if self._loop is not None and not self.stopping:
            self._goodbye()
        self._say_farewell(None)  # goodbyes the signal's handler sent, if the stop took another way
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

    def _later(self, delay: float, callback: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        return self.loop.call_later(delay, callback, *args)

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

    def _on_link_events(self) -> None:
        assert self._links is not None
        now = self._now()
        events = self._links.drain()
        for ifname, up in events:  # before debouncing: a remake inside a delay is a remake still
            self._remade(ifname, up)
        bases = {link.base for i in self.instances.values() if i.vmac_error is not None for link in i.cfg.vmac_links}
        if any(up and ifname in bases for ifname, up in events):
            # keepalived makes the VMAC as soon as its base is back (measured: 3.4 s sooner than
            # our 5 s retry, base deleted and made again under a MASTER)
            self._retry(now)
        self._links_changed(self.linkwatch.netlink_events(events, now), now)

    def _remade(self, ifname: str, up: bool) -> None:
        """An interface deleted, or deleted and made again, under us: what is bound to its old index
        (the VRRP sockets, the ARP/NA senders, the split-brain probers) goes, and the sockets open
        again as it comes up. Measured with keepalived 2.2.7 (an instance's interface deleted and
        re-created): keepalived advertised on the new interface; vrrpkit's adverts failed with
        ENODEV while it held the VIP. The index is asked for only when something is bound there."""
        if self.socketset.bound_to(ifname) or ifname in self.applier.announcers or self.prober.probes_on(ifname):
            index = self.ports.netlink.interface_index(ifname)
            if self.socketset.bound_elsewhere(ifname, index):
                self.socketset.forget([ifname])
            self.applier.forget_moved(ifname, index)
            self.prober.forget_moved(ifname, index)
        if up and any(key[0] == ifname for key in self.socketset.missing):
            self.socketset.rebuild(self.instances.values())

    def _links_changed(self, changes: list[Change], now: float) -> None:
        """Link changes as instances see them (after linkbeat polling and up/down debouncing)."""
        if not changes:
            return
        for ifname, up in changes:
            tracked = {inst.name for inst in self.instances.values() if any(
                t.kind is TrackKind.INTERFACE and t.name == ifname for t in inst.cfg.tracks)}  # fmt: skip
            # keepalived's line, for a tracked or an instance's own interface (not the VMACs we make and set up)
            if tracked or any(ifname == inst.cfg.interface for inst in self.instances.values()):
                self.sayings.say([partial(log.info, "Netlink reports %s %s", ifname, "up" if up else "down")])
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
                if inst.name in tracked:
                    inst.router.tracker_changed(ifname, up, now)
        self._drain_all()

    def _on_route_events(self) -> None:
        """Someone deleted routes, rules or addresses: MASTERs that lost a tracked one (or a VIP)
        resign; an address that came or went may be an instance's source (daemon/addresses.py)."""
        assert self._route_events is not None
        events = self._route_events.drain()
        ours, netlink = self._our_vips(), self.ports.netlink
        resign = self.applier.routes.deleted(events) + vips_deleted(self.instances.values(), netlink, events, ours)
        now = self._now()
        for name, why in resign:
            inst = self.instances.get(name)
            if inst is not None:
                inst.router.resign(now, why)
        moved = sources_moved(self.instances.values(), netlink, events, ours, self._source_address, now)
        if resign or moved:
            self._drain([self.instances[n] for n, _ in resign if n in self.instances] + moved)

    def _our_vips(self) -> frozenset[str]:
        if self._vip_set[0] is not self.result:  # computed once per configuration
            self._vip_set = (self.result, our_vips(self.instances.values()))
        return self._vip_set[1]

    def _tracker_changed(self, name: str, value: TrackValue) -> None:
        # adverts that came before the change count as they came (a lazy socket holds them):
        # keepalived has read its master's last advert under the old priority (measured)
        self._read_lazy()
        now = self._now()
        for inst in self.instances.values():
            if isinstance(value, int) and not isinstance(value, bool):
                lines = file_fault_lines(inst.cfg, inst.router.track_values(), name, value)
                self.sayings.say([partial(log.info, "%s", line) for line in lines])
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
        """Slow looks at the host: late source addresses, track_src_ip, linkbeat polls, retries of
        VMACs and sockets that could not be made (a failure must never stop the daemon), and which
        masters are due a split-brain probe."""
        next_poll = next_prepare = 0.0
        rounds = self._rounds = Rounds(self.loop)
        first = True  # the first look soon after start
        while True:
            urgent = first or any(self._looked_for(i) for i in self.instances.values())
            first = False
            await rounds.wait(HOUSEKEEPING, HOUSEKEEPING_LATEST * HOUSEKEEPING, urgent)
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
            if self.stopping:
                continue
            try:
                # Split-brain probes are scheduled here, off the protocol's hot path and without a
                # wake-up of their own (each master probes every >= 1 s; half a second late is fine).
                self.prober.check(self.instances.values(), now)
                self._review_lazy()  # after the drain: an instance that just left BACKUP stays eager
                if now >= next_prepare:  # what a takeover or a stop sends first (200 instances: 61 µs)
                    next_prepare = now + PREPARE_EVERY
                    self.applier.prepare(self.instances.values())
            except Exception:
                log.exception("error during housekeeping")

    @staticmethod
    def _looked_for(inst: Instance) -> bool:
        """Waiting for what a housekeeping round finds: its source address, or track_src_ip's."""
        return inst.router.running and (inst.router.address is None or inst.cfg.track_src_ip)

    def _on_timer(self) -> None:
        super()._on_timer()
        if self._rounds is not None:  # a wake-up the protocol made: housekeeping rides on it
            self._rounds.poke(self._now())

    def _lazy_read(self, key: SocketKey, hold: float) -> None:
        super()._lazy_read(key, hold)
        if self._rounds is not None:
            self._rounds.poke(self._now())

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

    def _state_changed(self) -> None:
        """Tell systemd the new state counts, once per loop iteration however many changed (at
        start, 200 instances changing state must not cost 200 walks over 200 instances)."""
        if self._ready and not self._status_pending and self._loop is not None:
            self._status_pending = True
            self._loop.call_soon(self._send_status)

    def _send_status(self) -> None:
        self._status_pending = False
        systemd.notify(f"STATUS={status_line(self.instances.values())}")

    # --- status --------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        self.sayings.flush()  # the history of a takeover a moment ago included
        if self._loop is not None:
            self._read_lazy()  # what status, metrics and SIGUSR1 say is never an interval old
        now = self._now() if self._loop else 0.0
        wall = time.time()
        return Snapshot(
            pid=os.getpid(),
            hostname=socket.gethostname(),
            uptime=round(wall - self.started, 3),
            reloads=self.reloads,
            unknown_vrid_packets=self.socketset.unknown_vrid_total,
            scripts=self.trackers.statuses(),
            instances=[inst.status(now, wall) for inst in self.instances.values()],
            counters=self.applier.counters() | {
                "process_scans": self.processes.scans,
                "vmac_errors": sum(i.vmac_errors for i in self.instances.values()),
                "socket_errors": self.socketset.errors,
                # the kernel dropped link or route events (a burst of changes): resynced, and counted
                "link_event_overruns": self._links.overruns if self._links is not None else 0,
                "route_event_overruns": self._route_events.overruns if self._route_events is not None else 0,
                "process_event_overruns": self.processes.overruns,
            },
            router_id=self.result.globals.router_id,
            sockets=self.socketset.statuses(),
        )

    def _control_request(self, message: dict[str, Any]) -> dict[str, Any]:
        command = message.get("cmd")
        if command == "status":
            return self.snapshot().to_reply()
        if command == "reload":
            self._spawn(self._notified_reload())
            return {"ok": True}
        if command == "ping":
            return {"ok": True, "pid": os.getpid()}
        return {"error": f"unknown command {command!r}"}
