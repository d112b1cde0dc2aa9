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
import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from vrrpkit.core.ah import AH_LEN, PROTO_AH
from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6, IPAddress
from vrrpkit.core.packet import (
    AUTH_AH,
    AUTH_NONE,
    AUTH_SIMPLE,
    PROTO_VRRP,
    ChecksumForm,
    DropReason,
    Inspection,
    InvalidPacket,
    build_ipv4,
    inspect,
    match_checksum,
)
from vrrpkit.diag import hexinput, probe_wire
from vrrpkit.diag import linklayer as L

AUTH_NAMES = {AUTH_NONE: "none", AUTH_SIMPLE: "simple", AUTH_AH: "ah"}


class DecodeError(ValueError):
    """Input that is not hex, or bytes that are no VRRP message in any layer we know."""


def parse_hex(text: str) -> bytes:
    """One packet's hex as people paste it (see ``hexinput``); DecodeError when not exactly one."""
    try:
        packets = hexinput.split_packets(text)
    except hexinput.HexError as exc:
        raise DecodeError(str(exc)) from exc
    if len(packets) != 1:
        raise DecodeError(f"{len(packets)} packets in the input, one expected")
    return packets[0].data


@dataclass(frozen=True)
class RawVrrp:
    """The VRRP header fields as they are on the wire, whatever their values.

    ``length`` is the message's length (the IP payload's, as its header declares); ``captured`` is
    how much of it the capture holds: a field past ``captured`` was never seen and reads as 0 here
    (``present`` tells them apart).
    """

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
    auth_data: bytes  # v2: the trailing auth bytes (8 when whole)
    length: int
    captured: int = -1  # -1: the whole message (== length)

    @property
    def interval(self) -> float:
        return float(self.raw_interval) if self.version == 2 else self.raw_interval / 100

    @property
    def whole(self) -> bool:
        return self.captured < 0 or self.captured >= self.length

    def present(self, end: int) -> bool:
        """Whether the bytes up to offset ``end`` of the message were captured."""
        return self.captured < 0 or end <= self.captured


FIELD_END = {"version": 1, "type": 1, "vrid": 2, "priority": 3, "count": 4, "auth_type": 5, "interval": 6,
             "checksum": 8}  # fmt: skip


