"""Captures and dumps in: link layers, text dumps, streams, watch -r and the timeline (no root, no tshark)."""

from __future__ import annotations

import io
import json
import struct
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from vrrpkit.cli.main import main
from vrrpkit.core.packet import Advertisement, build_ipv4, encode
from vrrpkit.diag import linklayer as L
from vrrpkit.diag.capture import CaptureError, CaptureReader, sniff
from vrrpkit.diag.decode import NotVrrp, decode_bytes, sight_ip
from vrrpkit.diag.hexinput import HexError, split_arguments, split_packets
from vrrpkit.diag.timeline import Timeline, master_down_interval

CORPUS = Path(__file__).resolve().parents[2] / "data" / "captures"
GROUP = IPv4Address("224.0.0.18")


def advert(src: str, prio: int, vrid: int = 51, interval: float = 1.0, version: int = 3) -> bytes:
    a = IPv4Address(src)
    msg = encode(Advertisement(version, vrid, prio, (IPv4Address("192.0.2.100"),), interval), a, GROUP)
    return build_ipv4(a, GROUP, msg)


ETH = bytes.fromhex("01005e000012" "020000000001")


# --- link layers -----------------------------------------------------------------------------------


def test_link_layers_all_lead_to_the_same_packet() -> None:
    ip = advert("192.0.2.1", 100)
    sll = struct.pack("!HHH8sH", 4, 1, 6, bytes.fromhex("020000000001") + b"\0\0", 0x0800) + ip
    sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 7, 1, 0, 6, bytes.fromhex("020000000001") + b"\0\0") + ip
    tagged = ETH + bytes.fromhex("88a8" "0064" "8100" "6014" "0800") + ip
    for linktype, frame in ((L.LINKTYPE_LINUX_SLL, sll), (L.LINKTYPE_LINUX_SLL2, sll2),
                            (L.LINKTYPE_ETHERNET, tagged), (L.LINKTYPE_RAW, ip)):  # fmt: skip
        link = L.parse_link(linktype, frame)
        assert (link.ethertype, link.network) == (0x0800, ip), linktype
    assert L.parse_link(L.LINKTYPE_LINUX_SLL, sll).outgoing  # packet type 4: sent by this host
    assert L.parse_link(L.LINKTYPE_LINUX_SLL2, sll2).ifindex == 7
    tags = L.parse_link(L.LINKTYPE_ETHERNET, tagged).vlan
    assert [(t.tpid, t.vid, t.pcp) for t in tags] == [(0x88A8, 100, 0), (0x8100, 20, 3)]
    with pytest.raises(L.UnsupportedLinkType):
        L.parse_link(127, b"\0" * 30)  # radiotap


def test_a_tagged_ipv6_frame_is_never_a_bare_vrrp_message() -> None:
    """33:33:... starts with 0x3: read as a bare VRRPv3 message it became "unknown-type 3, vrid 51"."""
    icmp6 = (bytes.fromhex("333300000001" "020000000009" "8100000a" "86dd") + bytes.fromhex("6000000000083aff")
             + bytes(16) + bytes.fromhex("ff020000000000000000000000000001") + bytes.fromhex("8000000000000000"))
    with pytest.raises(NotVrrp, match=r"VLAN 10.*ICMPv6, not VRRP"):
        decode_bytes(icmp6)


def test_ip_fragments_and_cut_packets_are_named_not_misread() -> None:
    ip = bytearray(advert("192.0.2.1", 100))
    ip[6] = 0x20  # more fragments
    s = sight_ip(bytes(ip))
    assert s is not None and s.incomplete == "fragment" and s.error is None and s.checksum_ok is None
    cut = sight_ip(advert("192.0.2.1", 100)[:26])  # 6 of the 12 VRRP bytes
    assert cut is not None and cut.incomplete == "truncated" and cut.vrid == 51 and cut.raw is not None
    assert cut.raw.captured == 6 and cut.raw.length == 12


def test_checksum_is_judged_even_when_the_length_check_fails() -> None:
    ip = advert("192.0.2.1", 100)
    longer = build_ipv4(IPv4Address("192.0.2.1"), GROUP, ip[20:] + b"\0\0\0\0")
    doc = decode_bytes(longer).as_dict()
    assert doc["error"] == "length-mismatch" and doc["vrrp"]["checksum_ok"] is False
    assert "(bad vrrp cksum" in doc["tcpdump"] and "[invalid: length-mismatch]" in doc["tcpdump"]


