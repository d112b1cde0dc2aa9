"""An instance's interface, or its address, changing under a running daemon (an operator
recreating a veth or a bond, a driver reload, an address moved): what keepalived 2.2.7 does,
measured 2026-12-02. Both ends of a veth pair in one namespace: the adverts are read on the far end.

- The interface deleted and made again: keepalived goes to FAULT, comes back on the new interface
  and advertises there. vrrpkit's socket stayed bound to the old index: it took the VIP back as
  MASTER while every advert failed with ENODEV, so a peer would have taken the VIP too.
- Its only IPv4 address deleted: keepalived goes to FAULT with two priority-0 adverts from that
  address and drops the VIP; the address back, BACKUP at once. vrrpkit stayed MASTER, advertising
  from the deleted address.
- A VIP deleted by someone (`ip addr del`): keepalived resigns (priority 0, BACKUP) and, still the
  best, takes the VIP back after its Skew_Time. vrrpkit stayed MASTER without the VIP.
- The interface's MAC changed (`ip link set address`, a bond's fail_over_mac): keepalived's next
  gratuitous ARPs carry the new MAC; vrrpkit's carried the old one, sending the neighbours to a
  MAC no longer on the link."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable

import pytest
from confgen import config, instance

from vrrpkit.lab import Lab
from vrrpkit.lab.lab import wait_until
from vrrpkit.lab.process import LabProcess

pytestmark = pytest.mark.root

MakeLab = Callable[..., Lab]
VIP = "198.51.100.61"


def _master_on_vt0(make_lab: MakeLab, priority: int = 100, extra: str = "") -> tuple[Lab, LabProcess]:
    """One host whose vrrpkit is MASTER on vt0 (VRRPv3 at 0.2 s), the far end vt1 to listen on."""
    lab = make_lab(1)
    _make_veth(lab)
    text = config(instance(priority, interface="vt0", version=3, advert_int="0.2", vips=(f"{VIP}/32",), extra=extra))
    vk = lab.run_vrrpkit("h1", text)
    assert wait_until(lambda: lab.vip_holders(VIP, "vt0") == {"h1"}, 10), vk.log()[-2000:]
    return lab, vk


def _make_veth(lab: Lab) -> None:
    for argv in (["ip", "link", "add", "vt0", "type", "veth", "peer", "name", "vt1"],
                 ["ip", "addr", "add", "198.51.100.201/24", "dev", "vt0"],
                 ["ip", "link", "set", "vt0", "up"], ["ip", "link", "set", "vt1", "up"]):  # fmt: skip
        lab.exec("h1", argv)


def test_adverts_leave_on_an_interface_made_anew(make_lab: MakeLab) -> None:
    lab, vk = _master_on_vt0(make_lab)
    lab.exec("h1", ["ip", "link", "del", "vt0"])
    assert vk.wait_for_log("(VI_1) Entering FAULT STATE", 5)
    time.sleep(0.5)
    _make_veth(lab)
    assert wait_until(lambda: lab.vip_holders(VIP, "vt0") == {"h1"}, 10), vk.log()[-2000:]
    heard = lab.exec("h1", ["timeout", "3", "tcpdump", "-c", "3", "-lnni", "vt1", "ip proto 112"], check=False)
    lines = heard.stdout.splitlines()
    adverts = [line for line in lines if "198.51.100.201 > 224.0.0.18" in line and "vrid 51" in line]
    assert len(adverts) == 3, (heard.stdout, heard.stderr, vk.log()[-2000:])
    assert "send advert error" not in vk.log()


def test_the_source_address_deleted_is_a_fault_with_goodbyes_and_its_return_ends_it(make_lab: MakeLab) -> None:
    lab, vk = _master_on_vt0(make_lab)
    dump = lab.popen("h1", ["tcpdump", "-lnni", "vt1", "ip proto 112"], stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        time.sleep(1.0)  # listening
        lab.exec("h1", ["ip", "addr", "del", "198.51.100.201/24", "dev", "vt0"])
        assert vk.wait_for_log("(VI_1) Entering FAULT STATE", 5)
        assert wait_until(lambda: not lab.vip_holders(VIP, "vt0"), 5)
        time.sleep(0.5)
    finally:
        dump.terminate()
        heard, _ = dump.communicate(timeout=5)
    goodbyes = [line for line in heard.splitlines() if "198.51.100.201 > 224.0.0.18" in line and "prio 0," in line]
    assert len(goodbyes) == 2, heard
    lab.exec("h1", ["ip", "addr", "add", "198.51.100.201/24", "dev", "vt0"])
    back = re.compile(r"\(VI_1\) Entering BACKUP STATE$", re.M)  # not the start's '(init)' line
    assert vk.wait_for_log(back, 2)  # at once, not at the next housekeeping look
    assert wait_until(lambda: lab.vip_holders(VIP, "vt0") == {"h1"}, 5), vk.log()[-2000:]


def test_a_vip_deleted_by_someone_comes_back_after_a_resignation(make_lab: MakeLab) -> None:
    lab, vk = _master_on_vt0(make_lab, 150)
    lab.exec("h1", ["ip", "addr", "del", f"{VIP}/32", "dev", "vt0"])
    assert vk.wait_for_log(f"(VI_1) VIP {VIP} was deleted: resigning MASTER", 3), vk.log()[-2000:]
    assert wait_until(lambda: lab.vip_holders(VIP, "vt0") == {"h1"}, 3), vk.log()[-2000:]
    assert vk.log().count("(VI_1) Entering MASTER STATE") == 2


def test_gratuitous_arps_follow_a_mac_change(make_lab: MakeLab) -> None:
    lab, _ = _master_on_vt0(make_lab, 150, extra="garp_master_refresh 1\ngarp_master_refresh_repeat 1")
    lab.exec("h1", ["ip", "link", "set", "vt0", "address", "02:00:5e:10:20:30"])
    heard = lab.exec("h1", ["timeout", "2.5", "tcpdump", "-lnneei", "vt1", "arp"], check=False)
    frames = [line for line in heard.stdout.splitlines() if f"who-has {VIP}" in line]  # GARPs and probes
    garps = [line for line in frames if f"tell {VIP}" in line]
    assert len(garps) >= 2 and all(line.split()[1] == "02:00:5e:10:20:30" for line in frames), heard.stdout


def test_a_vips_own_interface_is_tracked_and_its_garps_follow_it_made_anew(make_lab: MakeLab) -> None:
    """A VIP `dev vt0` of an instance on eth0 (keepalived 2.2.7, measured): vt0 down is a FAULT
    (every VIP goes), up again BACKUP and MASTER; vt0 deleted and made again, the same, and the
    refresh GARPs reach the new link. vrrpkit had stayed MASTER without that VIP, and its ARP
    sender, bound to the old interface index, sent nowhere without a word."""
    lab = make_lab(1)
    lab.exec("h1", ["ip", "link", "add", "vt0", "type", "veth", "peer", "name", "vt1"])
    for name in ("vt0", "vt1"):
        lab.exec("h1", ["ip", "link", "set", name, "up"])
    extra = "garp_master_refresh 1\ngarp_master_refresh_repeat 1"
    text = config(instance(100, version=3, advert_int="0.2", vips=(f"{VIP}/32", "198.51.100.71/32 dev vt0"),
                           extra=extra))  # fmt: skip
    vk = lab.run_vrrpkit("h1", text)
    assert wait_until(lambda: lab.vip_holders("198.51.100.71", "vt0") == {"h1"}, 10), vk.log()[-2000:]
    lab.exec("h1", ["ip", "link", "set", "vt0", "down"])
    assert vk.wait_for_log("(VI_1) fault: interface vt0 failed (a VIP is on it)", 5), vk.log()[-2000:]
    assert wait_until(lambda: not lab.vip_holders(VIP, "eth0"), 3)
    lab.exec("h1", ["ip", "link", "set", "vt0", "up"])
    assert wait_until(lambda: lab.vip_holders("198.51.100.71", "vt0") == {"h1"}, 5), vk.log()[-2000:]
    lab.exec("h1", ["ip", "link", "del", "vt0"])
    assert wait_until(lambda: not lab.vip_holders(VIP, "eth0"), 3), vk.log()[-2000:]
    lab.exec("h1", ["ip", "link", "add", "vt0", "type", "veth", "peer", "name", "vt1"])
    for name in ("vt0", "vt1"):
        lab.exec("h1", ["ip", "link", "set", name, "up"])
    assert wait_until(lambda: lab.vip_holders("198.51.100.71", "vt0") == {"h1"}, 5), vk.log()[-2000:]
    heard = lab.exec("h1", ["timeout", "2.5", "tcpdump", "-lnni", "vt1", "arp"], check=False)
    garps = [ln for ln in heard.stdout.splitlines() if "who-has 198.51.100.71 " in ln and "tell 198.51.100.71," in ln]
    assert len(garps) >= 2, (heard.stdout, vk.log()[-2000:])
    assert vk.log().count("(VI_1) Entering FAULT STATE") == 2
