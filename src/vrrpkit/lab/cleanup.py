"""Finding labs on this machine and removing them, whoever made them and however they died.

Teardown trusts the kernel over the state file: whatever the file forgot, `ip netns pids` still
knows which processes live in the lab's namespaces, and deleting the namespaces removes every
veth, the bridge and the nft table with them.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping
from typing import Any

from vrrpkit.lab import system
from vrrpkit.lab.state import RUN_ROOT, read_state, run_dir
from vrrpkit.lab.system import LabError
from vrrpkit.lab.topology import MARKER, NAME_RE, lab_namespaces, validate_name


def _has_marker(netns: str) -> bool:
    try:
        links = system.ip_json("link", "show", netns=netns)
    except LabError:
        return False
    return any(str(link.get("ifalias", "")).startswith(MARKER) for link in links)


def list_labs() -> list[str]:
    """Names of every lab on this machine: run directories plus namespaces marked as a lab's.

    The marker (an ifalias on the bridge and on each host's eth0) finds labs whose run directory
    is gone; the run directory (created before any namespace) finds labs that crashed before
    their first interface existed.
    """
    names: set[str] = set()
    if RUN_ROOT.is_dir():
        names.update(p.name for p in RUN_ROOT.iterdir() if p.is_dir() and NAME_RE.fullmatch(p.name))
    for ns in system.netns_list():
        match = re.fullmatch(r"([a-z][a-z0-9]{0,9})-(?:sw|h\d+)", ns)
        if match and match.group(1) not in names and _has_marker(ns):
            names.add(match.group(1))
    return sorted(names)


def exists(name: str) -> bool:
    """Anything of lab `name` is left: its run directory or one of its namespaces."""
    return run_dir(name).exists() or bool(lab_namespaces(name))


def teardown(name: str, popens: Mapping[int, subprocess.Popen[Any]], *, grace: float = 2.0) -> None:
    """Remove everything lab `name` made: processes, namespaces (with their links and nft tables), run dir.

    Safe to repeat and safe on half-built or crashed labs. `popens` are the children this process
    started in the lab, reaped here so that they do not linger as zombies.
    """
    state = read_state(name) or {}
    namespaces = lab_namespaces(name)
    if namespaces:
        system.kill_netns_processes(namespaces, grace=grace)
    for entry in state.get("processes", []):  # a process caught before it entered its namespace
        if system.pid_alive(entry["pid"], entry.get("starttime")):
            system.send_signal(entry["pid"], signal.SIGKILL, group=True)
    for proc in popens.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2.0)
    for ns in namespaces:
        system.netns_delete(ns)
    leftover = lab_namespaces(name)
    if leftover:
        raise LabError(f"could not delete namespaces {leftover}")
    workdir = state.get("workdir")
    if workdir and state.get("own_workdir"):
        shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(run_dir(name), ignore_errors=True)


def cleanup_leftovers(name: str | None = None) -> list[str]:
    """Tear down lab `name`, or every lab on the machine, whoever made it and however it died.

    Returns the names of the labs that were removed. This is `vrrpkit lab down` and what tests
    call after a crash.
    """
    names = [validate_name(name)] if name is not None else list_labs()
    removed = []
    for lab_name in names:
        if exists(lab_name):
            teardown(lab_name, {})
            removed.append(lab_name)
    return removed
