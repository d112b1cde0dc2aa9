"""An address owner in a sync group, keepalived 2.2.7 as the reference: the same file on h1 for
both daemons, one after the other, h1's adverts captured at h2.

Measured first (ad hoc, then kept here): keepalived keeps every member of a group in INIT while one
waits for a weight-0 script, and starts an owner in a group as BACKUP like the rest; the group goes
MASTER only when every member's Master_Down ran out (3.61 s at 1 s adverts beside a priority-100
member). vrrpkit used to start the owner MASTER at once: with a failing script, an advert at 255,
the VIP and GARPs, then priority 0 and FAULT within the second. And when the owner's own fault
clears while another member's master is alive on h2, keepalived brings the group back as BACKUP;
vrrpkit took the owner MASTER and left the other member in FAULT. About 60 s."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kaconf import inst
from needs import KEEPALIVED

from vrrpkit.lab import Lab
from vrrpkit.lab.pcap import Frame

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]
HEAD = """global_defs {
 router_id h1
 enable_script_security
 script_user root
}
vrrp_script chk {
 script "/bin/sh -c 'sleep 0.5; exit 1'"
 interval 1
}
vrrp_sync_group G1 {
 group {
  VI_1
  VI_2
 }
}
"""


FAILING = HEAD + inst("VI_1", 61, 255) + inst("VI_2", 62, 100, " track_script {\n  chk\n }\n")
PLAIN = HEAD + inst("VI_1", 61, 255) + inst("VI_2", 62, 100)


def adverts(frames: list[Frame], since: float) -> list[tuple[float, int, int]]:
    """(seconds after `since`, VRID, priority) of each captured IPv4 VRRP frame."""
    out = []
    for frame in frames:
        ip = frame.data[14:]
        vrrp = ip[(ip[0] & 0x0F) * 4 :]
        out.append((round(frame.time - since, 3), vrrp[1], vrrp[2]))
    return out


def start_h1(
    lab: Lab, daemon: str, text: str, until: str, timeout: float, after: float
) -> tuple[str, list[tuple[float, int, int]]]:
    """Start `daemon` on h1 with h1's adverts captured at h2; once `until` is logged and `after`
    more seconds passed: its log, and the adverts (seconds after the start, VRID, priority)."""
    cap = lab.start_capture("h2", f"vrrp and src host {lab.addr('h1')}")
    t0 = time.time()
    proc = lab.run_vrrpkit("h1", text) if daemon == "vrrpkit" else lab.run_keepalived("h1", text)
    assert proc.wait_for_log(until, timeout=timeout), proc.log()[-2000:]
    time.sleep(after)
    return proc.log(), adverts(cap.frames(), t0)


@pytest.mark.parametrize("daemon", ["keepalived", "vrrpkit"])
def test_an_owner_never_advertises_for_a_group_its_member_takes_to_fault(make_lab: MakeLab, daemon: str) -> None:
    lab = make_lab(2)
    log, sent = start_h1(lab, daemon, FAILING, "Syncing instances to FAULT", 10, 1.0)
    assert not sent, (sent, log[-2000:])
    assert "setting VIPs" not in log and "Entering MASTER" not in log, log[-2000:]
    assert "h1" not in lab.vip_holders("198.51.100.61"), log[-2000:]


@pytest.mark.parametrize("daemon", ["keepalived", "vrrpkit"])
def test_an_owner_in_a_sync_group_starts_as_backup_and_the_group_goes_master_together(
    make_lab: MakeLab, daemon: str
) -> None:
    lab = make_lab(2)
    log, sent = start_h1(lab, daemon, PLAIN, "(VI_1) Entering MASTER", 15, 0.5)
    assert "(VI_1) Entering BACKUP" in log, log[-2000:]
    first = {vrid: min(t for t, v, _ in sent if v == vrid) for vrid in (61, 62)}
    # nobody speaks before the group's slowest Master_Down (3.61 s; the daemon's own start adds
    # up to a second on a loaded host), then both at once
    assert all(3.5 <= t <= 6.0 for t in first.values()), (sent, log[-2000:])
    assert abs(first[61] - first[62]) < 0.1, sent
    assert lab.vip_holders("198.51.100.61") == {"h1"} and lab.vip_holders("198.51.100.62") == {"h1"}


def test_an_owner_leaving_fault_stays_backup_while_its_group_cannot(make_lab: MakeLab, tmp_path: Path) -> None:
    """h2 (keepalived) is master of VI_2's VRID at 200; VI_1's weight-0 track_file goes to fault
    and back. Both daemons on h1, one after the other, in the same lab."""
    lab = make_lab(2)
    lab.run_keepalived("h2", "global_defs {\n router_id h2\n}\n" + inst("VI_2", 62, 200))
    time.sleep(4.0)
    for daemon in ("keepalived", "vrrpkit"):
        track = tmp_path / f"{daemon}.track"
        track.write_text("0\n")
        conf = (HEAD.replace("vrrp_script chk", f"vrrp_track_file tf {{\n file {track}\n weight 0\n}}\nvrrp_script chk")
                + inst("VI_1", 61, 255, " track_file {\n  tf\n }\n") + inst("VI_2", 62, 100))  # fmt: skip
        proc = lab.run_vrrpkit("h1", conf) if daemon == "vrrpkit" else lab.run_keepalived("h1", conf)
        assert proc.wait_for_log("(VI_2) Entering BACKUP", timeout=10), proc.log()[-2000:]
        track.write_text("1\n")
        assert proc.wait_for_log("Syncing instances to FAULT", timeout=10), proc.log()[-2000:]
        time.sleep(1.0)
        cap = lab.start_capture("h2", f"vrrp and src host {lab.addr('h1')}")
        mark = len(proc.log())
        track.write_text("0\n")
        time.sleep(5.0)  # past VI_1's Master_Down (3 s): held by VI_2, which hears h2
        sent = adverts(cap.frames(), 0.0)
        after = proc.log()[mark:]
        proc.stop(timeout=10)
        assert "(VI_1) Entering BACKUP" in after and "(VI_2) Entering BACKUP" in after, (daemon, after)
        assert not sent and "Entering MASTER" not in after and "setting VIPs" not in after, (daemon, sent, after)
        assert lab.vip_holders("198.51.100.62") == {"h2"} and not lab.vip_holders("198.51.100.61"), daemon
