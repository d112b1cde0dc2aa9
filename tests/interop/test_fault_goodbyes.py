"""A MASTER going to FAULT, keepalived 2.2.7 as the reference: the same file on h1 for both daemons,
h1's adverts captured at h2 (a keepalived BACKUP at priority 100 for VI_1).

Measured first (ad hoc: track_file, track_script and track_interface, alone and in a sync group,
and a reload adding a failing script): keepalived sends two priority-0 adverts for an instance
whose own tracker failed (its leave_master sends one, restore_interface another, the only one it
logs, 'sent 0 priority'), and one, unlogged, for a member its sync group takes along. vrrpkit sent
one for each and logged both, its goodbye's line before the FAULT line and the group's line after
its member's. On the way there, h1 starts as BACKUP beside h2's lower priority:
keepalived says '(VI_1) received lower priority (100) advert from 192.0.2.2 - discarding' for each
of h2's adverts until it takes over; vrrpkit said nothing. About 25 s."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from kaconf import GROUP, inst
from needs import KEEPALIVED

from vrrpkit.lab import Lab

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]


def h1_conf(track: Path) -> str:
    head = f"global_defs {{\n router_id h1\n}}\nvrrp_track_file tf {{\n file {track}\n weight 0\n}}\n"
    return head + GROUP + inst("VI_1", 61, 150, " track_file {\n  tf\n }\n") + inst("VI_2", 62, 150)


@pytest.mark.parametrize("daemon", ["keepalived", "vrrpkit"])
def test_a_fault_of_its_own_says_goodbye_twice_and_the_group_s_member_once(
    make_lab: MakeLab, daemon: str, tmp_path: Path
) -> None:
    lab = make_lab(2, ipv6=False)
    peer = lab.run_keepalived("h2", "global_defs {\n router_id h2\n}\n" + inst("VI_1", 61, 100))
    assert peer.wait_for_log("(VI_1) Entering MASTER STATE", timeout=10), peer.log()[-2000:]
    track = tmp_path / "track"
    track.write_text("0\n")
    text = h1_conf(track)
    proc = lab.run_vrrpkit("h1", text) if daemon == "vrrpkit" else lab.run_keepalived("h1", text)
    assert proc.wait_for_log("(VI_1) Entering MASTER STATE", timeout=10), proc.log()[-2000:]
    assert proc.wait_for_log("(VI_2) Entering MASTER STATE", timeout=5), proc.log()[-2000:]
    log = proc.log()
    assert f"(VI_1) received lower priority (100) advert from {lab.addr('h2')} - discarding" in log, log
    cap = lab.start_capture("h2", f"vrrp and src host {lab.addr('h1')}")
    mark = len(proc.log())
    track.write_text("1\n")
    assert proc.wait_for_log("Syncing instances to FAULT", timeout=10), proc.log()[mark:]
    time.sleep(0.5)
    goodbyes = Counter()
    for frame in cap.frames():
        ip = frame.data[14:]
        vrrp = ip[(ip[0] & 0x0F) * 4 :]
        if vrrp[2] == 0:
            goodbyes[vrrp[1]] += 1
    after = proc.log()[mark:]
    assert goodbyes == {61: 2, 62: 1}, (daemon, goodbyes, after)
    assert after.count("(VI_1) sent 0 priority") == 1 and "(VI_2) sent 0 priority" not in after, after
    # and keepalived's order of lines: the file, the fault, its goodbye, the group, the member it took along
    order = ["(VI_1): tracked file tf now FAULT state", "(VI_1) Entering FAULT STATE", "(VI_1) sent 0 priority",
             "VRRP_Group(G1) Syncing instances to FAULT", "(VI_2) Entering FAULT STATE"]  # fmt: skip
    at = [after.find(line) for line in order]
    assert -1 not in at and at == sorted(at), (daemon, after)
