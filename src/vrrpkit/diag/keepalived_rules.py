"""What keepalived's own counters and states say, as evidence next to the wire's (pure).

keepalived counts every advert it rejects, by reason. When the listening window misses the other
host's adverts (they stopped for a moment, the window was short), those counters still say that
adverts arrived and why they were thrown away, so the verdict does not depend on the timing of one
window. Counters read twice around the window (``--signal-keepalived``) say what happened *during*
it (strong evidence); a single read says what happened since keepalived started (a hint: the
cause may be gone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vrrpkit.core.config import InstanceConfig
from vrrpkit.diag import findings as F
from vrrpkit.diag.facts import Facts
from vrrpkit.diag.findings import Confidence, Finding, Severity
from vrrpkit.diag.kadata import InstanceState

if TYPE_CHECKING:
    from vrrpkit.diag.verdict import Case

# counter -> (finding code, what keepalived rejected, why it matters)
REJECTIONS: dict[str, tuple[str, str]] = {
    "auth_failure": (F.AUTH_MISMATCH, "adverts with a wrong password"),
    "auth_type_mismatch": (F.AUTH_MISMATCH, "adverts with another authentication type"),
    "ttl_errors": (F.TTL_NOT_255, "adverts whose TTL was not 255"),
    "interval_errors": (F.INTERVAL_MISMATCH, "adverts with another advert interval"),
    "address_list_errors": (F.VRID_COLLISION, "adverts listing other VIPs than ours"),
}


def keepalived_account(case: Case) -> list[Finding]:
    """keepalived's rejections as findings (or as evidence on the wire's finding of the same kind),
    and its state of each instance as a fact."""
    facts = case.facts
    out: list[Finding] = []
    for state in facts.keepalived:
        cfg = next((c for c in facts.instances if c.name == state.name), None)
        vrid = state.vrid if state.vrid is not None else (cfg.vrid if cfg else None)
        iface = state.interface or (cfg.interface if cfg else "")
        split = _split_now(facts, cfg)
        for counter, (code, what) in REJECTIONS.items():
            now_n = (state.window or {}).get(counter, 0)
            total = (state.counters or {}).get(counter, 0)
            during = now_n > 0
            n = now_n if during else total
            if n <= 0:
                continue
            ev = {"instance": state.name, "interface": iface, "vrid": vrid, "keepalived_counter": counter,
                  "count": n, "during_window": during, "keepalived": facts.keepalived_source}  # fmt: skip
            line = (f"keepalived here rejected {n} {what} for {state.name} "
                    + (f"during the {facts.window:.1f} s window" if during else "since it started"))  # fmt: skip
            wire = [f for f in case.table.flags if f.code == code and f.evidence.get("vrid") == vrid]
            if wire:  # the wire saw it too: one finding, with both kinds of evidence
                for f in wire:
                    f.evidence["keepalived"] = ev
                    f.basis.append(line)
                continue
            current = during or split  # a rejection now, or an old one while the VIP is held twice now
            out.append(Finding(
                code, Severity.ERROR if current else Severity.WARNING,
                line + ("" if during else " (and this host and another hold the VIP now)" if split else
                        " (the cause may be gone: run again with --signal-keepalived to see the window alone)"),
                ev, _fix(code, state, facts.config_file()),
                Confidence.HIGH if during else Confidence.MEDIUM if split else Confidence.LOW,
                [line, "keepalived's own counters (keepalived.stats)"]
                + (["more than one host answers for the VIP now"] if split and not during else []),
            ))  # fmt: skip
        windowed = state.window is not None
        out.append(_state_fact(state, state.window if windowed else state.counters, windowed))
        if cfg is not None and state.state:
            case.healthy_basis.append(f"{state.name}: keepalived says {state.state}"
                                      + (f" (priority {state.effective_priority})" if state.effective_priority else ""))
    return out


def _split_now(facts: Facts, cfg: InstanceConfig | None) -> bool:
    """Whether this host and another both hold the instance's VIP now (a split brain in progress)."""
    if cfg is None:
        return False
    vips = set(cfg.advertised_addresses())
    held = bool(vips & facts.vips_local)
    others = {m for v in vips for m in facts.vip_claims.get(v, set())}
    return held and bool(others)


def _state_fact(state: InstanceState, counts: dict[str, int] | None, during: bool) -> Finding:
    c = counts or {}
    traffic = (f"; {c.get('advert_sent', 0)} adverts sent, {c.get('advert_received', 0)} received "
               + ("in the window" if during else "since it started")) if counts else ""  # fmt: skip
    return Finding(F.KEEPALIVED_STATE, Severity.INFO,
                   f"keepalived: {state.name} (VRID {state.vrid}) is {state.state or '?'}{traffic}",
                   state.as_dict())  # fmt: skip


def _fix(code: str, state: InstanceState, file: str) -> str:
    fixes: dict[str, str] = {
        F.AUTH_MISMATCH: f"use the same authentication block in vrrp_instance {state.name} on every host ({file})",
        F.TTL_NOT_255: "keep the cluster on one L2 segment (nothing may route the adverts), or go unicast",
        F.INTERVAL_MISMATCH: f"set the same advert_int in vrrp_instance {state.name} on every host ({file})",
        F.VRID_COLLISION: f"the same virtual_ipaddress list on every host of {state.name}; another cluster on "
                          f"VRID {state.vrid} needs another virtual_router_id",
    }
    return fixes.get(code, "")
