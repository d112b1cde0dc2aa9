"""`vrrpkit run` with use_vmac on real kernels: the macvlan, the sysctls keepalived 2.2.7 sets (values
measured with keepalived in these namespaces), IGMP kept off the virtual MAC, cleanup after a stop and
after a crash, and a VMAC that cannot be made (the daemon goes on, the instance waits in FAULT).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from confgen import VIP, config, instance

from vrrpkit.lab import Lab, wait_until
from vrrpkit.lab.pcap import read_pcap

pytestmark = pytest.mark.root

MakeLab = Callable[..., Lab]
VMAC_MAC = "00:00:5e:00:01:33"


def sh(lab: Lab, host: str, cmd: str) -> str:
    return lab.exec(host, ["sh", "-c", cmd], check=False, timeout=20).stdout


def sysctls(lab: Lab, host: str, names: list[str]) -> dict[str, str]:
    """`ipv4.conf.vrrp.51.arp_ignore` -> the value of /proc/sys/net/ipv4/conf/vrrp.51/arp_ignore ("" if none)."""
    out = {}
    for name in names:
        family, conf, rest = name.split(".", 2)
        iface, key = rest.rsplit(".", 1)
        out[name] = sh(lab, host, f"cat /proc/sys/net/{family}/{conf}/{iface}/{key} 2>/dev/null").strip()
    return out


def has_link(lab: Lab, host: str, name: str) -> bool:
    return bool(json.loads(sh(lab, host, f"ip -j link show {name} 2>/dev/null") or "[]"))


KEYS = [
    "ipv4.conf.vrrp.51.arp_ignore", "ipv4.conf.vrrp.51.accept_local", "ipv4.conf.vrrp.51.rp_filter",
    "ipv4.conf.vrrp.51.promote_secondaries", "ipv6.conf.vrrp.51.disable_ipv6",
    "ipv4.conf.eth0.arp_ignore", "ipv4.conf.eth0.arp_filter", "ipv4.conf.eth0.rp_filter",
    "ipv4.conf.all.rp_filter", "ipv4.conf.default.rp_filter",
]


def test_vmac_sysctls_igmp_and_cleanup_match_keepalived(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    sh(lab, "h1", "sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=2")
    before = sysctls(lab, "h1", KEYS)
    with lab.start_capture("h2", filter="ip proto 2") as cap:  # IGMP: what h1 says when it joins 224.0.0.18
        lab.run_vrrpkit("h1", config(instance(150, extra="use_vmac")))
        assert wait_until(lambda: VIP in sh(lab, "h1", "ip -br addr show vrrp.51") or None, 10)
    running = sysctls(lab, "h1", KEYS)
    # keepalived 2.2.7 here: the VMAC answers ARP only for its own addresses and takes what the
    # master multicasts; the base never answers for the VIP; all.rp_filter moves to default/eth0
    assert running == {
        "ipv4.conf.vrrp.51.arp_ignore": "1", "ipv4.conf.vrrp.51.accept_local": "1",
        "ipv4.conf.vrrp.51.rp_filter": "0", "ipv4.conf.vrrp.51.promote_secondaries": "1",
        "ipv6.conf.vrrp.51.disable_ipv6": "1", "ipv4.conf.eth0.arp_ignore": "1", "ipv4.conf.eth0.arp_filter": "1",
        "ipv4.conf.eth0.rp_filter": "2", "ipv4.conf.all.rp_filter": "0", "ipv4.conf.default.rp_filter": "1",
    }, running
    frames = [f.data for f in read_pcap(cap.stop())]
    sources = {":".join(f"{b:02x}" for b in f[6:12]) for f in frames}
    assert frames and VMAC_MAC not in sources, sources  # reports moved to eth0: the VMAC stays the master's
    assert "macvlan mode private" in sh(lab, "h1", "ip -d link show vrrp.51")
    lab.signal("h1", 15)
    assert wait_until(lambda: not lab.processes("h1", alive_only=True) or None, 10)
    assert not has_link(lab, "h1", "vrrp.51")
    assert sysctls(lab, "h1", KEYS) == before  # everything back (keepalived leaves eth0's arp_* at 1)
    assert "vrrpkit" not in sh(lab, "h1", "nft list tables")


def test_a_crash_leaves_the_vmac_and_a_restart_adopts_and_cleans_it(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    text = config(instance(150, version=3, advert_int="0.2", extra="use_vmac"))
    lab.run_vrrpkit("h1", text)
    assert wait_until(lambda: lab.vip_holders(VIP, interface="vrrp.51") == {"h1"} or None, 10)
    lab.fault_kill("h1")  # SIGKILL: like keepalived, the VMAC and its VIP stay behind
    assert wait_until(lambda: not lab.processes("h1", alive_only=True) or None, 10)
    assert has_link(lab, "h1", "vrrp.51") and lab.vip_holders(VIP, interface="vrrp.51") == {"h1"}
    lab.run_vrrpkit("h2", config(instance(200, version=3, advert_int="0.2", extra="use_vmac")))
    lab.run_vrrpkit("h1", text)
    assert wait_until(lambda: lab.vip_holders(VIP, interface=None) == {"h2"} or None, 10)
    log = lab.processes("h1")[-1].log()
    assert "using existing VMAC interface vrrp.51" in log and "removing leftover VIP" in log
    lab.signal("h1", 15)
    assert wait_until(lambda: not has_link(lab, "h1", "vrrp.51") or None, 10)


def test_a_vmac_name_taken_or_a_link_the_kernel_refuses(make_lab: MakeLab) -> None:
    """As keepalived 2.2.7 (measured): vrrp.51 taken by a veth -> the VMAC becomes vrrp1.51 and the veth
    is left alone. An ipvlan this kernel refuses (no CONFIG_IPVLAN): logged, counted, retried, the
    instance in FAULT and the daemon running."""
    lab = make_lab(1)
    sh(lab, "h1", "ip link add vrrp.51 type veth peer name vrrp51p")
    lab.run_vrrpkit("h1", config(instance(150, extra="use_vmac")
                                 + instance(150, name="VI_2", vrid=52, vips=["192.0.2.102/24"],
                                            extra="use_ipvlan ipv52 192.0.2.52/24")))
    assert wait_until(lambda: _refused(lab) or None, 10)
    vi1, vi2 = _all(lab)
    assert (vi1["vmac"], vi1["vmac_errors"], vi2["state"]) == ("vrrp1.51", 0, "FAULT"), (vi1, vi2)
    assert wait_until(lambda: lab.vip_holders(VIP, interface="vrrp1.51") == {"h1"} or None, 10)
    assert "veth" in sh(lab, "h1", "ip -d link show vrrp.51")
    log = lab.processes("h1")[0].log()
    assert "ignoring vmac if_name, using vrrp1.51" in log and "CONFIG_IPVLAN" in log
    assert lab.processes("h1", alive_only=True)


def _refused(lab: Lab) -> bool:
    items = _all(lab)
    return len(items) == 2 and items[1]["vmac_errors"] > 0


def _all(lab: Lab) -> list[dict]:  # type: ignore[type-arg]
    """The daemon's instances, or none while its control socket is not up yet."""
    done = lab.exec("h1", Lab.vrrpkit_argv("status", "--json"), timeout=10, check=False)
    return json.loads(done.stdout)["instances"] if done.returncode == 0 else []  # type: ignore[no-any-return]


