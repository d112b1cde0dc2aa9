"""An address owner (priority 255) on its own, keepalived 2.2.7 as the reference (measured, same
files): it starts MASTER at once only when its `state` is MASTER or unset; with `state BACKUP` it
starts as a BACKUP and takes the VIP after Master_Down (3.00 s at 1 s adverts). Leaving FAULT (a
weight-0 track_file back to 0) it goes BACKUP and takes the VIP back after Master_Down, whatever its
state. vrrpkit took the VIP at once in both. h1's adverts are captured at h2; about 30 s."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from needs import KEEPALIVED

from vrrpkit.lab import Lab
from vrrpkit.lab.pcap import Frame

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]


def conf(state: str, track: Path) -> str:
    line = f" state {state}\n" if state else ""
    return (f"global_defs {{\n router_id h1\n}}\nvrrp_track_file tf {{\n file {track}\n weight 0\n}}\n"
            f"vrrp_instance VI_1 {{\n{line} interface eth0\n virtual_router_id 61\n priority 255\n"
            " advert_int 1\n virtual_ipaddress {\n  198.51.100.61/32\n }\n track_file {\n  tf\n }\n}\n")  # fmt: skip


def first_advert(frames: list[Frame], since: float) -> float:
    return min(f.time for f in frames if f.time >= since) - since


@pytest.mark.parametrize("daemon", ["keepalived", "vrrpkit"])
@pytest.mark.parametrize("state", ["", "BACKUP"])
def test_an_owner_starts_and_recovers_as_keepalived_does(
    make_lab: MakeLab, daemon: str, state: str, tmp_path: Path
) -> None:
    lab = make_lab(2)
    track = tmp_path / "track"
    track.write_text("0\n")
    cap = lab.start_capture("h2", f"vrrp and src host {lab.addr('h1')}")
    t0 = time.time()
    text = conf(state, track)
    proc = lab.run_vrrpkit("h1", text) if daemon == "vrrpkit" else lab.run_keepalived("h1", text)
    assert proc.wait_for_log("(VI_1) Entering MASTER", timeout=10), proc.log()[-2000:]
    time.sleep(0.5)  # the advert leaves after the line
    started = first_advert(cap.frames(), t0)
    log = proc.log()
    if state == "BACKUP":  # Master_Down 3.00 s, plus up to a second of the daemon's own start
        assert "(VI_1) Entering BACKUP STATE (init)" in log and 2.9 <= started <= 4.5, (started, log[-2000:])
    else:
        assert "Entering BACKUP" not in log and started <= 1.5, (started, log[-2000:])
    track.write_text("1\n")
    assert proc.wait_for_log("(VI_1) Entering FAULT", timeout=5), proc.log()[-2000:]
    time.sleep(1.0)
    mark = len(proc.log())
    cap = lab.start_capture("h2", f"vrrp and src host {lab.addr('h1')}")
    back = time.time()
    track.write_text("0\n")
    end = time.monotonic() + 8
    while "(VI_1) Entering MASTER" not in proc.log()[mark:] and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.5)
    after = proc.log()[mark:]
    again = first_advert(cap.frames(), back)
    # BACKUP first, the VIP after Master_Down (3.00 s; vrrpkit reads the file up to 0.5 s late)
    assert after.index("(VI_1) Entering BACKUP") < after.index("(VI_1) Entering MASTER"), after
    assert 2.9 <= again <= 4.0, (again, after)
    assert lab.vip_holders("198.51.100.61") == {"h1"}
