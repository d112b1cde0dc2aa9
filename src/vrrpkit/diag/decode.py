"""``vrrpkit decode``: every field of one VRRP message, IP packet or Ethernet frame (pure).

Why a tolerant parser next to the codec: ``core.packet.inspect`` answers "would a router accept
this?" and raises on the first problem, but a person holding a strange packet wants to see all of it,
including the fields of a packet that fails. So the raw header fields are read here without
judgement, and the codec's verdict (the checksum form that matched, or the drop reason) is reported
beside them. The same functions turn a tap's packet into a ``Sighting`` for ``watch`` and
``investigate``, so all three commands read the wire the same way.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6, IPAddress
from vrrpkit.core.packet import (
    AUTH_AH,
    AUTH_NONE,
    AUTH_SIMPLE,
    PROTO_VRRP,
    DropReason,
    Inspection,
    InvalidPacket,
    checksum,
    inspect,
    parse_ip,
)
from vrrpkit.diag import probe_wire

AUTH_NAMES = {AUTH_NONE: "none", AUTH_SIMPLE: "simple", AUTH_AH: "ah"}
_OFFSET = re.compile(r"^\s*(0x)?[0-9a-fA-F]+:\s+", re.MULTILINE)


class DecodeError(ValueError):
    """Input that is not hex, or bytes that are no VRRP message in any layer we know."""


def parse_hex(text: str) -> bytes:
    """Hex as people paste it: plain, with spaces/colons/newlines, ``0x`` prefixed, or tcpdump -x/-xx
    dumps (the ``0x0000:`` offsets are dropped)."""
    text = _OFFSET.sub("", text)
    text = re.sub(r"0x", "", text, flags=re.IGNORECASE)
    text = re.sub(r"[\s:.\-]", "", text)
    if not text:
        raise DecodeError("no hex digits in the input")
    if len(text) % 2:
        raise DecodeError(f"odd number of hex digits ({len(text)})")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise DecodeError(f"not hex: {exc}") from exc


@dataclass(frozen=True)
class RawVrrp:
    """The VRRP header fields as they are on the wire, whatever their values."""

    version: int
    type: int
    vrid: int
    priority: int
    count: int
    auth_type: int | None  # v2 only
    raw_interval: int  # v2 seconds, v3 centiseconds
    reserved: int  # v3: the 4 bits before the interval
    checksum: int
    addresses: tuple[IPAddress, ...]
    auth_data: bytes  # v2: the 8 trailing bytes
    length: int

    @property
    def interval(self) -> float:
        return float(self.raw_interval) if self.version == 2 else self.raw_interval / 100


def raw_fields(data: bytes, family: int) -> RawVrrp:
    """Read the header without validating it; raises DecodeError only when shorter than 8 bytes."""
    if len(data) < 8:
        raise DecodeError(f"{len(data)} bytes: a VRRP header has 8")
    vt, vrid, prio, count, b4, b5, csum = struct.unpack("!BBBBBBH", data[:8])
    version = vt >> 4
    alen = 4 if family == 4 else 16
    body = data[8:]
    n = min(count, len(body) // alen)
    cls = IPv4Address if family == 4 else IPv6Address
    addresses = tuple(cls(body[i * alen : (i + 1) * alen]) for i in range(n))
    if version == 2:
        auth_type: int | None = b4
        raw_interval, reserved = b5, 0
        auth_data = body[n * alen : n * alen + 8]
    else:
        auth_type = None
        raw_interval, reserved = ((b4 << 8) | b5) & 0x0FFF, b4 >> 4
        auth_data = b""
    return RawVrrp(version, vt & 0x0F, vrid, prio, count, auth_type, raw_interval, reserved, csum, addresses, auth_data,
                   len(data))  # fmt: skip


@dataclass(frozen=True)
class Sighting:
    """One protocol-112 packet as seen on a link: IP fields, raw VRRP fields, the codec's verdict."""

    src: IPAddress
    dst: IPAddress
    ttl: int
    tos: int
    raw: RawVrrp | None  # None: shorter than a VRRP header
    inspection: Inspection | None  # the codec accepted it
    error: str | None  # the codec's DropReason value when it did not (None when accepted)
    error_detail: str = ""
    probe: probe_wire.ProbeMessage | None = None
    time: float = 0.0
    mac: str = ""  # link-layer source
    outgoing: bool = False
    ifname: str = ""

    @property
    def family(self) -> int:
        return self.src.version

    @property
    def vrid(self) -> int | None:
        return self.raw.vrid if self.raw else None

    @property
    def multicast(self) -> bool:
        return self.dst.is_multicast

    @property
    def valid(self) -> bool:
        return self.inspection is not None

    @property
    def password(self) -> bytes:
        if self.raw is None or self.raw.auth_type != AUTH_SIMPLE:
            return b""
        return self.raw.auth_data.rstrip(b"\0")


