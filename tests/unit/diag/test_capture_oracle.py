"""`decode -r --json` against tshark, frame by frame, on every capture of the corpus (tests/data/captures).

tshark is the oracle: for every frame it dissects as VRRP, our JSON line must have the same version,
type, VRID, priority, count, addresses and checksum verdict. Fields a cut frame does not hold are
absent in tshark and null in ours. tshark's checksum verdict is RFC 5798's as Wireshark reads it
(IPv4 pseudo-header with the real destination), so the forms it calls bad are the ones only RFC
9568 / Cisco (no pseudo-header) or FRR's unicast variant use: ours must say which form matched and
who accepts it. IP reassembly is off in tshark: we never reassemble either (a router never sees a
fragmented advert whole).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vrrpkit.cli.main import main

CORPUS = Path(__file__).resolve().parents[2] / "data" / "captures"
FILES = sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".pcap", ".pcapng"))
FIELDS = ["frame.number", "vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count",
          "vrrp.ip_addr", "vrrp.ipv6_addr", "vrrp.checksum.status"]  # fmt: skip
TSHARK_GOOD_FORMS = {"v2", "ipv4-pseudo-header", "ipv6-pseudo-header"}

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")


def tshark(path: Path) -> dict[int, dict[str, str]]:
    out = subprocess.run(
        ["tshark", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-r", str(path), "-T", "fields",
         *[x for f in FIELDS for x in ("-e", f)]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    frames = {}
    for line in out.splitlines():
        row = dict(zip(FIELDS, line.split("\t"), strict=True))
        if row["vrrp.version"]:
            frames[int(row["frame.number"])] = row
    return frames


def ours(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[int, dict[str, Any]], str]:
    rc = main(["decode", "-r", str(path), "--json"])
    captured = capsys.readouterr()
    docs = [json.loads(line) for line in captured.out.splitlines()]
    return rc, {d["frame"]: d for d in docs}, captured.err


def _num(value: Any) -> str:
    return "" if value is None else str(value)


@pytest.mark.parametrize("name", FILES)
def test_decode_agrees_with_tshark(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / name
    theirs = tshark(path)
    rc, mine, err = ours(path, capsys)
    assert theirs, f"tshark sees no VRRP in {name}"
    assert rc in (0, 1), err
    for number, t in theirs.items():
        assert number in mine, f"{name} frame {number}: tshark calls it VRRP, we skipped it ({err})"
        v = mine[number]["vrrp"]
        assert v is not None, (name, number, mine[number])
        got = [_num(v["version"]), _num(v["type"]), _num(v["vrid"]), _num(v["priority"]), _num(v["count"])]
        want = [t["vrrp.version"], t["vrrp.type"], t["vrrp.virt_rtr_id"], t["vrrp.prio"], t["vrrp.addr_count"]]
        assert got == want, (name, number)
        addrs = t["vrrp.ip_addr"] or t["vrrp.ipv6_addr"]
        assert v["addresses"] == (addrs.split(",") if addrs else []), (name, number)
        status = t["vrrp.checksum.status"]
        if status in ("", "2"):  # not verified: the checksum field or the message is not all there
            assert v["checksum_ok"] is None, (name, number, v)
        elif status == "1":
            assert v["checksum_ok"] is True and v["checksum_form"] in TSHARK_GOOD_FORMS, (name, number, v)
        else:  # bad by RFC 5798's pseudo-header: bad for us too, or a form only others accept
            assert v["checksum_form"] not in TSHARK_GOOD_FORMS, (name, number, v)
            assert v["accepted_by"] == [] if v["checksum_ok"] is False else "keepalived 2.2.7" not in v["accepted_by"]
    extra = set(mine) - set(theirs)
    assert all(mine[n]["fragment"] for n in extra), f"{name}: frames only we call VRRP: {sorted(extra)}"
    summary = err.strip().splitlines()[-1]
    assert f"{len(mine)} VRRP" in summary, summary


def test_the_cisco_checksum_says_who_accepts_it(capsys: pytest.CaptureFixture[str]) -> None:
    """A VRRPv3 IPv4 checksum without the pseudo-header: tshark and keepalived 2.2.7 call it bad, RFC 9568
    and Cisco use it; the verdict must say so rather than call it simply valid or bad."""
    _, mine, _ = ours(CORPUS / "crafted-edge-cases.pcap", capsys)
    v = mine[1]["vrrp"]
    assert (v["checksum_ok"], v["checksum_form"]) == (True, "no-pseudo-header")
    assert "RFC 9568" in v["accepted_by"] and "keepalived 2.2.7" not in v["accepted_by"]
    assert "keepalived 2.2.7 with v3_checksum_as_v2" in v["accepted_by"]
    bad = mine[2]["vrrp"]
    assert (bad["checksum_ok"], bad["accepted_by"]) == (False, [])


def test_length_mismatch_and_fragments_say_what_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    _, mine, err = ours(CORPUS / "crafted-edge-cases.pcap", capsys)
    longer = mine[3]
    assert longer["error"] == "length-mismatch" and longer["vrrp"]["checksum_ok"] is False
    first, later = mine[6], mine[7]
    assert first["fragment"] and first["vrrp"]["vrid"] == 61 and first["vrrp"]["checksum_ok"] is None
    assert "fragment" in first["tcpdump"] and "length-mismatch" not in first["tcpdump"]
    assert later["fragment"] and later["vrrp"] is None
    assert 8 not in mine  # the tagged ICMPv6 echo: skipped, and counted
    assert "1 not-vrrp" in err


def test_truncated_frames_show_every_field_they_hold(capsys: pytest.CaptureFixture[str]) -> None:
    _, mine, _ = ours(CORPUS / "keepalived-snap50.pcap", capsys)
    v2 = next(d for d in mine.values() if d["vrrp"]["version"] == 2)
    assert v2["truncated"] and v2["vrrp"]["addresses"] == ["192.0.2.100"] and v2["vrrp"]["checksum_ok"] is None
    assert v2["tcpdump"].endswith("[|vrrp]") and 'auth "' in v2["tcpdump"]


def test_vlan_tags_and_cooked_captures(capsys: pytest.CaptureFixture[str]) -> None:
    _, qinq, _ = ours(CORPUS / "keepalived-qinq-8021ad.pcap", capsys)
    assert [(t["kind"], t["vid"]) for t in qinq[1]["vlan"]] == [("802.1ad", 100), ("802.1Q", 20)]
    _, sll2, _ = ours(CORPUS / "keepalived-any-sll2.pcap", capsys)
    assert sll2[1]["linktype"] == "linux-sll2" and sll2[1]["valid"]
    _, two, _ = ours(CORPUS / "two-sections-ether-sll2.pcapng", capsys)
    assert {d["linktype"] for d in two.values()} == {"ethernet", "linux-sll2"}
