"""Running resolved scripts for the asyncio daemon, as keepalived runs them (``notify.c``).

Only a ``Script`` that ``io.scripts`` resolved and left enabled ever reaches ``run_script``. The
child, and only the child, gets keepalived's setting: its own process group (so a timeout kills the
script *and* everything it started: SIGTERM to the group, SIGKILL after a grace period), umask 0177
(keepalived's, measured with 2.2.7), stdin/stdout/stderr on /dev/null, no other descriptor, cwd
``/``, IFS/LD_PRELOAD/LD_LIBRARY_PATH removed from the environment, and the script's uid and gid
with the gid as its only supplementary group (``set_privileges``). The daemon's own umask,
environment and descriptors never change. All waiting is asyncio, so the protocol loop never
blocks on a script.

``RiseFall`` is keepalived's result counter (``vrrp_scheduler.c``), pure and tested on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from vrrpkit.io.scripts import Script

KILL_GRACE = 2.0  # keepalived waits 2 s between the group SIGTERM and SIGKILL
SCRIPT_UMASK = 0o177  # what keepalived 2.2.7's scripts run with (its process umask)
_SCRUBBED_ENV = ("IFS", "LD_PRELOAD", "LD_LIBRARY_PATH")


@dataclass(frozen=True)
class ScriptResult:
    returncode: int | None  # None when it never started or was killed by a signal
    signal: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    error: str | None = None  # could not start (disabled, ENOENT, EACCES, ...)

    @property
    def ok(self) -> bool:
        """keepalived: success is exit status 0; a timeout or a signal is a failure."""
        return self.returncode == 0 and not self.timed_out


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}


def _privileges(script: Script) -> dict[str, object]:
    """subprocess arguments that switch to the script's user, only where it differs from ours
    (keepalived: setgid + setgroups([gid]) when the gid is not 0, setuid when the uid is not 0)."""
    user = script.user
    out: dict[str, object] = {}
    if user.gid != os.getegid() and user.gid != 0:
        out.update(group=user.gid, extra_groups=[user.gid])
    if user.uid != os.geteuid() and user.uid != 0:
        out["user"] = user.uid
    return out


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def run_script(
    script: Script,
    args: Sequence[str] = (),
    timeout: float | None = None,
    kill_grace: float = KILL_GRACE,
    on_start: Callable[[int], None] | None = None,
    on_exit: Callable[[int], None] | None = None,
) -> ScriptResult:
    """Run ``script`` once, never blocking the loop; at timeout its whole process group dies.

    ``on_start``/``on_exit`` receive the process-group id (ScriptRunner uses them to kill what is
    still running when the daemon stops).
    """
    started = time.monotonic()
    if script.disabled is not None:
        return ScriptResult(returncode=None, error=script.disabled)
    try:
        proc = await asyncio.create_subprocess_exec(
            *script.command(args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=_environment(),
            cwd="/",
            process_group=0,
            close_fds=True,
            umask=SCRIPT_UMASK,
            **_privileges(script),  # type: ignore[arg-type]
        )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return ScriptResult(returncode=None, duration=time.monotonic() - started, error=str(exc))
    pgid = proc.pid
    if on_start is not None:
        on_start(pgid)
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            timed_out = True
            _kill_group(pgid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), kill_grace)
            _kill_group(pgid, signal.SIGKILL)  # the leader may be gone while its children ignore TERM
            await proc.wait()
    except asyncio.CancelledError:
        _kill_group(pgid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    finally:
        if on_exit is not None:
            on_exit(pgid)
    code = proc.returncode
    duration = time.monotonic() - started
    if code is not None and code < 0:
        return ScriptResult(returncode=None, signal=-code, timed_out=timed_out, duration=duration)
    return ScriptResult(returncode=code, timed_out=timed_out, duration=duration)


@dataclass
class ScriptRunner:
    """Runs scripts for the daemon: notify scripts in order per instance, and a kill switch.

    ``notify(key, script, args)`` queues behind the previous notify of the same key (an instance
    or sync group), so "BACKUP" can never overtake "MASTER". ``terminate_all()`` kills every live
    process group at shutdown (keepalived uses PR_SET_PDEATHSIG for this; Python's safe spawn path
    cannot set it, so the daemon must call this before it exits).
    """

    notify_timeout: float | None = 60.0
    _tails: dict[str, asyncio.Task[ScriptResult]] = field(default_factory=dict)
    _groups: set[int] = field(default_factory=set)

    async def run(self, script: Script, args: Sequence[str] = (), timeout: float | None = None) -> ScriptResult:
        return await run_script(script, args, timeout, on_start=self._groups.add, on_exit=self._groups.discard)

    def notify(self, key: str, script: Script, args: Sequence[str] = ()) -> asyncio.Task[ScriptResult]:
        previous = self._tails.get(key)

        async def chained() -> ScriptResult:
            if previous is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await previous
            return await self.run(script, args, self.notify_timeout)

        task = asyncio.get_running_loop().create_task(chained())
        self._tails[key] = task
        task.add_done_callback(lambda t: self._tails.pop(key, None) if self._tails.get(key) is t else None)
        return task

    @property
    def running_groups(self) -> frozenset[int]:
        return frozenset(self._groups)

    def terminate_all(self, sig: int = signal.SIGKILL) -> None:
        for pgid in list(self._groups):
            _kill_group(pgid, sig)


class RiseFall:
    """keepalived's vrrp_script result counter.

    ``result`` runs from 0 to rise+fall-1; the script is OK while ``result >= rise``. A success
    below rise-1 counts up; reaching rise jumps to the top (so ``fall`` failures are needed to go
    down again); a failure above rise counts down, at or below it drops to 0 (so ``rise``
    successes are needed to come back). Before the first result the state is unknown (None) and
    the first result decides it, unless ``init_fail`` starts it failed, needing ``rise`` successes.
    """

    def __init__(self, rise: int = 1, fall: int = 1, init_fail: bool = False) -> None:
        if rise < 1 or fall < 1:
            raise ValueError("rise and fall must be at least 1")
        self.rise = rise
        self.fall = fall
        self.result = 0 if init_fail else rise - 1
        self.state: bool | None = False if init_fail else None

    def update(self, success: bool) -> bool | None:
        """Feed one run's outcome; returns the new state when it changed, else None."""
        top = self.rise + self.fall - 1
        old = self.state
        if success:
            if self.result < self.rise - 1:
                self.result += 1
            else:
                self.result = top
                self.state = True
        else:
            if self.result > self.rise:
                self.result -= 1
            else:
                self.result = 0
                self.state = False
        return self.state if self.state != old else None
