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

``decide`` runs RULES, one function per kind of cause, in order over one Case; the rules for a
configured instance are in ``instance_rules``, the facts they read in ``facts``, and the fixes that
need more than the finding in ``fixes``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from vrrpkit.control.snapshot import Snapshot
from vrrpkit.diag import findings as F
from vrrpkit.diag.daemon_rules import vrrpkit_account
from vrrpkit.diag.facts import Facts
from vrrpkit.diag.findings import Confidence, Finding, Report, Severity, conclude
from vrrpkit.diag.fixes import fix_advert_flag
from vrrpkit.diag.instance_rules import INSTANCE_RULES, Instance, healthy_confidence
from vrrpkit.diag.keepalived_rules import keepalived_account
from vrrpkit.diag.link_rules import capture_history, nothing_here
from vrrpkit.diag.timeline import Timeline
from vrrpkit.diag.watch import VridTable


@dataclass
class Case:
    """What every rule reads: the facts and the VRID table fed with the tap's sightings. The rules also
    leave here why the host looks healthy, in case no error is found: the basis in words, and one
    confidence per instance examined (per VRID heard when no instance is configured)."""

    facts: Facts
    table: VridTable
    healthy_basis: list[str] = field(default_factory=list)
    confidences: list[Confidence] = field(default_factory=list)
    timeline: Timeline | None = None  # investigate -r: the capture's history

    @classmethod
    def of(cls, facts: Facts, table: VridTable | None = None, timeline: Timeline | None = None) -> Case:
        if table is None:
            table = VridTable(facts.instances, facts.own_addresses(), facts.own_macs())
            for s in sorted(facts.sightings, key=lambda s: s.time):
                table.feed(s)
        return cls(facts, table, timeline=timeline)


def decide(facts: Facts, table: VridTable | None = None, timeline: Timeline | None = None) -> Report:
    """Findings from facts, then the verdict (findings.conclude ranks causes above symptoms).

    ``findings.RANK`` decides which error is the verdict, whatever order the rules run in; RULES'
    order only decides which of two findings of equal rank comes first (and so wins). ``table`` and
    ``timeline``: already fed (a capture streamed through them); else the table is fed the facts'
    sightings here.
    """
    case = Case.of(facts, table, timeline)
    out = [finding for rule in RULES for finding in rule(case)]
    healthy_conf = min(case.confidences, key=lambda c: ["high", "medium", "low"].index(c.value),
                       default=Confidence.LOW)  # fmt: skip
    report = conclude(out, case.healthy_basis, healthy_conf)
    report.summary = _summary(facts, case.table)
    return report


# --- configuration and interfaces ------------------------------------------------------------


def config_errors(case: Case) -> list[Finding]:
    """The parser's errors (the verdict) and warnings (a note)."""
    facts = case.facts
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


def interface_state(case: Case) -> list[Finding]:
    """Every interface the configuration names: missing, down, or without multicast where it needs it."""
    facts = case.facts
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
                    f"{facts.config_file()} --peer PEER_IP",
                )
            )
    return out


# --- the adverts on the wire, and each instance ---------------------------------------------------


def advert_flags(case: Case) -> list[Finding]:
    """What the VRID table flags in the adverts themselves (TTL, password, interval, VIPs), with fixes.

    Split brain is left out: ``ownership`` judges it per instance, with the VIP's owners.
    """
    flags = [f for f in case.table.flags if f.code != F.SPLIT_BRAIN]
    for flag in flags:
        fix_advert_flag(flag, case.facts)
        _how_long(flag, case)
        flag.basis = ["seen on the wire by the packet tap (before any firewall)" if case.facts.capture is None
                      else f"seen in the capture {case.facts.capture.get('file')}"]  # fmt: skip
    return flags


