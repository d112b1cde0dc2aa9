"""Capture files in: pcap and pcapng, one frame at a time, through scapy's raw readers.

Why scapy's readers: they read both formats (pcap in micro- and nanoseconds, either byte order;
pcapng with any number of sections and interfaces, each with its own link type and timestamp
resolution), from any stream including a pipe (``tcpdump -w - | vrrpkit watch -r -``), one record
at a time, and Debian 12 ships them (python3-scapy). Only ``scapy.utils`` is imported (about
0.1 s), never the dissectors: the frames are cut up by ``linklayer``.

Two things are done here rather than trusted to the reader: a new pcapng section starts a new
list of interfaces (scapy keeps the old one, so a second section's interface 0 would take the
first section's link type), and a record the file ends in the middle of is reported as cut short
instead of being dropped in silence.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

MAX_RECORD = 1 << 20  # larger than any snap length a capture tool writes (262144)


class CaptureError(ValueError):
    """Not a capture file, or one broken before its first frame."""


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    """One record of a capture: its number in the file (1-based), time, link type and bytes."""

    number: int
    time: float
    linktype: int
    data: bytes
    wire_length: int  # the frame's length on the wire; more than len(data) when the snap length cut it
    short_record: bool = False  # the record holds fewer bytes than its header says (a cut file)


CAPTURE_MAGICS = (
    b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",  # pcap: us / ns
    b"\x0a\x0d\x0d\x0a",  # pcapng section header
)  # fmt: skip


def is_capture(head: bytes) -> bool:
    """Whether the first bytes of a stream are those of a pcap or pcapng file."""
    return head[:4] in CAPTURE_MAGICS


class _Warnings(logging.Handler):
    """Collects what scapy's reader logs (a block cut short, a bad length) as notes for the user."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class CaptureReader:
    """Iterate the frames of a capture stream. ``notes`` gathers the reader's complaints.

    ``position()`` is how far into the stream the reader is (bytes), for a progress display.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.notes: list[str] = []
        self.linktypes: set[int] = set()
        self._reader = _open(stream)

    def position(self) -> int | None:
        try:
            return self.stream.tell()
        except (OSError, ValueError):
            return None

    def __iter__(self) -> Iterator[CapturedFrame]:
        log = logging.getLogger("scapy.runtime")
        catcher = _Warnings()
        log.addHandler(catcher)
        propagate, log.propagate = log.propagate, False
        number = 0
        try:
            while True:
                record = _next_record(self._reader)
                if record is None:
                    break
                data, meta = record
                number += 1
                frame = _frame(number, bytes(data), meta, self._reader)
                self.linktypes.add(frame.linktype)
                yield frame
        finally:
            log.removeHandler(catcher)
            log.propagate = propagate
            self.notes += [m for m in catcher.messages if m not in self.notes]


def _next_record(reader: Any) -> tuple[bytes, Any] | None:
    """The next (bytes, metadata) of ``reader``, or None at the end (or where the file breaks).

    Through the readers' record-level methods, with our own size bound: their iterators cut every
    record to 1500 bytes, and VRRPv3 over IPv6 with many addresses is longer.
    """
    try:
        if hasattr(reader, "_read_block"):  # pcapng: skip the blocks that hold no packet
            while True:
                block = reader._read_block(size=MAX_RECORD)
                if block is not None:
                    return block  # type: ignore[no-any-return]
        return reader._read_packet(size=MAX_RECORD)  # type: ignore[no-any-return]
    except EOFError:
        return None
    except (OSError, OverflowError, ValueError, struct.error, zlib.error) as exc:
        logging.getLogger("scapy.runtime").warning("the capture breaks off here: %s", exc)
        return None


def _frame(number: int, data: bytes, meta: Any, reader: Any) -> CapturedFrame:
    if hasattr(meta, "tsresol"):  # pcapng
        stamp = ((meta.tshigh << 32) + meta.tslow) / meta.tsresol
        wire = int(meta.wirelen)
        return CapturedFrame(number, stamp, int(meta.linktype), data, max(wire, len(data)))
    frac = meta.usec / (1e9 if getattr(reader, "nano", False) else 1e6)
    return CapturedFrame(number, meta.sec + frac, int(reader.linktype), data, max(int(meta.wirelen), len(data)),
                         short_record=len(data) < int(meta.caplen))  # fmt: skip


def _open(stream: IO[bytes]) -> Any:
    """scapy's raw reader for ``stream`` (pcap or pcapng, decided by the magic)."""
    from scapy.error import Scapy_Exception
    from scapy.utils import RawPcapNgReader, RawPcapReader

    class _NgReader(RawPcapNgReader):
        """A new section header forgets the interfaces of the section before (pcapng 4.1)."""

        def _read_block_shb(self) -> None:
            self.interfaces = []
            super()._read_block_shb()

    magic = stream.read(4)
    if len(magic) < 4:
        raise CaptureError("empty input: no capture file header")
    if magic not in CAPTURE_MAGICS:
        raise CaptureError(f"not a pcap or pcapng file (it starts with {magic.hex()})")
    cls: Any = _NgReader if magic == CAPTURE_MAGICS[-1] else RawPcapReader
    reader = cls.__new__(cls)  # past scapy's metaclass, which would open the stream again
    try:
        cls.__init__(reader, getattr(stream, "name", "-"), stream, magic)
    except (Scapy_Exception, EOFError, OSError) as exc:
        raise CaptureError(f"broken capture file header: {exc or 'cut short'}") from exc
    return reader


def read_frames(stream: IO[bytes], progress: Callable[[int], None] | None = None) -> Iterator[CapturedFrame]:
    """Every frame of ``stream``; ``progress(bytes_read)`` is called every 4096 frames."""
    reader = CaptureReader(stream)
    for frame in reader:
        if progress is not None and frame.number % 4096 == 0:
            pos = reader.position()
            if pos is not None:
                progress(pos)
        yield frame


class _Prefixed(io.RawIOBase):
    """A stream that first gives back the bytes already read from it (to sniff its kind)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def sniff(stream: IO[bytes]) -> tuple[bool, IO[bytes]]:
    """(is it a capture?, the same stream with nothing consumed) for files and pipes alike."""
    head = b""
    while len(head) < 4:
        more = stream.read(4 - len(head))
        if not more:
            break
        head += more
    if stream.seekable():
        stream.seek(-len(head), io.SEEK_CUR)
        return is_capture(head), stream
    return is_capture(head), io.BufferedReader(_Prefixed(head, stream))