def raw_fields(data: bytes, family: int, declared: int | None = None) -> RawVrrp:
    """Read the header without validating it.

    A whole message (``declared`` None or equal to its length) needs its 8 header bytes, else
    DecodeError; a message the capture cut (``declared`` larger) needs 1, and the missing fields
    read as 0 with ``captured`` saying how far the capture goes.
    """
    cut = declared is not None and declared > len(data)
    if len(data) < (1 if cut else 8):
        raise DecodeError(f"{len(data)} bytes: a VRRP header has 8")
    vt, vrid, prio, count, b4, b5, csum = struct.unpack("!BBBBBBH", data[:8].ljust(8, b"\0"))
    version = vt >> 4
    alen = 4 if family == 4 else 16
    body = data[8:]
    n = min(count, len(body) // alen)
    cls = IPv4Address if family == 4 else IPv6Address
    addresses = tuple(cls(body[i * alen : (i + 1) * alen]) for i in range(n))
    if version == 2:
        auth_type: int | None = b4
        raw_interval, reserved = b5, 0
        auth_data = body[count * alen : count * alen + 8] if n == count else b""
    else:
        auth_type = None
        raw_interval, reserved = ((b4 << 8) | b5) & 0x0FFF, b4 >> 4
        auth_data = b""
    length = declared if cut and declared is not None else len(data)
    return RawVrrp(version, vt & 0x0F, vrid, prio, count, auth_type, raw_interval, reserved, csum, addresses, auth_data,
                   length, len(data) if cut else -1)  # fmt: skip


@dataclass(frozen=True)
class Sighting:
    """One protocol-112 packet as seen on a link: IP fields, raw VRRP fields, the codec's verdict.

    ``incomplete`` is "truncated" (the capture holds less than the IP header declares) or
    "fragment": then the codec was not asked (a router would reassemble or never see it), the
    fields present are in ``raw``, and the checksum is unknown. ``form`` is the checksum form the
    message verifies under, judged apart from the codec's other checks (so a message that fails its
    length check still says whether its checksum is right).
    """

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
    incomplete: str | None = None  # "truncated" or "fragment"
    form: ChecksumForm | None = None
    checksum_computed: bool = False
    ah: tuple[int, int] | None = None  # auth_type AH: (SPI, sequence number); its ICV is not checked
    ah_packet: bytes = b""  # and the packet as its ICV covers it, for whoever knows the password

    @property
    def family(self) -> int:
        return self.src.version

    @property
    def vrid(self) -> int | None:
        return self.raw.vrid if self.raw and self.raw.present(FIELD_END["vrid"]) else None

    @property
    def multicast(self) -> bool:
        return self.dst.is_multicast

    @property
    def valid(self) -> bool:
        return self.inspection is not None

    @property
    def checksum_ok(self) -> bool | None:
        """True: a known form verifies; False: computed, no form matches; None: not computable."""
        if not self.checksum_computed:
            return None
        return self.form is not None

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
    incomplete: str | None = None,
    declared: int | None = None,
) -> Sighting:
    """Read one VRRP payload. ``kernel_checked``: IPv6 from a raw socket, checksum already verified.

    ``incomplete``/``declared``: the payload is a truncated capture of a ``declared``-byte message,
    or a fragment; its fields are read as far as they go and nothing is judged.
    """
    raw: RawVrrp | None
    try:
        raw = raw_fields(payload, src.version, declared if incomplete else None)
    except DecodeError:
        raw = None
    if incomplete:
        return Sighting(src, dst, ttl, tos, raw, None, None, "", None, time, mac, outgoing, ifname, incomplete)
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
    form: ChecksumForm | None = None
    computed = False
    if inspection is not None:
        form, computed = inspection.checksum_form, True
    elif kernel_checked and src.version == 6:
        form, computed = ChecksumForm.IPV6_PSEUDO, True
    elif raw is not None and raw.version in (2, 3) and src.version == dst.version:
        form, computed = match_checksum(payload, raw.version, src, dst, group), True
    return Sighting(src, dst, ttl, tos, raw, inspection, error, detail, probe, time, mac, outgoing, ifname, None, form,
                    computed)  # fmt: skip


def sight_view(ip: L.IpView, **kwargs: Any) -> Sighting | None:
    """A Sighting from a tolerantly read IP header, or None when it carries no VRRP (protocol 112,
    or keepalived's auth_type AH: an IPv4 AH header whose next header is 112, read past unverified;
    the message says auth type 2)."""
    if ip.protocol == PROTO_AH and ip.version == 4 and not ip.fragment and len(ip.payload) > AH_LEN and (
        ip.payload[0] == PROTO_VRRP
    ):
        inner, (spi, seq) = ip.payload[AH_LEN:], struct.unpack_from("!II", ip.payload, 4)
        seen = sight(ip.src, ip.dst, ip.ttl, inner, ip.tos, incomplete="truncated" if ip.truncated else None,
                     declared=ip.declared - AH_LEN, **kwargs)  # fmt: skip
        # the header as the ICV covers it (keepalived sends no options; TOS, flags, checksum count as 0)
        assert isinstance(ip.src, IPv4Address) and isinstance(ip.dst, IPv4Address)  # version 4, checked above
        packet = build_ipv4(ip.src, ip.dst, ip.payload, ip.ttl, protocol=PROTO_AH, ident=ip.ident)
        return dataclasses.replace(seen, ah=(spi, seq), ah_packet=packet)
    if ip.protocol != PROTO_VRRP:
        return None
    if ip.fragment == "later":  # no VRRP header in it: only its IP fields are known
        return Sighting(ip.src, ip.dst, ip.ttl, ip.tos, None, None, None, incomplete="fragment", **kwargs)
    incomplete = "fragment" if ip.fragment else ("truncated" if ip.truncated else None)
    return sight(ip.src, ip.dst, ip.ttl, ip.payload, ip.tos, incomplete=incomplete, declared=ip.declared, **kwargs)


