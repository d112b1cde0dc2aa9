"""The rules for one configured instance, run in order for every instance whose interface is up (pure).

Each rule reads an Instance (the instance's configuration and what the facts say about it, worked
out once) and returns findings; the ownership rule also writes down why the instance looks healthy,
and ``healthy_confidence`` then grades that. The order of INSTANCE_RULES is the order findings of
equal rank are reported in; it does not rank them (``findings.RANK`` does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vrrpkit.core.config import InstanceConfig, IPAddress
from vrrpkit.diag import findings as F
from vrrpkit.diag import firewall as fw
from vrrpkit.diag.facts import Facts
from vrrpkit.diag.findings import Confidence, Finding, Severity
from vrrpkit.diag.fixes import CLOUD_NOTE, convert_line
from vrrpkit.diag.watch import Sender, VridTable


@dataclass
class Instance:
    """One instance and what the facts say about it: worked out once, read by every rule."""

    facts: Facts
    cfg: InstanceConfig
    senders: list[Sender]  # every sender of this VRID on the interface, as the tap saw them
    theirs: list[Sender]  # the other senders that advertise exactly our VIPs
    sent_by_us: int  # our adverts the tap saw leave
    vips: set[IPAddress]
    held: list[IPAddress]  # our VIPs that are on this host now
    other_owners: list[str]  # the other MACs that answer ARP/NS for them
    src: IPAddress | None  # the source of our adverts
    rx_srcs: set[IPAddress]  # the senders whose adverts our protocol-112 socket received
    basis: list[str] = field(default_factory=list)  # why the instance looks healthy, in words

    @classmethod
    def of(cls, facts: Facts, cfg: InstanceConfig, table: VridTable) -> Instance:
        iface, family, vrid = cfg.interface, cfg.family, cfg.vrid
        row = table.rows.get((iface, family, vrid))
        senders = list(row.senders.values()) if row else []
        vips = set(cfg.advertised_addresses())
        return cls(
            facts,
            cfg,
            senders,
            theirs=[s for s in senders if not s.ours and set(s.addresses) == vips],
            sent_by_us=sum(s.count for s in senders if s.ours),
            vips=vips,
            held=sorted(v for v in vips if v in facts.vips_local),
            other_owners=sorted({m for v in vips for m in facts.vip_claims.get(v, set())}),
            src=cfg.unicast_src_ip or cfg.mcast_src_ip or facts.primary(iface, family),
            rx_srcs={s for (i, s, v) in facts.socket_rx if i == iface and v == vrid},
        )

    @property
    def owners(self) -> int:
        """How many hosts hold the VIPs now: the other MACs that answer for them, and this host."""
        return len(self.other_owners) + (1 if self.held else 0)

    @property
    def evidence(self) -> dict[str, Any]:
        cfg = self.cfg
        mode = "unicast" if cfg.unicast else "multicast"
        return {"instance": cfg.name, "interface": cfg.interface, "vrid": cfg.vrid, "mode": mode}

    @property
    def owner_evidence(self) -> dict[str, Any]:
        return {**self.evidence, "vips": sorted(str(v) for v in self.vips), "held_here": [str(v) for v in self.held],
                "other_owner_macs": self.other_owners, "adverts_sent_seen": self.sent_by_us}  # fmt: skip


def outbound_firewall(inst: Instance) -> list[Finding]:
    """Do our adverts leave? A firewall rule they meet, confirmed when we hold the VIP and none left."""
    out: list[Finding] = []
    facts, cfg, held, sent_by_us, src, ev = inst.facts, inst.cfg, inst.held, inst.sent_by_us, inst.src, inst.evidence
    iface, vrid = cfg.interface, cfg.vrid
    dsts = [p.address for p in cfg.unicast_peers] if cfg.unicast else [cfg.group]
    out_blocks = fw.dedupe_blocks(b for d in dsts for b in fw.find_blocks(
        facts.rulesets, fw.vrrp_packet("out", iface, src, d, None if cfg.unicast else "new")))  # fmt: skip
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
    return out


def inbound_drops(inst: Instance) -> list[Finding]:
    """Do the others' adverts reach our socket? A firewall rule, else rp_filter, else an unexplained host drop."""
    out: list[Finding] = []
    facts, cfg, theirs, rx_srcs, src, ev = inst.facts, inst.cfg, inst.theirs, inst.rx_srcs, inst.src, inst.evidence
    iface, vrid = cfg.interface, cfg.vrid
    sources: list[IPAddress | None] = sorted({s.src for s in theirs}, key=str) or [None]
    in_dst = src if cfg.unicast else cfg.group
    in_blocks: list[fw.Block] = []
    if in_dst is not None:
        for peer_src in sources:
            pkt = fw.vrrp_packet("in", iface, peer_src, in_dst, None if cfg.unicast else "new")
            in_blocks += fw.find_blocks(facts.rulesets, pkt)
        in_blocks = fw.dedupe_blocks(in_blocks)
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
        offlink = [s for s in not_delivered if not facts.on_link(iface, s.src)]
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
    return out


def group_membership(inst: Instance) -> list[Finding]:
    """A daemon runs here in multicast mode: has its interface joined the VRRP group?"""
    out: list[Finding] = []
    facts, cfg, ev = inst.facts, inst.cfg, inst.evidence
    iface = cfg.interface
    daemon_here = bool(facts.daemons)
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
    return out


