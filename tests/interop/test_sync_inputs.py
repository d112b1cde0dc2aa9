"""One input that concerns every member of a sync group: the link under both, a track_file both
track. The daemon gives it to each member before the group settles, so each member judged it by
the other's state from before the input; after the link came back, vrrpkit held each member in
FAULT for the other and neither moved, for good. keepalived 2.2.7 (measured, same file, same lab):
both BACKUP at once, the group MASTER after Master_Down. Both daemons, one per test; about 25 s."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from needs import KEEPALIVED

from vrrpkit.lab import Lab

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]
VIPS = ("198.51.100.61", "198.51.100.62")


def conf(track: Path) -> str:
    def inst(name: str, vrid: int) -> str:
        return (f"vrrp_instance {name} {{\n state BACKUP\n interface eth0\n virtual_router_id {vrid}\n"
                f" priority 100\n advert_int 1\n virtual_ipaddress {{\n  198.51.100.{vrid}/32\n }}\n"
                " track_file {\n  tf\n }\n}\n")  # fmt: skip

    group = "vrrp_sync_group G1 {\n group {\n  VI_1\n  VI_2\n }\n}\n"
    head = f"global_defs {{\n router_id h1\n}}\nvrrp_track_file tf {{\n file {track}\n weight 0\n}}\n"
    return head + group + inst("VI_1", 61) + inst("VI_2", 62)


def held_by_h1(lab: Lab, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(lab.vip_holders(vip) == {"h1"} for vip in VIPS):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("daemon", ["keepalived", "vrrpkit"])
def test_a_group_comes_back_after_an_input_both_members_share(make_lab: MakeLab, daemon: str, tmp_path: Path) -> None:
    lab = make_lab(2)
    track = tmp_path / "track"
    track.write_text("0\n")
    proc = lab.run_vrrpkit("h1", conf(track)) if daemon == "vrrpkit" else lab.run_keepalived("h1", conf(track))
    assert held_by_h1(lab, 10), proc.log()[-2000:]
    for fault, mend in ((lambda: lab.link("h1", up=False), lambda: lab.link("h1", up=True)),
                        (lambda: track.write_text("1\n"), lambda: track.write_text("0\n"))):  # fmt: skip
        mark = len(proc.log())
        fault()
        assert proc.wait_for_log("Syncing instances to FAULT", timeout=10), proc.log()[mark:]
        time.sleep(1.0)
        mend()
        # both leave FAULT together, and the group is MASTER once Master_Down ran out (3.61 s)
        assert held_by_h1(lab, 8), (daemon, proc.log()[mark:])
        after = proc.log()[mark:]
        assert "(VI_1) Entering BACKUP" in after and "(VI_2) Entering BACKUP" in after, after
