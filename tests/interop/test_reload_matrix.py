"""A reload keeps state like keepalived's: the same edits, reloaded into keepalived 2.2.7 and into
vrrpkit in one lab run, with the same keepalived as the backup of both (see reload_matrix.py).

For every edit: where keepalived's VIP stays on the master, vrrpkit's does too; where keepalived
hands over, vrrpkit hands over no later than Skew_Time after it; no VIP sits on two hosts longer
than keepalived's does; the VIPs end where keepalived's end; the same number of notify calls. One
edit is a deliberate difference, tested on its own: a file with an error is not applied by vrrpkit.
About 25 s of namespace time.
"""

from __future__ import annotations

from collections.abc import Callable

from needs import KEEPALIVED
from reload_matrix import DIVERGING, ROUTE, SCENARIOS, SKEW_TIME, Outcome, render, run_matrix

from vrrpkit.lab import Lab

pytestmark = KEEPALIVED

JITTER = 0.25  # two daemons' timers and process wake-ups in one busy lab: what "as long as" allows


def _subject(final: dict[str, set[str]], host: str) -> list[list[str]]:
    """Holders per VIP, in order, with the daemon under test named `subject`."""
    return [sorted("subject" if h == host else h for h in holders) for holders in final.values()]


def _states(calls: list[str]) -> list[str]:
    """`INSTANCE K3 BACKUP 90` -> `INSTANCE BACKUP`: what a notify script is told, minus the names."""
    return sorted(f"{c.split()[0]} {c.split()[2]}" for c in calls)


def test_reload_matrix_side_by_side_with_keepalived(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(3, ipv6=False)
    table = run_matrix(lab)
    print("\n" + render(table))
    problems = []
    for scenario in SCENARIOS:
        ka: Outcome = table[scenario.name]["keepalived"]
        vk: Outcome = table[scenario.name]["vrrpkit"]
        where = f"{scenario.name}: keepalived {ka.timeline}, vrrpkit {vk.timeline}"
        if ka.changes == 0 and vk.changes:
            problems.append(f"{where}: the VIP moved where keepalived's stayed")
        if scenario.handover:
            if ka.handover_at is None:
                problems.append(f"{where}: keepalived did not hand over (the lab did not measure what it should)")
            elif vk.handover_at is None or vk.handover_at > ka.handover_at + SKEW_TIME:
                problems.append(f"{where}: vrrpkit handed over at {vk.handover_at}, keepalived at {ka.handover_at}")
        if vk.both_held > ka.both_held + JITTER:
            problems.append(f"{where}: two holders for {vk.both_held:.2f}s, keepalived {ka.both_held:.2f}s")
        if _subject(vk.final, "h2") != _subject(ka.final, "h1"):
            problems.append(f"{where}: VIPs end on {vk.final}, keepalived's on {ka.final}")
        # keepalived tells a removed or restarted instance's scripts FAULT, vrrpkit STOP
        # (docs/divergences.md); everywhere else the scripts hear the same states
        restarted = scenario.name in ("remove the instance", "multicast -> unicast")
        if len(vk.notifies) != len(ka.notifies) or (not restarted and _states(vk.notifies) != _states(ka.notifies)):
            problems.append(f"{where}: notify calls {vk.notifies}, keepalived {ka.notifies}")
    for host in ("h1", "h2"):  # the master that stayed master installed the route the reload added
        shown = lab.exec(host, ["ip", "route", "show", ROUTE]).stdout
        if "via 192.0.2.3" not in shown:
            problems.append(f"{host}: no route {ROUTE} after the reload: {shown!r}")
    assert not problems, "\n".join(problems)


def test_a_reload_with_an_error_keeps_the_running_config_where_keepalived_applies_its_fallback(
    make_lab: Callable[..., Lab],
) -> None:
    """keepalived skips the mistyped VIP, so it removes it from the master (and its 2.2.7 backup,
    now hearing another VIP list, takes the VIP too); vrrpkit refuses the file and changes nothing."""
    lab = make_lab(3, ipv6=False)
    table = run_matrix(lab, [DIVERGING])
    print("\n" + render(table))
    ka, vk = table[DIVERGING.name]["keepalived"], table[DIVERGING.name]["vrrpkit"]
    mistyped = [v for v in ka.final if v.startswith("198.51.100.")]
    assert mistyped and "h1" not in ka.final[mistyped[0]], ka.timeline  # keepalived dropped it from the master
    assert vk.changes == 0 and not vk.notifies, vk.timeline
    assert all(holders == {"h2"} for holders in vk.final.values()), vk.final
    log = next(p for p in lab.processes("h2") if p.kind == "vrrpkit").log()
    assert "keeping the running configuration" in log