def sight_ip(packet: bytes, **kwargs: Any) -> Sighting | None:
    """A Sighting from a whole IP packet, or None when it is not protocol 112 (or unreadable)."""
    ip = L.read_ip(packet)
    return sight_view(ip, **kwargs) if ip is not None else None


# Who accepts which checksum form of a VRRP message (measured or read in each implementation; the
# issue text and the reference notes): keepalived 2.2.7 with its defaults, FRR's vrrpd with its
# defaults, and the RFC that defines the form. vrrpkit accepts every form.
ACCEPTED_BY: dict[ChecksumForm, tuple[str, ...]] = {
    ChecksumForm.V2: ("keepalived 2.2.7", "FRR", "RFC 3768", "vrrpkit"),
    ChecksumForm.IPV6_PSEUDO: ("keepalived 2.2.7", "FRR", "RFC 5798", "RFC 9568", "vrrpkit"),
    ChecksumForm.IPV4_PSEUDO: ("keepalived 2.2.7", "FRR", "RFC 5798", "vrrpkit"),
    ChecksumForm.IPV4_PSEUDO_GROUP: ("FRR", "keepalived 2.2.7 with old_unicast_checksum", "vrrpkit"),
    ChecksumForm.NONE: ("RFC 9568", "keepalived 2.2.7 with v3_checksum_as_v2",
                        "FRR with no checksum-with-ipv4-pseudoheader", "vrrpkit"),
}  # fmt: skip


def accepted_by(s: Sighting) -> list[str]:
    """The implementations that accept this message's checksum ([] when it is bad or unknown)."""
    if s.form is None:
        return []
    names = list(ACCEPTED_BY[s.form])
    if s.form is ChecksumForm.IPV4_PSEUDO and s.dst != VRRP_GROUP4:
        names.remove("FRR")  # FRR puts the group in the pseudo-header, whatever the destination
    return names


# --- rendering as tcpdump does (print-vrrp.c), plus the rest --------------------------------


