"""What /proc and /sys say about VRRP on this host, as records: the parsers (pure).

Every parser takes text, so unit tests feed it captured samples; ``sysinfo`` reads the files (and
runs ``ip -j neigh``) and hands the text here. The records its readers return (IfaceInfo, Daemon)
live here too, so code that only reasons about them (``diag.facts``, the verdict) never imports a
reader.

Formats (all in the reader's network namespace):

* ``/proc/net/igmp``: a device line ``IDX DEV : COUNT QUERIER`` followed by tab-indented group lines
  whose first column is the group as ``%08X`` of the address in network order printed as a host
  integer (little-endian here): 224.0.0.18 is ``120000E0``.
* ``/proc/net/igmp6``: ``IDX DEV GROUP(32 hex) USERS FLAGS TIMER``.
* ``/proc/net/raw`` and ``raw6``: ``sl local:proto remote st ... inode``; the "port" of a raw socket
  is its protocol, 0x0070 = 112.
* ``/proc/net/arp``: ``IP HWtype Flags HWaddr Mask Device``; flag 0x2 means complete.
* ``/proc/net/netstat`` and ``snmp``: pairs of lines, names then values, per prefix.
* ``ip -j neigh show``: a JSON list of entries with ``dst``, ``lladdr`` and ``state``.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address

from vrrpkit.core.config import IPAddress

IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40
IFF_PROMISC = 0x100
IFF_ALLMULTI = 0x200
IFF_MULTICAST = 0x1000


def _le32_to_ipv4(text: str) -> IPv4Address:
    return IPv4Address(struct.pack("<I", int(text, 16)))


def _proc_ipv6(text: str) -> IPv6Address:
    """/proc/net/*6 addresses: four 32-bit words, each printed as a host (little-endian) integer."""
    words = [int(text[i : i + 8], 16) for i in range(0, 32, 8)]
    return IPv6Address(struct.pack("<4I", *words))


@dataclass
class IgmpIface:
    groups: set[IPv4Address] = field(default_factory=set)
    querier: str = ""  # V1/V2/V3: the version of the querier last heard (V3 also when none)


def parse_igmp(text: str) -> dict[str, IgmpIface]:
    out: dict[str, IgmpIface] = {}
    current: IgmpIface | None = None
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        if line[0].isdigit():
            left, _, right = line.partition(":")
            parts = left.split()
            if len(parts) < 2:
                current = None
                continue
            current = out.setdefault(parts[1], IgmpIface())
            rparts = right.split()
            current.querier = rparts[1] if len(rparts) > 1 else ""
        elif current is not None:
            parts = line.split()
            if parts:
                with contextlib.suppress(ValueError):
                    current.groups.add(_le32_to_ipv4(parts[0]))
    return out


def parse_igmp6(text: str) -> dict[str, set[IPv6Address]]:
    out: dict[str, set[IPv6Address]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and len(parts[2]) == 32:
            with contextlib.suppress(ValueError):
                out.setdefault(parts[1], set()).add(IPv6Address(bytes.fromhex(parts[2])))
    return out


@dataclass(frozen=True)
class RawSocket:
    local: IPAddress
    protocol: int
    inode: int


def parse_raw(text: str, family: int = 4) -> list[RawSocket]:
    out: list[RawSocket] = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10 or ":" not in parts[1]:
            continue
        addr, _, proto = parts[1].partition(":")
        try:
            local: IPAddress = _le32_to_ipv4(addr) if family == 4 else _proc_ipv6(addr)
            out.append(RawSocket(local, int(proto, 16), int(parts[9])))
        except ValueError:
            continue
    return out


def parse_arp(text: str) -> dict[IPv4Address, tuple[str, str]]:
    """Complete entries only: address -> (MAC, device)."""
    out: dict[IPv4Address, tuple[str, str]] = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 6:
            continue
        try:
            flags = int(parts[2], 16)
            addr = IPv4Address(parts[0])
        except ValueError:
            continue
        if flags & 0x2:
            out[addr] = (parts[3].lower(), parts[5])
    return out


def parse_counters(text: str) -> dict[str, int]:
    """/proc/net/netstat or /proc/net/snmp -> {"TcpExt:IPReversePathFilter": n, ...}."""
    out: dict[str, int] = {}
    lines = text.splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        prefix, _, name_list = names.partition(":")
        vprefix, _, value_list = values.partition(":")
        if prefix != vprefix:
            continue
        for name, value in zip(name_list.split(), value_list.split(), strict=False):
            with contextlib.suppress(ValueError):
                out[f"{prefix}:{name}"] = int(value)
    return out


def effective_rp_filter(all_value: int | None, iface_value: int | None) -> int:
    """The kernel uses max(conf/all, conf/IFACE) (Documentation/networking/ip-sysctl.rst)."""
    return max(all_value or 0, iface_value or 0)


def describe_flags(flags: int) -> list[str]:
    names = [(IFF_UP, "UP"), (IFF_BROADCAST, "BROADCAST"), (IFF_LOOPBACK, "LOOPBACK"), (IFF_RUNNING, "RUNNING"),
             (IFF_PROMISC, "PROMISC"), (IFF_ALLMULTI, "ALLMULTI"), (IFF_MULTICAST, "MULTICAST")]  # fmt: skip
    return [n for bit, n in names if flags & bit]


def parse_ip_neigh_json(doc: list[dict[str, object]]) -> dict[IPAddress, str]:
    """``ip -j neigh show`` -> address -> MAC, for entries that resolved (REACHABLE, STALE, ...)."""
    out: dict[IPAddress, str] = {}
    for entry in doc:
        mac, dst = entry.get("lladdr"), entry.get("dst")
        raw_states = entry.get("state")
        states = raw_states if isinstance(raw_states, list) else []
        if not isinstance(mac, str) or not isinstance(dst, str) or "FAILED" in states or "INCOMPLETE" in states:
            continue
        with contextlib.suppress(ValueError):
            out[ip_address(dst.split("%", 1)[0])] = mac.lower()
    return out



@dataclass
class IfaceInfo:
    name: str
    exists: bool
    flags: int = 0
    operstate: str = ""
    mtu: int | None = None
    mac: str = ""
    rp_filter: int = 0

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP) and self.operstate in ("up", "unknown")

    @property
    def multicast(self) -> bool:
        return bool(self.flags & IFF_MULTICAST)


@dataclass(frozen=True)
class Daemon:
    pid: int
    kind: str  # keepalived, vrrpkit, other
    command: str
