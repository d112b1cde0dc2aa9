"""vrrp_track_process: how many matching processes run, turned into OK/failed with keepalived's quorum rules.

Matching is keepalived's (track_process.c): the process name (`/proc/PID/stat`, 15 characters) must
equal `process` exactly, unless the block gives parameters, `param_match` or `full_command`; then
the first word of the command line must equal `process`, and the parameters must match exactly,
as a prefix of the arguments (`partial`), or with the last one allowed to be longer (`initial`).
Zombies do not count. The tracker is OK while quorum <= count <= quorum_max; `fork_delay` holds
back an OK that was just gained, `terminate_delay` a failure that was just lost, so a restart
(stop then start) does not move the VIP.

The counts come from `io.proc`: kernel process events where the kernel sends them (the initial
network namespace), else /proc: every `SCAN_INTERVAL` seconds the processes that matched are
re-read (a death is seen within that), and the full listing that finds new ones runs as often as
a 1% CPU budget allows (every 0.5 s for a few hundred processes, up to 5 s for tens of thousands;
bench/procscan.py). Inside a container, where keepalived 2.2.7's track_process cannot work at
all, vrrpkit's does (docs/divergences.md). A full scan runs in a worker thread, so the protocol
loop never waits for it. Delays apply to any
gain or loss (keepalived applies fork_delay only to gains by fork and terminate_delay only to
losses by exit: with a scan, a fork cannot be told from an exec).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from vrrpkit.config.model import ParseResult, ProcessTrackConfig
from vrrpkit.core.config import InstanceConfig, TrackKind
from vrrpkit.io.proc import PROC_EVENT_EXIT, PROC_EVENT_FORK, ProcEvents, ProcInfo, ProcTable

log = logging.getLogger("vrrpkit")
SCAN_INTERVAL = 0.5  # seconds between looks at the matching processes where process events are not available
SCAN_BUDGET = 0.01  # full /proc scans take at most this share of one core: their interval stretches to fit
MAX_FULL_INTERVAL = 5.0  # ... but a new process is always noticed within this many seconds


def matches(cfg: ProcessTrackConfig, proc: ProcInfo) -> bool:
    if proc.zombie:
        return False
    if not cfg.full_command:
        return proc.comm == cfg.process
    argv = proc.argv or ()
    if not argv or argv[0] != cfg.process:
        return False
    if cfg.params is None:
        return True
    args, want = argv[1:], cfg.params
    if cfg.param_match == "exact":
        return tuple(args) == want
    if len(args) < len(want):
        return False
    if cfg.param_match == "partial":
        return tuple(args[: len(want)]) == want
    # initial: the first n-1 exactly, the last one as a prefix
    if not want:
        return True
    return tuple(args[: len(want) - 1]) == want[:-1] and args[len(want) - 1].startswith(want[-1])


@dataclass
class Quorum:
    """One tracked process's status with fork/terminate delays (pure: time comes in as `now`)."""

    cfg: ProcessTrackConfig
    count: int = 0
    up: bool | None = None
    pending: tuple[bool, float] | None = None  # the status it will take, and when

    def target(self) -> bool:
        return self.cfg.quorum <= self.count <= self.cfg.quorum_max

    def update(self, count: int, now: float) -> bool | None:
        """A new count; returns the new status when it changed now."""
        self.count = count
        want = self.target()
        if self.up is None:  # the first look decides at once, as keepalived's start-up read of /proc
            self.up = want
            return want
        if want == self.up:
            self.pending = None
            return None
        delay = (self.cfg.fork_delay_cs if want else self.cfg.terminate_delay_cs) / 100
        if delay <= 0:
            self.up, self.pending = want, None
            return want
        if self.pending is None or self.pending[0] != want:
            self.pending = (want, now + delay)
        return None

    def expire(self, now: float) -> bool | None:
        if self.pending is None or now < self.pending[1]:
            return None
        self.pending = None
        want = self.target()
        if want == self.up:
            return None
        self.up = want
        return want


