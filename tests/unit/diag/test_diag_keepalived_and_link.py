"""keepalived's own files as evidence, a host with nothing to judge, and verdicts from a capture (no I/O)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from test_diag_capture import ETH, _pcap, advert
from test_diag_verdict import OUR_MAC, PEER, PEER_MAC, US, VIP, adverts, codes, facts, instance, the

from vrrpkit.cli.main import main
from vrrpkit.diag import findings as F
from vrrpkit.diag import kadata
from vrrpkit.diag.facts import Facts
from vrrpkit.diag.procfs import IfaceInfo
from vrrpkit.diag.replay import investigate_capture
from vrrpkit.diag.verdict import decide

KA = Path(__file__).parent / "fixtures" / "keepalived"
CORPUS = Path(__file__).resolve().parents[2] / "data" / "captures"


def states(auth_failure_total: int, auth_failure_window: int | None) -> list[kadata.InstanceState]:
    """keepalived 2.2.7's real files (a master of VI_1), with the password counter set for the test."""
    got = kadata.merge(kadata.parse_data((KA / "keepalived-2.2.7.data").read_text()),
                       kadata.parse_stats((KA / "keepalived-2.2.7.stats").read_text()))  # fmt: skip
    (state,) = got
    assert state.counters is not None
    state.counters["auth_failure"] = auth_failure_total
    if auth_failure_window is not None:
        state.window = dict.fromkeys(state.counters, 0) | {"auth_failure": auth_failure_window}
    return got


def test_the_files_keepalived_writes_are_read() -> None:
    (state,) = states(0, None)
    assert (state.name, state.state, state.vrid, state.priority, state.interface) == ("VI_1", "MASTER", 51, 150, "eth0")
    assert (state.advert_interval_ms, state.src_ip, state.vips) == (200, "192.0.2.1", ["192.0.2.100"])
    assert state.last_transition and state.last_transition > 1.7e9
    assert state.counters and state.counters["advert_sent"] == 3 and state.counters["became_master"] == 1
    v2 = kadata.parse_data("------< VRRP Topology >------\n VRRP Instance = V\n   Advert interval = 1 sec\n")
    assert v2["V"].advert_interval_ms == 1000
    assert kadata.delta({"a": 1}, {"a": 4, "b": 2}) == {"a": 3, "b": 2} and kadata.delta(None, {"a": 1}) is None


def test_keepalived_counted_wrong_passwords_while_the_wire_showed_nothing() -> None:
    """The window missed the other master's adverts (keepalived held them back); keepalived's counter did not."""
    f = facts(instance(name="VI_1"), keepalived=states(9, 3), vips_local={VIP}, vip_claims={VIP: {PEER_MAC}},
              sightings=adverts(US, OUR_MAC, outgoing=True))  # fmt: skip
    report = decide(f)
    assert report.verdict == F.AUTH_MISMATCH, codes(report)
    auth = the(report, F.AUTH_MISMATCH)
    assert auth.evidence["count"] == 3 and auth.evidence["during_window"] and auth.confidence is F.Confidence.HIGH
    assert "keepalived-state" in [x.code for x in report.findings]


def test_an_old_rejection_is_a_warning_unless_the_vip_is_held_twice_now() -> None:
    ours = adverts(US, OUR_MAC, outgoing=True)
    calm = decide(facts(keepalived=states(5, 0), vips_local={VIP}, sightings=ours))
    assert calm.verdict == F.HEALTHY, codes(calm)
    assert the(calm, F.AUTH_MISMATCH).severity is F.Severity.WARNING
    split = decide(facts(keepalived=states(5, 0), vips_local={VIP}, vip_claims={VIP: {PEER_MAC}}, sightings=ours))
    assert split.verdict == F.AUTH_MISMATCH and the(split, F.AUTH_MISMATCH).confidence is F.Confidence.MEDIUM


def test_keepalived_evidence_joins_the_wire_finding_of_the_same_kind() -> None:
    f = facts(instance(version=2, advert_int_cs=100, auth_type=1, auth_pass=b"secret2"), keepalived=states(9, 3),
              sightings=adverts(PEER, PEER_MAC, version=2, interval=1.0, auth=b"secret1"), window=5.0)  # fmt: skip
    report = decide(f)
    (auth,) = [x for x in report.findings if x.code == F.AUTH_MISMATCH]
    assert auth.evidence["keepalived"]["count"] == 3 and auth.evidence["seen"]["adverts"] == 13
    assert "(13 adverts over 12.0 s of a 5.0 s window)" in auth.message
    assert any("keepalived here rejected 3" in b for b in auth.basis)


def test_no_daemon_and_no_configuration_is_no_vrrp_here() -> None:
    f = Facts(hostname="web-1", ifaces={"eth0": IfaceInfo("eth0", True, 0x1043, "up", 1500, OUR_MAC, 0)},
              sightings=adverts(PEER, PEER_MAC), window=2.6)  # fmt: skip
    report = decide(f)
    assert (report.verdict, report.problem) == (F.NO_VRRP_HERE, True)
    nothing = the(report, F.NO_VRRP_HERE)
    assert "VRID 51 on eth0" in nothing.message and "-f FILE" in nothing.fix
    configured = decide(facts())  # a configuration (and a daemon): judged as before
    assert F.NO_VRRP_HERE not in codes(configured)


# --- verdicts from a capture -----------------------------------------------------------------------


def _from(name: str, files: list[str] | None = None) -> F.Report:
    with (CORPUS / name).open("rb") as stream:  # an absolute name (tmp_path) wins over CORPUS
        return investigate_capture(stream, name, files)


def test_capture_split_brain_and_healthy() -> None:
    split = _from("lab-split-brain.pcap")
    assert (split.verdict, split.confidence) == (F.SPLIT_BRAIN, F.Confidence.HIGH)
    assert any("became master" in b for b in split.basis)
    healthy = _from("lab-healthy.pcap")
    assert healthy.verdict == F.HEALTHY and any("master 192.0.2.1" in b for b in healthy.basis)
    assert not any(x.code in (F.NO_DAEMON, F.DAEMON) for x in healthy.findings)  # nothing about this host


def test_capture_with_a_configuration_compares_the_adverts(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n advert_int 1\n"
                    " version 3\n virtual_ipaddress {\n  192.0.2.100/24\n }\n}\n")  # fmt: skip
    report = _from("lab-healthy.pcap", [str(conf)])
    assert report.verdict == F.INTERVAL_MISMATCH, codes(report)
    assert report.summary["capture"]["interface"] == "eth0"


def test_capture_without_vrrp_is_inconclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = io.BytesIO(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    report = investigate_capture(empty, "empty.pcap")
    assert report.verdict == F.INCONCLUSIVE and "tcpdump -i IFACE" in the(report, F.INCONCLUSIVE).fix
    assert main(["investigate", "-r", str(CORPUS / "lab-split-brain.pcap"), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "split-brain" and doc["capture"]["vrrp"] == 37


def test_a_gap_in_a_capture_is_a_warning_with_its_times(tmp_path: Path) -> None:
    frames = [(float(t), advert("192.0.2.1", 100)) for t in (*range(5), 12, 13, 14)]
    path = tmp_path / "gap.pcap"
    path.write_bytes(_pcap([ETH + b"\x08\x00" + data for _t, data in frames], times=[t for t, _d in frames]))
    report = _from(str(path))
    assert report.verdict == F.HEALTHY
    gap = the(report, F.MASTER_GAP)
    assert gap.severity is F.Severity.WARNING and (gap.evidence["from"], gap.evidence["to"]) == (1700000004.0,
                                                                                                 1700000012.0)
