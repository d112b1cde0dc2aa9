"""VRRP message codec (RFC 3768 v2, RFC 5798/9568 v3), plus the IP headers around it.

``decode`` raises InvalidPacket and nothing else, whatever bytes arrive: it is fed from the wire.
``encode`` raises ValueError for fields that cannot be represented: it is fed by our own config.

Checksums are the interop minefield. v2 covers the message only. v3 over IPv6 includes the IPv6
pseudo-header. v3 over IPv4 exists in three forms in the wild: keepalived (and scapy, Ryu) include
an IPv4 pseudo-header with the real destination; FRR includes it with the multicast group even when
sending unicast; RFC 9568 (and Cisco, Juniper) use no pseudo-header. We send keepalived's form and
accept all three, reporting which one matched so that ``watch`` can tell the user.

VRRPv2 over IPv6 is in no RFC, but keepalived 2.2.7 sends it for an IPv6 instance that says
``version 2`` (measured: the v2 header, no authentication data even with ``auth_type PASS``, and the
IPv6 pseudo-header checksum its IPV6_CHECKSUM socket computes). We speak that form so such a host
and vrrpkit hear each other.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address

from vrrpkit.core.config import VRRP_GROUP4, IPAddress

PROTO_VRRP = 112
TYPE_ADVERTISEMENT = 1
AUTH_NONE = 0
AUTH_SIMPLE = 1
AUTH_AH = 2
V2_AUTH_LEN = 8
HEADER_LEN = 8


class DropReason(StrEnum):
    """Why a datagram was not used. One enum for the codec and for the router's receive rules."""

    TOO_SHORT = "too-short"
    BAD_VERSION = "bad-version"
    BAD_TYPE = "bad-type"
    BAD_CHECKSUM = "bad-checksum"
    LENGTH_MISMATCH = "length-mismatch"
    ZERO_INTERVAL = "zero-interval"
    ZERO_COUNT = "zero-count"
    BAD_AUTH_TYPE = "bad-auth-type"
    FAMILY_MISMATCH = "family-mismatch"
    BAD_IP_HEADER = "bad-ip-header"
    NOT_VRRP = "not-vrrp"
    # receive rules applied by the router
    WRONG_VRID = "wrong-vrid"
    WRONG_GROUP = "wrong-group"  # multicast to another instance's mcast_dst_ip
    BAD_TTL = "bad-ttl"
    VERSION_MISMATCH = "version-mismatch"
    AUTH_TYPE_MISMATCH = "auth-type-mismatch"
    BAD_PASSWORD = "bad-password"
    INTERVAL_MISMATCH = "interval-mismatch"
    NOT_A_PEER = "not-a-peer"
    MULTICAST_IN_UNICAST_MODE = "multicast-in-unicast-mode"
    UNICAST_IN_MULTICAST_MODE = "unicast-in-multicast-mode"
    OWN_ADVERT = "own-advert"
    OWNER_IGNORES = "owner-ignores-adverts"
    NOT_RUNNING = "not-running"
    # auth_type AH (core/ah.py)
    BAD_ICV = "bad-ah-icv"
    BAD_SPI = "bad-ah-spi"
    REPLAYED = "ah-replayed"


