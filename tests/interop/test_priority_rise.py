"""A BACKUP whose priority rises above its master's (a weighted track_file back to 0) takes over
when Master_Down runs out from the master's last advert, counted again with the new Skew_Time:
keepalived 2.2.7 (measured, same files) 3.414 s after that advert, with 1 s adverts and priority
150 against 100. vrrpkit never took over: the master's advert, the same bytes as before the
change, was still taken as a mere repeat of the one it followed. Then, fixed but judged lazily,
2.414 s: the last advert waited unread in a lazily read socket and was judged under the new
priority. h2 is keepalived; about 30 s."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from needs import KEEPALIVED

from vrrpkit.lab import Lab

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]


def inst(prio: int, extra: str = "") -> str:
    return (f"vrrp_instance VI_1 {{\n state BACKUP\n interface eth0\n virtual_router_id 61\n priority {prio}\n"
            f" advert_int 1\n virtual_ipaddress {{\n  198.51.100.61/32\n }}\n{extra}}}\n")  # fmt: skip


@pytest.mark.parametrize("daemon", ["keepalived", "vrrpkit"])
def test_a_backup_whose_priority_rises_above_its_master_takes_over(
    make_lab: MakeLab, daemon: str, tmp_path: Path
) -> None:
    lab = make_lab(2)
    weight = tmp_path / "weight"
    weight.write_text("-60\n")  # 150 - 60 = 90, under the master's 100
    lab.run_keepalived("h2", "global_defs {\n router_id h2\n}\n" + inst(100))
    time.sleep(3.5)
    text = (f"global_defs {{\n router_id h1\n}}\ntrack_file tf {{\n file {weight}\n weight 1\n}}\n"
            + inst(150, " track_file {\n  tf\n }\n"))  # fmt: skip
    proc = lab.run_vrrpkit("h1", text) if daemon == "vrrpkit" else lab.run_keepalived("h1", text)
    time.sleep(5.0)  # long enough for a lazily read socket
    h2 = lab.addr("h2").packed
    cap = lab.start_capture("h1", "vrrp")
    time.sleep(1.6)
    cap_frames = cap.frames()
    last = max(f.time for f in cap_frames if f.data[26:30] == h2)
    time.sleep(max(0.0, last + 1.2 - time.time()))  # 0.2 s after one of h2's adverts
    cap = lab.start_capture("h1", "vrrp")
    changed = time.time()
    weight.write_text("0\n")
    time.sleep(5.0)
    frames = cap.frames()
    heard = [f.time for f in frames if f.data[26:30] == h2 and f.time < changed]
    ours = [f.time for f in frames if f.data[26:30] != h2 and f.time > changed]
    assert ours, proc.log()[-2000:]  # it took over at all
    after = ours[0] - (heard[-1] if heard else last + 1.0)
    assert 3.3 <= after <= 3.55, (after, proc.log()[-2000:])
    assert lab.vip_holders("198.51.100.61") == {"h1"}