def tcpdump_line(s: Sighting) -> str:
    """``IP SRC > DST: VRRPv2, Advertisement, vrid 51, prio 100, authtype simple, intvl 1s, length 20``

    As tcpdump -v prints it: ``(ttl N)`` only when the TTL is not 255, ``addrs:`` (``addrs(N):``
    for several), the simple password, ``(bad vrrp cksum X)``, and ``[|vrrp]`` where the capture
    ends; we add the probe marker, fragments, and the codec's reason for dropping it.
    """
    ipv = "IP" if s.family == 4 else "IP6"
    head = f"{ipv} {s.src} > {s.dst}: "
    r = s.raw
    if r is None:
        if s.incomplete == "fragment":
            return head + "ip-proto-112 (a later fragment: no VRRP header in it)"
        return head + "VRRP, truncated [|vrrp]"
    cut = " [|vrrp]"
    parts = [f"VRRPv{r.version}"]
    if not r.present(FIELD_END["vrid"]):
        return head + ", ".join(parts) + cut
    parts.append("Advertisement" if r.type == 1 else f"unknown-type {r.type}")
    if s.ttl != 255:
        parts.append(f"(ttl {s.ttl})")
    if s.probe is not None:
        kind = "request" if s.probe.kind is probe_wire.Kind.REQUEST else "reply"
        parts += [f"vrid {r.vrid}", f"vrrpkit probe v{s.probe.version} {kind} {s.probe.path.label} seq {s.probe.seq}"]
        return head + ", ".join(parts) + f", length {r.length}"
    parts.append(f"vrid {r.vrid}")
    auth = f"authtype {AUTH_NAMES.get(r.auth_type or 0, str(r.auth_type))}" if r.version == 2 else None
    intvl = f"intvl {r.raw_interval}s" if r.version == 2 else f"intvl {r.raw_interval}cs"
    for name, text in (("priority", f"prio {r.priority}"), ("auth_type", auth), ("interval", intvl)):
        if not r.present(FIELD_END[name]):
            return head + ", ".join(parts) + cut
        if text:
            parts.append(text)
    parts.append(f"length {r.length}")
    line = head + ", ".join(parts)
    if r.count:
        line += ", addrs" + (f"({r.count})" if r.count > 1 else "") + ": " + ",".join(str(a) for a in r.addresses)
    if len(r.addresses) < r.count and not r.whole:
        return line + cut
    if r.version == 2 and r.auth_type == AUTH_SIMPLE:
        line += f' auth "{printable(s.password)}'
        if len(r.auth_data) < 8 and not r.whole:
            return line + cut
        line += '"'
    if s.incomplete == "fragment":
        line += " [first fragment: the message continues in the next]"
    elif s.incomplete:
        line += cut
    elif s.error == DropReason.BAD_CHECKSUM.value or (s.checksum_ok is False and s.error):
        line += f" (bad vrrp cksum {r.checksum:x})"
        if s.error != DropReason.BAD_CHECKSUM.value:
            line += f" [invalid: {s.error}]"
    elif s.error:
        line += f" [invalid: {s.error}]"
    elif s.form in (ChecksumForm.NONE, ChecksumForm.IPV4_PSEUDO_GROUP):
        line += f" [cksum {s.form.value}: tcpdump calls it bad, keepalived 2.2.7 drops it]"
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
    """Every field of a Sighting as JSON-able data (the body of ``decode --json``).

    Fields a truncated capture does not hold are null, as tshark leaves them out.
    """
    r = s.raw
    out: dict[str, Any] = {
        "ip": {"version": s.family, "src": str(s.src), "dst": str(s.dst), "ttl": s.ttl, "tos": s.tos},
        "vrrp": None,
        "valid": s.valid,
        "error": s.error,
        "error_detail": s.error_detail or None,
        "truncated": s.incomplete == "truncated",
        "fragment": s.incomplete == "fragment",
        "warnings": [],
        "tcpdump": tcpdump_line(s),
    }
    if s.ah is not None:  # keepalived's auth_type AH (core/ah.py)
        out["ip"]["ah"] = {"spi": str(IPv4Address(s.ah[0])), "seq": s.ah[1], "icv_checked": False}
    if s.ttl != 255:
        out["warnings"].append(f"TTL {s.ttl}: receivers must discard adverts whose TTL is not 255")
    expected_group = VRRP_GROUP4 if s.family == 4 else VRRP_GROUP6
    if s.dst.is_multicast and s.dst != expected_group:
        out["warnings"].append(f"destination {s.dst} is not the VRRP group {expected_group}")
    if s.incomplete == "truncated":
        got = r.captured if r is not None else 0
        out["warnings"].append(f"the capture holds {got} of the message's {r.length if r else '?'} bytes (snap "
                               "length): the fields after that, and the checksum, are unknown")  # fmt: skip
    elif s.incomplete == "fragment":
        out["warnings"].append("an IP fragment: the VRRP message is split over several packets (VRRP routers "
                               "never fragment adverts; the checksum needs the whole message)")  # fmt: skip
    if s.form in (ChecksumForm.NONE, ChecksumForm.IPV4_PSEUDO_GROUP):
        out["warnings"].append(f"checksum form {s.form.value}: keepalived 2.2.7 drops it with its defaults, and "
                               "tshark and tcpdump call it bad; accepted by " + ", ".join(accepted_by(s)))  # fmt: skip
    if r is not None:
        out["vrrp"] = _vrrp_fields(s, r)
        if r.whole and len(r.addresses) < r.count:
            out["warnings"].append(f"count says {r.count} addresses, only {len(r.addresses)} present")
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


