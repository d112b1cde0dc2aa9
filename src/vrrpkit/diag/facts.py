"""What ``investigate`` observed on this host, as one record the verdict reads (pure).

Why a record of its own: ``investigate.collect`` fills it with I/O and ``verdict.decide`` reads it
without any, so tests build Facts by hand and every rule is tested without a host. The queries
here (who owns a MAC, which addresses are on-link, who the other cluster members are) are what
several rules ask of the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_interface
from typing import Any

from vrrpkit.control.snapshot import Snapshot
from vrrpkit.core.config import InstanceConfig, IPAddress
from vrrpkit.diag.decode import Sighting
from vrrpkit.diag.firewall import Ruleset
from vrrpkit.diag.kadata import InstanceState
from vrrpkit.diag.procfs import Daemon, IfaceInfo

DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"


@dataclass
class PeerFacts:
    """One other cluster member, and what the network said about it."""

    address: IPAddress
    source: str  # "flag" (--peer), "config" (unicast_peer), "advert", "owner"
    icmp_sent: int = 0
    icmp_received: int = 0
    rtt_ms: float | None = None
    mac: str | None = None  # from the ARP/neighbour table
    proto_unreachable: bool = False  # our unicast protocol-112 probe drew "protocol unreachable"
    igmp_report: bool | None = None  # None: no query was sent for its interface

    @property
    def answers_unicast(self) -> bool:
        return self.icmp_received > 0 or self.mac is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "source": self.source,
            "icmp": f"{self.icmp_received}/{self.icmp_sent}",
            "rtt_ms": self.rtt_ms,
            "mac": self.mac,
            "vrrp_socket": "none (protocol unreachable)" if self.proto_unreachable else "unknown",
            "igmp_report": self.igmp_report,
        }


@dataclass
class Facts:
    """Everything ``investigate`` observed on this host. Tests build these directly."""

    instances: list[InstanceConfig] = field(default_factory=list)
    config_files: list[str] = field(default_factory=list)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)  # file line column severity rule message
    hostname: str = ""
    ifaces: dict[str, IfaceInfo] = field(default_factory=dict)
    addresses: dict[str, list[str]] = field(default_factory=dict)  # iface -> ["192.0.2.1/24", ...] (no VIPs)
    joined: dict[str, set[IPAddress]] = field(default_factory=dict)  # iface -> groups in /proc/net/igmp(6)
    daemons: list[Daemon] = field(default_factory=list)
    daemon_status: Snapshot | None = None  # what a running `vrrpkit run` says about itself
    rulesets: list[Ruleset] = field(default_factory=list)
    firewall_notes: list[str] = field(default_factory=list)
    firewalld: bool = False
    sightings: list[Sighting] = field(default_factory=list)  # the tap, every interface
    socket_rx: list[tuple[str, IPAddress, int]] = field(default_factory=list)  # (iface, src, vrid) our socket got
    socket_open: bool = True
    vips_local: set[IPAddress] = field(default_factory=set)
    vip_claims: dict[IPAddress, set[str]] = field(default_factory=dict)  # other MACs answering for each VIP
    peers: dict[IPAddress, PeerFacts] = field(default_factory=dict)
    igmp_queried: set[str] = field(default_factory=set)  # interfaces we sent a group query on
    igmp_reporters: dict[str, dict[str, IPAddress]] = field(default_factory=dict)  # iface -> {mac: ip}, IGMP+MLD
    window: float = 0.0
    counters_delta: dict[str, int] = field(default_factory=dict)
    arp: dict[IPAddress, str] = field(default_factory=dict)  # address -> MAC
    notes: list[str] = field(default_factory=list)
    capture: dict[str, Any] | None = None  # investigate -r: the file's tally; None for a live investigation
    keepalived: list[InstanceState] = field(default_factory=list)  # keepalived's own account (kadata)
    keepalived_source: dict[str, Any] = field(default_factory=dict)  # files read, their age, signalled or not

    def own_addresses(self) -> set[IPAddress]:
        return {ip_interface(a).ip for addrs in self.addresses.values() for a in addrs}

    def own_macs(self) -> set[str]:
        return {i.mac for i in self.ifaces.values() if i.mac}

    def primary(self, iface: str, family: int) -> IPAddress | None:
        for a in self.addresses.get(iface, []):
            ip = ip_interface(a).ip
            if ip.version == family and not ip.is_link_local:
                return ip
        for a in self.addresses.get(iface, []):
            ip = ip_interface(a).ip
            if ip.version == family:
                return ip
        return None

    def ip_of_mac(self, mac: str) -> IPAddress | None:
        for addr, m in self.arp.items():
            if m == mac:
                return addr
        for p in self.peers.values():
            if p.mac == mac:
                return p.address
        for reporters in self.igmp_reporters.values():
            if mac in reporters:
                return reporters[mac]
        for s in self.sightings:
            if s.mac == mac and not s.outgoing:
                return s.src
        return None

    def who(self, mac: str) -> str:
        """A MAC as a person reads it: with its address when one is known."""
        ip = self.ip_of_mac(mac)
        return f"{ip} ({mac})" if ip else mac

    def on_link(self, iface: str, addr: IPAddress) -> bool:
        for a in self.addresses.get(iface, []):
            net = ip_interface(a).network
            if net.version == addr.version and addr in net:
                return True
        return isinstance(addr, IPv4Address) is False and addr.is_link_local

    def config_file(self) -> str:
        """The file a fix should name: the first one read, else keepalived's default."""
        return self.config_files[0] if self.config_files else DEFAULT_CONFIG

    def vrids(self) -> set[tuple[str, int, int]]:
        """(interface, family, VRID) of every instance configured here or heard on the link."""
        keys = {(s.ifname, s.family, s.vrid) for s in self.sightings if s.vrid is not None and s.probe is None}
        keys |= {(c.interface, c.family, c.vrid) for c in self.instances}
        return {(k[0], k[1], k[2]) for k in keys if k[2] is not None}

    def cluster_peers(self, cfg: InstanceConfig | None, owner_macs: list[str]) -> list[IPAddress]:
        """The other members, for the unicast conversion: given, configured, heard, and the other owners."""
        own = self.own_addresses()
        peers: list[IPAddress] = []
        for p in self.peers.values():
            if p.address not in own and p.address not in peers and (cfg is None or p.address.version == cfg.family):
                peers.append(p.address)
        for mac in owner_macs:
            ip = self.ip_of_mac(mac)
            if ip is not None and ip not in own and ip not in peers:
                peers.append(ip)
        if cfg is not None:
            vips = set(cfg.advertised_addresses())
            for s in self.sightings:
                if (s.vrid == cfg.vrid and not s.outgoing and s.raw is not None and set(s.raw.addresses) == vips
                        and s.src not in own and s.src not in peers):  # fmt: skip
                    peers.append(s.src)
        return sorted(peers, key=lambda a: (a.version, int(a)))
