"""GARP and unsolicited NA on the wire (captured, decoded with scapy), next to keepalived's own; the prober."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether

from vrrpkit.lab import Frame, Lab

pytestmark = pytest.mark.root

HELPER = str(Path(__file__).with_name("io_helper.py"))
FILTER = "arp or (icmp6 and ip6[40] == 136)"


def run_json(lab: Lab, host: str, *args: str) -> Any:
    done = lab.exec(host, [sys.executable, HELPER, *args], timeout=20)
    return json.loads(done.stdout.strip().splitlines()[-1])


def arp_fields(frames: list[Frame], src_mac: str) -> list[tuple[Any, ...]]:
    out = []
    for f in frames:
        pkt = Ether(f.data)
        if ARP in pkt and pkt.src == src_mac:
            a = pkt[ARP]
            out.append((len(f.data), pkt.dst, pkt.src, a.hwtype, a.ptype, a.op, a.hwsrc, a.psrc, a.hwdst, a.pdst))
    return out


def na_fields(frames: list[Frame], src_mac: str) -> list[tuple[Any, ...]]:
    out = []
    for f in frames:
        pkt = Ether(f.data)
        if ICMPv6ND_NA not in pkt or pkt.src != src_mac:
            continue
        ip6, na = pkt[IPv6], pkt[ICMPv6ND_NA]
        claimed = na.cksum
        fresh = Ether(f.data)
        del fresh[ICMPv6ND_NA].cksum  # scapy recomputes it on build
        good = Ether(bytes(fresh))[ICMPv6ND_NA].cksum == claimed
        lladdr = pkt[ICMPv6NDOptDstLLAddr].lladdr if ICMPv6NDOptDstLLAddr in pkt else None
        out.append((len(f.data), pkt.dst, ip6.src, ip6.dst, ip6.hlim, na.R, na.S, na.O, na.tgt, lladdr, good))
    return out


def test_garp_and_na_fields(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(2)
    mac1 = lab.mac("h1")
    cap = lab.start_capture("h2", FILTER)
    out = run_json(lab, "h1", "garp", "192.0.2.50", "2001:db8::50", "--count", "3")
    assert out == {"failed": 0, "sent": 6, "mac": mac1}
    frames = cap.frames()
    garps = arp_fields(frames, mac1)
    assert (
        garps
        == [(42, "ff:ff:ff:ff:ff:ff", mac1, 1, 0x800, 1, mac1, "192.0.2.50", "ff:ff:ff:ff:ff:ff", "192.0.2.50")] * 3
    )
    nas = na_fields(frames, mac1)
    expected_na = (86, "33:33:00:00:00:01", "2001:db8::50", "ff02::1", 255, 0, 0, 1, "2001:db8::50", mac1, True)
    assert nas == [expected_na] * 3


@pytest.mark.skipif(not shutil.which("keepalived", path="/usr/sbin:/usr/bin:/sbin"), reason="needs keepalived")
def test_our_frames_match_keepalived_frames(make_lab: Callable[..., Lab]) -> None:
    """keepalived 2.2.7's GARP/NA for a VIP, captured, compared field by field with ours for another VIP."""
    lab = make_lab(3)
    conf = """vrrp_instance VI_G {
    state MASTER
    interface eth0
    virtual_router_id 88
    priority 255
    advert_int 1
    virtual_ipaddress {
        192.0.2.51
    }
    virtual_ipaddress_excluded {
        2001:db8::51
    }
}
"""
    cap = lab.start_capture("h2", FILTER)
    ka = lab.run_keepalived("h3", conf)
    try:
        assert ka.wait_for_log("Sending unsolicited Neighbour Advert", timeout=15), ka.log()
        time.sleep(0.5)  # let the first burst of 5 finish
    finally:
        ka.signal(signal.SIGTERM)
        ka.wait(10)
    run_json(lab, "h1", "garp", "192.0.2.50", "2001:db8::50")
    frames = cap.frames()
    mac1, mac3 = lab.mac("h1"), lab.mac("h3")

    def normalise(fields: tuple[Any, ...], mac: str, vip: str) -> tuple[Any, ...]:
        return tuple("MAC" if v == mac else "VIP" if v == vip else v for v in fields)

    theirs_arp = {normalise(f, mac3, "192.0.2.51") for f in arp_fields(frames, mac3)}
    ours_arp = {normalise(f, mac1, "192.0.2.50") for f in arp_fields(frames, mac1)}
    assert len(theirs_arp) == 1 and ours_arp == theirs_arp, (theirs_arp, ours_arp)
    theirs_na = {normalise(f, mac3, "2001:db8::51") for f in na_fields(frames, mac3)}
    ours_na = {normalise(f, mac1, "2001:db8::50") for f in na_fields(frames, mac1)}
    assert len(theirs_na) == 1 and ours_na == theirs_na, (theirs_na, ours_na)
    # what keepalived actually puts in the ARP target MAC (the brief guessed zeros; it is ff:ff:ff:ff:ff:ff)
    (arp,) = theirs_arp
    assert arp[8] == "ff:ff:ff:ff:ff:ff"


def test_prober_counts_every_other_owner(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(3)
    for host in ("h1", "h2"):
        run_json(lab, host, "vip", "add", "192.0.2.60/32")
        run_json(lab, host, "vip", "add", "2001:db8::60/128")
    mac1, mac2 = lab.mac("h1"), lab.mac("h2")
    assert run_json(lab, "h3", "probe", "192.0.2.60")["macs"] == sorted([mac1, mac2])
    assert run_json(lab, "h1", "probe", "192.0.2.60")["macs"] == [mac2]  # our own MAC never counts
    assert run_json(lab, "h3", "probe", "2001:db8::60")["macs"] == sorted([mac1, mac2])
    assert run_json(lab, "h2", "probe", "2001:db8::60")["macs"] == [mac1]
    assert run_json(lab, "h3", "probe", "192.0.2.61", "--timeout", "0.5")["macs"] == []
    # the probes poisoned no cache: h3 learnt nothing about the VIP from its own DAD-style probes
    neigh = json.loads(lab.exec("h3", ["ip", "-j", "neigh", "show", "192.0.2.60"]).stdout)
    assert neigh == []


def test_prober_ignores_claims_queued_before_the_probe(make_lab: Callable[..., Lab]) -> None:
    """A GARP from an old owner, still in the socket buffer, is not a split brain now."""
    lab = make_lab(3)
    results = []
    for keep in (False, True):
        proc = lab.popen(
            "h3", [sys.executable, HELPER, "probe-later", "192.0.2.62"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
            run_json(lab, "h2", "vip", "add", "192.0.2.62/32")
            run_json(lab, "h2", "garp", "192.0.2.62", "--count", "3")
            if not keep:
                run_json(lab, "h2", "vip", "del", "192.0.2.62/32")
            out, _ = proc.communicate("go\n", timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        results.append(json.loads(out.strip().splitlines()[-1])["macs"])
    assert results == [[], [lab.mac("h2")]]