def sight(
    src: IPAddress,
    dst: IPAddress,
    ttl: int,
    payload: bytes,
    tos: int = 0,
    *,
    time: float = 0.0,
    mac: str = "",
    outgoing: bool = False,
    ifname: str = "",
    kernel_checked: bool = False,
) -> Sighting:
    """Read one VRRP payload. ``kernel_checked``: IPv6 from a raw socket, checksum already verified."""
    raw: RawVrrp | None
    try:
        raw = raw_fields(payload, src.version)
    except DecodeError:
        raw = None
    probe = None
    if probe_wire.is_probe(payload):
        try:
            probe = probe_wire.decode_vrrp(payload, verify_checksum=src.version == 4)
        except probe_wire.NotAProbe:
            probe = None
    inspection: Inspection | None = None
    error: str | None = None
    detail = ""
    group = dst if isinstance(dst, IPv4Address) and dst.is_multicast else VRRP_GROUP4
    try:
        inspection = inspect(payload, src, dst, group)
    except InvalidPacket as exc:
        error, detail = exc.reason.value, exc.detail
        if kernel_checked and exc.reason is DropReason.BAD_CHECKSUM:
            error, detail = None, ""
    return Sighting(src, dst, ttl, tos, raw, inspection, error, detail, probe, time, mac, outgoing, ifname)


def sight_ip(packet: bytes, **kwargs: Any) -> Sighting | None:
    """A Sighting from a whole IP packet, or None when it is not protocol 112 (or unparseable)."""
    try:
        ip = parse_ip(packet)
    except InvalidPacket:
        return None
    if ip.protocol != PROTO_VRRP:
        return None
    return sight(ip.src, ip.dst, ip.ttl, ip.payload, ip.tos, **kwargs)


# --- rendering as tcpdump does (print-vrrp.c), plus the rest --------------------------------


def tcpdump_line(s: Sighting) -> str:
    """``IP SRC > DST: VRRPv2, Advertisement, vrid 51, prio 100, authtype simple, intvl 1s, length 20``

    As tcpdump -v prints it: ``(ttl N)`` only when the TTL is not 255, the addresses, the simple
    password, and ``(bad vrrp cksum X)``; we add the checksum form and probe marker at the end.
    """
    ipv = "IP" if s.family == 4 else "IP6"
    head = f"{ipv} {s.src} > {s.dst}: "
    r = s.raw
    if r is None:
        return head + "VRRP, truncated"
    parts = [f"VRRPv{r.version}", "Advertisement" if r.type == 1 else f"unknown-type {r.type}"]
    if s.ttl != 255:
        parts.append(f"(ttl {s.ttl})")
    if s.probe is not None:
        kind = "request" if s.probe.kind is probe_wire.Kind.REQUEST else "reply"
        parts += [f"vrid {r.vrid}", f"vrrpkit probe v{s.probe.version} {kind} {s.probe.path.label} seq {s.probe.seq}"]
        return head + ", ".join(parts) + f", length {r.length}"
    parts += [f"vrid {r.vrid}", f"prio {r.priority}"]
    if r.version == 2:
        parts.append(f"authtype {AUTH_NAMES.get(r.auth_type or 0, str(r.auth_type))}")
        parts.append(f"intvl {r.raw_interval}s")
    else:
        parts.append(f"intvl {r.raw_interval}cs")
    parts.append(f"length {r.length}")
    line = head + ", ".join(parts)
    if r.addresses:
        line += ", addrs: " + ",".join(str(a) for a in r.addresses)
    if r.version == 2 and r.auth_type == AUTH_SIMPLE:
        line += f' auth "{printable(s.password)}"'
    if s.error == DropReason.BAD_CHECKSUM.value:
        line += f" (bad vrrp cksum {r.checksum:x})"
    elif s.error:
        line += f" [invalid: {s.error}]"
    return line


def printable(data: bytes) -> str:
    """Bytes from the wire as text that cannot drive a terminal: printable ASCII as is, everything
    else (and ``"``, which quotes it) as ``\\xNN``."""
    return "".join(chr(b) if 32 <= b < 127 and b != 0x22 else f"\\x{b:02x}" for b in data)


def priority_meaning(prio: int) -> str:
    if prio == 0:
        return "master is stopping (backups take over after Skew_Time)"
    if prio == 255:
        return "address owner"
    return "router priority (1-254; keepalived's default 100)"


