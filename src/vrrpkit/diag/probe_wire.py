"""The wire format of ``vrrpkit probe``, version 2 (docs/probe.md is the specification).

Pure encode/decode and the reply authentication, so the format is tested byte by byte and
``decode``/``watch`` can recognise a probe when they see one.

Why it looks like this: the protocol-112 probe must travel exactly as an advert does (protocol 112,
224.0.0.18 / ff02::12, TTL 255) so that whatever drops adverts drops probes too, but no VRRP
implementation may act on it. It therefore carries a VRRP-shaped header that every receiver
rejects at its first check: version 3 with type 15 (only type 1 exists), count 0 but a body
(keepalived: "vrrp packet too long", when the VRID is one of its own; otherwise "Unknown VRID",
logged only with ``log_unknown_vrids``), priority 0, interval 0. The UDP probe carries the same body
without the VRRP header.

Why replies are authenticated (version 2): a reply says "your packet got here", so a forged one
makes a lossy path look healthy, and in version 1 everything needed to forge one travelled in the
request. Each run now has an X25519 key pair; every message carries the sender's public key, and a
reply carries an HMAC-SHA256 tag (16 bytes) under a key only the two hosts can compute:
HMAC(psk or "vrrpkit-probe-2", X25519(own private, peer public) || both public keys, smaller
first). With ``--key-file`` (a secret given to every host out of band) nobody without it can
forge a reply; without it, the key is derived per session, so a forger must have put its own
public key in place of the peer's before the peer was first heard (the first key seen from an
address is the one kept, and a second one is reported).

Layout (all integers network order)::

    offset  size  field
    0       1     0x3F  version 3, type 15            \\
    1       1     VRID (default 254, never 0)          |  VRRP-shaped header
    2       1     0 (priority)                         |  (protocol 112 only;
    3       1     0 (count)                            |   absent in UDP)
    4       2     0 (interval)                         |
    6       2     checksum (IPv4: RFC 1071 over the    |
                  whole message; IPv6: the kernel's,   |
                  with the pseudo-header)             /
    8       8     marker "VRKPROBE"
    16      1     format version (2)
    17      1     kind: 1 request, 2 reply
    18      1     path: 1 vrrp-multicast, 2 vrrp-unicast, 3 udp-multicast, 4 udp-unicast
    19      1     TTL: 0 in a request; in a reply, the TTL / hop limit the request arrived with
    20      4     session of the sender of this packet (random per run)
    24      4     sequence number of the request (echoed in the reply)
    28      8     requester's send time, nanoseconds of its monotonic clock (echoed)
    36      4     reply: session of the requester; request: 0
    40      32    the sender's X25519 public key (per run)
    72      16    reply: HMAC-SHA256 tag over bytes 8-71, truncated; request: 0
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, replace
from enum import IntEnum
from ipaddress import IPv4Address, IPv6Address

from vrrpkit.core.packet import checksum as _checksum

FORMAT_VERSION = 2
MARKER = b"VRKPROBE"
HEADER_BYTE = 0x3F  # VRRP version 3, type 15
DEFAULT_VRID = 254
UDP_PORT = 50112
UDP_GROUP4 = IPv4Address("239.255.112.112")
UDP_GROUP6 = IPv6Address("ff12::112")
UDP_MCAST_TTL = 1
VRRP_HEADER_LEN = 8
KEY_LEN = 32
TAG_LEN = 16
_SIGNED = struct.Struct("!8sBBBBIIQI32s")  # bytes 8-71: what the tag covers
BODY_LEN = _SIGNED.size + TAG_LEN  # 80
MESSAGE_LEN = VRRP_HEADER_LEN + BODY_LEN  # 88
_DEFAULT_PSK = b"vrrpkit-probe-2"


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
    public_key: bytes = bytes(KEY_LEN)  # the sender's X25519 public key
    tag: bytes = bytes(TAG_LEN)  # replies: HMAC over the signed part


class NotAProbe(ValueError):
    """The bytes are not a vrrpkit probe of a version we understand."""


def _signed(msg: ProbeMessage) -> bytes:
    return _SIGNED.pack(
        MARKER,
        msg.version,
        int(msg.kind),
        int(msg.path),
        msg.ttl & 0xFF,
        msg.session & 0xFFFFFFFF,
        msg.seq & 0xFFFFFFFF,
        msg.time_ns & 0xFFFFFFFFFFFFFFFF,
        msg.requester & 0xFFFFFFFF,
        msg.public_key,
    )


def encode_body(msg: ProbeMessage) -> bytes:
    """The 80-byte body (the whole UDP payload)."""
    if len(msg.public_key) != KEY_LEN or len(msg.tag) != TAG_LEN:
        raise ValueError("public key and tag must be 32 and 16 bytes")
    return _signed(msg) + msg.tag


def encode_vrrp(msg: ProbeMessage) -> bytes:
    """The 88-byte protocol-112 message with its IPv4-style checksum (no pseudo-header).

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
    if data[8] != FORMAT_VERSION:
        raise NotAProbe(f"probe format version {data[8]} (this vrrpkit speaks {FORMAT_VERSION})")
    _marker, version, kind, path, ttl, session, seq, time_ns, requester, key = _SIGNED.unpack(data[: _SIGNED.size])
    tag = bytes(data[_SIGNED.size : BODY_LEN])
    try:
        return ProbeMessage(Kind(kind), Path(path), session, seq, time_ns, ttl, requester, vrid, version, key, tag)
    except ValueError as exc:
        raise NotAProbe(str(exc)) from exc


