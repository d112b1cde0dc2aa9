"""Notify scripts: which commands keepalived runs for a state change, and running them in order.

Planning is pure (`instance_commands`, `group_commands`): keepalived runs `notify_<state>` first,
then the generic `notify` with `INSTANCE|GROUP name STATE priority` (vrrp_notify.c); a group's
priority argument is always 0, and MASTER_RX_LOWER_PRI has no generic call. The commands are the
ones `scriptset` resolved and checked at (re)load: nothing is looked up or decided at run time, so a
file changed after the load cannot change what runs or as whom. Running goes through a runner that
chains commands per key (an instance or a group), so a BACKUP script can never overtake the MASTER
script that came before it, whatever they take to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from vrrpkit.core.effects import NotifyKind
from vrrpkit.io.scripts import Script

log = logging.getLogger("vrrpkit")

Command = tuple[Script, list[str]]  # (the resolved command, extra arguments)


def instance_commands(notify: Mapping[str, Script], instance: str, kind: NotifyKind, priority: int) -> list[Command]:
    commands: list[Command] = []
    specific = notify.get(kind.value.lower())
    if specific is not None:
        commands.append((specific, []))
    generic = notify.get("notify")
    if generic is not None and kind is not NotifyKind.MASTER_RX_LOWER_PRI:
        commands.append((generic, ["INSTANCE", instance, kind.value, str(priority)]))
    return commands


def group_commands(notify: Mapping[str, Script], group: str, word: str) -> list[Command]:
    """`word`: MASTER, BACKUP, FAULT, or STOP when the group stops (notify_stop, and the generic
    notify with `GROUP name STOP 0`, as keepalived 2.2.7 runs them at its stop; measured)."""
    commands: list[Command] = []
    specific = notify.get(word.lower())
    if specific is not None:
        commands.append((specific, []))
    generic = notify.get("notify")
    if generic is not None:
        commands.append((generic, ["GROUP", group, word, "0"]))
    return commands


class Runner(Protocol):
    """What `io.script_runner.ScriptRunner` offers: queue a script behind the previous one of its key."""

    def notify(self, key: str, script: Script, args: Sequence[str] = ()) -> asyncio.Task[Any]: ...
    def terminate_all(self) -> None: ...


class Notifier:
    """Queues resolved notify commands per key; collects their outcome for the log."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._tasks: set[asyncio.Task[Any]] = set()

    def run(self, key: str, commands: list[Command]) -> None:
        for script, args in commands:
            if not script.runnable:  # scriptset leaves disabled commands out; never run one
                continue
            task = self.runner.notify(key, script, args)
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._done, key=key, command=script.text))

    async def finish(self, timeout: float) -> None:
        """Let queued scripts (notify_stop above all) finish, then kill what is left."""
        pending = list(self._tasks)
        if pending:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), timeout)
        self.runner.terminate_all()

    def _done(self, task: asyncio.Task[Any], key: str, command: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.warning("(%s) notify %r failed: %s", key, command, exc)
            return
        result = task.result()
        if result.error is not None:
            log.warning("(%s) cannot run notify %r: %s", key, command, result.error)
        elif not result.ok:
            log.warning("(%s) notify %r exited rc=%s timed_out=%s", key, command, result.returncode, result.timed_out)
