"""What a running vrrpkit counted about its instances (its control socket), as findings.

keepalived's own account is read in ``keepalived_rules``; vrrpkit's status adds what only vrrpkit
can tell: how often a silent master turned out alive. A BACKUP whose master says nothing for a
Master_Down interval, less half the skew time, sends a takeover claim (an advert of its own) and
takes over only if the master stays silent until the interval ends (docs/divergences.md,
``takeover-claim``). A master that answered
the claim was alive all along: its adverts were lost on the way, or it stalled for a few intervals.
keepalived would have taken the VIP and handed it back each time; vrrpkit held, and this is the
trace it leaves. Pure: the facts in, findings out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vrrpkit.diag import findings as F
from vrrpkit.diag.findings import Confidence, Finding, Severity

if TYPE_CHECKING:
    from vrrpkit.diag.verdict import Case


def vrrpkit_account(case: Case) -> list[Finding]:
    """One warning per instance whose silent master answered a takeover claim since the daemon started."""
    status = case.facts.daemon_status
    if status is None:
        return []
    out: list[Finding] = []
    for inst in status.instances:
        answered = _count(inst.counters.get("claims_answered"))
        if answered <= 0:
            continue
        sent = _count(inst.counters.get("claims_sent"))
        master = inst.master or "its master"
        times = "once" if answered == 1 else f"{answered} times"
        line = (f"{inst.name}: {master} fell silent for a whole Master_Down interval {times} since vrrpkit "
                f"started here, and answered vrrpkit's takeover claim each time: its adverts are being lost "
                f"on the way to this host, or it stalls (keepalived would have taken the VIP over and "
                f"handed it back each time)")  # fmt: skip
        out.append(Finding(
            F.CLAIMS_ANSWERED, Severity.WARNING, line,
            {"instance": inst.name, "interface": inst.interface, "vrid": inst.vrid, "master": inst.master,
             "claims_sent": sent, "claims_answered": answered, "advert_int": inst.master_advert_int,
             "uptime_s": round(status.uptime, 1)},
            "measure the path both ways: run `vrrpkit probe --peer <the other host> --count 100` on both hosts "
            "at once (it counts what each path loses); then look at the master's CPU (steal time, hogs, a "
            "frozen VM) and at policers or a busy link between them; a longer advert_int tolerates longer gaps",
            Confidence.MEDIUM,
            [line, "vrrpkit's own counters (claims_sent, claims_answered, `vrrpkit status --json`)"],
        ))  # fmt: skip
    return out


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
