"""Notify scripts: which commands keepalived runs for a state change, and running them in order.

Planning is pure (`instance_commands`, `group_commands`): keepalived runs `notify_<state>` first,
then the generic `notify` with `INSTANCE|GROUP name STATE priority` (vrrp_notify.c); a group's
priority argument is always 0, and MASTER_RX_LOWER_PRI has no generic call. Running goes through a
runner that chains commands per key (an instance or a group), so a BACKUP script can never
overtake the MASTER script that came before it, whatever they take to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from vrrpkit.core.effects import NotifyKind
from vrrpkit.core.state import State
from vrrpkit.io.scripts import Script, ScriptUser, as_user, prepare, script_security_problems

log = logging.getLogger("vrrpkit")

Command = tuple[str, list[str]]  # (the configured command text, extra arguments)


def first_of_each(notify: Iterable[tuple[str, str]]) -> dict[str, str]:
    """keepalived keeps the first of a repeated notify keyword ("already specified - ignoring")."""
    out: dict[str, str] = {}
    for event, command in notify:
        out.setdefault(event, command)
    return out


def instance_commands(notify: dict[str, str], instance: str, kind: NotifyKind, priority: int) -> list[Command]:
    commands: list[Command] = []
    specific = notify.get(kind.value.lower())
    if specific:
        commands.append((specific, []))
    generic = notify.get("notify")
    if generic and kind is not NotifyKind.MASTER_RX_LOWER_PRI:
        commands.append((generic, ["INSTANCE", instance, kind.value, str(priority)]))
    return commands


def group_commands(notify: dict[str, str], group: str, state: State) -> list[Command]:
    commands: list[Command] = []
    specific = notify.get(state.value.lower())
    if specific:
        commands.append((specific, []))
    generic = notify.get("notify")
    if generic:
        commands.append((generic, ["GROUP", group, state.value, "0"]))
    return commands


class Runner(Protocol):
    """What `io.scripts.ScriptRunner` offers: queue a script behind the previous one of its key."""

    def notify(self, key: str, script: Script, args: Sequence[str] = ()) -> asyncio.Task[Any]: ...
    def terminate_all(self) -> None: ...


class Notifier:
    """Resolves, security-checks and queues notify commands; collects their outcome for the log."""

    def __init__(
        self,
        runner: Runner,
        *,
        user: tuple[str, str | None] | None = None,
        security: bool = False,
        resolve: Callable[[str, ScriptUser | None], Script] = prepare,
    ) -> None:
        self.runner = runner
        self.user = user
        self.security = security
        self._resolve = resolve
        self._tasks: set[asyncio.Task[Any]] = set()

    def configure(self, *, user: tuple[str, str | None] | None, security: bool) -> None:
        """A reload may change script_user or enable_script_security."""
        self.user = user
        self.security = security

    def run(self, key: str, commands: list[Command]) -> None:
        for command, args in commands:
            try:
                script = self._resolve(command, as_user(self.user))
            except (KeyError, ValueError) as exc:
                log.warning("(%s) cannot run notify %r: %s", key, command, exc)
                continue
            problems = script_security_problems(script) if self.security else []
            if problems:
                log.warning("(%s) SECURITY VIOLATION - refusing notify %r: %s", key, command, "; ".join(problems))
                continue
            task = self.runner.notify(key, script, args)
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._done, key=key, command=command))

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
        if not result.ok:
            log.warning("(%s) notify %r exited rc=%s timed_out=%s", key, command, result.returncode, result.timed_out)
