"""The wire format of ``vrrpkit probe``, version 1 (docs/probe.md is the specification).

Pure encode/decode, so the format is tested byte by byte and ``decode``/``watch`` can recognise a
probe when they see one.

Why it looks like this: the protocol-112 probe must travel exactly as an advert does (protocol 112,
224.0.0.18 / ff02::12, TTL 255) so that whatever drops adverts drops probes too, but no VRRP
implementation may act on it. It therefore carries a VRRP-shaped header that every receiver
rejects at its first check: version 3 with type 15 (only type 1 exists), count 0 but a 40-byte body
(keepalived: "vrrp packet too long", when the VRID is one of its own; otherwise "Unknown VRID",
logged only with ``log_unknown_vrids``), priority 0, interval 0. The UDP probe carries the same body
without the VRRP header.

Layout (all integers network order)::

    offset  size  field
    0       1     0x3F  version 3, type 15            \\
    1       1     VRID (default 254)                   |  VRRP-shaped header
    2       1     0 (priority)                         |  (protocol 112 only;
    3       1     0 (count)                            |   absent in UDP)
    4       2     0 (interval)                         |
    6       2     checksum (IPv4: RFC 1071 over the    |
                  whole message; IPv6: the kernel's,   |
                  with the pseudo-header)             /
    8       8     marker "VRKPROBE"
    16      1     format version (1)
    17      1     kind: 1 request, 2 reply
    18      1     path: 1 vrrp-multicast, 2 vrrp-unicast, 3 udp-multicast, 4 udp-unicast
    19      1     TTL: 0 in a request; in a reply, the TTL / hop limit the request arrived with
    20      4     session of the sender of this packet (random per run)
    24      4     sequence number of the request (echoed in the reply)
    28      8     requester's send time, nanoseconds of its monotonic clock (echoed)
    36      4     reply: session of the requester; request: 0
    40      8     reserved, 0
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address, IPv6Address

from vrrpkit.core.packet import checksum as _checksum

FORMAT_VERSION = 1
MARKER = b"VRKPROBE"
HEADER_BYTE = 0x3F  # VRRP version 3, type 15
DEFAULT_VRID = 254
UDP_PORT = 50112
UDP_GROUP4 = IPv4Address("239.255.112.112")
UDP_GROUP6 = IPv6Address("ff12::112")
UDP_MCAST_TTL = 1
VRRP_HEADER_LEN = 8
BODY_LEN = 40
MESSAGE_LEN = VRRP_HEADER_LEN + BODY_LEN
_BODY = struct.Struct("!8sBBBBIIQI8x")


class Kind(IntEnum):
    REQUEST = 1
    REPLY = 2


class Path(IntEnum):
    VRRP_MULTICAST = 1
    VRRP_UNICAST = 2
    UDP_MULTICAST = 3
    UDP_UNICAST = 4

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @property
    def multicast(self) -> bool:
        return self in (Path.VRRP_MULTICAST, Path.UDP_MULTICAST)

    @property
    def vrrp(self) -> bool:
        return self in (Path.VRRP_MULTICAST, Path.VRRP_UNICAST)


@dataclass(frozen=True)
class ProbeMessage:
    kind: Kind
    path: Path
    session: int
    seq: int
    time_ns: int
    ttl: int = 0  # replies: TTL the request arrived with
    requester: int = 0  # replies: the requester's session
    vrid: int = DEFAULT_VRID  # protocol-112 only
    version: int = FORMAT_VERSION


class NotAProbe(ValueError):
    """The bytes are not a vrrpkit probe of a version we understand."""


def encode_body(msg: ProbeMessage) -> bytes:
    """The 40-byte body (the whole UDP payload)."""
    return _BODY.pack(
        MARKER,
        msg.version,
        int(msg.kind),
        int(msg.path),
        msg.ttl & 0xFF,
        msg.session & 0xFFFFFFFF,
        msg.seq & 0xFFFFFFFF,
        msg.time_ns & 0xFFFFFFFFFFFFFFFF,
        msg.requester & 0xFFFFFFFF,
    )


def encode_vrrp(msg: ProbeMessage) -> bytes:
    """The 48-byte protocol-112 message with its IPv4-style checksum (no pseudo-header).

    Over IPv6 the socket's IPV6_CHECKSUM overwrites bytes 6-7 with the pseudo-header checksum.
    """
    if not 1 <= msg.vrid <= 255:
        raise ValueError(f"vrid {msg.vrid} out of range 1..255")
    header = struct.pack("!BBBBHH", HEADER_BYTE, msg.vrid, 0, 0, 0, 0)
    data = header + encode_body(msg)
    return data[:6] + struct.pack("!H", _checksum(data)) + data[8:]


def decode_body(data: bytes, vrid: int = 0) -> ProbeMessage:
    if len(data) < BODY_LEN or data[:8] != MARKER:
        raise NotAProbe("no VRKPROBE marker")
    _marker, version, kind, path, ttl, session, seq, time_ns, requester = _BODY.unpack(data[:BODY_LEN])
    if version != FORMAT_VERSION:
        raise NotAProbe(f"probe format version {version} (this vrrpkit speaks {FORMAT_VERSION})")
    try:
        return ProbeMessage(Kind(kind), Path(path), session, seq, time_ns, ttl, requester, vrid, version)
    except ValueError as exc:
        raise NotAProbe(str(exc)) from exc


def decode_vrrp(data: bytes, verify_checksum: bool = True) -> ProbeMessage:
    """Decode a protocol-112 probe. IPv6 callers pass verify_checksum=False (the kernel verified)."""
    if len(data) < MESSAGE_LEN or data[0] != HEADER_BYTE:
        raise NotAProbe("not a probe header")
    if verify_checksum and _checksum(data[:MESSAGE_LEN]) != 0:
        raise NotAProbe("bad checksum")
    return decode_body(data[VRRP_HEADER_LEN:], vrid=data[1])


def is_probe(vrrp_payload: bytes) -> bool:
    return len(vrrp_payload) >= MESSAGE_LEN and vrrp_payload[0] == HEADER_BYTE and vrrp_payload[8:16] == MARKER


def reply_to(request: ProbeMessage, session: int, ttl: int) -> ProbeMessage:
    """The echo a host sends for ``request``: same path, seq and time, with the TTL it saw."""
    return ProbeMessage(
        Kind.REPLY, request.path, session, request.seq, request.time_ns, ttl, request.session, request.vrid
    )
