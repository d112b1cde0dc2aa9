"""vrrp_track_process inside network namespaces, where keepalived 2.2.7's cannot work.

vrrpkit (priority 150, a tracked process with weight -60) and keepalived (120) share a virtual
router: while the process runs vrrpkit is MASTER; when it is killed vrrpkit's priority drops to 90
and keepalived takes over; when it runs again vrrpkit takes the VIP back. Then keepalived itself is
given the same vrrp_track_process in its namespace and, as measured, cannot subscribe to process
events ("errno 111") and counts the running process as absent. About 20 s of namespace time.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from needs import KEEPALIVED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confgen import config, instance, wait_holders

from vrrpkit.lab import Lab

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]


def tracked_program(lab: Lab) -> Path:
    """A copy of sleep under a name no other process on this machine has (its process name is the file name)."""
    path = lab.workdir / f"vktp{os.getpid() % 10**8}"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", path)
    return path


def block(name: str) -> str:
    return f"vrrp_track_process app {{\n    process {name}\n    weight -60\n}}\n"


def priority(lab: Lab, host: str) -> int:
    out = lab.exec(host, Lab.vrrpkit_argv("status", "--json"), timeout=10).stdout
    return int(json.loads(out)["instances"][0]["effective_priority"])


def test_a_killed_process_hands_the_vip_to_keepalived_and_back(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    program = tracked_program(lab)
    app = lab.popen("h1", [str(program), "600"])
    vk = lab.run_vrrpkit("h1", block(program.name) + config(instance(150, extra="track_process {\n    app\n}")))
    lab.run_keepalived("h2", config(instance(120)))
    wait_holders(lab, {"h1"}, 10)
    assert priority(lab, "h1") == 150
    assert vk.wait_for_log("scanning /proc", 2)  # no process events in a namespace: the scan works anyway
    app.kill()
    app.wait(5)
    took = wait_holders(lab, {"h2"}, 10)
    print(f"\nprocess killed -> keepalived MASTER in {took:.2f}s (scan every 0.5 s, then Master_Down_Interval)")
    assert priority(lab, "h1") == 90
    again = lab.popen("h1", [str(program), "600"])
    try:
        wait_holders(lab, {"h1"}, 10)  # 150 again: vrrpkit preempts
    except AssertionError as exc:  # failed once in ~15 runs (2026-11-30): say what vrrpkit saw of the process
        status = lab.exec("h1", Lab.vrrpkit_argv("status", "--json"), timeout=10, check=False).stdout
        ps = lab.exec("h1", ["ps", "-eo", "pid,stat,comm,args"], timeout=10, check=False).stdout
        raise AssertionError(f"{exc}\n--- vrrpkit status\n{status}\n--- ps\n{ps}") from None
    assert priority(lab, "h1") == 150
    again.kill()
    again.wait(5)


def test_keepalived_cannot_track_processes_in_a_namespace(make_lab: MakeLab) -> None:
    lab = make_lab(1)
    program = tracked_program(lab)
    app = lab.popen("h1", [str(program), "600"])
    ka = lab.run_keepalived("h1", block(program.name) + config(instance(150, extra="track_process {\n    app\n}")))
    try:
        assert ka.wait_for_log("Failed to set/clear process event listen - errno 111", 10), ka.log()[-3000:]
        assert ka.wait_for_log("Changing effective priority from 150 to 90", 5), ka.log()[-3000:]  # counted absent
    finally:
        app.kill()
        app.wait(5)
