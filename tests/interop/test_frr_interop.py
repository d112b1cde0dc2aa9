"""vrrpkit and FRR's vrrpd (Debian `frr`, RFC 5798 to the letter) in one virtual router.

keepalived is one reading of the RFCs; FRR is another, stricter one (it checks the IPv4 pseudo-
header checksum, the VMAC and the advertisement interval exactly), so a router vendor's peer that
follows the RFC is represented here by a real one. FRR needs a macvlan with the virtual MAC and the
VIP (Lab.run_frr makes it); vrrpkit's side is a plain eth0 VIP.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confgen import VIP, config, instance, wait_holders

from vrrpkit.lab import Lab
from vrrpkit.lab.process import FRR_DAEMONS, wait_until

pytestmark = [
    pytest.mark.root,
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(not (FRR_DAEMONS / "vrrpd").exists(), reason="needs FRR (Debian frr)"),
    pytest.mark.skipif(shutil.which("keepalived", path="/usr/sbin:/usr/bin") is None, reason="needs the lab's tools"),
]

MakeLab = Callable[..., Lab]
VMAC4 = ("vrrp4-51", "00:00:5e:00:01:33", f"{VIP}/24")
VIP6 = "2001:db8::100"
VMAC6 = ("vrrp6-51", "00:00:5e:00:02:33", f"{VIP6}/64")


def frr_conf(priority: int, interval_ms: int = 1000, family: int = 4) -> str:
    return (
        "interface eth0\n"
        " vrrp 51 version 3\n"
        f" vrrp 51 priority {priority}\n"
        f" vrrp 51 advertisement-interval {interval_ms}\n"
        + (f" vrrp 51 ip {VIP}\n" if family == 4 else f" vrrp 51 ipv6 {VIP6}\n")
        + "!\n"
    )


def vrrpkit_instance(lab: Lab, host: str) -> dict:  # type: ignore[type-arg]
    out = lab.exec(host, Lab.vrrpkit_argv("status", "--json"), timeout=10).stdout
    return json.loads(out)["instances"][0]  # type: ignore[no-any-return]


def frr_transitions(vrrpd_log: Path, family: int = 4) -> list[str]:
    """FRR's state changes for one family, in order ('Initialize -> Backup', 'Backup -> Master', ...)."""
    text = vrrpd_log.read_text(errors="replace") if vrrpd_log.exists() else ""
    tag = f"[IPv{family}] "
    return [line.split(tag, 1)[1].strip() for line in text.splitlines() if tag in line and " -> " in line]


@pytest.mark.parametrize("family", [4, 6])
def test_frr_master_vrrpkit_backup_then_crash(make_lab: MakeLab, family: int) -> None:
    lab = make_lab(2, ipv6=family == 6)
    vip = VIP if family == 4 else VIP6
    vrrpd = lab.run_frr("h1", frr_conf(200, family=family), [VMAC4 if family == 4 else VMAC6])
    log = vrrpd.log_path
    assert wait_until(lambda: "Backup -> Master" in frr_transitions(log, family) or None, 10), log.read_text()[-2000:]
    lab.run_vrrpkit("h2", config(instance(100, version=3, vips=(VMAC4 if family == 4 else VMAC6)[2:])))
    time.sleep(4.5)  # past Master_Down_Interval (3.61 s): vrrpkit heard FRR all along
    st = vrrpkit_instance(lab, "h2")
    # FRR sends IPv6 adverts from its macvlan's link-local address
    master = str(lab.addr("h1")) if family == 4 else st["master"]
    assert st["state"] == "BACKUP" and st["master"] == master and master.startswith(("192.", "fe80:")), st
    assert st["counters"]["advert_rcvd"] >= 3 and not st["counters"]["dropped"], st["counters"]
    assert lab.vip_holders(vip) == set()  # FRR's VIP lives on its macvlan, none on an eth0
    vrrpd.kill()
    took = wait_holders(lab, {"h2"}, 8, vip=vip)
    assert took < 3 * 1.0 + (256 - 100) / 256 + 1.0, took


def test_vrrpkit_master_frr_backup_then_graceful_handover(make_lab: MakeLab) -> None:
    lab = make_lab(2, ipv6=False)
    lab.run_vrrpkit("h1", config(instance(200, version=3)))
    wait_holders(lab, {"h1"}, 10)
    vrrpd = lab.run_frr("h2", frr_conf(100), [VMAC4])
    log = vrrpd.log_path
    assert wait_until(lambda: "Initialize -> Backup" in frr_transitions(log) or None, 10), log.read_text()[-2000:]
    time.sleep(4.5)  # FRR's Master_Down_Interval is 3.61 s: it must have heard vrrpkit
    assert frr_transitions(log) == ["Initialize -> Backup"], log.read_text()[-2000:]
    assert lab.vip_holders(VIP) == {"h1"}
    lab.signal("h1", 15)  # vrrpkit's goodbye: priority 0, so FRR takes over after Skew_Time
    started = time.monotonic()
    assert wait_until(lambda: "Backup -> Master" in frr_transitions(log) or None, 5), log.read_text()[-2000:]
    assert time.monotonic() - started < 1.5  # Skew_Time is 0.61 s; Master_Down would be 3.61 s
    assert wait_until(lambda: lab.vip_holders(VIP) == set() or None, 5)
