"""Running things inside a lab host: argv and environment, short commands, detached daemons, signals.

Every command enters its host with `ip netns exec` in a session of its own, so that one killpg
reaches it and everything it forked (keepalived's VRRP child) and nothing else.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from vrrpkit.lab import system

SRC_DIR = str(Path(__file__).resolve().parents[2])  # the directory that holds the vrrpkit package

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.05) -> T | None:
    """Poll `predicate` until it returns something truthy (returned) or `timeout` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def host_env(lab: str, host: str, control: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for commands in `host`: this Python's bin dir on PATH, VRRPKIT_CONTROL = `control`.

    PYTHONPATH points at this vrrpkit, so `python -m vrrpkit` in the lab runs the code under test.
    """
    env = dict(os.environ)
    path = env.get("PATH", "")
    env["PATH"] = ":".join([str(Path(sys.executable).parent), path, "/usr/sbin:/usr/bin:/sbin:/bin"])
    env["PYTHONPATH"] = ":".join(p for p in (SRC_DIR, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["VRRPKIT_CONTROL"] = str(control)
    env["VRRPKIT_LAB"] = lab
    env["VRRPKIT_LAB_HOST"] = host
    if extra:
        env.update(extra)
    return env


def vrrpkit_argv(*args: str) -> list[str]:
    """argv that runs this vrrpkit (`python -m vrrpkit ARGS`), independent of PATH."""
    return [sys.executable, "-m", "vrrpkit", *args]


FRR_DAEMONS = Path("/usr/lib/frr")


def frr_argv(daemon: str, conf: Path, rundir: Path) -> list[str]:
    """An FRR daemon (zebra or vrrpd) in the foreground, its config, pid file, zebra socket and vty
    socket all in `rundir`, so several hosts' FRRs share a machine without sharing /run/frr. FRR
    runs as its own `frr` user, which needs `rundir` to be its own (Lab.run_frr does that)."""
    return [
        str(FRR_DAEMONS / daemon),
        "-f", str(conf),
        "-i", str(rundir / f"{daemon}.pid"),
        "-z", str(rundir / "zserv.api"),
        "--vty_socket", str(rundir),
        "-P", "0",
        "--log", "stdout",
    ]  # fmt: skip


def keepalived_argv(binary: str, conf: Path, extra_args: Sequence[str] = (), role: str = "--vrrp") -> list[str]:
    """keepalived with one part only (`--vrrp`, or `--check` for the LVS checker), in the foreground,
    logging to the console, with pid files next to `conf`.

    Each keepalived gets its own -p/-r/-c/-b pid files: with the defaults in /run, a second
    keepalived on the same machine would think the first one is itself and refuse to start.
    """
    stem = conf.with_suffix("")
    return [
        system.tool(binary) if "/" not in binary else binary,
        "--dont-fork",
        "--log-console",
        "--log-detail",
        "--no-syslog",
        role,
        "-f", str(conf),
        "-p", f"{stem}.pid",
        "-r", f"{stem}.vrrp.pid",
        "-c", f"{stem}.checkers.pid",
        "-b", f"{stem}.bfd.pid",
        *extra_args,
    ]  # fmt: skip


def netns_command(netns: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs `argv` inside namespace `netns`."""
    return [system.tool("ip"), "netns", "exec", netns, *argv]


def run_in(
    netns: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    check: bool,
    timeout: float,
    input: str | None,
) -> subprocess.CompletedProcess[str]:
    """Run a command in `netns` and wait; text output captured.

    On timeout the command's whole process group is killed and TimeoutExpired raised; with
    `check`, a non-zero exit raises CalledProcessError (stdout/stderr attached).
    """
    proc = subprocess.Popen(
        netns_command(netns, argv),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        system.send_signal(proc.pid, signal.SIGKILL, group=True)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(list(argv), timeout, out, err) from None
    done = subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, list(argv), out, err)
    return done


def start_in(netns: str, argv: Sequence[str], *, env: Mapping[str, str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
    """Start a command in `netns` in a process group of its own and return at once."""
    proc: subprocess.Popen[Any] = subprocess.Popen(
        netns_command(netns, argv), env=dict(env), start_new_session=True, **popen_kwargs
    )
    return proc


@dataclass(eq=False)
class LabProcess:
    """A daemon (or any command) the lab started inside one host.

    `proc` is the Popen when this Python process started it, None when the lab was attached from
    elsewhere (then `pid` + `starttime` identify it, so a recycled pid is never signalled).
    """

    host: str
    kind: str
    pid: int
    starttime: int | None
    argv: list[str]
    log_path: Path
    conf_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @classmethod
    def from_record(cls, entry: Mapping[str, Any]) -> LabProcess:
        """The process a state-file entry (as written by `record`) describes, without a Popen."""
        conf = entry.get("conf")
        return cls(
            entry["host"],
            entry["kind"],
            entry["pid"],
            entry.get("starttime"),
            entry["argv"],
            Path(entry["log"]),
            Path(conf) if conf else None,
        )

    def record(self) -> dict[str, Any]:
        """The state-file entry from which another process can find and signal this one."""
        return {
            "host": self.host,
            "kind": self.kind,
            "pid": self.pid,
            "starttime": self.starttime,
            "argv": self.argv,
            "log": str(self.log_path),
            "conf": str(self.conf_path) if self.conf_path else None,
        }

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        """Running (or stopped) and not yet exited; a zombie counts as exited."""
        if self.proc is not None:
            return self.proc.poll() is None
        return system.pid_alive(self.pid, self.starttime)

    def log(self) -> str:
        """Everything the process wrote to stdout/stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str | re.Pattern[str], timeout: float = 10.0) -> bool:
        """True once `text` (substring or regex) shows up in the log; False after `timeout`."""

        def seen() -> bool:
            log = self.log()
            return bool(text.search(log)) if isinstance(text, re.Pattern) else text in log

        return bool(wait_until(seen, timeout, interval=0.05))

    def signal(self, sig: int, *, group: bool = False) -> bool:
        """Send `sig` to the process, or with `group` to its whole process group (keepalived's children).

        Returns False when the process is already gone.
        """
        if not self.alive():
            return False
        return system.send_signal(self.pid, sig, group=group)

    def wait(self, timeout: float) -> int | None:
        """Wait for exit; the return code when we are its parent, else 0 once it is gone; None on timeout."""
        if self.proc is not None:
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        return 0 if wait_until(lambda: not self.alive(), timeout) else None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (what systemd does), wait up to `timeout`, then SIGKILL the group; returns the exit code."""
        if self.alive():
            self.signal(signal.SIGTERM)
            self.signal(signal.SIGCONT)  # a stopped process would never see the SIGTERM
            code = self.wait(timeout)
            if code is not None:
                system.send_signal(self.pid, signal.SIGKILL, group=True)  # orphaned children, if any
                return code
        self.kill()
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, no priority-0 advert, no cleanup."""
        system.send_signal(self.pid, signal.SIGKILL, group=True)
        self.wait(5.0)

    def describe(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "kind": self.kind,
            "pid": self.pid,
            "alive": self.alive(),
            "argv": self.argv,
            "log": str(self.log_path),
            "conf": str(self.conf_path) if self.conf_path else None,
        }