def describe(s: Sighting, group_known: bool = True) -> dict[str, Any]:
    """Every field of a Sighting as JSON-able data (the body of ``decode --json``)."""
    r = s.raw
    out: dict[str, Any] = {
        "ip": {"version": s.family, "src": str(s.src), "dst": str(s.dst), "ttl": s.ttl, "tos": s.tos},
        "vrrp": None,
        "valid": s.valid,
        "error": s.error,
        "error_detail": s.error_detail or None,
        "warnings": [],
        "tcpdump": tcpdump_line(s),
    }
    if s.ttl != 255:
        out["warnings"].append(f"TTL {s.ttl}: receivers must discard adverts whose TTL is not 255")
    expected_group = VRRP_GROUP4 if s.family == 4 else VRRP_GROUP6
    if s.dst.is_multicast and s.dst != expected_group:
        out["warnings"].append(f"destination {s.dst} is not the VRRP group {expected_group}")
    if r is not None:
        vrrp: dict[str, Any] = {
            "version": r.version,
            "type": r.type,
            "type_name": "advertisement" if r.type == 1 else "unknown",
            "vrid": r.vrid,
            "priority": r.priority,
            "priority_meaning": priority_meaning(r.priority),
            "count": r.count,
            "interval": r.interval,
            "interval_raw": r.raw_interval,
            "interval_unit": "s" if r.version == 2 else "cs",
            "checksum": f"0x{r.checksum:04x}",
            "checksum_form": s.inspection.checksum_form.value if s.inspection else None,
            "addresses": [str(a) for a in r.addresses],
            "length": r.length,
        }
        if r.version == 2:
            vrrp["auth_type"] = r.auth_type
            vrrp["auth_name"] = AUTH_NAMES.get(r.auth_type or 0, "unknown")
            vrrp["auth_data_hex"] = r.auth_data.hex()
            vrrp["password"] = printable(s.password) if r.auth_type == AUTH_SIMPLE else None
        else:
            vrrp["reserved"] = r.reserved
        if len(r.addresses) < r.count:
            out["warnings"].append(f"count says {r.count} addresses, only {len(r.addresses)} present")
        out["vrrp"] = vrrp
    if s.probe is not None:
        p = s.probe
        out["probe"] = {
            "format_version": p.version,
            "kind": p.kind.name.lower(),
            "path": p.path.label,
            "session": p.session,
            "seq": p.seq,
            "time_ns": p.time_ns,
            "ttl_seen": p.ttl,
            "requester": p.requester,
        }
    if not group_known and s.raw is not None and s.inspection is None and s.error is None:
        out["warnings"].append("VRRPv3 checksum not verified: give --src (and --dst if not the group), it covers them")
    return out


@dataclass
class Decoded:
    layer: str  # "ethernet", "ip" or "vrrp"
    sighting: Sighting
    ethernet: dict[str, Any] | None = None
    ip_header_ok: bool | None = None
    notes: list[str] = field(default_factory=list)
    addresses_given: bool = True

    def as_dict(self) -> dict[str, Any]:
        out = describe(self.sighting, self.addresses_given)
        out = {"layer": self.layer, "ethernet": self.ethernet, **out}
        if self.ip_header_ok is not None:
            out["ip"]["header_checksum_ok"] = self.ip_header_ok
        out["warnings"] = self.notes + out["warnings"]
        return out


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def decode_bytes(data: bytes, src: IPAddress | None = None, dst: IPAddress | None = None) -> Decoded:
    """Find the VRRP message in ``data`` (Ethernet frame, IP packet, or bare message) and read it.

    ``src``/``dst`` are needed only for a bare VRRPv3 message, whose checksum covers them.
    """
    if len(data) >= 34 and data[12:14] in (b"\x08\x00", b"\x86\xdd") and data[14] >> 4 in (4, 6):
        eth = {"dst": _mac(data[:6]), "src": _mac(data[6:12]), "type": f"0x{data[12:14].hex()}"}
        inner = _decode_ip(data[14:])
        if inner is not None:
            inner.layer, inner.ethernet = "ethernet", eth
            return inner
    if data and data[0] >> 4 in (4, 6):
        inner = _decode_ip(data)
        if inner is not None:
            return inner
        raise DecodeError("an IP packet, but not protocol 112 (VRRP), or its header is broken")
    if data and data[0] >> 4 in (2, 3):
        given = src is not None
        if src is None:
            src = IPv4Address(0) if dst is None or dst.version == 4 else IPv6Address(0)
        if dst is None:
            dst = VRRP_GROUP4 if src.version == 4 else VRRP_GROUP6
        if src.version != dst.version:
            raise DecodeError("--src and --dst are of different address families")
        s = sight(src, dst, 255, data)
        notes = ["bare VRRP message: no IP header, so no TTL (shown as 255)"]
        verified = given or s.raw is None or s.raw.version == 2
        if not verified and s.error == DropReason.BAD_CHECKSUM.value:
            s = dataclasses.replace(s, error=None, error_detail="")  # unknown, not bad: it covers the addresses
        return Decoded("vrrp", s, notes=notes, addresses_given=verified)
    raise DecodeError(f"neither an Ethernet frame, an IP packet nor a VRRP message (first byte 0x{data[0]:02x})")


def _decode_ip(packet: bytes) -> Decoded | None:
    try:
        ip = parse_ip(packet)
    except InvalidPacket:
        return None
    if ip.protocol != PROTO_VRRP:
        return None
    header_ok = None
    if ip.src.version == 4:
        ihl = (packet[0] & 0x0F) * 4
        header_ok = checksum(packet[:ihl]) == 0
    s = sight(ip.src, ip.dst, ip.ttl, ip.payload, ip.tos)
    return Decoded("ip", s, ip_header_ok=header_ok)


def decode_text(text: str, src: str | None = None, dst: str | None = None) -> Decoded:
    """Hex text in, Decoded out; raises DecodeError with a one-line reason."""
    try:
        s_addr = ip_address(src) if src else None
        d_addr = ip_address(dst) if dst else None
    except ValueError as exc:
        raise DecodeError(str(exc)) from exc
    return decode_bytes(parse_hex(text), s_addr, d_addr)