class InvalidPacket(Exception):
    def __init__(self, reason: DropReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class ChecksumForm(StrEnum):
    V2 = "v2"  # message only (RFC 3768)
    IPV6_PSEUDO = "ipv6-pseudo-header"
    IPV4_PSEUDO = "ipv4-pseudo-header"  # keepalived, scapy: real destination
    IPV4_PSEUDO_GROUP = "ipv4-pseudo-header-group-dst"  # FRR when unicasting
    NONE = "no-pseudo-header"  # RFC 9568, v3_checksum_as_v2
    UNCHECKED = "unchecked"  # v3_checksum_as_v2 receivers: keepalived accepts any checksum


@dataclass(frozen=True)
class Advertisement:
    version: int
    vrid: int
    priority: int
    addresses: tuple[IPAddress, ...]
    interval: float  # seconds; v2 whole seconds, v3 multiples of 0.01
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""

    @property
    def interval_cs(self) -> int:
        return round(self.interval * 100)


@dataclass(frozen=True)
class Inspection:
    """Everything on the wire, for `decode` and `watch`: raw fields and the checksum verdict."""

    advert: Advertisement
    type: int
    count: int
    raw_interval: int  # v2 seconds, v3 centiseconds
    reserved: int  # v3 4 reserved bits
    checksum: int
    checksum_form: ChecksumForm
    raw_auth_data: bytes
    length: int


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_header(src: IPAddress, dst: IPAddress, length: int) -> bytes:
    if isinstance(src, IPv6Address):
        return src.packed + dst.packed + struct.pack("!I3xB", length, PROTO_VRRP)
    return src.packed + dst.packed + struct.pack("!xBH", PROTO_VRRP, length)


def _check_family(src: IPAddress, dst: IPAddress) -> int:
    if src.version != dst.version:
        raise ValueError("source and destination address families differ")
    return src.version


def encode(
    adv: Advertisement,
    src: IPAddress,
    dst: IPAddress,
    *,
    form: ChecksumForm | None = None,
    group: IPv4Address = VRRP_GROUP4,
    allow_empty: bool = False,
) -> bytes:
    """The VRRP message (no IP header) with its checksum for this source and destination.

    ``form`` picks the v3 IPv4 checksum: keepalived's pseudo-header with the real destination (the
    default), with ``group`` as destination (``old_unicast_checksum``), or none (``v3_checksum_as_v2``).
    ``allow_empty``: a v3 advert without addresses (keepalived's ``no_virtual_ipaddress``).
    """
    family = _check_family(src, dst)
    if adv.version not in (2, 3):
        raise ValueError(f"VRRP version {adv.version} not supported")
    if not 1 <= adv.vrid <= 255:
        raise ValueError(f"vrid {adv.vrid} out of range 1..255")
    if not 0 <= adv.priority <= 255:
        raise ValueError(f"priority {adv.priority} out of range 0..255")
    if len(adv.addresses) > 255:
        raise ValueError("at most 255 addresses fit in one advertisement")
    if any(a.version != family for a in adv.addresses):
        raise ValueError("virtual addresses must be of the IP header's family")
    if adv.version == 2:
        if not 1 <= adv.interval <= 255 or adv.interval != int(adv.interval):  # range first: inf, NaN
            raise ValueError("VRRPv2 interval must be whole seconds 1..255")
        if adv.auth_type not in (AUTH_NONE, AUTH_SIMPLE, AUTH_AH):
            raise ValueError("VRRPv2 auth_type must be 0 (none), 1 (simple password) or 2 (AH)")
        if len(adv.auth_data) > V2_AUTH_LEN or (adv.auth_type != AUTH_SIMPLE and adv.auth_data):
            raise ValueError("auth_data is at most 8 bytes, and empty but for a simple password")
        if family == 6 and adv.auth_data:
            raise ValueError("VRRPv2 over IPv6 (keepalived's form) carries no authentication data")
        header = struct.pack(
            "!BBBBBBH", 0x21, adv.vrid, adv.priority, len(adv.addresses), adv.auth_type, int(adv.interval), 0
        )
        body = b"".join(a.packed for a in adv.addresses)
        if family == 4:
            msg = header + body + adv.auth_data.ljust(V2_AUTH_LEN, b"\0")
            csum = checksum(msg)
        else:
            msg = header + body
            csum = checksum(_pseudo_header(src, dst, len(msg)) + msg)
    else:
        cs = adv.interval_cs if 0 < adv.interval < 41 else 0  # inf/NaN: ValueError below, not Overflow
        if not 1 <= cs <= 4095 or abs(adv.interval * 100 - cs) > 1e-6:
            raise ValueError("VRRPv3 interval must be 0.01..40.95 s in whole centiseconds")
        if adv.auth_type != AUTH_NONE or adv.auth_data:
            raise ValueError("VRRPv3 has no authentication")
        if not adv.addresses and not allow_empty:
            raise ValueError("VRRPv3 advertisements carry at least one address")
        header = struct.pack("!BBBBHH", 0x31, adv.vrid, adv.priority, len(adv.addresses), cs, 0)
        msg = header + b"".join(a.packed for a in adv.addresses)
        if family == 4 and form is ChecksumForm.NONE:
            csum = checksum(msg)
        elif family == 4 and form is ChecksumForm.IPV4_PSEUDO_GROUP:
            csum = checksum(_pseudo_header(src, group, len(msg)) + msg)
        else:
            csum = checksum(_pseudo_header(src, dst, len(msg)) + msg)
    return msg[:6] + struct.pack("!H", csum) + msg[8:]


def inspect(
    data: bytes,
    src: IPAddress,
    dst: IPAddress,
    group: IPv4Address = VRRP_GROUP4,
    *,
    check_checksum: bool = True,
    allow_empty: bool = False,
) -> Inspection:
    """Decode with every raw field kept; raises InvalidPacket only.

    ``check_checksum=False`` is keepalived's ``v3_checksum_as_v2`` receiver (a VRRPv3 IPv4 advert
    whose checksum matches no form is still taken, reported as UNCHECKED); ``allow_empty`` takes v3
    adverts without addresses (``no_virtual_ipaddress``)."""
    try:
        return _inspect(bytes(data), src, dst, group, check_checksum, allow_empty)
    except InvalidPacket:
        raise
    except Exception as exc:  # a decoder bug must never take the daemon down
        raise InvalidPacket(DropReason.TOO_SHORT, f"undecodable: {exc!r}") from exc


def decode(data: bytes, src: IPAddress, dst: IPAddress, group: IPv4Address = VRRP_GROUP4) -> Advertisement:
    return inspect(data, src, dst, group).advert


def _inspect(
    data: bytes, src: IPAddress, dst: IPAddress, group: IPv4Address, check_checksum: bool, allow_empty: bool
) -> Inspection:
    if len(data) < HEADER_LEN:
        raise InvalidPacket(DropReason.TOO_SHORT, f"{len(data)} bytes")
    if src.version != dst.version:
        raise InvalidPacket(DropReason.FAMILY_MISMATCH, "source and destination families differ")
    vt, vrid, prio, count, b4, b5, csum = struct.unpack("!BBBBBBH", data[:HEADER_LEN])
    version, ptype = vt >> 4, vt & 0x0F
    if version not in (2, 3):
        raise InvalidPacket(DropReason.BAD_VERSION, f"version {version}")
    if ptype != TYPE_ADVERTISEMENT:
        raise InvalidPacket(DropReason.BAD_TYPE, f"type {ptype}")
    family = src.version
    alen = 4 if family == 4 else 16
    with_auth = version == 2 and family == 4  # keepalived's v2 over IPv6 has no auth data
    expected = HEADER_LEN + alen * count + (V2_AUTH_LEN if with_auth else 0)
    if len(data) != expected:
        raise InvalidPacket(DropReason.LENGTH_MISMATCH, f"{len(data)} bytes for {count} addresses")
    if version == 3 and count == 0 and not allow_empty:
        raise InvalidPacket(DropReason.ZERO_COUNT)
    if version == 2:
        auth_type, raw_interval, reserved = b4, b5, 0
    else:
        auth_type, raw_interval, reserved = AUTH_NONE, ((b4 << 8) | b5) & 0x0FFF, b4 >> 4
    if raw_interval == 0:
        raise InvalidPacket(DropReason.ZERO_INTERVAL)
    try:
        form = _verify_checksum(data, version, src, dst, group)
    except InvalidPacket:
        if check_checksum or version != 3 or src.version != 4:
            raise
        form = ChecksumForm.UNCHECKED
    if version == 2 and auth_type not in (AUTH_NONE, AUTH_SIMPLE, AUTH_AH):  # AH: opened by core/ah.py
        raise InvalidPacket(DropReason.BAD_AUTH_TYPE, f"auth type {auth_type}")
    addr_bytes = data[HEADER_LEN : HEADER_LEN + alen * count]
    cls = IPv4Address if family == 4 else IPv6Address
    addresses = tuple(cls(addr_bytes[i : i + alen]) for i in range(0, len(addr_bytes), alen))
    raw_auth = data[expected - V2_AUTH_LEN :] if with_auth else b""
    auth_data = raw_auth.rstrip(b"\0") if auth_type == AUTH_SIMPLE else b""
    advert = Advertisement(
        version=version,
        vrid=vrid,
        priority=prio,
        addresses=addresses,
        interval=float(raw_interval) if version == 2 else raw_interval / 100,
        auth_type=auth_type,
        auth_data=auth_data,
    )
    return Inspection(advert, ptype, count, raw_interval, reserved, csum, form, raw_auth, len(data))


def _verify_checksum(data: bytes, version: int, src: IPAddress, dst: IPAddress, group: IPv4Address) -> ChecksumForm:
    form = match_checksum(data, version, src, dst, group)
    if form is None:
        raise InvalidPacket(DropReason.BAD_CHECKSUM, f"checksum 0x{struct.unpack('!H', data[6:8])[0]:04x}")
    return form


def match_checksum(
    data: bytes, version: int, src: IPAddress, dst: IPAddress, group: IPv4Address = VRRP_GROUP4
) -> ChecksumForm | None:
    """The checksum form that ``data`` (a whole VRRP message) verifies under, or None.

    Public so that ``decode`` can judge the checksum of a message that fails an earlier check (a
    length mismatch, an unknown type): the sum does not depend on the fields being sensible.
    """
    if version == 2 and src.version == 4:
        return ChecksumForm.V2 if checksum(data) == 0 else None
    if src.version == 6:
        return ChecksumForm.IPV6_PSEUDO if checksum(_pseudo_header(src, dst, len(data)) + data) == 0 else None
    if checksum(_pseudo_header(src, dst, len(data)) + data) == 0:
        return ChecksumForm.IPV4_PSEUDO
    if dst != group and checksum(_pseudo_header(src, group, len(data)) + data) == 0:
        return ChecksumForm.IPV4_PSEUDO_GROUP
    if checksum(data) == 0:
        return ChecksumForm.NONE
    return None


# --- IP headers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IPPacket:
    src: IPAddress
    dst: IPAddress
    ttl: int  # hop limit for IPv6
    protocol: int
    payload: bytes
    tos: int = 0


def build_ipv4(src: IPv4Address, dst: IPv4Address, payload: bytes, ttl: int = 255, tos: int = 0xC0, *,
               protocol: int = PROTO_VRRP, ident: int = 0) -> bytes:  # fmt: skip
    """IPv4 header as keepalived builds it (vrrp_build_ip4): TOS 0xc0, id 0, DF clear, TTL 255
    (auth_type AH: protocol 51 and the sender's own id, core/ah.py)."""
    total = 20 + len(payload)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, tos, total, ident, 0, ttl, protocol, 0, src.packed, dst.packed)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def parse_ip(packet: bytes) -> IPPacket:
    """Split an IPv4 or IPv6 packet into header fields and payload; raises InvalidPacket only."""
    try:
        return _parse_ip(bytes(packet))
    except InvalidPacket:
        raise
    except Exception as exc:
        raise InvalidPacket(DropReason.BAD_IP_HEADER, repr(exc)) from exc