@dataclass
class ProcessTrackers:
    """The vrrp_track_process blocks instances track, reported through `on_change(name, ok)`."""

    on_change: Callable[[str, bool], None]
    root: str = "/proc"
    events_factory: Callable[[], ProcEvents] | None = ProcEvents
    quorums: dict[str, Quorum] = field(default_factory=dict)
    table: ProcTable | None = None
    mode: str = "off"  # off, events, scan
    _events: ProcEvents | None = None
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _matched: set[int] = field(default_factory=set)
    _next_full: float = 0.0
    full_interval: float = SCAN_INTERVAL
    overruns: int = 0  # reads that found process events lost (ENOBUFS): each one rescanned /proc

    def configure(self, result: ParseResult, instances: Iterable[InstanceConfig]) -> None:
        """(Re)read what is tracked; an unchanged block keeps its status and pending delay."""
        wanted = {t.name for cfg in instances for t in cfg.tracks if t.kind is TrackKind.PROCESS}
        old, self.quorums = self.quorums, {}
        for name in sorted(wanted):
            cfg = result.track_processes.get(name)
            if cfg is None:
                continue
            prev = old.get(name)
            self.quorums[name] = prev if prev is not None and prev.cfg == cfg else Quorum(cfg)
        if not self.quorums:
            self.stop()
            return
        cmdline = any(q.cfg.full_command for q in self.quorums.values())
        if self.table is None or self.table.cmdline != cmdline:
            self.table = ProcTable(self.root, cmdline=cmdline)
            self.table.scan()
        self._count(0.0, report=False)
        if self._task is None:
            self._start()

    @property
    def scans(self) -> int:
        return self.table.scans if self.table is not None else 0

    def initial(self, name: str) -> bool | None:
        q = self.quorums.get(name)
        return None if q is None else q.up

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.events_factory is not None:
            try:
                self._events = self.events_factory()
            except OSError as exc:
                log.info("process events not available here (%s): tracking processes by scanning /proc every %g s",
                         exc.strerror or exc, SCAN_INTERVAL)
        if self._events is not None:
            self.mode = "events"
            loop.add_reader(self._events.fileno(), self._wake.set)
        else:
            self.mode = "scan"
        self._task = loop.create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._events is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._events.fileno())
            self._events.close()
            self._events = None
        self.mode = "off"

    def _hot(self) -> set[int]:
        """The pids that matched last time: re-read every scan, so an exec or rename away is seen at once."""
        return set(self._matched)

    def _count(self, now: float, report: bool = True) -> None:
        """One pass over the table: a process is only tested against trackers whose name it could match."""
        assert self.table is not None
        by_name: dict[str, list[tuple[str, ProcessTrackConfig]]] = {}
        for name, q in self.quorums.items():
            by_name.setdefault(q.cfg.process, []).append((name, q.cfg))
        counts = dict.fromkeys(self.quorums, 0)
        matched: set[int] = set()
        for proc in self.table.procs.values():
            key = proc.argv[0] if proc.argv else None
            for candidates in (by_name.get(proc.comm, ()), by_name.get(key, ()) if key is not None else ()):
                for name, cfg in candidates:
                    if matches(cfg, proc):
                        counts[name] += 1
                        matched.add(proc.pid)
        self._matched = matched
        for name, q in self.quorums.items():
            changed = q.update(counts[name], now)
            if changed is not None and report:
                self._report(name, changed, q)

    def _expire(self, now: float) -> None:
        for name, q in self.quorums.items():
            changed = q.expire(now)
            if changed is not None:
                self._report(name, changed, q)

    def _report(self, name: str, ok: bool, q: Quorum) -> None:
        log.info("Process %s now %s (%d running, quorum %d..%d)", name, "UP" if ok else "DOWN", q.count,
                 q.cfg.quorum, q.cfg.quorum_max)
        self.on_change(name, ok)

    async def _look(self, table: ProcTable, now: float) -> None:
        """Every SCAN_INTERVAL the matching pids are re-read (a death is seen at once); the full listing
        of /proc, which finds new processes, runs as often as SCAN_BUDGET allows for its measured cost."""
        if now < self._next_full:
            table.check(self._hot())
            return
        started = time.perf_counter()
        await asyncio.to_thread(table.scan, self._hot())
        cost = time.perf_counter() - started
        self.full_interval = min(MAX_FULL_INTERVAL, max(SCAN_INTERVAL, cost / SCAN_BUDGET))
        self._next_full = now + self.full_interval

    def _next_deadline(self) -> float | None:
        return min((q.pending[1] for q in self.quorums.values() if q.pending), default=None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline = self._next_deadline()
            wait = SCAN_INTERVAL if self.mode == "scan" else None
            if deadline is not None:
                wait = max(0.0, deadline - loop.time()) if wait is None else min(wait, max(0.0, deadline - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            table = self.table
            if table is None:
                return
            if self._events is not None:
                events, lost = self._events.drain()
                for what, pid, parent in events:
                    if what == PROC_EVENT_EXIT:
                        table.forget(pid)
                    elif what != PROC_EVENT_FORK or parent in self._matched:
                        table.refresh(pid)  # a fork only matters if its parent is one of ours
                if lost:
                    self.overruns += 1
                    log.warning("process events were lost: rescanning /proc")
                    await asyncio.to_thread(table.scan, self._hot())
            elif self.mode == "scan":
                await self._look(table, loop.time())
            now = loop.time()
            self._count(now)
            self._expire(now)
