"""Read the captures the lab's tcpdump writes, through scapy's raw readers (as ``vrrpkit.diag.capture`` does).

Tests and the demo only need "how many frames, and their bytes". The lab may not import diag (it
drives the daemon and the doctor as processes), so it asks the same library directly: pcap or
pcapng, and a capture cut short mid-record (tcpdump killed) just loses that last record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_RECORD = 1 << 20


@dataclass(frozen=True)
class Frame:
    """One captured link-layer frame; `time` is seconds since the epoch."""

    time: float
    data: bytes


def read_pcap(path: str | Path) -> list[Frame]:
    """All frames of a pcap or pcapng file (an empty file has none)."""
    from scapy.error import Scapy_Exception
    from scapy.utils import RawPcapNgReader, RawPcapReader

    if Path(path).stat().st_size < 24:
        return []
    frames: list[Frame] = []
    try:
        reader: Any = RawPcapReader(str(path))
    except Scapy_Exception as exc:
        raise ValueError(f"{path}: not a pcap or pcapng file") from exc
    try:  # not `with reader`: Debian 12's scapy (2.5.0) readers are no context managers
        ng = isinstance(reader, RawPcapNgReader)
        while True:
            try:
                record = reader._read_packet(size=MAX_RECORD)
            except EOFError:
                break
            if record is None:
                break
            data, meta = record
            if ng:
                stamp = ((meta.tshigh << 32) + meta.tslow) / meta.tsresol
            else:
                stamp = meta.sec + meta.usec / (1e9 if getattr(reader, "nano", False) else 1e6)
                if len(data) < meta.caplen:
                    break  # the file ends inside this record
            frames.append(Frame(stamp, bytes(data)))
    finally:
        reader.close()
    return frames
