"""What /proc and /sys say about VRRP on this host: parsers (pure) and thin readers.

Why /proc rather than tools: ``ip maddr``, ``ss`` and ``arp`` may be missing on a minimal host, and
the files are what those tools read anyway. Every parser takes text so that unit tests feed it
captured samples; every reader tolerates a missing file (containers hide some of them).

Formats (all in the reader's network namespace):

* ``/proc/net/igmp``: a device line ``IDX DEV : COUNT QUERIER`` followed by tab-indented group lines
  whose first column is the group as ``%08X`` of the address in network order printed as a host
  integer (little-endian here): 224.0.0.18 is ``120000E0``.
* ``/proc/net/igmp6``: ``IDX DEV GROUP(32 hex) USERS FLAGS TIMER``.
* ``/proc/net/raw`` and ``raw6``: ``sl local:proto remote st ... inode``; the "port" of a raw socket
  is its protocol, 0x0070 = 112.
* ``/proc/net/arp``: ``IP HWtype Flags HWaddr Mask Device``; flag 0x2 means complete.
* ``/proc/net/netstat`` and ``snmp``: pairs of lines, names then values, per prefix.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import subprocess
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


# --- readers -----------------------------------------------------------------------------------


def read_text(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def read_int(path: str) -> int | None:
    text = read_text(path).strip()
    try:
        return int(text, 0)
    except ValueError:
        return None


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


def read_iface(name: str) -> IfaceInfo:
    base = f"/sys/class/net/{name}"
    if not os.path.isdir(base):
        return IfaceInfo(name, False)
    flags = read_int(f"{base}/flags") or 0
    rp = effective_rp_filter(
        read_int("/proc/sys/net/ipv4/conf/all/rp_filter"), read_int(f"/proc/sys/net/ipv4/conf/{name}/rp_filter")
    )
    return IfaceInfo(name, True, flags, read_text(f"{base}/operstate").strip(), read_int(f"{base}/mtu"),
                     read_text(f"{base}/address").strip().lower(), rp)  # fmt: skip


@dataclass(frozen=True)
class Daemon:
    pid: int
    kind: str  # keepalived, vrrpkit, other
    command: str


def vrrp_daemons() -> list[Daemon]:
    """Processes holding a protocol-112 raw socket in this network namespace.

    /proc/net/raw is per namespace, so the inodes found there belong to processes of ours; a scan of
    /proc/*/fd maps them to pids. Process names decide the kind (keepalived's VRRP child holds the
    sockets; its parent does not).
    """
    inodes = {s.inode for s in parse_raw(read_text("/proc/net/raw"), 4) if s.protocol == 112}
    inodes |= {s.inode for s in parse_raw(read_text("/proc/net/raw6"), 6) if s.protocol == 112}
    if not inodes:
        return []
    wanted = {f"socket:[{i}]" for i in inodes}
    found: list[Daemon] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            links = {os.readlink(f"{fd_dir}/{fd}") for fd in os.listdir(fd_dir)}
        except OSError:
            continue
        if links & wanted:
            cmdline = read_text(f"/proc/{entry}/cmdline").replace("\0", " ").strip()
            comm = read_text(f"/proc/{entry}/comm").strip()
            kind = "keepalived" if "keepalived" in comm else "vrrpkit" if "vrrpkit" in cmdline else "other"
            found.append(Daemon(int(entry), kind, cmdline or comm))
    return found


def read_neighbours(ifnames: list[str]) -> dict[IPAddress, str]:
    """The kernel's neighbour table (IPv4 and IPv6) on these interfaces: who answered ARP/NS.

    ``ip -j neigh`` covers IPv6, which /proc does not show; /proc/net/arp is the fallback.
    """
    out: dict[IPAddress, str] = {}
    tool = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
    for name in ifnames:
        if tool is None:
            break
        try:
            done = subprocess.run([tool, "-j", "neigh", "show", "dev", name], capture_output=True, text=True,
                                  timeout=5, check=False)  # fmt: skip
            out.update(parse_ip_neigh_json(json.loads(done.stdout or "[]")))
        except (OSError, ValueError, subprocess.TimeoutExpired):
            continue
    if not out:
        arp = parse_arp(read_text("/proc/net/arp"))
        out.update({a: mac for a, (mac, dev) in arp.items() if dev in ifnames})
    return out