# --- text dumps ------------------------------------------------------------------------------------

def _dump_lines(packet: bytes) -> str:
    """``tcpdump -X`` style lines for ``packet``: offsets, hex groups, and the ASCII column."""
    out = []
    for off in range(0, len(packet), 16):
        chunk = packet[off : off + 16]
        groups = " ".join(chunk[i : i + 2].hex() for i in range(0, len(chunk), 2))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"\t0x{off:04x}:  {groups:<40}  {text}")
    return "\n".join(out) + "\n"


DUMP = (
    "12:00:00.000000 IP 192.0.2.1 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 100, intvl 100cs, length 12\n"
    + _dump_lines(advert("192.0.2.1", 100))
    + "12:00:01.000000 IP 192.0.2.2 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 90, intvl 100cs, length 12\n"
    + _dump_lines(advert("192.0.2.2", 90))
)


def test_tcpdump_dumps_with_summary_lines_and_ascii_are_several_packets() -> None:
    packets = split_packets(DUMP)
    assert [p.number for p in packets] == [1, 2]
    assert packets[0].summary.startswith("12:00:00.000000 IP 192.0.2.1")
    assert [decode_bytes(p.data).sighting.raw.priority for p in packets] == [100, 90]  # type: ignore[union-attr]


def test_arguments_are_packets_unless_the_shell_split_one() -> None:
    one = advert("192.0.2.1", 100).hex()
    two = advert("192.0.2.2", 90).hex()
    assert len(split_arguments([one, two])) == 2
    groups = [one[i : i + 4] for i in range(0, len(one), 4)]  # `decode 4500 0020 ...` unquoted
    assert [p.data.hex() for p in split_arguments(groups)] == [one]
    assert len(split_packets(f"{one}\n\n{two}\n")) == 2
    with pytest.raises(HexError):
        split_packets("not hex at all")


