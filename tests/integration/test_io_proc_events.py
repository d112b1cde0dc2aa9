"""Kernel process events (the proc connector) where the kernel sends them: the initial network namespace.

The connector is a netlink socket to the kernel, not network traffic; it refuses subscribers in any
other network namespace (the namespace tests cover the /proc scan instead). Here: a process
started and ended under our eyes shows up as fork, exec and exit, and ProcessTrackers counts a
tracked process up and down from those events alone.
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import subprocess
from pathlib import Path

import pytest

from vrrpkit.config import load_string
from vrrpkit.daemon.proctrack import ProcessTrackers
from vrrpkit.io.proc import PROC_EVENT_EXEC, PROC_EVENT_EXIT, PROC_EVENT_FORK, ProcEvents

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root (proc connector)")]


def events_or_skip() -> ProcEvents:
    try:
        return ProcEvents()
    except OSError as exc:
        pytest.skip(f"no process events here ({exc.strerror}): not the initial network namespace")


def test_fork_exec_and_exit_of_a_child_are_reported() -> None:
    with events_or_skip() as ev:
        child = subprocess.Popen(["/bin/true"])
        child.wait()
        seen: list[tuple[int, int, int]] = []
        for _ in range(50):
            if not select.select([ev], [], [], 0.1)[0]:
                continue
            events, _lost = ev.drain()
            seen += [e for e in events if e[1] == child.pid]
            if any(e[0] == PROC_EVENT_EXIT for e in seen):
                break
        kinds = [what for what, _, _ in seen]
        assert kinds[:1] == [PROC_EVENT_FORK] and PROC_EVENT_EXEC in kinds and kinds[-1] == PROC_EVENT_EXIT
        assert seen[0][2] == os.getpid()  # the fork names its parent


def test_a_tracked_process_is_counted_from_events(tmp_path: Path) -> None:
    events_or_skip().close()
    program = tmp_path / f"vkev{os.getpid() % 10**8}"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    result = load_string(f"vrrp_track_process p {{\n  process {program.name}\n}}\n"
                         "vrrp_instance VI_1 {\n  interface lo\n  virtual_router_id 1\n"
                         "  track_process {\n    p\n  }\n  virtual_ipaddress {\n    192.0.2.9/32\n  }\n}\n")
    changes: list[bool] = []

    async def main() -> str:
        trackers = ProcessTrackers(lambda name, ok: changes.append(ok))
        trackers.configure(result, result.instances)
        assert trackers.initial("p") is False
        proc = await asyncio.create_subprocess_exec(str(program), "30")
        for _ in range(100):
            if changes:
                break
            await asyncio.sleep(0.02)
        proc.kill()
        await proc.wait()
        for _ in range(100):
            if len(changes) > 1:
                break
            await asyncio.sleep(0.02)
        mode = trackers.mode
        trackers.stop()
        return mode

    assert asyncio.run(main()) == "events"
    assert changes == [True, False]
