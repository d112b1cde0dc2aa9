"""Checks across the configurations of several hosts that form one or more virtual routers.

keepalived only ever sees one host's file, so this is where vrrpkit can say what no single
`keepalived -t` can: the hosts disagree (a VIP list, an interval, a password), a unicast peer
list forgets a host, two hosts claim the same priority, or two start as MASTER. Instances are
matched across files by (VRID, address family); diagnostics point at the line in the file they
are about.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from vrrpkit.config.diagnostics import Diagnostic, Reporter
from vrrpkit.config.model import ParseResult
from vrrpkit.core.config import InstanceConfig


def lint_cluster(results: Sequence[ParseResult]) -> list[Diagnostic]:
    r = Reporter()
    routers: dict[tuple[int, int], list[tuple[ParseResult, InstanceConfig]]] = defaultdict(list)
    for res in results:
        for inst in res.instances:
            routers[(inst.vrid, inst.family)].append((res, inst))
    for (vrid, family), members in sorted(routers.items()):
        if len(members) < 2:
            continue
        label = f"VRID {vrid} (IPv{family})"
        ref_res, ref = members[0]
        ref_file = ref_res.sources[ref.name].file
        for res, inst in members[1:]:
            src = res.sources[inst.name]
            checks = (
                ("version", "version", ref.version, inst.version),
                ("advert_int", "advert_int", ref.advert_int_cs / 100, inst.advert_int_cs / 100),
                ("authentication", "authentication", (ref.auth_type, ref.auth_pass), (inst.auth_type, inst.auth_pass)),
            )
            for what, kw, a, b in checks:
                if a != b:
                    shown_a, shown_b = (_auth(ref), _auth(inst)) if what == "authentication" else (a, b)
                    r.add(src.at(kw), "cluster-mismatch",
                          f"{label}: {what} is {shown_b} here but {shown_a} in {ref_file} ({ref.name}); "
                          f"adverts between them are dropped and both hosts become MASTER")
            va, vb = set(ref.advertised_addresses()), set(inst.advertised_addresses())
            if va != vb:
                diff = ", ".join(str(x) for x in sorted(va ^ vb, key=str))
                r.add(src.at("virtual_ipaddress"), "cluster-mismatch",
                      f"{label}: the virtual addresses differ from {ref_file} ({ref.name}) in {diff}; keepalived "
                      f"before 2.3.3 drops such adverts, later ones log 'not present in MASTER advert'")
        modes = {inst.unicast for _, inst in members}
        if len(modes) > 1:
            for res, inst in members:
                if not inst.unicast:
                    r.add(res.sources[inst.name].loc_line(), "cluster-mode-mismatch",
                          f"{label}: this host uses multicast while others use unicast_peer; unicast hosts reject "
                          f"multicast adverts and the reverse, so each side elects its own MASTER")
        for res, inst in members:
            if not inst.unicast:
                continue
            peers = {p.address for p in inst.unicast_peers}
            for ores, other in members:
                if other is inst:
                    continue
                their = other.unicast_src_ip
                if their is None:
                    continue
                if their not in peers:
                    r.add(res.sources[inst.name].at("unicast_peer"), "cluster-peers",
                          f"{label}: unicast_peer does not list {their} ({other.name} in "
                          f"{ores.sources[other.name].file}); that host never hears this one")
        by_prio: dict[int, list[tuple[ParseResult, InstanceConfig]]] = defaultdict(list)
        for res, inst in members:
            by_prio[inst.priority].append((res, inst))
        for prio, same in by_prio.items():
            for res, inst in same[1:]:
                first_res, first = same[0]
                r.add(res.sources[inst.name].at("priority"), "cluster-priority-tie",
                      f"{label}: priority {prio} here and in {first_res.sources[first.name].file}; the tie is broken "
                      f"by the higher IP address, which is rarely what was meant")
        masters = [(res, inst) for res, inst in members if inst.state == "MASTER"]
        if len(masters) > 1:
            for res, inst in masters[1:]:
                r.add(res.sources[inst.name].at("state"), "cluster-multiple-masters",
                      f"{label}: {len(masters)} hosts start as MASTER; use state BACKUP everywhere (or on all but "
                      f"one) and let priority decide")
    return r.items


def _auth(inst: InstanceConfig) -> str:
    if not inst.auth_type:
        return "none"
    return f"{'PASS' if inst.auth_type == 1 else 'AH'} {inst.auth_pass.decode(errors='replace')!r}"
