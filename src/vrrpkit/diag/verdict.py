"""From observed facts to findings and one verdict (pure: ``investigate`` collects, this decides).

The rule this module lives by: silence is not evidence. A healthy master hears no adverts (backups
are silent) and a healthy backup's multicast is never tested by VRRP itself. So a problem is only
called when something positive was seen:

* owners: more than one MAC answers ARP/NS for a VIP (or we hold it and someone else answers), so
  there are two masters *now*;
* the other owner is a master, and a master must advertise every interval: when none of its adverts
  reached our NIC during 3+ intervals while it answers ARP (so it is up and unicast/broadcast
  reaches it), its multicast is lost. IGMP membership reports tell multicast-in-general (the cloud:
  nothing arrives) from protocol 112 in particular (its output firewall: reports arrive, adverts
  don't);
* a firewall rule that the advert's exact packet meets, confirmed by the tap seeing the advert and
  our own protocol-112 socket not receiving it (inbound), or by our adverts not leaving while we
  hold the VIP (outbound);
* the adverts themselves (TTL, password, interval, VIPs) compared with our configuration.

Each finding carries its confidence and why; the verdict takes the confidence of its finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_address, ip_interface
from typing import Any

from vrrpkit.core.config import InstanceConfig, IPAddress
from vrrpkit.diag import findings as F
from vrrpkit.diag import firewall as fw
from vrrpkit.diag.decode import Sighting
from vrrpkit.diag.findings import Confidence, Finding, Report, Severity, conclude
from vrrpkit.diag.sysinfo import Daemon, IfaceInfo
from vrrpkit.diag.watch import Sender, VridTable

DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"
CLOUD_NOTE = (
    "On a cloud, gratuitous ARP does not move an address: pair unicast VRRP with the platform's own VIP "
    "mechanism - Aliyun HaVip associated with every host's ENI, AWS a secondary private IP moved from "
    "notify_master (aws ec2 assign-private-ip-addresses --allow-reassignment), GCP an alias IP or route "
    "moved from notify_master (or an internal passthrough load balancer), Azure an internal Standard "
    "Load Balancer with floating IP. Run the same conversion on every host, each with its own peers."
)


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
    daemon_status: dict[str, Any] | None = None
    rulesets: list[fw.Ruleset] = field(default_factory=list)
    firewall_notes: list[str] = field(default_factory=list)
    firewalld: bool = False
    sightings: list[Sighting] = field(default_factory=list)  # the tap, every interface
    socket_rx: list[tuple[str, IPAddress, int]] = field(default_factory=list)  # (iface, src, vrid) our socket got
    socket_open: bool = True
    vips_local: set[IPAddress] = field(default_factory=set)
    vip_claims: dict[IPAddress, set[str]] = field(default_factory=dict)  # other MACs answering for each VIP
    peers: dict[IPAddress, PeerFacts] = field(default_factory=dict)
    igmp_queried: set[str] = field(default_factory=set)  # interfaces we sent a group query on
    igmp_reporters: dict[str, dict[str, IPAddress]] = field(default_factory=dict)  # iface -> {mac: ip}
    window: float = 0.0
    counters_delta: dict[str, int] = field(default_factory=dict)
    arp: dict[IPAddress, str] = field(default_factory=dict)  # address -> MAC
    notes: list[str] = field(default_factory=list)

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


def decide(facts: Facts) -> Report:
    """Findings from facts, then the verdict (findings.conclude ranks causes above symptoms)."""
    out: list[Finding] = []
    out += _config_findings(facts)
    out += _iface_findings(facts)
    table = VridTable(facts.instances, facts.own_addresses(), facts.own_macs())
    for s in sorted(facts.sightings, key=lambda s: s.time):
        table.feed(s)
    flags = [f for f in table.flags if f.code != F.SPLIT_BRAIN]  # split brain is judged below, with owners
    for flag in flags:
        _fix_advert_flag(flag, facts)
        flag.basis = ["seen on the wire by the packet tap (before any firewall)"]
    out += flags
    healthy_basis: list[str] = []
    confidences: list[Confidence] = []
    for cfg in facts.instances:
        info = facts.ifaces.get(cfg.interface)
        if info is None or not info.exists or not info.up:
            continue
        found, basis, conf = _instance(facts, cfg, table)
        out += found
        healthy_basis += basis
        confidences.append(conf)
    if not facts.instances:
        out += _no_config_findings(facts, table)
    out += _peer_findings(facts)
    out += _info_findings(facts)
    healthy_conf = min(confidences, key=lambda c: ["high", "medium", "low"].index(c.value), default=Confidence.LOW)
    if not facts.instances:
        healthy_basis.append("no instance configured: only the link was examined")
        end = max((s.time for s in facts.sightings), default=0.0)
        for row in table.table(end):
            masters = ", ".join(row["masters"]) or "none now"
            vips = sorted({v for sender in row["senders"] for v in sender["vips"]})
            healthy_basis.append(f"VRID {row['vrid']} on {row['interface']}: master {masters} (VIPs {', '.join(vips)})")
            healthy_conf = Confidence.MEDIUM
    report = conclude(out, healthy_basis, healthy_conf)
    report.summary = _summary(facts, table)
    return report


# --- configuration and interfaces ------------------------------------------------------------


def _config_findings(facts: Facts) -> list[Finding]:
    out: list[Finding] = []
    errors = [d for d in facts.diagnostics if d.get("severity") == "error"]
    if errors:
        first = errors[0]
        out.append(
            Finding(
                F.CONFIG_ERROR,
                Severity.ERROR,
                f"the configuration has {len(errors)} error(s); first: {first.get('text') or first.get('message')}",
                {"diagnostics": errors[:20]},
                f"fix the lines named above, then check with: vrrpkit check -f {' -f '.join(facts.config_files)}",
                basis=["the keepalived.conf parser reported errors"],
            )
        )
    warnings = [d for d in facts.diagnostics if d.get("severity") == "warning"]
    if warnings:
        out.append(
            Finding(
                "config-warning",
                Severity.INFO,
                f"the configuration has {len(warnings)} warning(s)",
                {"diagnostics": warnings[:20]},
            )
        )
    return out


def _iface_findings(facts: Facts) -> list[Finding]:
    out: list[Finding] = []
    used = {cfg.interface: cfg for cfg in facts.instances}
    for name, info in facts.ifaces.items():
        cfg = used.get(name)
        if not info.exists:
            out.append(
                Finding(
                    F.CONFIG_ERROR,
                    Severity.ERROR,
                    f"interface {name} (vrrp_instance {cfg.name if cfg else '?'}) does not exist on this host",
                    {"interface": name},
                    "set `interface` to this host's interface on the VIP's subnet (see `ip -br addr`)",
                    basis=[f"/sys/class/net/{name} is missing"],
                )
            )
            continue
        if not info.up:
            out.append(
                Finding(
                    F.INTERFACE_DOWN,
                    Severity.ERROR,
                    f"interface {name} is {info.operstate or 'down'}: the instance sits in FAULT",
                    {"interface": name, "operstate": info.operstate, "flags": info.flags},
                    f"ip link set {name} up (and check the cable / virtual NIC)",
                )
            )
        elif not info.multicast and cfg is not None and not cfg.unicast:
            out.append(
                Finding(
                    F.INTERFACE_DOWN,
                    Severity.ERROR,
                    f"interface {name} has no MULTICAST flag: multicast VRRP cannot work on it",
                    {"interface": name, "flags": info.flags},
                    f"ip link set {name} multicast on, or use unicast: vrrpkit convert --to-unicast -f "
                    f"{_file(facts)} --peer PEER_IP",
                )
            )
    return out


# --- one instance ------------------------------------------------------------------------------


def _instance(facts: Facts, cfg: InstanceConfig, table: VridTable) -> tuple[list[Finding], list[str], Confidence]:
    out: list[Finding] = []
    basis: list[str] = []
    iface, family, vrid = cfg.interface, cfg.family, cfg.vrid
    key = (iface, family, vrid)
    row = table.rows.get(key)
    senders = list(row.senders.values()) if row else []
    ours = [s for s in senders if s.ours]
    vips = set(cfg.advertised_addresses())
    theirs = [s for s in senders if not s.ours and set(s.addresses) == vips]
    sent_by_us = sum(s.count for s in ours)
    held = sorted(v for v in vips if v in facts.vips_local)
    other_owners = sorted({m for v in vips for m in facts.vip_claims.get(v, set())})
    owners = len(other_owners) + (1 if held else 0)
    daemon_here = bool(facts.daemons)
    src = cfg.unicast_src_ip or cfg.mcast_src_ip or facts.primary(iface, family)
    mode = "unicast" if cfg.unicast else "multicast"
    ev: dict[str, Any] = {"instance": cfg.name, "interface": iface, "vrid": vrid, "mode": mode}
    rx_srcs = {s for (i, s, v) in facts.socket_rx if i == iface and v == vrid}
    # --- firewall, outbound: do our adverts leave? ---
    dsts = [p.address for p in cfg.unicast_peers] if cfg.unicast else [cfg.group]
    out_blocks = _dedupe(b for d in dsts for b in fw.find_blocks(facts.rulesets, fw.vrrp_packet("out", iface, src, d,
                          None if cfg.unicast else "new")))  # fmt: skip
    if out_blocks:
        b = out_blocks[0]
        confirmed = bool(held) and sent_by_us == 0
        contradicted = sent_by_us > 0
        out.append(
            Finding(
                F.FIREWALL_DROPS_VRRP,
                _rule_severity(b, confirmed, contradicted),
                f"the host firewall drops this host's outgoing adverts (VRID {vrid}): {b.where}: {b.text}"
                + (" - and none left the NIC while this host holds the VIP" if confirmed else ""),
                {**ev, "direction": "out", "rules": [x.as_dict() for x in out_blocks], "adverts_sent_seen": sent_by_us,
                 "holds_vip": bool(held)},
                fw.accept_rule_for(b, iface, "out", facts.firewalld),
                _rule_confidence(b, confirmed),
                [f"rule {b.where} {'matches' if b.certain else 'may match'} an advert leaving {iface}"]
                + (["the tap saw no advert leave although this host is master"] if confirmed else [])
                + (["but the tap saw our adverts leave: the rule may not apply"] if contradicted else []),
            )
        )
    # --- firewall, inbound, and other host-side drops ---
    sources: list[IPAddress | None] = sorted({s.src for s in theirs}, key=str) or [None]
    in_dst = src if cfg.unicast else cfg.group
    in_blocks: list[fw.Block] = []
    if in_dst is not None:
        for peer_src in sources:
            pkt = fw.vrrp_packet("in", iface, peer_src, in_dst, None if cfg.unicast else "new")
            in_blocks += fw.find_blocks(facts.rulesets, pkt)
        in_blocks = _dedupe(in_blocks)
    arrived = [s for s in theirs if s.count and not s.bad]
    not_delivered = [s for s in arrived if s.src not in rx_srcs] if facts.socket_open else []
    if in_blocks:
        b = in_blocks[0]
        confirmed = bool(not_delivered)
        contradicted = bool(arrived) and not not_delivered
        out.append(
            Finding(
                F.FIREWALL_DROPS_VRRP,
                _rule_severity(b, confirmed, contradicted),
                f"the host firewall drops incoming adverts (VRID {vrid}): {b.where}: {b.text}"
                + (f" - adverts from {_names(not_delivered)} reached the NIC but no socket" if confirmed else ""),
                {**ev, "direction": "in", "rules": [x.as_dict() for x in in_blocks],
                 "seen_on_nic": [_sender_ev(s) for s in arrived], "reached_socket": sorted(str(a) for a in rx_srcs)},
                fw.accept_rule_for(b, iface, "in", facts.firewalld),
                _rule_confidence(b, confirmed),
                [f"rule {b.where} {'matches' if b.certain else 'may match'} an advert arriving on {iface}"]
                + (["the tap saw the adverts arrive, our protocol-112 socket never got them"] if confirmed else [])
                + (["but our socket received the adverts: the rule may not apply"] if contradicted else []),
            )
        )
    elif not_delivered:
        info = facts.ifaces[iface]
        offlink = [s for s in not_delivered if not _on_link(facts, iface, s.src)]
        if info.rp_filter == 1 and offlink:
            out.append(
                Finding(
                    F.RP_FILTER,
                    Severity.ERROR,
                    f"adverts from {_names(offlink)} reach {iface} but are dropped by strict reverse-path "
                    f"filtering (rp_filter=1): their source is not routed back via {iface}",
                    {**ev, "rp_filter": info.rp_filter, "sources": [str(s.src) for s in offlink],
                     "counters": facts.counters_delta},
                    f"sysctl -w net.ipv4.conf.{iface}.rp_filter=2 net.ipv4.conf.all.rp_filter=2 (loose), or add "
                    f"a route to {offlink[0].src} via {iface}",
                    basis=["tap saw the adverts, our socket did not, no firewall rule matches, rp_filter=1"],
                )
            )
        else:
            out.append(
                Finding(
                    F.HOST_DROPS_VRRP,
                    Severity.ERROR,
                    f"adverts from {_names(not_delivered)} reach {iface} but no protocol-112 socket on this host "
                    "receives them, and no firewall rule explains it",
                    {**ev, "rp_filter": info.rp_filter, "counters": facts.counters_delta,
                     "firewall_notes": facts.firewall_notes},
                    "check `nft list ruleset` and `iptables-save` by hand (rules we could not evaluate), "
                    "net.ipv4.conf.*.rp_filter, and /proc/net/netstat IPReversePathFilter",
                    Confidence.MEDIUM,
                    ["tap saw the adverts, our socket did not"],
                )
            )
    # --- group membership ---
    if not cfg.unicast and daemon_here and cfg.group not in facts.joined.get(iface, set()):
        out.append(
            Finding(
                F.GROUP_NOT_JOINED,
                Severity.ERROR,
                f"a VRRP daemon runs here but {iface} has not joined {cfg.group}: multicast adverts are not "
                "delivered to it",
                {**ev, "joined": sorted(str(g) for g in facts.joined.get(iface, set()))},
                f"check the daemon's interface and logs; `ip maddr show dev {iface}` must list {cfg.group}",
                basis=["/proc/net/igmp(6) lacks the group"],
            )
        )
    # --- strict mode / no_accept: traffic to the VIP dropped ---
    out += _vip_blocks(facts, cfg, held, ev)
    # --- owners: who is master now ---
    owner_ev = {**ev, "vips": sorted(str(v) for v in vips), "held_here": [str(v) for v in held],
                "other_owner_macs": other_owners, "adverts_sent_seen": sent_by_us}  # fmt: skip
    if owners > 1:
        out += _split(facts, cfg, table, key, other_owners, held, sent_by_us, owner_ev)
    elif owners == 0 and vips:
        out.append(
            Finding(
                F.NO_MASTER,
                Severity.ERROR,
                f"nobody holds {', '.join(sorted(str(v) for v in vips))}: no host answered ARP/NS for it",
                {**owner_ev, "daemons_here": [d.kind for d in facts.daemons]},
                "start the VRRP daemon (keepalived or vrrpkit run) on the cluster's hosts; if it runs, look for "
                "instances in FAULT (interface down, track_script failing)",
                Confidence.MEDIUM if daemon_here else Confidence.LOW,
                ["ARP/NS probes for the VIP got no answer and it is not on this host"],
            )
        )
    else:
        owner_mac = other_owners[0] if other_owners else None
        owner_ip = facts.ip_of_mac(owner_mac) if owner_mac else None
        if held:
            basis.append(f"{cfg.name}: this host is the only owner of {', '.join(map(str, held))}")
            if sent_by_us:
                basis.append(f"{cfg.name}: {sent_by_us} of our adverts left {iface}")
            else:
                out.append(
                    Finding(
                        F.ADVERTS_NOT_SENT,
                        Severity.ERROR,
                        f"this host holds {', '.join(map(str, held))} but sent no advert for VRID {vrid} in "
                        f"{facts.window:.1f} s" + ("" if daemon_here else ": no VRRP daemon runs here (a killed "
                                                   "keepalived leaves its VIPs behind)"),
                        owner_ev,
                        "restart the VRRP daemon (`systemctl restart keepalived`), or remove the stale address: "
                        f"ip addr del {held[0]} dev {iface}",
                        Confidence.HIGH,
                        ["the tap saw no advert leave in 3+ intervals"],
                    )
                )
        elif owner_mac:
            who = f"{owner_ip} ({owner_mac})" if owner_ip else owner_mac
            heard = [s for s in theirs if s.mac == owner_mac]
            basis.append(f"{cfg.name}: one owner of the VIP: {who}")
            if heard:
                basis.append(f"{cfg.name}: its adverts arrive ({heard[0].count} in {facts.window:.1f} s)")
                if heard[0].src in rx_srcs:
                    basis.append(f"{cfg.name}: and reach a protocol-112 socket")
    # --- how sure: did multicast (or unicast) demonstrably work? ---
    conf = Confidence.MEDIUM
    if owners == 1:
        conf = _healthy_confidence(facts, cfg, basis, sent_by_us, theirs, rx_srcs)
    return out, basis, conf


def _rule_severity(block: fw.Block, confirmed: bool, contradicted: bool) -> Severity:
    """A rule is a problem when it surely matches, or when the traffic shows the drop; a rule we could
    only partly evaluate and that the traffic does not confirm stays a warning (no false verdicts)."""
    if contradicted:
        return Severity.WARNING
    return Severity.ERROR if block.certain or confirmed else Severity.WARNING


def _rule_confidence(block: fw.Block, confirmed: bool) -> Confidence:
    if block.certain and confirmed:
        return Confidence.HIGH
    return Confidence.MEDIUM if block.certain or confirmed else Confidence.LOW


def _healthy_confidence(facts: Facts, cfg: InstanceConfig, basis: list[str], sent_by_us: int,
                        theirs: list[Sender], rx_srcs: set[IPAddress]) -> Confidence:  # fmt: skip
    peers = [p for p in facts.peers.values() if p.source in ("flag", "config", "advert")]
    reachable = [p for p in peers if p.answers_unicast]
    if not cfg.unicast and cfg.interface in facts.igmp_queried:
        reporters = set(facts.igmp_reporters.get(cfg.interface, {}).values())
        if reporters:
            basis.append(f"{cfg.name}: multicast works both ways: IGMP membership reports came back from "
                         f"{', '.join(sorted(map(str, reporters)))}")  # fmt: skip
    if theirs and any(s.src in rx_srcs for s in theirs):
        return Confidence.HIGH
    if sent_by_us and reachable:
        basis.append(f"{cfg.name}: peers reachable: {', '.join(str(p.address) for p in reachable)}")
        return Confidence.HIGH
    if sent_by_us or theirs:
        return Confidence.MEDIUM
    return Confidence.LOW


def _split(facts: Facts, cfg: InstanceConfig, table: VridTable, key: tuple[str, int, int], other_owners: list[str],
           held: list[IPAddress], sent_by_us: int, owner_ev: dict[str, Any]) -> list[Finding]:  # fmt: skip
    """Two or more owners: the split brain itself, and what this host can prove about its cause."""
    out: list[Finding] = []
    iface, _family, _vrid = key
    row = table.rows.get(key)
    senders = list(row.senders.values()) if row else []
    vip_text = ", ".join(owner_ev["vips"])
    owners_text = ", ".join(_who(facts, m) for m in other_owners) + (" and this host" if held else "")
    out.append(
        Finding(
            F.SPLIT_BRAIN,
            Severity.ERROR,
            f"split brain: {vip_text} is held by {owners_text}",
            owner_ev,
            f"find the cause with `vrrpkit investigate` on {_who(facts, other_owners[0])} too",
            Confidence.HIGH,
            ["more than one host answers ARP/NS for the VIP now"],
        )
    )
    lost_mcast: list[str] = []
    lost_vrrp: list[str] = []
    for mac in other_owners:
        from_it = [s for s in senders if s.mac == mac and not s.ours]
        if from_it:
            continue  # its adverts arrive: if we still ignore them, the flags above or the firewall say why
        reporters = facts.igmp_reporters.get(iface, {})
        if not cfg.unicast and iface in facts.igmp_queried and mac in reporters:
            lost_vrrp.append(mac)
        else:
            lost_mcast.append(mac)
    peers = _cluster_peers(facts, cfg, other_owners)
    convert = _convert_line(facts, cfg, peers)
    if lost_mcast and not cfg.unicast:
        igmp_asked = iface in facts.igmp_queried
        basis = [
            f"{', '.join(_who(facts, m) for m in lost_mcast)} answers ARP for the VIP (so it is up, reachable and "
            "claims master)",
            f"a master advertises every {cfg.advert_int_cs / 100:g} s, yet none of its adverts reached this NIC in "
            f"{facts.window:.1f} s (seen by a packet tap, before any firewall)",
        ]
        if igmp_asked:
            basis.append("our IGMP query for the VRRP group drew no membership report from it")
        if sent_by_us:
            basis.append(f"our own adverts do leave {iface} ({sent_by_us} seen)")
        reachable = [p for p in facts.peers.values() if p.icmp_received]
        if reachable:
            basis.append(f"ICMP echo is answered by {', '.join(str(p.address) for p in reachable)}")
        out.append(
            Finding(
                F.MULTICAST_BLOCKED,
                Severity.ERROR,
                f"multicast between this host and {', '.join(_who(facts, m) for m in lost_mcast)} is lost: "
                + ("they answer unicast and hold" if len(lost_mcast) > 1 else "it answers unicast and holds")
                + f" {vip_text}, but {'their' if len(lost_mcast) > 1 else 'its'} multicast adverts to {cfg.group} "
                f"never reach {iface} (a cloud network or a switch that drops multicast)",
                {**owner_ev, "silent_owners": [_who(facts, m) for m in lost_mcast],
                 "igmp_queried": igmp_asked, "igmp_reporters": sorted(facts.igmp_reporters.get(iface, {})),
                 "peers": [p.as_dict() for p in facts.peers.values()]},
                f"{convert}\n{CLOUD_NOTE}",
                Confidence.HIGH if igmp_asked or reachable else Confidence.MEDIUM,
                basis,
            )
        )
    if lost_vrrp or (lost_mcast and cfg.unicast):
        macs = lost_vrrp or lost_mcast
        out.append(
            Finding(
                F.ADVERTS_LOST,
                Severity.ERROR,
                f"{', '.join(_who(facts, m) for m in macs)} holds {vip_text} but none of its adverts reach {iface}"
                + (", although its IGMP reports do: multicast works, protocol 112 from it is dropped (its own "
                   "output firewall, or a filter for protocol 112 on the path)" if lost_vrrp else
                   ": check that its unicast_peer list names this host and that nothing drops protocol 112"),
                {**owner_ev, "silent_owners": [_who(facts, m) for m in macs]},
                f"run `vrrpkit investigate` on {_who(facts, macs[0])}; there: nft list ruleset | grep -n -e vrrp "
                "-e 112 -e 'policy drop', and allow it: nft insert rule inet filter output meta l4proto vrrp accept",
                Confidence.HIGH if lost_vrrp else Confidence.MEDIUM,
                ["it answers ARP for the VIP, its adverts never arrive in 3+ intervals"]
                + (["its IGMP membership report arrived (multicast works from it)"] if lost_vrrp else []),
            )
        )
    return out


def _vip_blocks(facts: Facts, cfg: InstanceConfig, held: list[IPAddress], ev: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    iface = cfg.interface
    primary = facts.primary(iface, cfg.family)
    for vip in sorted(cfg.advertised_addresses(), key=str):
        blocks = [b for b in fw.find_blocks(facts.rulesets, fw.vip_packet(iface, vip)) if b.verdict != "policy-drop"]
        if primary is not None and blocks:
            to_primary = {(b.table, b.chain, b.handle, b.position) for b in
                          fw.find_blocks(facts.rulesets, fw.vip_packet(iface, primary))}  # fmt: skip
            blocks = [b for b in blocks if (b.table, b.chain, b.handle, b.position) not in to_primary]
        if not blocks:
            continue
        b = blocks[0]
        strictish = b.table in ("keepalived", "vrrpkit") or cfg.strict or cfg.accept is False
        code = F.STRICT_MODE_BLOCKS_VIP if strictish else F.FIREWALL_BLOCKS_VIP
        here = vip in held
        fix = (
            f"add `accept` to vrrp_instance {cfg.name} in {_file(facts)} (keeps vrrp_strict's other checks), or "
            "remove vrrp_strict / strict_mode, then reload the daemon (systemctl reload keepalived)"
            if strictish else fw.accept_rule_for(b, iface, "in", facts.firewalld).replace("meta l4proto vrrp",
                                                                                         f"ip daddr {vip}")
        )  # fmt: skip
        out.append(
            Finding(
                code,
                Severity.ERROR if here else Severity.WARNING,
                f"traffic to the VIP {vip} is dropped on this host by {b.where}: {b.text}"
                + (" (keepalived's strict mode / no_accept: RFC 5798 Accept_Mode off)" if strictish else "")
                + ("" if here else " - it bites when this host becomes master"),
                {**ev, "vip": str(vip), "held_here": here, "rules": [x.as_dict() for x in blocks]},
                fix,
                Confidence.HIGH if b.certain else Confidence.MEDIUM,
                [f"a new connection to {vip} meets {b.where}, one to {primary} does not"],
            )
        )
    if not out and cfg.strict and not cfg.accept_mode and cfg.vips:
        out.append(
            Finding(
                F.STRICT_MODE_BLOCKS_VIP,
                Severity.WARNING,
                f"vrrp_instance {cfg.name} runs in strict mode without `accept`: when this host is master, "
                "keepalived drops all traffic to the VIPs (no ping, no TCP)",
                {**ev, "strict": True, "accept": cfg.accept},
                f"add `accept` to vrrp_instance {cfg.name} in {_file(facts)}, or remove vrrp_strict",
                Confidence.MEDIUM,
                ["configuration only: this host does not hold the VIP now"],
            )
        )
    return out


# --- peers --------------------------------------------------------------------------------------


def _peer_findings(facts: Facts) -> list[Finding]:
    out: list[Finding] = []
    claimed = {m for macs in facts.vip_claims.values() for m in macs}
    heard_from = {s.src for s in facts.sightings if not s.outgoing and s.probe is None}
    for p in facts.peers.values():
        if p.source not in ("flag", "config"):
            continue
        if p.address in heard_from or (p.mac and p.mac in claimed):
            continue
        if p.icmp_sent and not p.answers_unicast:
            out.append(
                Finding(
                    F.PEER_DOWN,
                    Severity.ERROR,
                    f"peer {p.address} is down or unreachable: no answer to {p.icmp_sent} ICMP echoes, no ARP "
                    "entry, no adverts from it - this host carries the VIP without a backup",
                    {"peer": p.as_dict()},
                    f"bring {p.address} back (host, link, VM); then check it with `vrrpkit investigate` there",
                    Confidence.HIGH if p.icmp_sent >= 2 else Confidence.MEDIUM,
                    ["no ICMP echo reply, no ARP resolution, no advert"],
                )
            )
        elif p.proto_unreachable:
            out.append(
                Finding(
                    F.PEER_DOWN,
                    Severity.ERROR,
                    f"peer {p.address} is up but runs no VRRP daemon: it answered our protocol-112 probe with "
                    "'protocol unreachable'",
                    {"peer": p.as_dict()},
                    f"start keepalived (or vrrpkit run) on {p.address}: systemctl start keepalived",
                    Confidence.HIGH,
                    ["ICMP echo answered", "ICMP protocol-unreachable for protocol 112: no raw VRRP socket there"],
                )
            )
        elif p.igmp_report is False and any(v for v in facts.igmp_reporters.values()):
            out.append(
                Finding(
                    F.PEER_DOWN,
                    Severity.WARNING,
                    f"peer {p.address} answers ICMP but sent no IGMP membership report for the VRRP group while "
                    "others did: its VRRP daemon may not be running (or runs in unicast mode)",
                    {"peer": p.as_dict()},
                    f"check the VRRP daemon on {p.address}",
                    Confidence.MEDIUM,
                    ["other hosts' membership reports arrived, not this one's"],
                )
            )
    return out


def _no_config_findings(facts: Facts, table: VridTable) -> list[Finding]:
    """Without a config we can still report split brains between senders and VIP owners."""
    out = [f for f in table.flags if f.code == F.SPLIT_BRAIN]
    for f in out:
        f.fix = "run `vrrpkit investigate -f /etc/keepalived/keepalived.conf` on each master"
    return out


def _info_findings(facts: Facts) -> list[Finding]:
    out: list[Finding] = []
    if facts.daemons:
        kinds = sorted({f"{d.kind} (pid {d.pid})" for d in facts.daemons})
        out.append(Finding(F.DAEMON, Severity.INFO, f"VRRP daemon on this host: {', '.join(kinds)}",
                           {"daemons": [{"pid": d.pid, "kind": d.kind, "command": d.command} for d in facts.daemons]}))
    else:
        out.append(Finding(F.NO_DAEMON, Severity.INFO, "no VRRP daemon runs on this host (no protocol-112 socket)",
                           {}))  # fmt: skip
    for p in facts.peers.values():
        if p.answers_unicast:
            out.append(Finding(F.PEER_UP, Severity.INFO, f"peer {p.address} answers unicast"
                               + (f" (ICMP {p.icmp_received}/{p.icmp_sent}, {p.rtt_ms} ms)" if p.icmp_received else ""),
                               {"peer": p.as_dict()}))  # fmt: skip
    for iface, reporters in facts.igmp_reporters.items():
        if reporters:
            out.append(Finding(F.MULTICAST_OK, Severity.INFO,
                               f"multicast works on {iface}: membership reports for the VRRP group came back from "
                               f"{', '.join(sorted(str(a) for a in reporters.values()))}",
                               {"interface": iface, "reporters": {m: str(a) for m, a in reporters.items()}}))
    for note in facts.firewall_notes + facts.notes:
        out.append(Finding("note", Severity.INFO, note, {}))
    return out


# --- fixes for the advert flags ----------------------------------------------------------------


def _fix_advert_flag(flag: Finding, facts: Facts) -> None:
    ev = flag.evidence
    cfg = next((c for c in facts.instances if c.vrid == ev.get("vrid") and c.interface == ev.get("interface")), None)
    name = cfg.name if cfg else "VI_?"
    file = _file(facts)
    if flag.code == F.TTL_NOT_255:
        peers = _cluster_peers(facts, cfg, []) if cfg else []
        flag.fix = (
            f"keep every host of the cluster on one L2 segment (nothing may route or rewrite adverts), or go "
            f"unicast, where keepalived skips the TTL check: {_convert_line(facts, cfg, peers) if cfg else ''}"
        )
    elif flag.code == F.AUTH_MISMATCH:
        flag.fix = (f"use the same authentication {{ auth_type PASS; auth_pass ... }} block in vrrp_instance {name} "
                    f"on every host ({file} here has {ev.get('ours')}, {ev.get('src')} sends {ev.get('theirs')})")
    elif flag.code == F.INTERVAL_MISMATCH:
        flag.fix = (f"set the same `advert_int` in vrrp_instance {name} on every host ({file} here: "
                    f"{ev.get('ours')}; {ev.get('src')} sends {ev.get('theirs')})")
    elif flag.code == F.VERSION_MISMATCH:
        flag.fix = f"set the same `version` (vrrp_version) on every host ({ev.get('src')} sends v{ev.get('theirs')})"
    elif flag.code == F.VRID_COLLISION:
        known = facts.peers.get(ip_address(str(ev.get("src"))))
        if known is not None and known.source in ("flag", "config"):
            theirs, ours = ", ".join(ev.get("their_vips", [])), ", ".join(ev.get("our_vips", []))
            flag.message = (f"peer {ev.get('src')} advertises VRID {ev.get('vrid')} with other VIPs ({theirs}) than "
                            f"this host ({ours}): the cluster's configurations differ (keepalived before 2.3.3 "
                            "discards such adverts)")  # fmt: skip
            flag.fix = f"use the same virtual_ipaddress block in vrrp_instance {name} on every host, then reload"
            return
        used = sorted({k[2] for k in facts_vrids(facts)})
        free = next((v for v in range(1, 256) if v not in used), 1)
        flag.fix = (f"another cluster ({ev.get('src')}, VIPs {', '.join(ev.get('their_vips', []))}) uses VRID "
                    f"{ev.get('vrid')} on this link: set `virtual_router_id {free}` (unused here) in vrrp_instance "
                    f"{name} on every host of this cluster, or go unicast")
    elif flag.code == F.BAD_CHECKSUM:
        flag.fix = ("make both sides compute the VRRPv3 checksum the same way (drop v3_checksum_as_v2 on one side, "
                    "or remove the NAT between them)")


def facts_vrids(facts: Facts) -> set[tuple[str, int, int]]:
    keys = {(s.ifname, s.family, s.vrid) for s in facts.sightings if s.vrid is not None and s.probe is None}
    keys |= {(c.interface, c.family, c.vrid) for c in facts.instances}
    return {(k[0], k[1], k[2]) for k in keys if k[2] is not None}


# --- helpers ------------------------------------------------------------------------------------


def _file(facts: Facts) -> str:
    return facts.config_files[0] if facts.config_files else DEFAULT_CONFIG


def _cluster_peers(facts: Facts, cfg: InstanceConfig | None, owner_macs: list[str]) -> list[IPAddress]:
    """The other members, for the unicast conversion: given, configured, heard, and the other owners."""
    own = facts.own_addresses()
    peers: list[IPAddress] = []
    for p in facts.peers.values():
        if p.address not in own and p.address not in peers and (cfg is None or p.address.version == cfg.family):
            peers.append(p.address)
    for mac in owner_macs:
        ip = facts.ip_of_mac(mac)
        if ip is not None and ip not in own and ip not in peers:
            peers.append(ip)
    if cfg is not None:
        vips = set(cfg.advertised_addresses())
        for s in facts.sightings:
            if (s.vrid == cfg.vrid and not s.outgoing and s.raw is not None and set(s.raw.addresses) == vips
                    and s.src not in own and s.src not in peers):  # fmt: skip
                peers.append(s.src)
    return sorted(peers, key=lambda a: (a.version, int(a)))


def _convert_line(facts: Facts, cfg: InstanceConfig, peers: list[IPAddress]) -> str:
    src = facts.primary(cfg.interface, cfg.family)
    file = _file(facts)
    peer_text = ",".join(str(p) for p in peers) if peers else "PEER_IP[,PEER_IP...]"
    line = f"vrrpkit convert --to-unicast -f {file} --peer {peer_text}"
    if src is not None:
        line += f" --src {src}"
    line += f" -o {file}.unicast"
    if not peers:
        line += "  (the other hosts' addresses: give them with --peer)"
    return line


def _who(facts: Facts, mac: str) -> str:
    ip = facts.ip_of_mac(mac)
    return f"{ip} ({mac})" if ip else mac


def _names(senders: list[Sender]) -> str:
    return ", ".join(sorted(str(s.src) for s in senders))


def _sender_ev(s: Sender) -> dict[str, Any]:
    return {"src": str(s.src), "mac": s.mac, "adverts": s.count, "ttl": sorted(s.ttls)}


def _on_link(facts: Facts, iface: str, addr: IPAddress) -> bool:
    for a in facts.addresses.get(iface, []):
        net = ip_interface(a).network
        if net.version == addr.version and addr in net:
            return True
    return isinstance(addr, IPv4Address) is False and addr.is_link_local


def _dedupe(blocks: Any) -> list[fw.Block]:
    seen: set[tuple[Any, ...]] = set()
    out: list[fw.Block] = []
    for b in blocks:
        k = (b.source, b.family, b.table, b.chain, b.handle, b.position, b.verdict)
        if k not in seen:
            seen.add(k)
            out.append(b)
    return sorted(out, key=lambda b: not b.certain)


def _summary(facts: Facts, table: VridTable) -> dict[str, Any]:
    return {
        "host": facts.hostname,
        "config": facts.config_files,
        "window_s": round(facts.window, 3),
        "interfaces": {
            n: {"exists": i.exists, "up": i.up, "multicast": i.multicast, "operstate": i.operstate,
                "rp_filter": i.rp_filter, "mac": i.mac, "addresses": facts.addresses.get(n, []),
                "joined": sorted(str(g) for g in facts.joined.get(n, set()))}
            for n, i in facts.ifaces.items()
        },
        "instances": [
            {"name": c.name, "interface": c.interface, "vrid": c.vrid, "version": c.version,
             "mode": "unicast" if c.unicast else "multicast", "priority": c.priority,
             "advert_int": c.advert_int_cs / 100, "vips": [str(v) for v in c.advertised_addresses()],
             "holds_vip": any(v in facts.vips_local for v in c.advertised_addresses())}
            for c in facts.instances
        ],
        "daemons": [{"pid": d.pid, "kind": d.kind} for d in facts.daemons],
        "daemon_status": _daemon_instances(facts.daemon_status),
        "vip_owners": {str(v): sorted(m) for v, m in facts.vip_claims.items()},
        "peers": [p.as_dict() for p in facts.peers.values()],
        "vrids": table.table(max((s.time for s in facts.sightings), default=0.0)),
    }  # fmt: skip


def _daemon_instances(status: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """What a running `vrrpkit run` says about itself (control socket), for the report."""
    if not status:
        return None
    out = []
    for i in status.get("instances", []):
        counters = i.get("counters", {})
        out.append({"name": i.get("name"), "state": i.get("state"), "master": i.get("master"),
                    "advert_rcvd": counters.get("advert_rcvd"), "advert_sent": counters.get("advert_sent"),
                    "dropped": counters.get("dropped"), "split_brain": i.get("split_brain")})  # fmt: skip
    return out