def vip_blocked(inst: Instance) -> list[Finding]:
    """Is traffic to a VIP dropped here (strict mode / no_accept, or another rule), but not traffic to us?"""
    out: list[Finding] = []
    facts, cfg, held, ev = inst.facts, inst.cfg, inst.held, inst.evidence
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
            f"add `accept` to vrrp_instance {cfg.name} in {facts.config_file()} (keeps vrrp_strict's other checks), or "
            "remove vrrp_strict / strict_mode, then reload the daemon (systemctl reload keepalived)"
            if strictish else fw.accept_rule_for(b, iface, "in", facts.firewalld, vip=vip)
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
                f"add `accept` to vrrp_instance {cfg.name} in {facts.config_file()}, or remove vrrp_strict",
                Confidence.MEDIUM,
                ["configuration only: this host does not hold the VIP now"],
            )
        )
    return out


def ownership(inst: Instance) -> list[Finding]:
    """Who is master now: a split brain (and its cause), nobody, or one owner (the healthy basis)."""
    out: list[Finding] = []
    facts, cfg, held, other_owners, sent_by_us = inst.facts, inst.cfg, inst.held, inst.other_owners, inst.sent_by_us
    theirs, rx_srcs, vips, owners, basis = inst.theirs, inst.rx_srcs, inst.vips, inst.owners, inst.basis
    iface, vrid = cfg.interface, cfg.vrid
    daemon_here = bool(facts.daemons)
    owner_ev = inst.owner_evidence
    if owners > 1:
        out += _split_brain(inst)
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
            heard = [s for s in theirs if s.mac == owner_mac]
            basis.append(f"{cfg.name}: one owner of the VIP: {facts.who(owner_mac)}")
            if heard:
                basis.append(f"{cfg.name}: its adverts arrive ({heard[0].count} in {facts.window:.1f} s)")
                if heard[0].src in rx_srcs:
                    basis.append(f"{cfg.name}: and reach a protocol-{51 if cfg.auth_type == 2 else 112} socket")
    return out


INSTANCE_RULES: tuple[Callable[[Instance], list[Finding]], ...] = (
    outbound_firewall,
    inbound_drops,
    group_membership,
    vip_blocked,
    ownership,
)


def healthy_confidence(inst: Instance) -> Confidence:
    """How sure "healthy" is for this instance: did multicast (or unicast) demonstrably work?

    Runs after INSTANCE_RULES: it adds to the basis the ownership rule began.
    """
    if inst.owners != 1:
        return Confidence.MEDIUM
    facts, cfg, basis = inst.facts, inst.cfg, inst.basis
    sent_by_us, theirs, rx_srcs = inst.sent_by_us, inst.theirs, inst.rx_srcs
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


# --- helpers ------------------------------------------------------------------------------------


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


def _split_brain(inst: Instance) -> list[Finding]:
    """Two or more owners: the split brain itself, and what this host can prove about its cause."""
    facts, cfg, held, other_owners, sent_by_us = inst.facts, inst.cfg, inst.held, inst.other_owners, inst.sent_by_us
    senders, owner_ev = inst.senders, inst.owner_evidence
    iface = cfg.interface
    out: list[Finding] = []
    vip_text = ", ".join(owner_ev["vips"])
    owners_text = ", ".join(facts.who(m) for m in other_owners) + (" and this host" if held else "")
    out.append(
        Finding(
            F.SPLIT_BRAIN,
            Severity.ERROR,
            f"split brain: {vip_text} is held by {owners_text}",
            owner_ev,
            f"find the cause with `vrrpkit investigate` on {facts.who(other_owners[0])} too",
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
    peers = facts.cluster_peers(cfg, other_owners)
    convert = convert_line(facts, cfg, peers)
    if lost_mcast and not cfg.unicast:
        igmp_asked = iface in facts.igmp_queried
        basis = [
            f"{', '.join(facts.who(m) for m in lost_mcast)} answers ARP for the VIP (so it is up, reachable and "
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
                f"multicast between this host and {', '.join(facts.who(m) for m in lost_mcast)} is lost: "
                + ("they answer unicast and hold" if len(lost_mcast) > 1 else "it answers unicast and holds")
                + f" {vip_text}, but {'their' if len(lost_mcast) > 1 else 'its'} multicast adverts to {cfg.group} "
                f"never reach {iface} (a cloud network or a switch that drops multicast)",
                {**owner_ev, "silent_owners": [facts.who(m) for m in lost_mcast],
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
                f"{', '.join(facts.who(m) for m in macs)} holds {vip_text} but none of its adverts reach {iface}"
                + (", although its IGMP reports do: multicast works, protocol 112 from it is dropped (its own "
                   "output firewall, or a filter for protocol 112 on the path)" if lost_vrrp else
                   ": check that its unicast_peer list names this host and that nothing drops protocol 112"),
                {**owner_ev, "silent_owners": [facts.who(m) for m in macs]},
                f"run `vrrpkit investigate` on {facts.who(macs[0])}; there: nft list ruleset | grep -n -e vrrp "
                "-e 112 -e 'policy drop', and allow it: nft insert rule inet filter output meta l4proto 112 accept",
                Confidence.HIGH if lost_vrrp else Confidence.MEDIUM,
                ["it answers ARP for the VIP, its adverts never arrive in 3+ intervals"]
                + (["its IGMP membership report arrived (multicast works from it)"] if lost_vrrp else []),
            )
        )
    return out


def _names(senders: list[Sender]) -> str:
    return ", ".join(sorted(str(s.src) for s in senders))


def _sender_ev(s: Sender) -> dict[str, Any]:
    return {"src": str(s.src), "mac": s.mac, "adverts": s.count, "ttl": sorted(s.ttls)}