def test_a_vmac_deleted_under_a_master_is_made_again_and_adverts_resume(make_lab: MakeLab) -> None:
    """keepalived 2.2.7 (measured) makes a deleted VMAC again at once. The new link has a new index: the
    adverts must come from a socket bound to it, not to the one that went."""
    lab = make_lab(2)
    lab.run_vrrpkit("h1", config(instance(150, version=3, advert_int="0.2", extra="use_vmac")))
    assert wait_until(lambda: lab.vip_holders(VIP, interface="vrrp.51") == {"h1"} or None, 10)
    before = sh(lab, "h1", "cat /sys/class/net/vrrp.51/ifindex").strip()
    sh(lab, "h1", "ip link del vrrp.51")
    assert wait_until(lambda: lab.vip_holders(VIP, interface="vrrp.51") == {"h1"} or None, 15)
    assert sh(lab, "h1", "cat /sys/class/net/vrrp.51/ifindex").strip() != before
    with lab.start_capture("h2", filter="ip proto 112") as cap:
        time.sleep(1.5)
    sources = [":".join(f"{b:02x}" for b in f.data[6:12]) for f in read_pcap(cap.stop())]
    assert len(sources) >= 3 and set(sources) == {VMAC_MAC}, sources
    assert lab.processes("h1", alive_only=True)


def test_a_reload_renames_the_vmac_of_a_master_in_place(make_lab: MakeLab) -> None:
    """keepalived 2.2.7 (measured): 'Deleting old VMAC interface vrrp.51', 'Success creating VMAC
    interface vk51', 'setting VIPs', and the instance stays MASTER."""
    lab = make_lab(2)
    proc = lab.run_vrrpkit("h1", config(instance(150, version=3, advert_int="0.2", extra="use_vmac")))
    assert wait_until(lambda: lab.vip_holders(VIP, interface="vrrp.51") == {"h1"} or None, 10)
    assert proc.conf_path is not None
    proc.conf_path.write_text(config(instance(150, version=3, advert_int="0.2", extra="use_vmac vk51")))
    lab.signal("h1", 1)
    assert wait_until(lambda: lab.vip_holders(VIP, interface="vk51") == {"h1"} or None, 10)
    assert not has_link(lab, "h1", "vrrp.51")
    with lab.start_capture("h2", filter="ip proto 112") as cap:
        time.sleep(1.0)
    assert {":".join(f"{b:02x}" for b in f.data[6:12]) for f in read_pcap(cap.stop())} == {VMAC_MAC}
    assert [s["state"] for s in _all(lab)] == ["MASTER"]
    assert "Entering BACKUP" not in proc.log().split("Reloading")[-1]
