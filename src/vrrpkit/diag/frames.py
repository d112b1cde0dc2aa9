"""From the frames of a capture (or of a pasted dump) to decoded VRRP messages, and what was skipped (pure).

Why a module between ``capture`` and the commands: ``decode -r``, ``watch -r`` and ``investigate
-r`` read a capture the same way, frame by frame, so a frame is either a VRRP message (decoded,
with its number, time and tags) or skipped for a stated reason, and the skipped ones are counted,
never silently lost. Nothing raises for a frame, whatever its bytes: one broken frame must not end
the reading of a 100 MB file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vrrpkit.core.ah import PROTO_AH
from vrrpkit.core.packet import PROTO_VRRP
from vrrpkit.diag import linklayer as L
from vrrpkit.diag.capture import CapturedFrame
from vrrpkit.diag.decode import Decoded, DecodeError, NotVrrp, decode_link

SKIP_NOT_VRRP = "not-vrrp"
SKIP_LINK_TYPE = "unsupported-link-type"
SKIP_UNREADABLE = "unreadable"


@dataclass(frozen=True)
class FrameResult:
    """One frame: decoded, or skipped with the reason (a code from SKIP_* and words)."""

    frame: CapturedFrame
    decoded: Decoded | None
    skipped: str | None = None
    reason: str = ""

    def document(self) -> dict[str, Any]:
        """The ``decode -r --json`` line for a decoded frame: the decode document plus the frame's
        number, capture time, VLAN tags and whether it was cut (docs/json.md)."""
        if self.decoded is None:
            raise ValueError("a skipped frame has no document")
        doc = self.decoded.as_dict()
        cut = self.frame.wire_length > len(self.frame.data) or self.frame.short_record
        return {
            "frame": self.frame.number,
            "time": round(self.frame.time, 9),
            "linktype": L.LINKTYPE_NAMES.get(self.frame.linktype, str(self.frame.linktype)),
            "frame_length": self.frame.wire_length,
            "captured_length": len(self.frame.data),
            **doc,
            "truncated": doc["truncated"] or (cut and doc["vrrp"] is None),
        }


@dataclass
class Tally:
    """How many frames were read, decoded, and skipped by reason (the summary line of every -r run)."""

    frames: int = 0
    vrrp: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    first_time: float | None = None
    last_time: float | None = None

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        t = result.frame.time
        self.first_time = t if self.first_time is None else min(self.first_time, t)
        self.last_time = t if self.last_time is None else max(self.last_time, t)
        if result.decoded is not None:
            self.vrrp += 1
        elif result.skipped:
            self.skipped[result.skipped] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "vrrp": self.vrrp, "skipped": dict(sorted(self.skipped.items())),
                "first_time": self.first_time, "last_time": self.last_time,
                "duration": round(self.last_time - self.first_time, 6) if self.first_time is not None
                and self.last_time is not None else 0.0}  # fmt: skip

    def text(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return f"{self.frames} frames, {self.vrrp} VRRP" + (f"; skipped: {skipped}" if skipped else "")


def _plainly_not_vrrp(linktype: int, data: bytes) -> bool:
    """An untagged Ethernet frame whose IP header names another protocol: the bulk of a busy
    capture, skipped without building the whole frame (a 100 MB capture is mostly these)."""
    if linktype != L.LINKTYPE_ETHERNET or len(data) < 34:
        return False
    if data[12:14] == b"\x08\x00":
        return data[23] not in (PROTO_VRRP, PROTO_AH) and data[14] >> 4 == 4  # AH: keepalived's auth_type AH
    if data[12:14] == b"\x86\xdd" and len(data) >= 54:
        return data[20] not in (PROTO_VRRP, *L.IPV6_EXTENSIONS, L.IPV6_FRAGMENT) and data[14] >> 4 == 6
    return data[12:14] == b"\x08\x06"  # ARP


def decode_frame(frame: CapturedFrame) -> FrameResult:
    """One frame of a capture to a FrameResult; never raises for the frame's bytes."""
    if _plainly_not_vrrp(frame.linktype, frame.data):
        return FrameResult(frame, None, SKIP_NOT_VRRP, "not VRRP (protocol 112)")
    try:
        link = L.parse_link(frame.linktype, frame.data)
    except L.UnsupportedLinkType as exc:
        return FrameResult(frame, None, SKIP_LINK_TYPE, str(exc))
    try:
        return FrameResult(frame, decode_link(link, frame.time))
    except NotVrrp as exc:
        return FrameResult(frame, None, SKIP_NOT_VRRP, str(exc))
    except DecodeError as exc:
        return FrameResult(frame, None, SKIP_UNREADABLE, str(exc))
    except Exception as exc:  # a reader bug must cost one frame, not the file
        return FrameResult(frame, None, SKIP_UNREADABLE, f"undecodable: {exc!r}")


def decode_frames(frames: Iterable[CapturedFrame], tally: Tally | None = None) -> Iterator[FrameResult]:
    """Every frame decoded in order; ``tally`` (if given) counts them as they pass."""
    for frame in frames:
        result = decode_frame(frame)
        if tally is not None:
            tally.add(result)
        yield result
