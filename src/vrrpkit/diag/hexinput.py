"""Packets pasted as text: hex in any shape people paste it, and tcpdump -x/-xx/-X/-XX dumps (pure).

Why a module of its own: a dump of several packets is the common case (``tcpdump -xx -r f.pcap |
vrrpkit decode -``), and it interleaves summary lines ("12:00:00.1 IP 192.0.2.1 > 224.0.0.18:
VRRPv2, ...") and, with -X, an ASCII column that can itself look like hex. So the text is read line
by line: a line with an offset ("0x0010:") carries at most 16 bytes of hex before the ASCII column,
offset 0 starts a new packet, any other line that is not pure hex ends the packet it follows.
Without offsets, blank lines separate packets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OFFSET_LINE = re.compile(r"^\s*(?:0x)?([0-9a-fA-F]{4,8}):\s+(.*)$")
_GROUP = re.compile(r"^[0-9a-fA-F]{2}(?:[0-9a-fA-F]{2})?$")
_SEPARATORS = re.compile(r"[\s:.\-]")


class HexError(ValueError):
    """Text with no packet in it, or hex that is not hex."""


@dataclass(frozen=True)
class TextPacket:
    """One packet found in the text, with the summary line tcpdump printed before it (if any)."""

    number: int  # 1-based
    data: bytes
    summary: str = ""


def parse_plain(text: str) -> bytes:
    """Hex as people paste it: plain, with spaces/colons/newlines, ``0x`` prefixed."""
    text = re.sub(r"0x", "", text, flags=re.IGNORECASE)
    text = _SEPARATORS.sub("", text)
    if not text:
        raise HexError("no hex digits in the input")
    if len(text) % 2:
        raise HexError(f"odd number of hex digits ({len(text)})")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise HexError(f"not hex: {exc}") from exc


def _offset_bytes(rest: str) -> str:
    """The hex groups of one dump line, without the -X ASCII column (two spaces set it apart)."""
    hex_part = re.split(r"\s{2,}", rest.strip(), maxsplit=1)[0]
    groups = hex_part.split()
    good = []
    for g in groups:
        if not _GROUP.match(g):
            break
        good.append(g)
    return "".join(good)[:32]  # 16 bytes a line at most


def _is_plain_hex(line: str) -> bool:
    stripped = _SEPARATORS.sub("", re.sub(r"0x", "", line, flags=re.IGNORECASE))
    return bool(stripped) and re.fullmatch(r"[0-9a-fA-F]+", stripped) is not None


def split_packets(text: str) -> list[TextPacket]:
    """Every packet in ``text``; raises HexError when there is none or one is not hex."""
    lines = text.splitlines()
    if any(_OFFSET_LINE.match(line) for line in lines):
        return _from_dump(lines)
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    chunks = [" ".join(p) for p in paragraphs if p]
    if not chunks:
        raise HexError("no hex digits in the input")
    return [TextPacket(i, parse_plain(chunk)) for i, chunk in enumerate(chunks, 1)]


def _from_dump(lines: list[str]) -> list[TextPacket]:
    packets: list[TextPacket] = []
    current: list[str] = []
    summary = ""
    pending_summary = ""

    def close() -> None:
        nonlocal current, summary
        if current:
            data = "".join(current)
            if len(data) % 2:
                raise HexError(f"packet {len(packets) + 1}: odd number of hex digits ({len(data)})")
            packets.append(TextPacket(len(packets) + 1, bytes.fromhex(data), summary))
        current, summary = [], ""

    for line in lines:
        m = _OFFSET_LINE.match(line)
        if m is None:
            if line.strip():
                close()
                pending_summary = line.strip()
            continue
        if int(m.group(1), 16) == 0:
            close()
            summary, pending_summary = pending_summary, ""
        current.append(_offset_bytes(m.group(2)))
    close()
    if not packets:
        raise HexError("no hex digits in the input")
    return packets


def split_arguments(args: list[str]) -> list[TextPacket]:
    """Several arguments are several packets, unless every one is a short group (<= 4 bytes): then
    the shell split one unquoted packet (``decode 45c0 0028 ...``) and they are joined again."""
    if len(args) > 1 and all(len(_SEPARATORS.sub("", a)) <= 8 for a in args):
        return split_packets(" ".join(args))
    out: list[TextPacket] = []
    for arg in args:
        for p in split_packets(arg):
            out.append(TextPacket(len(out) + 1, p.data, p.summary))
    return out
