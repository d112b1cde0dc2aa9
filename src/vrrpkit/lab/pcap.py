"""Read the classic pcap files that `tcpdump -w` writes, without tshark or scapy.

Tests and the demo only need "how many frames, and their bytes"; a 30-line reader is cheaper than
a dependency and keeps `lab` usable on a bare Debian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}


@dataclass(frozen=True)
class Frame:
    """One captured link-layer frame; `time` is seconds since the epoch."""

    time: float
    data: bytes


def read_pcap(path: str | Path) -> list[Frame]:
    """All frames of a pcap file; a capture cut short mid-record just loses that last record."""
    raw = Path(path).read_bytes()
    if len(raw) < 24:
        return []
    try:
        endian, unit = _MAGICS[raw[:4]]
    except KeyError as exc:
        raise ValueError(f"{path}: not a pcap file (pcapng is not supported)") from exc
    frames: list[Frame] = []
    offset = 24
    record = struct.Struct(endian + "IIII")
    while offset + record.size <= len(raw):
        sec, frac, incl, _orig = record.unpack_from(raw, offset)
        offset += record.size
        if offset + incl > len(raw):
            break
        frames.append(Frame(sec + frac * unit, raw[offset : offset + incl]))
        offset += incl
    return frames
