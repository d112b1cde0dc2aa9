"""A reload that moves an address owner held in FAULT by its sync group (another member's
track_script fails) into a group whose members are BACKUP under a live peer: keepalived 2.2.7
re-inits the owner as BACKUP and nothing else moves (no advert from the host, no VIP, no group
notify). Both daemons run the same two files on h1, one after the other; h2 is keepalived, master
of the second group's VRIDs. Before the fix vrrpkit released the owner as MASTER, an election its
new group followed: three VIPs set and given back to h2 a moment later. About 30 s."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest
from kaconf import inst
from needs import KEEPALIVED

from vrrpkit.lab import Lab

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]
HEAD = """global_defs {
 router_id R
 enable_script_security
 script_user root
}
vrrp_script chk_fail {
 script "/bin/false"
 interval 1
}
"""


def group(name: str, *members: str) -> str:
    return f"vrrp_sync_group {name} {{\n group {{\n" + "".join(f"  {m}\n" for m in members) + " }\n}\n"


FAILING = " track_script {\n  chk_fail\n }\n"
INSTANCES = inst("VI_1", 61, 255) + inst("VI_2", 62, 100, FAILING) + inst("VI_3", 63, 100) + inst("VI_4", 64, 100)
BEFORE = HEAD + group("G1", "VI_1", "VI_2") + group("G2", "VI_3", "VI_4") + INSTANCES
AFTER = HEAD + group("G2", "VI_1", "VI_3", "VI_4") + INSTANCES
PEER = HEAD.replace("R", "h2") + group("P", "VI_3", "VI_4") + inst("VI_3", 63, 200) + inst("VI_4", 64, 200)
VIPS = [f"198.51.100.{vrid}" for vrid in (61, 62, 63, 64)]


@pytest.mark.parametrize("daemon", ["keepalived", "vrrpkit"])
def test_a_reload_moving_a_held_owner_into_a_backup_group_moves_nothing(make_lab: MakeLab, daemon: str) -> None:
    lab = make_lab(2)
    lab.run_keepalived("h2", PEER)
    time.sleep(4.0)  # h2 is master of VRIDs 63 and 64
    proc = lab.run_vrrpkit("h1", BEFORE) if daemon == "vrrpkit" else lab.run_keepalived("h1", BEFORE)
    assert proc.wait_for_log("Syncing instances to FAULT", timeout=10), proc.log()[-2000:]
    time.sleep(2.0)
    cap = lab.start_capture("h2", f"vrrp and src host {lab.addr('h1')}")
    proc.conf_path.write_text(AFTER)
    proc.signal(signal.SIGHUP)
    time.sleep(5.0)  # past VI_1's Master_Down (3 s): the group holds it in BACKUP
    frames = cap.frames()
    log = proc.log()
    after = log[log.index("Reloading") :]
    assert not frames, frames  # h1 sent no advert
    assert all("h1" not in lab.vip_holders(vip) for vip in VIPS), log[-2000:]
    assert "Entering MASTER" not in after and "setting VIPs" not in after, after
    assert "VI_1) Entering BACKUP" in after, after
    assert "G2) Syncing" not in after, after  # the group did not move: no notify
