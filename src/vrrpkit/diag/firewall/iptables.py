"""``iptables-save`` and ``ip6tables-save`` output to the firewall model (pure: it parses text it is given).

Each table's built-in chains become base chains with the priority nftables gives that table (raw
-300, mangle -150, filter 0, security 50), so a packet meets them in the kernel's order; a rule's
position in its chain is what ``iptables -I CHAIN N`` needs for the fix. Matches and options this
reader does not know become unknown conditions.
"""

from __future__ import annotations

import contextlib
import shlex
from ipaddress import ip_network
from typing import Any

from vrrpkit.diag.firewall.model import PROTOCOLS, Chain, Cond, Rule, Ruleset

IPT_PRIORITY = {"raw": -300, "mangle": -150, "filter": 0, "security": 50}
IPT_HOOK = {"PREROUTING": "prerouting", "INPUT": "input", "OUTPUT": "output", "POSTROUTING": "postrouting"}


def parse_iptables_save(text: str, family: int = 4) -> Ruleset:
    """``iptables-save`` (family 4) or ``ip6tables-save`` (6) output -> Ruleset."""
    source = "iptables" if family == 4 else "ip6tables"
    nft_family = "ip" if family == 4 else "ip6"
    rs = Ruleset(source)
    table = ""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = line[1:]
            rs.tables.append((nft_family, table))
            continue
        if line == "COMMIT":
            continue
        if line.startswith(":"):
            parts = line[1:].split()
            name = parts[0]
            policy = parts[1].lower() if len(parts) > 1 and parts[1] != "-" else "accept"
            hook = IPT_HOOK.get(name) if table in IPT_PRIORITY else None
            rs.chains[(nft_family, table, name)] = Chain(
                source, nft_family, table, name, hook, IPT_PRIORITY.get(table, 0), policy, None,
                "nat" if table == "nat" else "filter",
            )  # fmt: skip
            continue
        if line.startswith("-A "):
            try:
                tokens = shlex.split(line)
            except ValueError:
                tokens = line.split()
            name = tokens[1]
            chain = rs.chains.get((nft_family, table, name))
            if chain is None:
                chain = rs.chains[(nft_family, table, name)] = Chain(source, nft_family, table, name)
            chain.rules.append(_ipt_rule(tokens[2:], len(chain.rules) + 1, family, line))
    return rs


def _ipt_rule(tokens: list[str], position: int, family: int, line: str) -> Rule:
    conds: list[Cond] = []
    verdict: str | None = None
    target: str | None = None
    negate = False
    proto: str | None = None
    i = 0

    def value() -> str:
        nonlocal i
        i += 1
        return tokens[i] if i < len(tokens) else ""

    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            negate = True
            i += 1
            continue
        if tok in ("-p", "--protocol"):
            proto = value().lower()
            if proto != "all":
                num = PROTOCOLS.get(proto, int(proto) if proto.isdigit() else None)
                conds.append(Cond("l4proto", (num,), negate=negate, text=f"{'! ' if negate else ''}-p {proto}")
                             if num is not None else Cond("unknown", text=f"-p {proto}"))  # fmt: skip
        elif tok in ("-s", "--source", "-d", "--destination"):
            v = value()
            nets = []
            for part in v.split(","):
                with contextlib.suppress(ValueError):
                    nets.append(ip_network(part, strict=False))
            fld = "saddr" if tok in ("-s", "--source") else "daddr"
            conds.append(Cond(fld, tuple(nets), negate=negate, text=f"{'! ' if negate else ''}{tok} {v}"))
        elif tok in ("-i", "--in-interface", "-o", "--out-interface"):
            v = value()
            fld = "iifname" if tok in ("-i", "--in-interface") else "oifname"
            conds.append(Cond(fld, (v,), negate=negate, text=f"{'! ' if negate else ''}{tok} {v}"))
        elif tok in ("--ctstate", "--state"):
            v = value()
            states = tuple(s.lower() for s in v.split(","))
            conds.append(Cond("ct_state", states, negate=negate, text=f"{tok} {v}"))
        elif tok == "--pkt-type":
            v = value()
            conds.append(Cond("pkttype", (v.lower(),), negate=negate, text=f"--pkt-type {v}"))
        elif tok in ("--dport", "--destination-port", "--dports"):
            v = value()
            ports: list[Any] = []
            for part in v.split(","):
                a, _, b = part.partition(":")
                with contextlib.suppress(ValueError):
                    ports.append((int(a), int(b)) if b else int(a))
            conds.append(Cond("dport", tuple(ports), negate=negate, text=f"--dport {v}"))
        elif tok in ("-m", "--match"):
            module = value()
            if module not in ("state", "conntrack", "pkttype", "comment", "tcp", "udp", "multiport"):
                conds.append(Cond("unknown", text=f"-m {module}"))
        elif tok == "--comment":
            value()
        elif tok in ("-j", "--jump", "-g", "--goto"):
            t = value()
            upper = t.upper()
            if upper in ("ACCEPT", "DROP", "REJECT", "RETURN"):
                verdict = upper.lower()
            elif upper in ("LOG", "NFLOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TRACE", "AUDIT"):
                verdict = None
            elif upper in ("NFQUEUE", "QUEUE"):
                verdict = "queue"
            else:
                verdict, target = ("goto" if tok in ("-g", "--goto") else "jump"), t
            # the target's own options (--reject-with ...) follow; they do not change matching
            i = len(tokens)
            continue
        elif tok.startswith("-"):
            conds.append(Cond("unknown", text=tok))
            while i + 1 < len(tokens) and not tokens[i + 1].startswith("-") and tokens[i + 1] != "!":
                i += 1
        negate = False
        i += 1
    if family == 6:
        conds = [c if c.field != "l4proto" else Cond(c.field, c.values, c.op, c.negate, None, c.text) for c in conds]
    return Rule(tuple(conds), verdict, target, line, None, position)

