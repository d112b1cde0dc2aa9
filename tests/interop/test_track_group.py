"""track_group on static items, keepalived 2.2.7 and vrrpkit side by side (one lab each, same steps).

keepalived's static_track_group_init makes every instance of the group track the interface of a
static address (its dev) or route (its dev) with weight 0; its interface_up puts the static
addresses and routes of an interface that comes back up in again (the kernel dropped the route
with the link: 'Restoring deleted static route').
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from needs import KEEPALIVED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confgen import config, instance

from vrrpkit.lab import Lab, wait_until

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]
VIP = "192.0.2.100"
TOP = """
track_group G {
  group {
    VI_1
  }
}
static_ipaddress {
  198.51.100.1/24 dev dum0 track_group G
}
static_routes {
  203.0.113.0/24 dev dum1 track_group G
}
"""


def sh(lab: Lab, cmd: str) -> str:
    return lab.exec("h1", ["sh", "-c", cmd], check=False, timeout=20).stdout


@pytest.mark.parametrize("daemon", ["keepalived", "vrrpkit"])
def test_static_track_group_faults_its_instances_and_restores_the_route(make_lab: MakeLab, daemon: str) -> None:
    lab = make_lab(1)
    for name in ("dum0", "dum1"):
        sh(lab, f"ip link add {name} type veth peer name {name}p && ip link set {name}p up && ip link set {name} up")
    text = TOP + config(instance(150, version=3, advert_int="0.2"))
    (lab.run_keepalived if daemon == "keepalived" else lab.run_vrrpkit)("h1", text)

    def holds() -> bool:
        return lab.vip_holders(VIP, interface=None) == {"h1"}

    assert wait_until(holds, 10)
    for name in ("dum0", "dum1"):
        sh(lab, f"ip link set {name} down")
        assert wait_until(lambda: not holds() or None, 5), f"{daemon}: still MASTER with {name} down"
        sh(lab, f"ip link set {name} up")
        assert wait_until(holds, 5), f"{daemon}: not MASTER again after {name} came up"
    # the kernel dropped the static route with dum1; both daemons put it back when dum1 came up
    assert wait_until(lambda: "203.0.113.0/24" in sh(lab, "ip route show dev dum1") or None, 5)
    assert "198.51.100.1/24" in sh(lab, "ip -br addr show dum0")
