"""vrrp_script and notify execution for the asyncio daemon, as keepalived runs them (``notify.c``).

How a command line becomes a process (``prepare``):

* The text is split into words (shell-like quoting). If the first word is a path, or is found on
  PATH, and is an executable regular file that the kernel can exec (ELF or ``#!``), the words are
  passed to execve directly: no shell, so nothing in a word is ever interpreted.
* Otherwise it runs through ``/bin/sh -c``: a script without a shebang (keepalived asks libmagic
  and falls back to ``system()``), a ``</path`` file test, or a first word that resolves to
  nothing. keepalived disables the last kind ("Cannot find script ... disabling"); ``Script.problem``
  says so and the daemon decides.
* Notify arguments (``INSTANCE VI_1 MASTER 100``) are appended as separate words, shell-quoted in
  shell mode. Packet data never reaches a command line: only names, states and priorities do.

How it runs (``run_script``): in its own process group (``process_group=0``) so a timeout can kill
the script *and* everything it started (SIGTERM to the group, SIGKILL after a grace period, as
keepalived does); stdin/stdout/stderr on /dev/null; IFS, LD_PRELOAD and LD_LIBRARY_PATH removed
from the environment; optionally as ``user [group]``. All waiting is asyncio, so the protocol loop
never blocks on a script.

``enable_script_security``: a script run as root must not be modifiable by anyone else, so every
path component (and the symlink target) must be owned by root and, unless it is a sticky
directory, not writable by a non-root group or by others (``check_security``).

``RiseFall`` is keepalived's result counter (``vrrp_scheduler.c``), pure and tested on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import shlex
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

SHELL = "/bin/sh"
KILL_GRACE = 2.0  # keepalived waits 2 s between the group SIGTERM and SIGKILL
_SCRUBBED_ENV = ("IFS", "LD_PRELOAD", "LD_LIBRARY_PATH")
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --- who runs it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptUser:
    """uid, gid and supplementary groups a script runs with."""

    uid: int
    gid: int
    groups: tuple[int, ...] = ()
    name: str = ""

    @property
    def is_root(self) -> bool:
        return self.uid == 0 or self.gid == 0


def resolve_user(user: str, group: str | None = None) -> ScriptUser:
    """``script_user``/``user`` keyword: a user name (or uid) and optional group; KeyError if unknown.

    keepalived clears supplementary groups unless the group is written ``:group`` (or ``:``),
    in which case the user's own supplementary groups are set.
    """
    entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    gid = entry.pw_gid
    groups: tuple[int, ...] = ()
    if group is not None and group.startswith(":"):
        groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
        group = group[1:] or None
    if group is not None:
        gid = grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
    return ScriptUser(uid=entry.pw_uid, gid=gid, groups=groups, name=entry.pw_name)


def current_user() -> ScriptUser:
    return ScriptUser(uid=os.geteuid(), gid=os.getegid(), name=pwd.getpwuid(os.geteuid()).pw_name)


# --- how it is invoked (pure apart from file lookups) -------------------------------------------


@dataclass(frozen=True)
class Script:
    """A prepared command: how it will be executed, decided once (at config load, as keepalived)."""

    text: str
    mode: Literal["exec", "shell"]
    argv: tuple[str, ...]  # exec: resolved path first; shell: the words as parsed
    path: str | None = None  # the executable actually run (exec mode) or found (shell mode)
    problem: str | None = None  # why keepalived would refuse or warn; None when fine
    user: ScriptUser | None = None

    def command(self, args: Sequence[str] = ()) -> list[str]:
        """The argv handed to the kernel, with extra (notify) arguments appended as words."""
        if self.mode == "exec":
            return [*self.argv, *args]
        if self.argv and self.argv[0][:1] in ("<", ">"):
            # keepalived's cmd_str: a leading redirection stays unquoted, every other word is quoted
            line = " ".join([self.argv[0], *(shlex.quote(a) for a in [*self.argv[1:], *args])])
        elif self.path is not None:
            line = shlex.join([self.path, *self.argv[1:], *args])
        else:
            line = " ".join([self.text, *(shlex.quote(a) for a in args)])
        return [SHELL, "-c", line]


def split_words(text: str) -> list[str]:
    """keepalived-like word splitting (quotes group words); ValueError on unbalanced quotes."""
    return shlex.split(text, comments=False, posix=True)


def _is_executable_file(path: str, user: ScriptUser | None) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    uid = os.geteuid() if user is None else user.uid
    gid = os.getegid() if user is None else user.gid
    mode = st.st_mode
    if uid == 0:
        return bool(mode & 0o111)
    if uid == st.st_uid:
        return bool(mode & stat.S_IXUSR)
    if gid == st.st_gid:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)


def find_executable(word: str, user: ScriptUser | None = None, path_env: str | None = None) -> str | None:
    """The file execve would run for ``word``: itself if it has a slash, else a PATH search."""
    if not word:
        return None
    if "/" in word:
        return word if _is_executable_file(word, user) else None
    search = path_env if path_env is not None else os.environ.get("PATH", _DEFAULT_PATH)
    for directory in search.split(":"):
        candidate = os.path.join(directory or ".", word)
        if _is_executable_file(candidate, user):
            return candidate
    return None


def _kernel_can_exec(path: str) -> bool:
    """ELF or ``#!``: what execve accepts. keepalived asks libmagic the same question."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head.startswith(b"#!") or head == b"\x7fELF"


