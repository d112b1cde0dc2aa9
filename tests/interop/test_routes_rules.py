"""virtual_routes/virtual_rules and static_* on real kernels, next to keepalived 2.2.7.

The same configuration runs under keepalived and then vrrpkit on one host: the routes and rules the
kernel holds while MASTER must be the same lines (`ip route`/`ip rule` as the kernel prints them).
Then, with keepalived as the higher-priority peer: virtual_* present exactly while vrrpkit is
MASTER, static_* always, nothing after a stop, and nothing left after a SIGKILL and a restart.
About 45 s of namespace time.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from needs import KEEPALIVED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confgen import config, instance, wait_holders

from vrrpkit.lab import Lab, wait_until

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]

ROUTES = """
virtual_routes {
    198.51.100.0/26 via 192.0.2.3 dev eth0
    src 192.0.2.100 to 198.51.100.64/26 dev eth0 metric 5 table 100
    unreachable 198.51.100.128/26 table 100
    198.51.100.192/26 dev eth0 no_track
    2001:db8:1::/64 via 2001:db8::3 dev eth0
}
virtual_rules {
    from 198.51.100.0/26 table 100 priority 200
    to 198.51.100.64/26 fwmark 0x10/0xff table 101 priority 201 no_track
    from 2001:db8:1::/64 prohibit priority 202
}
"""
STATIC = """
static_ipaddress {
    198.51.100.1/32 dev eth0
}
static_routes {
    198.51.100.240/28 via 192.0.2.3 dev eth0
}
static_rules {
    from 198.51.100.240/28 table 100 priority 300
}
"""
OURS = ("198.51.100.", "2001:db8:1:", "lookup 10", "prohibit")
FULL = 11  # 5 virtual routes + 3 virtual rules + a static route, rule and address


def kernel_state(lab: Lab, host: str) -> list[str]:
    """Our routes and rules as the kernel prints them, IPv4 and IPv6, sorted."""
    out = []
    for argv in (["ip", "route", "show", "table", "all"],  # both families
                 ["ip", "rule"], ["ip", "-6", "rule"], ["ip", "-4", "addr", "show", "dev", "eth0"]):
        for line in lab.exec(host, argv).stdout.splitlines():
            line = line.strip()
            if any(mark in line for mark in OURS) and not line.startswith(("local ", "broadcast ")):
                out.append(line.split(" valid_lft")[0])
    return sorted(out)


def conf(priority: int, extra: str = ROUTES, static: str = STATIC) -> str:
    return static + config(instance(priority, extra=extra))


def vrrpkit_state(lab: Lab, host: str) -> str:
    out = lab.exec(host, Lab.vrrpkit_argv("status", "--json"), timeout=10).stdout
    return str(json.loads(out)["instances"][0]["state"])


def test_keepalived_and_vrrpkit_install_the_same_routes_and_rules(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    seen: dict[str, list[str]] = {}
    for daemon in ("keepalived", "vrrpkit"):
        proc = (lab.run_keepalived if daemon == "keepalived" else lab.run_vrrpkit)("h1", conf(150))
        wait_holders(lab, {"h1"}, 10)
        assert wait_until(lambda: len(kernel_state(lab, "h1")) == FULL, 5), kernel_state(lab, "h1")
        seen[daemon] = kernel_state(lab, "h1")
        proc.stop(timeout=10)
        assert wait_until(lambda: not kernel_state(lab, "h1"), 5), f"{daemon} left {kernel_state(lab, 'h1')}"
    print("\n" + "\n".join(seen["vrrpkit"]))
    assert seen["vrrpkit"] == seen["keepalived"]


def test_present_exactly_while_master_and_nothing_left_after_stop_or_crash(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    static_only = sorted(["198.51.100.240/28 via 192.0.2.3 dev eth0 proto keepalived",
                          "300:\tfrom 198.51.100.240/28 lookup 100 proto keepalived",
                          "inet 198.51.100.1/32 scope global eth0"])
    vk = lab.run_vrrpkit("h1", conf(100))
    peer = lab.run_keepalived("h2", config(instance(150)))
    wait_holders(lab, {"h2"}, 10)
    assert wait_until(lambda: kernel_state(lab, "h1") == static_only, 5), kernel_state(lab, "h1")
    peer.stop(timeout=10)  # the keepalived master goes: vrrpkit takes over and installs its virtual_*
    wait_holders(lab, {"h1"}, 10)
    assert wait_until(lambda: len(kernel_state(lab, "h1")) == FULL, 5), kernel_state(lab, "h1")
    # someone deletes a tracked virtual route: vrrpkit resigns and, still the best, puts it back
    lab.exec("h1", ["ip", "route", "del", "198.51.100.0/26"])
    assert wait_until(lambda: "198.51.100.0/26 via 192.0.2.3 dev eth0 proto keepalived" in kernel_state(lab, "h1"), 8)
    assert vk.wait_for_log("tracked virtual route 198.51.100.0/26 via 192.0.2.3 dev eth0 was deleted", 2)
    lab.exec("h1", ["ip", "route", "del", "198.51.100.192/26"])  # no_track: stays deleted, nothing moves
    time.sleep(1.5)
    assert not any(line.startswith("198.51.100.192/26") for line in kernel_state(lab, "h1"))
    assert vrrpkit_state(lab, "h1") == "MASTER"
    lab.run_keepalived("h2", config(instance(150)))  # a better master returns: virtual_* leave with the VIP
    wait_holders(lab, {"h2"}, 10)
    assert wait_until(lambda: kernel_state(lab, "h1") == static_only, 5), kernel_state(lab, "h1")
    vk.stop(timeout=10)
    assert wait_until(lambda: not kernel_state(lab, "h1"), 5), kernel_state(lab, "h1")
    # a crash (SIGKILL) as MASTER leaves everything behind; the next start cleans up before running
    lab.processes("h2")[-1].stop(timeout=10)
    crashed = lab.run_vrrpkit("h1", conf(100))
    wait_holders(lab, {"h1"}, 10)
    assert wait_until(lambda: len(kernel_state(lab, "h1")) == FULL, 5)
    crashed.kill()
    assert len(kernel_state(lab, "h1")) == FULL
    lab.run_keepalived("h2", config(instance(150)))
    restarted = lab.run_vrrpkit("h1", conf(100))
    wait_holders(lab, {"h2"}, 10)
    assert wait_until(lambda: kernel_state(lab, "h1") == static_only, 5), kernel_state(lab, "h1")
    assert restarted.wait_for_log("(VI_1) removed leftover 198.51.100.0/26 via 192.0.2.3 dev eth0", 2)
    assert restarted.wait_for_log("(VI_1) removed leftover 200: from 198.51.100.0/26 lookup 100", 1)
