"""Parts of vrrpkit.lab that need neither root nor namespaces: pcap reading, names, addressing."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from vrrpkit.lab import Lab, LabError, read_pcap


def _pcap(frames: list[bytes], magic: int = 0xA1B2C3D4) -> bytes:
    out = struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 262144, 1)
    for i, frame in enumerate(frames):
        out += struct.pack("<IIII", 1700000000 + i, 250000, len(frame), len(frame)) + frame
    return out


def test_read_pcap_frames_and_times(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(_pcap([b"\x01" * 60, b"\x02" * 42]))
    frames = read_pcap(path)
    assert [f.data for f in frames] == [b"\x01" * 60, b"\x02" * 42]
    assert frames[1].time == pytest.approx(1700000001.25)


def test_read_pcap_tolerates_a_cut_last_record(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    path.write_bytes(_pcap([b"\x01" * 60, b"\x02" * 42])[:-5])  # tcpdump killed mid-write
    assert len(read_pcap(path)) == 1
    (tmp_path / "empty.pcap").write_bytes(b"")
    assert read_pcap(tmp_path / "empty.pcap") == []


def test_read_pcap_refuses_pcapng(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    path.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(40))
    with pytest.raises(ValueError, match="not a pcap"):
        read_pcap(path)


def test_names_addresses_and_interface_names_fit() -> None:
    lab = Lab(name="abcdefghij", hosts=99)  # not brought up: pure naming
    assert lab.netns("h7") == "abcdefghij-h7" and lab.switch_netns == "abcdefghij-sw"
    assert len(lab.port("h99")) <= 15
    assert str(lab.addr("h3")) == "192.0.2.3" and str(lab.addr6("h3")) == "2001:db8::3"
    assert lab.mac("h10") == "02:76:6b:00:00:0a"
    assert lab.host_of("192.0.2.10") == "h10" and lab.host_of("192.0.2.100") is None
    with pytest.raises(LabError, match="no host"):
        lab.netns("h100")
    with pytest.raises(LabError, match="hosts must be"):
        Lab(name="x", hosts=100)


def test_default_names_are_unique_within_a_process() -> None:
    names = {Lab().name for _ in range(5)}
    assert len(names) == 5 and all(n.startswith("vk") and len(n) <= 10 for n in names)


def test_lab_down_removes_only_the_named_or_the_only_lab() -> None:
    """`lab down` without --name used to remove every lab on the machine (other people's too)."""
    from vrrpkit.cli.cmd_lab import labs_to_remove

    assert labs_to_remove("mine", False, ["mine", "theirs"]) == ["mine"]
    assert labs_to_remove(None, False, ["only"]) == ["only"]
    assert labs_to_remove(None, False, []) == []
    assert labs_to_remove(None, True, ["a", "b"]) == ["a", "b"]
    with pytest.raises(LabError, match=r"several labs are up \(a, b\).*--all"):
        labs_to_remove(None, False, ["a", "b"])
    with pytest.raises(LabError, match="exclude"):
        labs_to_remove("a", True, ["a"])