def prepare(text: str, user: ScriptUser | None = None, path_env: str | None = None) -> Script:
    """Decide once how ``text`` will be executed (see the module docstring)."""
    try:
        words = split_words(text)
    except ValueError as exc:
        return Script(text=text, mode="shell", argv=(), problem=f"cannot parse command: {exc}", user=user)
    if not words:
        return Script(text=text, mode="shell", argv=(), problem="empty command", user=user)
    first = words[0]
    if first[:1] in ("<", ">"):
        return Script(text=text, mode="shell", argv=tuple(words), user=user)
    path = find_executable(first, user, path_env)
    if path is None:
        where = "" if "/" in first else " in path"
        problem = f"Cannot find script {first}{where} or it is not executable"
        return Script(text=text, mode="shell", argv=tuple(words), problem=problem, user=user)
    if not _kernel_can_exec(path):
        problem = f"Please add a #! shebang to script {first}"
        return Script(text=text, mode="shell", argv=tuple(words), path=path, problem=problem, user=user)
    return Script(text=text, mode="exec", argv=(path, *words[1:]), path=path, user=user)


# --- enable_script_security -----------------------------------------------------------------------


def _component_problem(path: str, st: os.stat_result, is_last: bool) -> str | None:
    mode = st.st_mode
    if not is_last and not stat.S_ISDIR(mode):
        return f"{path} is not a directory"
    if is_last and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        return f"{path} is not a regular file"
    if st.st_uid != 0:
        return f"{path} is owned by uid {st.st_uid}, not root"
    checked = (stat.S_ISDIR(mode) and not mode & stat.S_ISVTX) or stat.S_ISREG(mode)
    if checked and st.st_gid != 0 and mode & stat.S_IWGRP:
        return f"{path} is writable by group {st.st_gid}"
    if checked and mode & stat.S_IWOTH:
        return f"{path} is writable by everyone"
    return None


def check_security(path: str, lstat: Callable[[str], os.stat_result] = os.lstat) -> list[str]:
    """Why a root-run ``path`` is unsafe (empty list: safe). keepalived's ``check_security``.

    Walks ``/``, every parent directory and the file itself without following symlinks; if the
    path is a symlink (or has one among its parents) the resolved target is walked too, because
    that is the file that actually runs.
    """
    problems: list[str] = []
    targets = [os.path.abspath(path)]
    real = os.path.realpath(path)
    if real != targets[0]:
        targets.append(real)
    for target in targets:
        parts = target.split("/")[1:]
        prefixes = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
        for i, prefix in enumerate(prefixes):
            try:
                st = lstat(prefix)
            except OSError as exc:
                problems.append(f"cannot stat {prefix}: {exc.strerror}")
                break
            problem = _component_problem(prefix, st, i == len(prefixes) - 1)
            if problem is not None:
                problems.append(problem)
                break
    return problems


def needs_protection(script: Script) -> bool:
    """keepalived checks scripts that run with root's power: as uid/gid 0, or set-uid/gid root."""
    user = script.user or current_user()
    if user.is_root:
        return True
    if script.path is None:
        return False
    try:
        st = os.stat(script.path)
    except OSError:
        return False
    return (st.st_uid == 0 and bool(st.st_mode & stat.S_ISUID)) or (st.st_gid == 0 and bool(st.st_mode & stat.S_ISGID))


def script_security_problems(script: Script) -> list[str]:
    """What ``enable_script_security`` refuses this script for (empty: allowed)."""
    if not needs_protection(script):
        return []
    if script.path is None:
        return [script.problem or "script not found"] if script.mode == "exec" else []
    return check_security(script.path)


# --- running --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptResult:
    returncode: int | None  # None when it never started or was killed by a signal
    signal: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    error: str | None = None  # could not start (ENOENT, EACCES, bad user, ...)

    @property
    def ok(self) -> bool:
        """keepalived: success is exit status 0; a timeout or a signal is a failure."""
        return self.returncode == 0 and not self.timed_out


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}


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
    argv = script.command(args)
    user = script.user
    started = time.monotonic()
    kwargs: dict[str, object] = {}
    if user is not None and (user.uid != os.geteuid() or user.gid != os.getegid() or user.groups):
        kwargs = {"user": user.uid, "group": user.gid, "extra_groups": list(user.groups)}
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=_environment(),
            cwd="/",
            process_group=0,
            close_fds=True,
            **kwargs,  # type: ignore[arg-type]
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


class ScriptRefused(RuntimeError):
    """``enable_script_security`` (or a missing user) forbids running this command."""


UserSpec = ScriptUser | str | tuple[str, str | None] | None


def as_user(spec: UserSpec) -> ScriptUser | None:
    """``None``, a ScriptUser, ``"user [group]"`` or ``(user, group)`` as a ScriptUser."""
    if spec is None or isinstance(spec, ScriptUser):
        return spec
    if isinstance(spec, str):
        words = spec.split()
        if not words:
            return None
        return resolve_user(words[0], words[1] if len(words) > 1 else None)
    return resolve_user(spec[0], spec[1])


async def run_command(
    command: str,
    extra_args: Sequence[str] = (),
    timeout: float | None = None,
    user: UserSpec = None,
    security: bool = False,
) -> int | None:
    """Convenience for the daemon: prepare, check and run a command line; its exit status.

    None means it timed out or died of a signal (both failures for keepalived). Raises
    ScriptRefused when ``security`` (enable_script_security) forbids it or the user is unknown.
    """
    try:
        script_user = as_user(user)
    except (KeyError, ValueError) as exc:
        raise ScriptRefused(f"unknown script user {user!r}: {exc}") from exc
    script = prepare(command, script_user)
    if security:
        problems = script_security_problems(script)
        if problems:
            raise ScriptRefused(f"unsafe permissions for script {command!r}: {'; '.join(problems)}")
    result = await run_script(script, extra_args, timeout)
    if result.error is not None:
        raise ScriptRefused(f"cannot run {command!r}: {result.error}")
    return result.returncode


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


# --- rise / fall ----------------------------------------------------------------------------------


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
