"""notify_fifo / vrrp_notify_fifo: keepalived's one-line-per-event FIFO output, byte for byte, in order.

The line is `INSTANCE "VI_1" MASTER 150` (the instance's effective priority) or `GROUP "G1" MASTER
0`; the words are MASTER, BACKUP, FAULT, STOP, MASTER_RX_LOWER_PRI, and with notify_priority_changes
MASTER_PRIORITY / BACKUP_PRIORITY (vrrp_notify.c). Every line goes to each configured FIFO, written
at the moment the effect is applied, so the order is the order of events (which notify scripts
cannot guarantee). keepalived 2.2.7 and vrrpkit were run through the same sequence and their FIFOs
compared (tests/interop/test_notify_fifo.py).

A `_script` variant is started before its FIFO is opened, with the FIFO path as its last argument,
and stopped (TERM, then KILL) after the FIFO closes at shutdown. The FIFO itself is `io.fifo`: a
missing reader, a slow reader or one that goes away never blocks or kills the daemon; a line that
cannot be written is dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from vrrpkit.config.model import FifoConfig, GlobalDefs
from vrrpkit.io.fifo import FifoRefused, FifoWriter, open_fifo
from vrrpkit.io.script_runner import run_script
from vrrpkit.io.scripts import Script, UserError, lookup_user

log = logging.getLogger("vrrpkit")
SCRIPT_GRACE = 2.0  # seconds a FIFO script gets to exit on its own after the FIFO closes


def fifo_line(kind: str, name: str, word: str, priority: int) -> str:
    """keepalived's `%s "%s" %s %d\\n` (a group's priority is always 0)."""
    return f'{"GROUP" if kind == "group" else "INSTANCE"} "{name}" {word} {priority}\n'


@dataclass
class _Open:
    config: FifoConfig
    writer: FifoWriter | None
    script_task: asyncio.Task[object] | None = None
    script_pgid: int | None = None


@dataclass
class FifoStats:
    written: int = 0
    dropped: int = 0
    refused: int = 0


@dataclass
class NotifyFifos:
    opener: Callable[[str, int | None, int | None], FifoWriter] = open_fifo
    fifos: list[_Open] = field(default_factory=list)
    stats: FifoStats = field(default_factory=FifoStats)
    scripts: dict[str, Script] = field(default_factory=dict)  # by path: the `_script` as scriptset resolved it

    def configure(self, g: GlobalDefs, scripts: dict[str, Script] | None = None) -> None:
        """(Re)open what the configuration names; a FIFO whose settings did not change stays open.
        ``scripts`` are the `_script`s as `scriptset` resolved and checked them (by keyword)."""
        named = {"notify_fifo": g.notify_fifo, "vrrp_notify_fifo": g.vrrp_notify_fifo}
        self.scripts = {c.path: s for key, s in (scripts or {}).items() if (c := named.get(key)) is not None}
        wanted = [f for f in (g.notify_fifo, g.vrrp_notify_fifo) if f is not None and f.path]
        keep = [f for f in self.fifos if f.config in wanted]
        for f in self.fifos:
            if f not in keep:
                self._close(f)
        self.fifos = keep
        have = {f.config for f in keep}
        for config in wanted:
            if config not in have:
                self.fifos.append(self._open(config))

    def _open(self, config: FifoConfig) -> _Open:
        entry = _Open(config, None)
        if config.script:
            self._start_script(entry)
        uid = gid = None
        if config.user:
            try:
                who = lookup_user(config.user, config.group)
                uid, gid = who.uid, who.gid
            except UserError as exc:
                log.error("notify FIFO %s: %s", config.path, exc)
        try:
            entry.writer = self.opener(config.path, uid, gid)
        except FifoRefused as exc:
            self.stats.refused += 1
            log.error("notify FIFO not used: %s", exc)
        return entry

    def _start_script(self, entry: _Open) -> None:
        """The `_script` as resolved and checked at load (a disabled one was said in the log then)."""
        config = entry.config
        script = self.scripts.get(config.path)
        if script is None or not script.runnable:
            return

        def started(pgid: int) -> None:
            entry.script_pgid = pgid

        entry.script_task = asyncio.get_running_loop().create_task(
            run_script(script, [config.path], timeout=None, on_start=started)
        )

    def instance(self, name: str, word: str, priority: int) -> None:
        self._write(fifo_line("instance", name, word, priority))

    def group(self, name: str, word: str) -> None:
        self._write(fifo_line("group", name, word, 0))

    def _write(self, line: str) -> None:
        for f in self.fifos:
            if f.writer is None:
                continue
            if f.writer.write(line):
                self.stats.written += 1
            else:
                self.stats.dropped += 1
                if self.stats.dropped in (1, 10, 100) or self.stats.dropped % 1000 == 0:
                    log.warning("notify FIFO %s: no reader keeping up, %d line(s) dropped so far",
                                f.config.path, self.stats.dropped)

    def _close(self, f: _Open) -> None:
        if f.writer is not None:
            f.writer.close()
            f.writer = None

    async def close(self) -> None:
        """At stop, after the STOP lines: close (and remove what we created), then stop the scripts."""
        for f in self.fifos:
            self._close(f)
        tasks = [f for f in self.fifos if f.script_task is not None]
        if tasks:
            done, _ = await asyncio.wait([f.script_task for f in tasks if f.script_task], timeout=SCRIPT_GRACE)
            for f in tasks:
                if f.script_task is not None and f.script_task not in done:
                    if f.script_pgid is not None:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(f.script_pgid, signal.SIGTERM)
                    f.script_task.cancel()  # run_script kills the group on cancel
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await f.script_task
        self.fifos = []
