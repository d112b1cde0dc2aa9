"""A running vrrpkit's own counters in the verdict: a silent master that answered takeover claims.

Hand-built facts as in test_diag_verdict.py: this host is a healthy BACKUP hearing its master; what
changes is what `vrrpkit status` says about the instance. No I/O.
"""

from __future__ import annotations

from ipaddress import IPv4Address, ip_interface
from typing import Any

from vrrpkit.control.snapshot import InstanceStatus, Snapshot
from vrrpkit.core.config import InstanceConfig, Vip
from vrrpkit.core.packet import Advertisement, encode
from vrrpkit.diag import findings as F
from vrrpkit.diag.decode import sight
from vrrpkit.diag.facts import Facts
from vrrpkit.diag.procfs import Daemon, IfaceInfo
from vrrpkit.diag.verdict import decide

GROUP, US, MASTER = IPv4Address("224.0.0.18"), IPv4Address("192.0.2.2"), IPv4Address("192.0.2.1")
VIP = IPv4Address("192.0.2.100")


def status(counters: dict[str, Any]) -> Snapshot:
    inst = InstanceStatus(
        name="VI_1", vrid=51, interface="eth0", version=3, state="BACKUP", base_priority=100,
        effective_priority=100, address=str(US), master=str(MASTER), master_priority=150, vips=["192.0.2.100/24"],
        advert_int=0.2, master_advert_int=0.2, mode="multicast", peers=[], time_in_state=3600.0, fault_reason=None,
        counters=counters, mismatches={}, split_brain=[], split_brain_events=0, transitions=[], sync_group=None,
    )  # fmt: skip
    return Snapshot(pid=7, hostname="lb-2", uptime=3600.0, reloads=0, unknown_vrid_packets=0, scripts={},
                    instances=[inst])  # fmt: skip


def backup_hearing_its_master(snapshot: Snapshot | None) -> Facts:
    payload = encode(Advertisement(3, 51, 150, (VIP,), 0.2), MASTER, GROUP)
    return Facts(
        instances=[InstanceConfig(name="VI_1", interface="eth0", vrid=51, priority=100, version=3, advert_int_cs=20,
                                  vips=(Vip(ip_interface("192.0.2.100/24")),))],
        config_files=["/etc/keepalived/keepalived.conf"],
        hostname="lb-2",
        ifaces={"eth0": IfaceInfo("eth0", True, 0x1043, "up", 1500, "02:76:6b:00:00:02", 0)},
        addresses={"eth0": ["192.0.2.2/24"]},
        joined={"eth0": {GROUP}},
        daemons=[Daemon(42, "vrrpkit", "vrrpkit run")],
        daemon_status=snapshot,
        sightings=[sight(MASTER, GROUP, 255, payload, time=100 + i * 0.2, mac="02:76:6b:00:00:01", ifname="eth0")
                   for i in range(13)],
        socket_rx=[("eth0", MASTER, 51)],
        vip_claims={VIP: {"02:76:6b:00:00:01"}},
        window=2.6,
    )


def test_answered_claims_are_a_warning_that_names_the_master_and_how_to_measure_the_path() -> None:
    report = decide(backup_hearing_its_master(status({"claims_sent": 4, "claims_answered": 3})))
    assert report.verdict == F.HEALTHY  # a warning, never the verdict: the VIP is where it should be
    (found,) = [f for f in report.findings if f.code == F.CLAIMS_ANSWERED]
    assert found.severity is F.Severity.WARNING and found.confidence is F.Confidence.MEDIUM
    assert "192.0.2.1 fell silent for a whole Master_Down interval 3 times" in found.message
    assert "vrrpkit probe" in found.fix
    assert found.evidence == {"instance": "VI_1", "interface": "eth0", "vrid": 51, "master": "192.0.2.1",
                              "claims_sent": 4, "claims_answered": 3, "advert_int": 0.2,
                              "uptime_s": 3600.0}  # fmt: skip


def test_one_answered_claim_says_once() -> None:
    report = decide(backup_hearing_its_master(status({"claims_sent": 1, "claims_answered": 1})))
    assert "interval once since" in next(f for f in report.findings if f.code == F.CLAIMS_ANSWERED).message


def test_no_finding_without_answered_claims_or_without_a_daemon_status() -> None:
    for snapshot in (None, status({"claims_sent": 2, "claims_answered": 0}), status({})):
        report = decide(backup_hearing_its_master(snapshot))
        assert F.CLAIMS_ANSWERED not in [f.code for f in report.findings]
        assert report.verdict == F.HEALTHY


def test_a_malformed_counter_from_an_older_daemon_is_no_finding() -> None:
    report = decide(backup_hearing_its_master(status({"claims_answered": "3"})))
    assert F.CLAIMS_ANSWERED not in [f.code for f in report.findings]