def test_decode_of_a_dump_on_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(DUMP))
    assert main(["decode", "-", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(d["packet"], d["vrrp"]["priority"]) for d in lines] == [(1, 100), (2, 90)]


# --- capture streams -------------------------------------------------------------------------------


def _pcap(frames: list[bytes], linktype: int = 1, times: list[float] | None = None) -> bytes:
    """A classic pcap of ``frames``; frame i at 1700000000 + i + 0.5 s unless ``times`` (offsets) say otherwise."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for i, f in enumerate(frames):
        t = (i + 0.5) if times is None else times[i]
        out += struct.pack("<IIII", 1700000000 + int(t), round(t % 1 * 1e6), len(f), len(f)) + f
    return out


def test_a_capture_from_a_pipe_is_sniffed_and_read_without_seeking() -> None:
    data = _pcap([ETH + b"\x08\x00" + advert("192.0.2.1", 100)] * 3)

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: bytearray) -> int:  # type: ignore[override]
            chunk = self.inner.read(min(len(b), 7))  # a pipe hands out little at a time
            b[: len(chunk)] = chunk
            return len(chunk)

    is_capture, stream = sniff(io.BufferedReader(Pipe()))
    assert is_capture
    frames = list(CaptureReader(stream))
    assert [(f.number, f.time) for f in frames] == [(1, 1700000000.5), (2, 1700000001.5), (3, 1700000002.5)]


def test_a_cut_file_keeps_its_whole_frames_and_flags_the_last(tmp_path: Path) -> None:
    data = _pcap([ETH + b"\x08\x00" + advert("192.0.2.1", 100)] * 2)
    frames = list(CaptureReader(io.BytesIO(data[:-10])))
    assert len(frames) == 2 and not frames[0].short_record and frames[1].short_record
    with pytest.raises(CaptureError, match="not a pcap"):
        CaptureReader(io.BytesIO(b"hello world"))


def test_decode_r_counts_what_it_skips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arp = ETH + b"\x08\x06" + bytes(28)
    path = tmp_path / "mixed.pcap"
    path.write_bytes(_pcap([arp, ETH + b"\x08\x00" + advert("192.0.2.1", 100), arp]))
    assert main(["decode", "-r", str(path)]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[0].lstrip().startswith("2  ")
    assert "3 frames, 1 VRRP; skipped: 2 not-vrrp" in out.err
    path.write_bytes(_pcap([arp]))
    assert main(["decode", str(path)]) == 2  # a capture given without -r is read as one, and has no VRRP


# --- watch -r and the timeline ---------------------------------------------------------------------


def _watch(name: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    rc = main(["watch", "-r", str(CORPUS / name), "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    return rc, lines[-1]


def test_watch_r_reports_the_lab_split_brain_with_when_each_became_master(capsys: pytest.CaptureFixture[str]) -> None:
    rc, summary = _watch("lab-split-brain.pcap", capsys)
    assert rc == 1
    flags = [f for f in summary["flags"] if f["code"] == "split-brain"]  # type: ignore[attr-defined]
    assert len(flags) == 1
    firsts: dict[str, float] = {}
    for frame in CaptureReader((CORPUS / "lab-split-brain.pcap").open("rb")):
        s = sight_ip(frame.data[14:])
        assert s is not None
        firsts.setdefault(str(s.src), frame.time)
    became = {m["src"]: m["became_master"] for m in flags[0]["evidence"]["masters"]}
    assert became == pytest.approx(firsts, abs=1e-6)  # h1 from its first advert, h2 from its own
    (vrid,) = summary["timeline"]["vrids"]  # type: ignore[index]
    (overlap,) = vrid["overlaps"]
    assert overlap["from"] == pytest.approx(firsts["192.0.2.2"], abs=1e-6) and overlap["seconds"] > 1.5


def test_watch_r_on_the_healthy_capture_flags_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    rc, summary = _watch("lab-healthy.pcap", capsys)
    assert (rc, summary["flags"]) == (0, [])
    (vrid,) = summary["timeline"]["vrids"]  # type: ignore[index]
    assert [m["src"] for m in vrid["masters"]] == ["192.0.2.1"] and vrid["gaps"] == vrid["overlaps"] == []


def _feed(tl: Timeline, events: list[tuple[float, str, int]], interval: float = 1.0) -> list[str]:
    codes = []
    for t, src, prio in events:
        s = sight_ip(advert(src, prio, interval=interval), time=t)
        assert s is not None
        codes += [f.code for f in tl.feed(s)]
    return codes


def test_timeline_gaps_handovers_and_a_preemption_that_is_no_overlap() -> None:
    events = [(float(t), "192.0.2.1", 100) for t in range(5)]  # h1 master 0..4
    events += [(4.5, "192.0.2.1", 0)]  # h1 stops: priority 0
    events += [(5.2 + t, "192.0.2.2", 90) for t in range(4)]  # h2 takes over after Skew_Time: no gap
    events += [(8.0 + t, "192.0.2.1", 100) for t in range(3)]  # h1 is back and pre-empts at 8.0, h2 sends
    events += [(16.0, "192.0.2.1", 100)]  # one more at 8.2 (no overlap); then 6 s of nothing: a gap
    tl = Timeline()
    codes = _feed(tl, sorted(events))
    tl.finish(17.0)
    assert codes == ["priority-0-handover", "master-gap"]
    (vrid,) = tl.as_dict()["vrids"]
    assert [(m["src"], m["from"], m["to"], m["ended_by"]) for m in vrid["masters"]] == [
        ("192.0.2.1", 0.0, 4.5, "priority-0"), ("192.0.2.2", 5.2, 8.2, "silence"),
        ("192.0.2.1", 8.0, 10.0, "silence"), ("192.0.2.1", 16.0, 16.0, None)]  # fmt: skip
    assert vrid["gaps"] == [{"from": 10.0, "to": 16.0, "seconds": 6.0, "next_master": "192.0.2.1",
                             "master_down_interval": pytest.approx(master_down_interval(3, 1.0, 1))}]  # fmt: skip
    assert vrid["overlaps"] == [] and vrid["handovers"][0]["master_since"] == 0.0


def test_timeline_a_master_that_falls_silent_ends_its_run() -> None:
    tl = Timeline()
    _feed(tl, [(0.0, "192.0.2.1", 100), (1.0, "192.0.2.1", 100)])
    assert [f.code for f in tl.finish(10.0)] == ["master-gap"]
    (vrid,) = tl.as_dict()["vrids"]
    assert vrid["masters"][0]["ended_by"] == "silence" and vrid["gaps"][0]["next_master"] is None