def _vrrp_fields(s: Sighting, r: RawVrrp) -> dict[str, Any]:
    def have(name: str, value: Any) -> Any:
        return value if r.present(FIELD_END[name]) else None

    vrrp: dict[str, Any] = {
        "version": r.version,
        "type": have("type", r.type),
        "type_name": have("type", "advertisement" if r.type == 1 else "unknown"),
        "vrid": have("vrid", r.vrid),
        "priority": have("priority", r.priority),
        "priority_meaning": have("priority", priority_meaning(r.priority)),
        "count": have("count", r.count),
        "interval": have("interval", r.interval),
        "interval_raw": have("interval", r.raw_interval),
        "interval_unit": "s" if r.version == 2 else "cs",
        "checksum": have("checksum", f"0x{r.checksum:04x}"),
        "checksum_form": s.form.value if s.form else None,
        "checksum_ok": s.checksum_ok,
        "accepted_by": accepted_by(s),
        "addresses": [str(a) for a in r.addresses],
        "length": r.length,
        "captured": r.length if r.whole else r.captured,
    }
    if r.version == 2:
        vrrp["auth_type"] = have("auth_type", r.auth_type)
        vrrp["auth_name"] = have("auth_type", AUTH_NAMES.get(r.auth_type or 0, "unknown"))
        vrrp["auth_data_hex"] = r.auth_data.hex()
        vrrp["password"] = printable(s.password) if r.auth_type == AUTH_SIMPLE else None
    else:
        vrrp["reserved"] = have("interval", r.reserved)
    return vrrp


@dataclass
class Decoded:
    layer: str  # "ethernet", "linux-sll", "ip", "vrrp", ...
    sighting: Sighting
    ethernet: dict[str, Any] | None = None
    ip_header_ok: bool | None = None
    notes: list[str] = field(default_factory=list)
    addresses_given: bool = True
    vlan: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = describe(self.sighting, self.addresses_given)
        out = {"layer": self.layer, "ethernet": self.ethernet, "vlan": self.vlan, **out}
        if self.ip_header_ok is not None:
            out["ip"]["header_checksum_ok"] = self.ip_header_ok
        out["warnings"] = self.notes + out["warnings"]
        return out


class NotVrrp(DecodeError):
    """A readable frame or packet that carries something else: skipped (and counted) in a capture."""


_ETHERTYPES = {L.ETH_IPV4: "IPv4", L.ETH_IPV6: "IPv6", 0x0806: "ARP", 0x88CC: "LLDP", 0x8809: "slow protocols"}
_PROTOCOLS = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 89: "OSPF", 103: "PIM"}


def decode_link(link: L.Link, time: float = 0.0) -> Decoded:
    """The VRRP message in a frame already split by ``linklayer``; raises NotVrrp / DecodeError."""
    name = L.LINKTYPE_NAMES.get(link.linktype, str(link.linktype))
    tags = [t.as_dict() for t in link.vlan]
    where = f"{name} frame" + (f" (VLAN {', '.join(str(t.vid) for t in link.vlan)})" if link.vlan else "")
    if link.ethertype is None:
        raise DecodeError(f"{where} cut short inside its link-layer header")
    if link.ethertype not in (L.ETH_IPV4, L.ETH_IPV6):
        raise NotVrrp(f"{where} carrying {_ETHERTYPES.get(link.ethertype, f'ethertype 0x{link.ethertype:04x}')}, "
                      "not IP")  # fmt: skip
    ip = L.read_ip(link.network)
    if ip is None or ip.version != (4 if link.ethertype == L.ETH_IPV4 else 6):
        raise DecodeError(f"{where}: its IP header is cut short or broken")
    s = sight_view(ip, time=time, mac=link.src_mac, outgoing=link.outgoing)
    if s is None:
        proto = _PROTOCOLS.get(ip.protocol or -1, f"protocol {ip.protocol}")
        raise NotVrrp(f"{where} carrying IPv{ip.version} {proto}, not VRRP (protocol 112)")
    eth = link.as_dict() if link.linktype not in (L.LINKTYPE_RAW, L.LINKTYPE_IPV4, L.LINKTYPE_IPV6) else None
    layer = "ip" if eth is None else name
    return Decoded(layer, s, eth, ip.header_ok, vlan=tags)


