"""auth_type AH between vrrpkit and real keepalived (Debian 2.2.7), both roles, multicast and unicast.

A host whose daemon does not speak AH never hears an AH peer (its adverts are IP protocol 51) and
both become MASTER: so each pairing must elect one master, keep it past Master_Down_Interval (the
BACKUP accepted every advert: ICV, SPI, sequence), and hand over on a graceful stop (the
priority-0 advert is AH too). The oracle for vrrpkit's packets is keepalived accepting them.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from needs import KEEPALIVED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confgen import VIP, config, instance, wait_holders
from test_keepalived_interop import run
from test_keepalived_interop import vrrpkit_instance as status

from vrrpkit.lab import Lab

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]
AH = "authentication {\n    auth_type AH\n    auth_pass {password}\n}"


def ah_instance(lab: Lab, host: str, prio: int, unicast: bool, password: str = "secret12") -> str:
    peer = "h2" if host == "h1" else "h1"
    extra = AH.replace("{password}", password)
    if unicast:
        return instance(prio, extra=extra, unicast_src=str(lab.addr(host)), peers=[str(lab.addr(peer))])
    return instance(prio, extra=extra)


@pytest.mark.parametrize("unicast", [False, True], ids=["multicast", "unicast"])
@pytest.mark.parametrize("master", ["keepalived", "vrrpkit"])
def test_ah_mixed_pair_elects_keeps_and_hands_over(make_lab: MakeLab, master: str, unicast: bool) -> None:
    other = "vrrpkit" if master == "keepalived" else "keepalived"
    lab = make_lab(2)
    if unicast:
        lab.cloud(True)
    run(lab, "h1", master, config(ah_instance(lab, "h1", 150, unicast)))
    wait_holders(lab, {"h1"}, 10)
    run(lab, "h2", other, config(ah_instance(lab, "h2", 100, unicast)))
    time.sleep(5.0)  # past the backup's Master_Down_Interval (3.61 s): it heard every advert
    assert lab.vip_holders(VIP) == {"h1"}
    vk = "h2" if other == "vrrpkit" else "h1"
    st = status(lab, vk)
    assert not st["counters"]["dropped"], st["counters"]
    if vk == "h2":  # the BACKUP heard and took every advert
        assert st["counters"]["advert_rcvd"] > 0
        assert st["state"] == "BACKUP" and st["master"] == str(lab.addr("h1"))
    ka = lab.processes("h1" if master == "keepalived" else "h2")[0]
    assert "IPSEC" not in ka.log(), ka.log()[-2000:]  # no ICV, SPI or sequence complaint
    t0 = time.monotonic()
    lab.processes("h1")[0].stop(timeout=10)  # its priority-0 advert is AH too
    wait_holders(lab, {"h2"}, 5)
    took = time.monotonic() - t0
    print(f"\nAH {'unicast' if unicast else 'multicast'}: {master} SIGTERM -> {other} master in {took:.3f}s")
    assert took < 2.0  # Skew_Time (0.61 s), not Master_Down_Interval


def test_ah_wrong_password_is_refused_by_both_in_keepalived_s_words(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    lab.run_keepalived("h1", config(ah_instance(lab, "h1", 150, False, "right")))
    lab.run_vrrpkit("h2", config(ah_instance(lab, "h2", 100, False, "wrong")))
    wait_holders(lab, {"h1", "h2"}, 10)  # neither accepts the other's adverts: both master
    st = status(lab, "h2")
    assert st["counters"]["auth_failure"] > 0
    line = "IPSEC-AH : invalid IPSEC HMAC-MD5 value"
    assert lab.processes("h1")[0].wait_for_log(line, timeout=5)
    assert lab.processes("h2")[0].wait_for_log(line, timeout=5)


@pytest.mark.parametrize("password", ["secret12", "wrong"])
def test_investigate_on_a_keepalived_ah_pair(make_lab: MakeLab, password: str) -> None:
    """AH adverts are protocol 51: `investigate` must hear them (tap and socket) and find keepalived's
    protocol-51 socket, or a healthy pair reads as 'a firewall drops VRRP, no daemon'; with another
    password on the master it must say so, from the ICV (the password is not on the wire)."""
    lab = make_lab(2)
    lab.run_keepalived("h1", config(ah_instance(lab, "h1", 150, False, password)))
    wait_holders(lab, {"h1"}, 10)
    lab.run_keepalived("h2", config(ah_instance(lab, "h2", 100, False)))
    time.sleep(4.5 if password == "secret12" else 1.0)
    conf = lab.workdir / "h2.keepalived.conf"
    out = lab.exec("h2", Lab.vrrpkit_argv("investigate", "-f", str(conf), "--duration", "4", "--json"),
                   timeout=60, check=False).stdout  # fmt: skip
    doc = json.loads(out)
    assert doc["verdict"] == ("healthy" if password == "secret12" else "auth-mismatch"), out[-3000:]


@pytest.mark.parametrize("joining", ["keepalived", "vrrpkit"])
def test_ah_a_higher_priority_joins_and_preempts(make_lab: MakeLab, joining: str) -> None:
    """The joining BACKUP learns the master's sequence numbers and goes on from them when it takes
    over: the old master accepts its adverts (no replay drop) and steps down; and whichever hears
    the other's lower priority moves its counter past it (keepalived: 'Syncing seq_num')."""
    first = "vrrpkit" if joining == "keepalived" else "keepalived"
    lab = make_lab(2)
    run(lab, "h1", first, config(ah_instance(lab, "h1", 100, False)))
    wait_holders(lab, {"h1"}, 10)
    time.sleep(2.0)  # a few adverts: the counter is well past 1
    run(lab, "h2", joining, config(ah_instance(lab, "h2", 150, False)))
    wait_holders(lab, {"h2"}, 10)
    time.sleep(3.0)
    assert lab.vip_holders(VIP) == {"h2"}
    vk = "h1" if first == "vrrpkit" else "h2"
    st = status(lab, vk)
    assert st["state"] == ("BACKUP" if vk == "h1" else "MASTER") and not st["counters"]["dropped"], st
    ka = lab.processes("h2" if vk == "h1" else "h1")[0]
    log = ka.log()  # its only AH line may be 'Syncing seq_num' (it heard the other's lower priority)
    assert "invalid IPSEC" not in log and "already processed" not in log and "SPI" not in log, log[-2000:]