def decode_vrrp(data: bytes, verify_checksum: bool = True) -> ProbeMessage:
    """Decode a protocol-112 probe. IPv6 callers pass verify_checksum=False (the kernel verified)."""
    if len(data) < MESSAGE_LEN or data[0] != HEADER_BYTE:
        raise NotAProbe("not a probe header")
    if data[1] == 0:
        raise NotAProbe("VRID 0")
    if verify_checksum and _checksum(data[:MESSAGE_LEN]) != 0:
        raise NotAProbe("bad checksum")
    return decode_body(data[VRRP_HEADER_LEN:MESSAGE_LEN], vrid=data[1])


def is_probe(vrrp_payload: bytes) -> bool:
    return len(vrrp_payload) >= MESSAGE_LEN and vrrp_payload[0] == HEADER_BYTE and vrrp_payload[8:16] == MARKER


def reply_to(request: ProbeMessage, session: int, ttl: int, public_key: bytes = bytes(KEY_LEN),
             key: bytes | None = None) -> ProbeMessage:  # fmt: skip
    """The echo a host sends for ``request``: same path, seq and time, with the TTL it saw, signed
    with the pair ``key`` (see ``pair_key``)."""
    vrid = request.vrid if 1 <= request.vrid <= 255 else DEFAULT_VRID
    reply = ProbeMessage(Kind.REPLY, request.path, session, request.seq, request.time_ns, ttl, request.session, vrid,
                         public_key=public_key)  # fmt: skip
    return replace(reply, tag=sign(key, reply)) if key is not None else reply


# --- authentication -------------------------------------------------------------------------------

_P = 2**255 - 19
_A24 = 121665


def x25519(scalar: bytes, u: bytes) -> bytes:
    """RFC 7748 section 5: the Montgomery ladder on Curve25519 (clamped scalar, 32-byte little-endian u)."""
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    n = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = (n >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % _P, (x2 - z2) % _P
        aa, bb = a * a % _P, b * b % _P
        e = (aa - bb) % _P
        c, d = (x3 + z3) % _P, (x3 - z3) % _P
        da, cb = d * a % _P, c * b % _P
        x3, z3 = (da + cb) ** 2 % _P, x1 * (da - cb) ** 2 % _P
        x2, z2 = aa * bb % _P, e * (aa + _A24 * e) % _P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, _P - 2, _P) % _P).to_bytes(32, "little")


def public_key(private: bytes) -> bytes:
    return x25519(private, (9).to_bytes(32, "little"))


def pair_key(private: bytes, own_public: bytes, peer_public: bytes, psk: bytes | None = None) -> bytes:
    """The key two hosts share for one run: their Diffie-Hellman secret bound to both public keys,
    under the out-of-band secret when there is one."""
    shared = x25519(private, peer_public)
    if shared == bytes(32):
        raise ValueError("degenerate public key")
    first, second = sorted((own_public, peer_public))
    return hmac.new(psk or _DEFAULT_PSK, shared + first + second, hashlib.sha256).digest()


def sign(key: bytes, msg: ProbeMessage) -> bytes:
    return hmac.new(key, _signed(msg), hashlib.sha256).digest()[:TAG_LEN]


def verify(key: bytes, msg: ProbeMessage) -> bool:
    return hmac.compare_digest(sign(key, msg), msg.tag)
