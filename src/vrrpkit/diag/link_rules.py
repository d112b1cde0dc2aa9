"""Rules about the link as a whole: a capture's history, and a host with nothing to examine (pure).

``investigate -r`` has only the adverts of a capture: it judges split brain (two masters
interleaving, with when each became master), gaps without a master, and says who was master when
(the healthy basis). A live investigation on a host that runs no VRRP daemon and has no
configuration has nothing of its own to judge: that is said as its own verdict, with the next step,
instead of "healthy".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from vrrpkit.diag import findings as F
from vrrpkit.diag.findings import Confidence, Finding, Severity

if TYPE_CHECKING:
    from vrrpkit.diag.verdict import Case


def utc(t: float) -> str:
    """A capture timestamp as people compare it with logs: ISO 8601, UTC, microseconds."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def capture_history(case: Case) -> list[Finding]:
    """Capture mode only: split brains and gaps over the whole file, and who was master when."""
    facts, table, timeline = case.facts, case.table, case.timeline
    if facts.capture is None:
        return []
    if not facts.capture.get("vrrp"):
        skipped = ", ".join(f"{n} {why}" for why, n in facts.capture.get("skipped", {}).items()) or "none"
        return [Finding(F.INCONCLUSIVE, Severity.ERROR,
                        f"the capture holds no VRRP advert ({facts.capture.get('frames', 0)} frames; "
                        f"skipped: {skipped})",
                        {"capture": facts.capture},
                        "capture on the VIP's interface for at least 3 advert intervals, VRRP only: tcpdump -i IFACE "
                        "-w vrrp.pcap 'ip proto 112 or ip6 proto 112' (on a VLAN trunk: 'vlan and (ip proto 112)')",
                        Confidence.LOW, ["no advert to judge"])]  # fmt: skip
    out = [f for f in table.flags if f.code == F.SPLIT_BRAIN]
    for f in out:
        since = ", ".join(f"{m['src']} at {utc(m['became_master'])}" for m in f.evidence.get("masters", []))
        f.basis = ["two senders with non-zero priority advertise the same VRID, interleaved, in the capture",
                   f"each became master (capture time): {since}"]  # fmt: skip
        f.fix = "run `vrrpkit investigate` on each master, or `vrrpkit watch -r` on this capture for the timeline"
    if timeline is not None:
        out += [f for f in timeline.flags if f.code == F.MASTER_GAP]
        history = timeline.as_dict()
        for v in history["vrids"]:
            masters = v["masters"]
            who = "; ".join(f"{m['src']} {utc(m['from'])} .. {utc(m['to'])} ({m['adverts']} adverts)" for m in masters)
            case.healthy_basis.append(f"VRID {v['vrid']}: master {who or 'none'} in {facts.window:.1f} s of capture")
            longest = max((m["interval"] for m in masters), default=1.0) or 1.0
            enough = facts.window >= 3 * longest
            if not enough:
                case.healthy_basis.append(f"VRID {v['vrid']}: the capture is shorter than 3 advert intervals")
            case.confidences.append(Confidence.MEDIUM if enough else Confidence.LOW)
    case.healthy_basis.append("from a capture only: the host's firewall, addresses and daemons were not examined")
    return out


def nothing_here(case: Case) -> list[Finding]:
    """Live only: no VRRP daemon runs here and no instance is configured: there is nothing to call healthy."""
    facts = case.facts
    if facts.capture is not None or facts.daemons or facts.instances or facts.diagnostics:
        return []
    heard = sorted({f"VRID {k[2]} on {k[0]}" for k in facts.vrids()})
    return [Finding(
        F.NO_VRRP_HERE, Severity.ERROR,
        "no VRRP daemon runs on this host and no vrrp_instance is configured: nothing here to judge"
        + (f" (the link carries {', '.join(heard)})" if heard else ""),
        {"daemons": [], "instances": [], "heard": heard, "window_s": round(facts.window, 3)},
        "run `vrrpkit investigate` on a host of the cluster (where keepalived or `vrrpkit run` runs), or give its "
        "configuration with -f FILE; `vrrpkit watch -i IFACE` shows who advertises on this link",
        Confidence.HIGH, ["no process holds a protocol-112 socket", "no configuration was found or given"],
    )]  # fmt: skip