def _parse_ip(packet: bytes) -> IPPacket:
    if not packet:
        raise InvalidPacket(DropReason.BAD_IP_HEADER, "empty")
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        if ihl < 20 or len(packet) < ihl:
            raise InvalidPacket(DropReason.BAD_IP_HEADER, "truncated IPv4 header")
        total = struct.unpack("!H", packet[2:4])[0]
        if total < ihl or total > len(packet):
            raise InvalidPacket(DropReason.BAD_IP_HEADER, f"total length {total} of {len(packet)} bytes")
        return IPPacket(
            src=IPv4Address(packet[12:16]),
            dst=IPv4Address(packet[16:20]),
            ttl=packet[8],
            protocol=packet[9],
            payload=packet[ihl:total],
            tos=packet[1],
        )
    if version == 6:
        if len(packet) < 40:
            raise InvalidPacket(DropReason.BAD_IP_HEADER, "truncated IPv6 header")
        plen = struct.unpack("!H", packet[4:6])[0]
        if 40 + plen > len(packet):
            raise InvalidPacket(DropReason.BAD_IP_HEADER, f"payload length {plen} of {len(packet) - 40}")
        return IPPacket(
            src=IPv6Address(packet[8:24]),
            dst=IPv6Address(packet[24:40]),
            ttl=packet[7],
            protocol=packet[6],
            payload=packet[40 : 40 + plen],
            tos=((packet[0] & 0x0F) << 4) | (packet[1] >> 4),
        )
    raise InvalidPacket(DropReason.BAD_IP_HEADER, f"IP version {version}")
