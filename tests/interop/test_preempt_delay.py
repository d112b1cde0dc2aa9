"""preempt_delay as keepalived 2.2.7 does it (measured, same files): a BACKUP that outranks the
master keeps counting the master's adverts until the delay is over, then discards them, and takes
over when Master_Down runs out from the last one it counted. With 1 s adverts, priority 150 against
100 and preempt_delay 2, the takeover came 4.41 s after the first advert heard (5.01 s after a
start whose first advert came at 0.6 s; 8.01 s with preempt_delay 5); vrrpkit took over when the
delay ended (2.0 s), and with sync groups sometimes a second early (an advert read lazily, after the
delay's end, was judged by its reading time). h2 is keepalived; about 25 s."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kaconf import GROUP, inst
from needs import KEEPALIVED

from vrrpkit.lab import Lab

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]


DELAY = " preempt_delay 2\n"


@pytest.mark.parametrize("daemon", ["keepalived", "vrrpkit"])
@pytest.mark.parametrize("grouped", [False, True])
def test_preempt_delay_then_master_down(make_lab: MakeLab, daemon: str, grouped: bool) -> None:
    lab = make_lab(2)
    peer = GROUP + inst("VI_1", 61, 100) + inst("VI_2", 62, 100) if grouped else inst("VI_1", 61, 100)
    ours = inst("VI_1", 61, 150, DELAY)
    if grouped:
        ours = GROUP + ours + inst("VI_2", 62, 150, DELAY)
    lab.run_keepalived("h2", "global_defs {\n router_id h2\n}\n" + peer)
    time.sleep(4.0)  # h2 is master
    cap = lab.start_capture("h1", "vrrp and ip proto 112")
    t0 = time.time()
    text = "global_defs {\n router_id h1\n}\n" + ours
    proc = lab.run_vrrpkit("h1", text) if daemon == "vrrpkit" else lab.run_keepalived("h1", text)
    assert proc.wait_for_log("(VI_1) Entering MASTER", timeout=12), proc.log()[-2000:]
    time.sleep(0.5)
    frames = cap.frames()
    h2 = lab.addr("h2").packed
    # adverts from h2 after both daemons are surely up (keepalived may have heard one earlier)
    heard = [f.time for f in frames if f.data[26:30] == h2 and f.time > t0 + 0.5]
    took = min(f.time for f in frames if f.data[26:30] != h2 and f.time > t0)
    # 4.41 s after the first advert the daemon counted (3.41 s if that came before `heard[0]`)
    assert 3.3 <= took - heard[0] <= 5.5, (took - heard[0], proc.log()[-2000:])
    assert "h1" in lab.vip_holders("198.51.100.61")
