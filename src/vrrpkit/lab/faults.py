"""The switch's fault rules as nft script text, computed from the lab's fault state and nothing else.

Every fault the switch applies (cloud mode, random loss, partitions) is an nftables rule in one
`bridge` table in the switch namespace: the kernels here have no `netem`. The table's forward hook
jumps to three chains, and `fault_rules` rewrites all three in one transaction, so a reader never
sees half a fault set. Chains are flushed rather than the table recreated so that the hook and any
counters of rules that a script does not touch survive.

This module is pure (no processes, no files; an import-linter contract holds it to that): the
rules can be checked to the character without root, and the Lab only hands the text to `nft -f`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

CHAINS = ("lab_partition", "lab_loss", "lab_cloud")  # in the order the forward hook jumps to them
DROP_PERIOD = 1000  # a drop pattern says which VRRP packets of every thousand, by their order
# Every ICMPv6 neighbour-discovery type (RS, RA, NS, NA, redirect = 133-137): what a VPC still forwards.
ND_TYPES = "nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect"


def table_script(table: str) -> str:
    """The `bridge` table with its forward hook and the three (empty) fault chains it jumps to."""
    jumps = "".join(f"    jump {chain}\n" for chain in CHAINS)
    chains = "".join(f"  chain {chain} {{ }}\n" for chain in CHAINS)
    return (
        f"table bridge {table} {{\n"
        "  chain forward {\n"
        "    type filter hook forward priority 0; policy accept;\n"
        f"{jumps}"
        "  }\n"
        f"{chains}"
        "}\n"
    )


def fault_rules(
    table: str,
    ports: Mapping[str, str],
    *,
    cloud: bool = False,
    loss: Mapping[str, int] | None = None,
    partition: Sequence[Sequence[str]] = (),
    drops: Mapping[str, Sequence[int]] | None = None,
) -> str:
    """The nft script that sets the fault chains of bridge table `table` to exactly these faults.

    `ports` maps each host named in `loss` or `partition` to its switch-side port; `loss` maps a
    host to the percentage of its frames to drop, each way; `partition` lists groups of hosts that
    may not reach each other (a host in no group reaches everyone); `drops` maps a host to a drop
    pattern: the VRRP packets (protocol 112) from and to it whose order, modulo DROP_PERIOD, is in
    the list are dropped, each way, so two runs that send the same packets lose the same ones (a
    fair comparison of two daemons under loss; random loss compares their luck). Every rule counts
    what it matches and carries a comment, which is how `Lab.counters()` names it.
    """
    t = f"bridge {table}"
    lines = [f"flush chain {t} lab_cloud", f"flush chain {t} lab_loss", f"flush chain {t} lab_partition"]
    if cloud:
        lines += [
            f'add rule {t} lab_cloud ip daddr 224.0.0.0/4 counter drop comment "cloud-ipv4"',
            f'add rule {t} lab_cloud ip6 daddr ff00::/8 icmpv6 type {{ {ND_TYPES} }} counter accept comment "cloud-nd"',
            f'add rule {t} lab_cloud ip6 daddr ff00::/8 counter drop comment "cloud-ipv6"',
        ]
    for host, pct in sorted((loss or {}).items()):
        for direction, match in (("in", "iifname"), ("out", "oifname")):
            lines.append(
                f'add rule {t} lab_loss {match} "{ports[host]}" numgen random mod 100 < {pct} '
                f'counter drop comment "loss-{host}-{direction}"'
            )
    for host, pattern in sorted((drops or {}).items()):
        if not pattern:
            continue
        which = ", ".join(str(i) for i in sorted(set(pattern)))
        for direction, match in (("in", "iifname"), ("out", "oifname")):
            lines.append(
                f'add rule {t} lab_loss {match} "{ports[host]}" meta l4proto 112 numgen inc mod {DROP_PERIOD} '
                f'{{ {which} }} counter drop comment "drops-{host}-{direction}"'
            )
    groups = [[ports[h] for h in group] for group in partition]
    for i, a in enumerate(groups):
        for b in groups[i + 1 :]:
            for src, dst in ((a, b), (b, a)):
                lines.append(
                    f"add rule {t} lab_partition iifname {{ {', '.join(src)} }} oifname {{ {', '.join(dst)} }} "
                    'counter drop comment "partition"'
                )
    return "\n".join(lines) + "\n"
