"""A lab's state file: its shape, its faults and its daemons, shared between processes.

The file, not a `Lab` object, is the truth: the CLI is a new process on every call and
`cleanup_leftovers` may run after the lab's creator was SIGKILLed, so both pick the lab up from
`/run/vrrpkit-lab/NAME/state.json`. Pids are stored with their start times so that a recycled
pid is never signalled. Read-modify-write cycles hold an flock on the run directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from vrrpkit.lab import system
from vrrpkit.lab.system import LabError

RUN_ROOT = Path(os.environ.get("VRRPKIT_LAB_DIR", "/run/vrrpkit-lab"))


def run_dir(name: str) -> Path:
    """Where a lab keeps its state file, control sockets and (by default) logs."""
    return RUN_ROOT / name


def state_path(name: str) -> Path:
    return run_dir(name) / "state.json"


def new_state(name: str, *, hosts: int, ipv6: bool, workdir: Path, own_workdir: bool, cloud: bool) -> dict[str, Any]:
    """The state of a lab being built by this process: no faults but `cloud`, no daemons yet."""
    return {
        "version": 1,
        "name": name,
        "hosts": hosts,
        "ipv6": ipv6,
        "phase": "starting",
        "workdir": str(workdir),
        "own_workdir": own_workdir,
        "owner": {"pid": os.getpid(), "starttime": system.proc_starttime(os.getpid())},
        "cloud": cloud,
        "loss": {},
        "down": [],
        "partition": [],
        "processes": [],
    }


def read_state(name: str) -> dict[str, Any] | None:
    """The lab's state, or None when there is no (readable) state file."""
    try:
        loaded: dict[str, Any] = json.loads(state_path(name).read_text())
    except (OSError, ValueError):
        return None
    return loaded


def load_state(name: str) -> dict[str, Any]:
    """The lab's state; LabError when the lab is not up."""
    state = read_state(name)
    if state is None:
        raise LabError(f"lab {name} is not up (no {state_path(name)})")
    return state


def write_state(name: str, state: Mapping[str, Any]) -> None:
    """Replace the state file atomically: a reader never sees half a document."""
    path = state_path(name)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Serialise read-modify-write of one lab's state between processes (flock on the run dir)."""
    try:
        fd = os.open(run_dir(name), os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError as exc:
        raise LabError(f"lab {name} is not up (no {run_dir(name)})") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