def _how_long(flag: Finding, case: Case) -> None:
    """Say in the finding what was seen and over how long: the sender's adverts, first and last."""
    ev = flag.evidence
    key = (str(ev.get("interface")), 6 if ":" in str(ev.get("src")) else 4, int(ev.get("vrid") or 0))
    sender = case.table.sender(key, ip_address(str(ev.get("src")))) if ev.get("src") else None
    if sender is None:
        return
    span = sender.last - sender.first
    ev["seen"] = {"adverts": sender.count, "first": round(sender.first, 6), "last": round(sender.last, 6),
                  "seconds": round(span, 3), "window_s": round(case.facts.window, 3)}  # fmt: skip
    flag.message += f" ({sender.count} advert{'s' if sender.count != 1 else ''} over {span:.1f} s"
    flag.message += f" of a {case.facts.window:.1f} s window)" if case.facts.capture is None else " of the capture)"


def instances(case: Case) -> list[Finding]:
    """INSTANCE_RULES for every configured instance whose interface is up (``interface_state`` covers
    the others)."""
    facts = case.facts
    out: list[Finding] = []
    for cfg in facts.instances:
        info = facts.ifaces.get(cfg.interface)
        if info is None or not info.exists or not info.up:
            continue
        inst = Instance.of(facts, cfg, case.table)
        for rule in INSTANCE_RULES:
            out += rule(inst)
        case.confidences.append(healthy_confidence(inst))
        case.healthy_basis += inst.basis
    return out


def link_only(case: Case) -> list[Finding]:
    """Without a configuration we can still report split brains between senders and VIP owners, and
    say which master each VRID heard has (the healthy basis)."""
    facts, table = case.facts, case.table
    if facts.instances or facts.capture is not None:
        return []
    out = [f for f in table.flags if f.code == F.SPLIT_BRAIN]
    for f in out:
        f.fix = "run `vrrpkit investigate -f /etc/keepalived/keepalived.conf` on each master"
    case.healthy_basis.append("no instance configured: only the link was examined")
    end = max((s.time for s in facts.sightings), default=0.0)
    for row in table.table(end):
        masters = ", ".join(row["masters"]) or "none now"
        vips = sorted({v for sender in row["senders"] for v in sender["vips"]})
        case.healthy_basis.append(
            f"VRID {row['vrid']} on {row['interface']}: master {masters} (VIPs {', '.join(vips)})"
        )
        case.confidences.append(Confidence.MEDIUM)
    return out


# --- peers and facts worth knowing ----------------------------------------------------------------


def peers_down(case: Case) -> list[Finding]:
    """A peer we were told about (flag or config) that answers nothing, or answers without a VRRP daemon."""
    facts = case.facts
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


def facts_worth_knowing(case: Case) -> list[Finding]:
    """Info findings: the daemon here, the peers that answer, where multicast works, and notes."""
    facts = case.facts
    out: list[Finding] = []
    if facts.capture is not None:
        pass  # a capture says nothing about the daemons of the host it was taken on
    elif facts.daemons:
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


RULES: tuple[Callable[[Case], list[Finding]], ...] = (
    config_errors,
    interface_state,
    advert_flags,
    keepalived_account,
    vrrpkit_account,
    instances,
    link_only,
    capture_history,
    nothing_here,
    peers_down,
    facts_worth_knowing,
)


# --- the report's summary -------------------------------------------------------------------------


def _summary(facts: Facts, table: VridTable) -> dict[str, Any]:
    """The report's description of this host and its link, next to the verdict."""
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
        "keepalived": {"instances": [k.as_dict() for k in facts.keepalived], **facts.keepalived_source}
        if facts.keepalived_source else None,
        "vip_owners": {str(v): sorted(m) for v, m in facts.vip_claims.items()},
        "peers": [p.as_dict() for p in facts.peers.values()],
        "vrids": table.table(max((s.last for r in table.rows.values() for s in r.senders.values()), default=0.0)),
        **({"capture": facts.capture} if facts.capture is not None else {}),
    }  # fmt: skip


def _daemon_instances(status: Snapshot | None) -> list[dict[str, Any]] | None:
    """What a running `vrrpkit run` says about itself (control socket), for the report."""
    if status is None:
        return None
    return [
        {"name": i.name, "state": i.state, "master": i.master,
         "advert_rcvd": i.counters.get("advert_rcvd"), "advert_sent": i.counters.get("advert_sent"),
         "dropped": i.counters.get("dropped"), "split_brain": i.split_brain}
        for i in status.instances
    ]  # fmt: skip
