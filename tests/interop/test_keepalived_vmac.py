"""use_vmac between vrrpkit and real keepalived 2.2.7, both roles, IPv4 and IPv6.

The point of a virtual MAC is that the LAN never has to relearn where the VIP lives: whoever is
master, the VIP sits on a macvlan `vrrp.51` with MAC 00:00:5e:00:01:33 (00:00:5e:00:02:33 for IPv6),
adverts leave from that MAC, and after a failover the new master's gratuitous ARPs / unsolicited
NAs point every neighbour cache at the same MAC again. Each case checks that on the wire (a capture
on a third host, Ethernet source of every advert) and in the third host's neighbour table, which is
seeded with a wrong MAC first so that only the new master's announcements can fix it.
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
from confgen import config, instance

from vrrpkit.lab import Lab, wait_until
from vrrpkit.lab.pcap import read_pcap

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]
WRONG_MAC = "02:00:00:00:00:99"
FAMILIES = {
    4: {"vip": "192.0.2.100", "vips": ["192.0.2.100/24"], "mac": "00:00:5e:00:01:33", "ethertype": b"\x08\x00"},
    6: {"vip": "2001:db8::100", "vips": ["fe80::100/64", "2001:db8::100/64"], "mac": "00:00:5e:00:02:33",
        "ethertype": b"\x86\xdd"},
}


def sh(lab: Lab, host: str, cmd: str) -> str:
    return lab.exec(host, ["sh", "-c", cmd], check=False, timeout=20).stdout


def link(lab: Lab, host: str, name: str) -> dict:  # type: ignore[type-arg]
    found = json.loads(sh(lab, host, f"ip -j -d link show {name} 2>/dev/null") or "[]")
    return found[0] if found else {}


def neighbour_mac(lab: Lab, host: str, vip: str) -> str | None:
    for entry in json.loads(sh(lab, host, f"ip -j neigh show {vip} dev eth0") or "[]"):
        return entry.get("lladdr")  # type: ignore[no-any-return]
    return None


def run(lab: Lab, host: str, daemon: str, text: str) -> None:
    (lab.run_keepalived if daemon == "keepalived" else lab.run_vrrpkit)(host, text)


def holders(lab: Lab, vip: str, expected: set[str], timeout: float) -> None:
    if not wait_until(lambda: lab.vip_holders(vip, interface=None) == expected or None, timeout, interval=0.05):
        logs = "\n".join(f"--- {p.host} {p.kind}\n{p.log()[-2000:]}" for p in lab.processes())
        raise AssertionError(f"{vip} held by {lab.vip_holders(vip, interface=None)}, expected {expected}\n{logs}")


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("master", ["keepalived", "vrrpkit"])
def test_vmac_interop_both_ways(make_lab: MakeLab, master: str, family: int) -> None:
    fam = FAMILIES[family]
    vip, mac = str(fam["vip"]), str(fam["mac"])
    backup = "vrrpkit" if master == "keepalived" else "keepalived"
    lab = make_lab(3)
    conf = {p: config(instance(p, version=3, advert_int="0.2", vips=fam["vips"], extra="use_vmac"))  # type: ignore[arg-type]
            for p in (150, 100)}
    run(lab, "h1", master, conf[150])
    run(lab, "h2", backup, conf[100])
    holders(lab, vip, {"h1"}, 10)

    # the VIP lives on the VMAC, a private macvlan with the RFC 5798 MAC, on master and backup alike
    # (the backup may still be starting: a Python daemon takes longer than keepalived's election)
    assert wait_until(lambda: all(link(lab, h, "vrrp.51") for h in ("h1", "h2")) or None, 10)
    for host in ("h1", "h2"):
        vmac = link(lab, host, "vrrp.51")
        kind = vmac.get("linkinfo", {})
        assert vmac.get("address") == mac and kind.get("info_kind") == "macvlan", (host, vmac)
        assert kind.get("info_data", {}).get("mode") == "private", (host, vmac)
    assert lab.vip_holders(vip) == set()  # not on eth0
    assert lab.vip_holders(vip, interface="vrrp.51") == {"h1"}

    # every advert on the wire comes from the virtual MAC
    with lab.start_capture("h3") as cap:
        time.sleep(1.0)
    frames = [f.data for f in read_pcap(cap.stop()) if f.data[12:14] == fam["ethertype"]]
    assert len(frames) >= 3
    assert {":".join(f"{b:02x}" for b in f[6:12]) for f in frames} == {mac}

    # failover: the new master's GARP/NA must move the third host's cache off a wrong MAC
    sh(lab, "h3", f"ip neigh replace {vip} lladdr {WRONG_MAC} dev eth0 nud stale")
    assert neighbour_mac(lab, "h3", vip) == WRONG_MAC
    started = time.monotonic()
    lab.signal("h1", 15)  # SIGTERM: a goodbye advert, then the backup takes over
    holders(lab, vip, {"h2"}, 10)
    took = time.monotonic() - started
    assert wait_until(lambda: neighbour_mac(lab, "h3", vip) == mac or None, 5), sh(lab, "h3", "ip neigh; ip -6 neigh")
    assert lab.vip_holders(vip, interface="vrrp.51") == {"h2"}
    assert wait_until(lambda: not link(lab, "h1", "vrrp.51") or None, 5), "the stopped master removes its VMAC"
    print(f"\n{master} master -> {backup} over use_vmac IPv{family}: handover {took:.2f}s, h3's cache -> {mac}")