def decode_bytes(data: bytes, src: IPAddress | None = None, dst: IPAddress | None = None) -> Decoded:
    """Find the VRRP message in ``data`` (Ethernet frame, IP packet, or bare message) and read it.

    ``src``/``dst`` are needed only for a bare VRRPv3 message, whose checksum covers them. An
    Ethernet frame is recognised by its type field (IPv4, IPv6, ARP or a VLAN tag at byte 12), so a
    tagged IPv6 frame is never mistaken for a bare VRRPv3 message (its 33:33 MAC starts with 0x3).
    """
    if not data:
        raise DecodeError("no bytes")
    if len(data) >= 14 and int.from_bytes(data[12:14], "big") in (*_ETHERTYPES, *L.VLAN_TPIDS):
        link = L.parse_link(L.LINKTYPE_ETHERNET, data)
        if link.vlan or link.ethertype not in (L.ETH_IPV4, L.ETH_IPV6) or (link.network[:1] and
                                                                           link.network[0] >> 4 in (4, 6)):  # fmt: skip
            return decode_link(link)
    cooked = _cooked(data)
    if cooked is not None:
        return decode_link(L.parse_link(cooked, data))
    if data[0] >> 4 in (4, 6):
        ip = L.read_ip(data)
        if ip is None:
            raise DecodeError("an IP packet cut short inside its header")
        s = sight_view(ip)
        if s is None:
            proto = _PROTOCOLS.get(ip.protocol or -1, f"protocol {ip.protocol}")
            raise NotVrrp(f"an IPv{ip.version} packet carrying {proto}, not VRRP (protocol 112)")
        return Decoded("ip", s, ip_header_ok=ip.header_ok)
    if data[0] in (0x21, 0x31):
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
        if not verified:  # unknown, not bad: the checksum covers the addresses we were not given
            s = dataclasses.replace(s, error=None if s.error == DropReason.BAD_CHECKSUM.value else s.error,
                                    error_detail="" if s.error == DropReason.BAD_CHECKSUM.value else s.error_detail,
                                    form=None, checksum_computed=False)  # fmt: skip
        return Decoded("vrrp", s, notes=notes, addresses_given=verified)
    raise DecodeError(f"neither an Ethernet frame, an IP packet nor a VRRP advertisement (first byte 0x{data[0]:02x})")


def _cooked(data: bytes) -> int | None:
    """LINKTYPE_LINUX_SLL2 or _SLL when ``data`` starts with such a header (``tcpdump -i any -xx``)."""
    kinds = (L.ETH_IPV4, L.ETH_IPV6, *L.VLAN_TPIDS)
    if len(data) > 20 and data[2:4] == b"\0\0" and int.from_bytes(data[:2], "big") in kinds and data[20] >> 4 in (4, 6):
        return L.LINKTYPE_LINUX_SLL2
    if (len(data) > 16 and data[0] == 0 and data[1] <= 4 and data[4] == 0 and data[5] <= 8
            and int.from_bytes(data[14:16], "big") in kinds):  # fmt: skip
        return L.LINKTYPE_LINUX_SLL
    return None


def decode_text(text: str, src: str | None = None, dst: str | None = None) -> Decoded:
    """Hex text in, Decoded out; raises DecodeError with a one-line reason."""
    try:
        s_addr = ip_address(src) if src else None
        d_addr = ip_address(dst) if dst else None
    except ValueError as exc:
        raise DecodeError(str(exc)) from exc
    return decode_bytes(parse_hex(text), s_addr, d_addr)
