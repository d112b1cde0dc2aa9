"""Would this host's firewall drop a VRRP advert (or traffic to a VIP)? Ruleset analysis, pure.

Why evaluate instead of grep: "is there a rule mentioning 112?" is the wrong question. An input
chain with ``policy drop`` and no accept for VRRP drops adverts without mentioning them, an earlier
``ct state established accept`` hides the problem for unicast but not for multicast (the catalogue's
acassen/keepalived#2643), and keepalived's strict mode drops *VIP* traffic with a rule on a set. So
both front ends (``nft -j list ruleset`` and ``iptables-save``) are turned into one small model of
chains, conditions and verdicts, and a concrete packet (an advert from a peer to 224.0.0.18, TTL 255,
conntrack state new) is walked through every base chain of its hook, following jumps and gotos.

Every condition evaluates to True, False or None (unknown: an ``xt`` match, ``fib``, a limit). A
drop reached only past unknown conditions is reported as uncertain, never silently dropped or
asserted; the verdict logic turns that into confidence.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any, Literal

from vrrpkit.core.config import IPAddress

Tri = bool | None
Direction = Literal["in", "out"]

PROTOCOLS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "vrrp": 112, "carp": 112,
             "esp": 50, "ah": 51, "sctp": 132, "gre": 47}  # fmt: skip
NFPROTO = {"ipv4": 4, "ipv6": 6, "ip": 4, "ip6": 6}
IN_HOOKS = ("ingress", "prerouting", "input")
OUT_HOOKS = ("output", "postrouting", "egress")
_HOOK_ORDER = {"ingress": 0, "prerouting": 1, "input": 2, "output": 3, "postrouting": 4, "egress": 5}
IPT_PRIORITY = {"raw": -300, "mangle": -150, "filter": 0, "security": 50}
IPT_HOOK = {"PREROUTING": "prerouting", "INPUT": "input", "OUTPUT": "output", "POSTROUTING": "postrouting"}
MAX_DEPTH = 16


@dataclass(frozen=True)
class Packet:
    """The packet to walk through the rules. ``None`` fields are unknown (conditions on them: None)."""

    direction: Direction
    family: int
    l4proto: int
    dst: IPAddress
    src: IPAddress | None = None
    iif: str | None = None
    oif: str | None = None
    ttl: int = 255
    ct_state: str | None = "new"
    pkttype: str | None = None  # host, multicast, broadcast
    dport: int | None = None


# --- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cond:
    """One condition: ``field op values``; ``negate`` for != / iptables ``!``."""

    field: str
    values: tuple[Any, ...] = ()
    op: str = "=="
    negate: bool = False
    family: int | None = None  # ip/ip6 payload matches only ever match their own family
    text: str = ""
    l4: int | None = None  # `tcp dport 22`, `icmp type ...` only ever match that protocol

    def eval(self, pkt: Packet) -> Tri:
        if self.family is not None and pkt.family != self.family:
            return False  # `ip protocol vrrp` never matches an IPv6 packet, even negated
        if self.l4 is not None and pkt.l4proto != self.l4:
            return False  # nft adds the protocol dependency to a transport-header match itself
        result = self._eval(pkt)
        if result is None:
            return None
        return (not result) if self.negate else result

    def _eval(self, pkt: Packet) -> Tri:
        f = self.field
        if f == "unknown":
            return None
        if f == "l4proto":
            return pkt.l4proto in self.values
        if f == "nfproto":
            return pkt.family in self.values
        if f in ("saddr", "daddr"):
            addr = pkt.src if f == "saddr" else pkt.dst
            if addr is None:
                return None
            return any(_addr_in(addr, v) for v in self.values)
        if f in ("iifname", "oifname"):
            name = pkt.iif if f == "iifname" else pkt.oif
            if name is None:
                return None
            return any(fnmatch.fnmatchcase(name, str(v).replace("+", "*")) for v in self.values)
        if f == "ct_state":
            if pkt.ct_state is None:
                return None
            return pkt.ct_state in self.values
        if f == "pkttype":
            if pkt.pkttype is None:
                return None
            return pkt.pkttype in self.values
        if f == "ttl":
            return _compare(pkt.ttl, self.op, self.values)
        if f == "dport":
            if pkt.dport is None:
                return None
            return any(_num_in(pkt.dport, v) for v in self.values)
        return None


@dataclass(frozen=True)
class Rule:
    conds: tuple[Cond, ...]
    verdict: str | None  # accept drop reject jump goto return continue queue, or None (no verdict)
    target: str | None = None
    text: str = ""
    handle: int | None = None
    position: int = 0  # 1-based index in its chain (iptables -I CHAIN N)


@dataclass
class Chain:
    source: str  # "nftables" or "iptables" / "ip6tables"
    family: str  # nft family: ip ip6 inet netdev bridge arp
    table: str
    name: str
    hook: str | None = None
    priority: int = 0
    policy: str = "accept"
    device: str | None = None
    type: str = "filter"
    rules: list[Rule] = field(default_factory=list)

    @property
    def ident(self) -> str:
        return f"{self.family} {self.table} {self.name}"

    def applies_to(self, family: int) -> bool:
        return {"ip": family == 4, "ip6": family == 6, "inet": True, "netdev": True}.get(self.family, False)


@dataclass
class Ruleset:
    source: str
    chains: dict[tuple[str, str, str], Chain] = field(default_factory=dict)  # (family, table, name)
    tables: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def base_chains(self, direction: Direction, family: int, iface: str | None) -> list[Chain]:
        hooks = IN_HOOKS if direction == "in" else OUT_HOOKS
        found = [
            c
            for c in self.chains.values()
            if c.hook in hooks and c.type != "nat" and c.applies_to(family)
            and (c.family != "netdev" or c.device is None or iface is None or c.device == iface)
        ]  # fmt: skip
        return sorted(found, key=lambda c: (_HOOK_ORDER.get(c.hook or "", 9), c.priority))


@dataclass(frozen=True)
class Block:
    """A place where the packet is (or may be) dropped."""

    source: str
    family: str
    table: str
    chain: str
    hook: str
    base_chain: str
    verdict: str  # drop, reject, policy-drop
    text: str
    handle: int | None
    position: int
    certain: bool
    uncertain_because: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "family": self.family,
            "table": self.table,
            "chain": self.chain,
            "hook": self.hook,
            "verdict": self.verdict,
            "rule": self.text,
            "handle": self.handle,
            "certain": self.certain,
            "uncertain_because": list(self.uncertain_because),
        }

    @property
    def where(self) -> str:
        handle = f" handle {self.handle}" if self.handle is not None else ""
        if self.source == "nftables":
            return f"table {self.family} {self.table} chain {self.chain}{handle}"
        return f"{self.source} -t {self.table} chain {self.chain} rule {self.position}"


# --- evaluation --------------------------------------------------------------------------------


def rule_matches(rule: Rule, pkt: Packet) -> tuple[Tri, list[str]]:
    """All conditions: False if any is False, None if any unknown (their texts returned), else True."""
    unknown: list[str] = []
    for cond in rule.conds:
        r = cond.eval(pkt)
        if r is False:
            return False, []
        if r is None:
            unknown.append(cond.text or cond.field)
    return (None, unknown) if unknown else (True, [])


@dataclass
class _Walk:
    verdict: str | None = None  # accept / drop / reject, or None: fell through
    rule: Rule | None = None
    chain: Chain | None = None
    uncertain: list[str] = field(default_factory=list)  # conditions we could not evaluate on the way
    maybe_drops: list[tuple[Chain, Rule, list[str]]] = field(default_factory=list)


def _walk(rs: Ruleset, chain: Chain, pkt: Packet, depth: int, walk: _Walk) -> bool:
    """Walk one chain; True when a final verdict was reached (stored in ``walk``)."""
    if depth > MAX_DEPTH:
        walk.uncertain.append("jump depth")
        return False
    for rule in chain.rules:
        if rule.verdict is None:
            continue
        match, unknown = rule_matches(rule, pkt)
        if match is False:
            continue
        if match is None:
            if rule.verdict in ("drop", "reject"):
                walk.maybe_drops.append((chain, rule, unknown))
            elif rule.verdict in ("accept", "jump", "goto", "queue"):
                walk.uncertain += unknown
            continue
        if rule.verdict in ("accept", "drop", "reject"):
            walk.verdict, walk.rule, walk.chain = rule.verdict, rule, chain
            return True
        if rule.verdict == "queue":
            walk.uncertain.append(rule.text or "queue")
            continue
        if rule.verdict == "return":
            return False
        if rule.verdict in ("jump", "goto") and rule.target:
            sub = rs.chains.get((chain.family, chain.table, rule.target))
            if sub is None:
                walk.uncertain.append(f"missing chain {rule.target}")
                continue
            if _walk(rs, sub, pkt, depth + 1, walk):
                return True
            if rule.verdict == "goto":
                return False
    return False


def find_blocks(rulesets: list[Ruleset], pkt: Packet) -> list[Block]:
    """Every drop the packet meets in the base chains of its hook, certain ones first."""
    iface = pkt.iif if pkt.direction == "in" else pkt.oif
    blocks: list[Block] = []
    for rs in rulesets:
        for base in rs.base_chains(pkt.direction, pkt.family, iface):
            walk = _Walk()
            finished = _walk(rs, base, pkt, 0, walk)
            hook = base.hook or ""
            for chain, rule, unknown in walk.maybe_drops:
                blocks.append(_block(rs, chain, base, hook, rule.verdict or "drop", rule, False, unknown))
            if finished and walk.verdict in ("drop", "reject") and walk.chain and walk.rule:
                certain = not walk.uncertain
                blocks.append(_block(rs, walk.chain, base, hook, walk.verdict, walk.rule, certain, walk.uncertain))
            elif not finished and base.policy == "drop":
                blocks.append(
                    Block(rs.source, base.family, base.table, base.name, hook, base.name, "policy-drop",
                          f"policy drop (no rule accepts it in {base.ident})", None, 0, not walk.uncertain,
                          tuple(walk.uncertain))
                )
    return sorted(blocks, key=lambda b: not b.certain)


def _block(rs: Ruleset, chain: Chain, base: Chain, hook: str, verdict: str, rule: Rule, certain: bool,
           unknown: list[str]) -> Block:  # fmt: skip
    return Block(rs.source, chain.family, chain.table, chain.name, hook, base.name, verdict, rule.text, rule.handle,
                 rule.position, certain, tuple(unknown))  # fmt: skip


def _addr_in(addr: IPAddress, value: Any) -> bool:
    if isinstance(value, tuple) and len(value) == 2:  # range
        try:
            lo, hi = ip_address(value[0]), ip_address(value[1])
        except ValueError:
            return False
        return lo.version == addr.version and lo <= addr <= hi  # type: ignore[operator]
    if isinstance(value, IPv4Network | IPv6Network):
        return value.version == addr.version and addr in value
    return False


def _num_in(n: int, value: Any) -> bool:
    if isinstance(value, tuple):
        return int(value[0]) <= n <= int(value[1])
    try:
        return n == int(value)
    except (TypeError, ValueError):
        return False


def _compare(n: int, op: str, values: tuple[Any, ...]) -> Tri:
    if not values:
        return None
    v = values[0]
    if isinstance(v, tuple):
        return int(v[0]) <= n <= int(v[1])
    try:
        v = int(v)
    except (TypeError, ValueError):
        return None
    return {"==": n == v, "!=": n != v, "<": n < v, ">": n > v, "<=": n <= v, ">=": n >= v}.get(op)


# --- nftables JSON front end ------------------------------------------------------------------

_PAYLOAD_FIELDS = {
    ("ip", "protocol"): ("l4proto", 4),
    ("ip", "saddr"): ("saddr", 4),
    ("ip", "daddr"): ("daddr", 4),
    ("ip", "ttl"): ("ttl", 4),
    ("ip6", "nexthdr"): ("l4proto", 6),
    ("ip6", "saddr"): ("saddr", 6),
    ("ip6", "daddr"): ("daddr", 6),
    ("ip6", "hoplimit"): ("ttl", 6),
}
_META_FIELDS = {"l4proto": "l4proto", "nfproto": "nfproto", "iifname": "iifname", "oifname": "oifname",
                "iif": "iifname", "oif": "oifname", "pkttype": "pkttype"}  # fmt: skip
_IGNORED_STATEMENTS = {"counter", "log", "comment", "mangle", "notrack", "flow", "dup", "fwd", "set", "synproxy",
                       "meter", "ct helper", "xt_target"}  # fmt: skip
_VERDICTS = ("accept", "drop", "reject", "jump", "goto", "return", "continue", "queue")


def parse_nft_json(document: dict[str, Any] | str) -> Ruleset:
    """``nft -j list ruleset`` output -> Ruleset. Unknown expressions become unknown conditions."""
    if isinstance(document, str):
        document = json.loads(document)
    items = document.get("nftables", []) if isinstance(document, dict) else []
    rs = Ruleset("nftables")
    sets: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    pending: list[dict[str, Any]] = []
    for item in items:
        if "table" in item:
            t = item["table"]
            rs.tables.append((t.get("family", ""), t.get("name", "")))
        elif "chain" in item:
            c = item["chain"]
            chain = Chain(
                "nftables", c.get("family", ""), c.get("table", ""), c.get("name", ""), c.get("hook"),
                int(c.get("prio", 0)) if isinstance(c.get("prio", 0), int) else 0, c.get("policy", "accept"),
                c.get("dev"), c.get("type", "filter"),
            )  # fmt: skip
            rs.chains[(chain.family, chain.table, chain.name)] = chain
        elif "set" in item:
            s = item["set"]
            sets[(s.get("family", ""), s.get("table", ""), s.get("name", ""))] = tuple(
                _nft_value(e) for e in s.get("elem", []) or []
            )
        elif "rule" in item:
            pending.append(item["rule"])
    for r in pending:
        key = (r.get("family", ""), r.get("table", ""), r.get("chain", ""))
        owner = rs.chains.get(key)
        if owner is not None:
            owner.rules.append(_nft_rule(r, sets, len(owner.rules) + 1))
    return rs


def _nft_rule(r: dict[str, Any], sets: dict[tuple[str, str, str], tuple[Any, ...]], position: int) -> Rule:
    conds: list[Cond] = []
    verdict: str | None = None
    target: str | None = None
    texts: list[str] = []
    for stmt in r.get("expr", []):
        if not isinstance(stmt, dict) or not stmt:
            continue
        name, body = next(iter(stmt.items()))
        if name == "match":
            cond = _nft_match(body, sets, (r.get("family", ""), r.get("table", "")))
            conds.append(cond)
            texts.append(cond.text)
        elif name in _VERDICTS:
            verdict = name
            if name in ("jump", "goto") and isinstance(body, dict):
                target = body.get("target")
                texts.append(f"{name} {target}")
            else:
                texts.append(name + (" with " + _render(body) if name == "reject" and body else ""))
        elif name in _IGNORED_STATEMENTS:
            if name == "counter":
                continue
            texts.append(name)
        else:  # limit, quota, xt, lookup, ... : may or may not match
            text = "xt " + str(body.get("name", "")) if name == "xt" and isinstance(body, dict) else name
            conds.append(Cond("unknown", text=text))
            texts.append(text)
    if r.get("comment"):
        texts.append(f'comment "{r["comment"]}"')
    return Rule(tuple(conds), verdict, target, " ".join(t for t in texts if t), r.get("handle"), position)


def _nft_match(body: dict[str, Any], sets: dict[tuple[str, str, str], tuple[Any, ...]], where: tuple[str, str]) -> Cond:
    op = body.get("op", "==")
    left, right = body.get("left"), body.get("right")
    text = f"{_render(left)} {'' if op in ('==', 'in') else op + ' '}{_render(right)}".replace("  ", " ")
    fieldname: str | None = None
    family: int | None = None
    if isinstance(left, dict) and "payload" in left:
        p = left["payload"]
        proto, fld = p.get("protocol"), p.get("field")
        if (proto, fld) in _PAYLOAD_FIELDS:
            fieldname, family = _PAYLOAD_FIELDS[(proto, fld)]
        elif fld == "dport" and proto in ("udp", "tcp"):
            fieldname = "dport"
    elif isinstance(left, dict) and "meta" in left:
        fieldname = _META_FIELDS.get(left["meta"].get("key", ""))
    elif isinstance(left, dict) and "ct" in left and left["ct"].get("key") == "state":
        fieldname = "ct_state"
    if fieldname is None:
        return Cond("unknown", family=_implied_family(left), text=text, l4=_implied_l4(left))
    values = _nft_right(right, sets, where, fieldname)
    if values is None:
        return Cond("unknown", family=family, text=text)
    if fieldname == "ttl":
        return Cond("ttl", values, op if op in ("==", "!=", "<", ">", "<=", ">=") else "==", family=family, text=text)
    negate = op == "!="
    if op not in ("==", "!=", "in"):
        return Cond("unknown", text=text)
    if fieldname == "dport":
        return Cond("dport", values, negate=negate, text=text, l4=_implied_l4(left))
    return Cond(fieldname, values, negate=negate, family=family, text=text)


def _implied_family(expr: Any) -> int | None:
    """The family an expression can only match in: ``ip6 daddr . iifname`` or ``icmpv6 type`` never
    match an IPv4 packet, even when we cannot evaluate the rest (nft adds that dependency itself)."""
    found: set[int] = set()

    def visit(e: Any) -> None:
        if isinstance(e, dict):
            payload = e.get("payload")
            if isinstance(payload, dict):
                proto = payload.get("protocol")
                if proto in ("ip", "icmp", "igmp"):
                    found.add(4)
                elif proto in ("ip6", "icmpv6"):
                    found.add(6)
            for v in e.values():
                visit(v)
        elif isinstance(e, list):
            for v in e:
                visit(v)

    visit(expr)
    return found.pop() if len(found) == 1 else None


def _implied_l4(expr: Any) -> int | None:
    """The transport protocol a payload expression belongs to (tcp, udp, icmp, ...), if any."""
    if isinstance(expr, dict) and isinstance(expr.get("payload"), dict):
        proto = expr["payload"].get("protocol")
        number = PROTOCOLS.get(proto) if isinstance(proto, str) else None
        if number is not None and proto not in ("ip", "ip6"):
            return number
    return None


def _nft_right(right: Any, sets: dict[tuple[str, str, str], tuple[Any, ...]], where: tuple[str, str],
               fieldname: str) -> tuple[Any, ...] | None:  # fmt: skip
    if isinstance(right, str) and right.startswith("@"):
        elems = sets.get((where[0], where[1], right[1:]))
        if elems is None:
            return None
        return tuple(_coerce(e, fieldname) for e in elems)
    if isinstance(right, dict) and "set" in right:
        return tuple(_coerce(_nft_value(e), fieldname) for e in right["set"])
    if isinstance(right, list):
        return tuple(_coerce(_nft_value(e), fieldname) for e in right)
    return (_coerce(_nft_value(right), fieldname),)


def _nft_value(v: Any) -> Any:
    if isinstance(v, dict):
        if "prefix" in v:
            return ip_network(f"{v['prefix']['addr']}/{v['prefix']['len']}", strict=False)
        if "range" in v:
            return tuple(_nft_value(x) for x in v["range"])
        if "elem" in v:
            return _nft_value(v["elem"].get("val"))
    return v


def _coerce(v: Any, fieldname: str) -> Any:
    """Names to numbers and addresses to networks, so evaluation compares like with like."""
    if fieldname == "l4proto":
        return PROTOCOLS.get(v, v) if isinstance(v, str) else v
    if fieldname == "nfproto":
        return NFPROTO.get(v, v) if isinstance(v, str) else v
    if fieldname in ("saddr", "daddr"):
        if isinstance(v, str):
            try:
                return ip_network(v, strict=False)
            except ValueError:
                return v
        if isinstance(v, tuple):
            return tuple(str(x) for x in v)
    if fieldname == "dport" and isinstance(v, str) and v.isdigit():
        return int(v)
    return v


def _render(v: Any) -> str:
    """Compact nft-like text of a JSON expression, for evidence and messages."""
    if v is None:
        return ""
    if isinstance(v, str | int):
        return str(v)
    if isinstance(v, list):
        return ",".join(_render(x) for x in v)
    if isinstance(v, dict):
        if "payload" in v:
            return f"{v['payload'].get('protocol', '')} {v['payload'].get('field', '')}".strip()
        if "meta" in v:
            return f"meta {v['meta'].get('key', '')}"
        if "ct" in v:
            return f"ct {v['ct'].get('key', '')}"
        if "prefix" in v:
            return f"{v['prefix']['addr']}/{v['prefix']['len']}"
        if "range" in v:
            return "-".join(_render(x) for x in v["range"])
        if "set" in v:
            return "{ " + ", ".join(_render(x) for x in v["set"]) + " }"
        if "type" in v:  # reject with ...
            return f"{v.get('type')} {v.get('expr', '')}".strip()
        return json.dumps(v, sort_keys=True)
    return str(v)


# --- iptables-save front end ------------------------------------------------------------------


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


# --- reading the host's rules (I/O) -----------------------------------------------------------


def _run(argv: list[str], timeout: float = 5.0) -> tuple[int, str, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)
    return done.returncode, done.stdout, done.stderr


def _tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


def read_rulesets() -> tuple[list[Ruleset], list[str]]:
    """nftables, iptables and ip6tables as this host has them; notes say what could not be read."""
    rulesets: list[Ruleset] = []
    notes: list[str] = []
    nft = _tool("nft")
    if nft:
        rc, out, err = _run([nft, "-j", "list", "ruleset"])
        if rc == 0:
            try:
                rulesets.append(parse_nft_json(out))
            except (ValueError, KeyError, TypeError) as exc:
                notes.append(f"nft -j list ruleset: unreadable ({exc})")
        else:
            notes.append(f"nft -j list ruleset failed: {err.strip()[:200]}")
    else:
        notes.append("nft not installed: nftables rules not checked")
    for family, name in ((4, "iptables-legacy-save"), (6, "ip6tables-legacy-save"), (4, "iptables-save"),
                         (6, "ip6tables-save")):  # fmt: skip
        tool = _tool(name)
        if tool is None:
            continue
        if "legacy" not in name and any(r.source == ("iptables" if family == 4 else "ip6tables") for r in rulesets):
            continue
        rc, out, _err = _run([tool])
        if rc == 0 and out.strip():
            rs = parse_iptables_save(out, family)
            if "legacy" not in name and _is_nft_backend(tool):
                rs.notes.append("iptables-nft: these rules are also in the nftables ruleset")
                continue  # the nft ruleset already holds them, with handles
            rulesets.append(rs)
    return rulesets, notes


def _is_nft_backend(tool: str) -> bool:
    rc, out, _ = _run([tool, "--version"])
    return rc == 0 and "nf_tables" in out


def firewalld_running() -> bool:
    tool = _tool("firewall-cmd")
    if tool is None:
        return False
    rc, out, _ = _run([tool, "--state"])
    return rc == 0 and out.strip() == "running"


def vrrp_packet(direction: Direction, iface: str, src: IPAddress | None, dst: IPAddress,
                ct_state: str | None = "new") -> Packet:  # fmt: skip
    """An advert as it crosses this host's hooks: protocol 112, TTL 255."""
    family = dst.version
    return Packet(
        direction, family, 112, dst, src,
        iif=iface if direction == "in" else None,
        oif=iface if direction == "out" else None,
        ct_state=ct_state,
        pkttype=("multicast" if dst.is_multicast else "host") if direction == "in" else None,
    )  # fmt: skip


def vip_packet(iface: str, vip: IPAddress, proto: int = 1) -> Packet:
    """A new connection (ICMP echo by default) from a client to the VIP."""
    return Packet("in", vip.version, proto if vip.version == 4 else 58, vip, None, iif=iface, ct_state="new",
                  pkttype="host")  # fmt: skip


def accept_rule_for(block: Block, iface: str, direction: Direction, firewalld: bool = False) -> str:
    """The exact command that lets VRRP through ahead of ``block``."""
    if firewalld or block.table == "firewalld":
        return ("firewall-cmd --permanent --add-rich-rule='rule protocol value=\"vrrp\" accept' && "
                "firewall-cmd --reload")  # fmt: skip
    dev = f'{"iifname" if direction == "in" else "oifname"} "{iface}"'
    if block.source == "nftables":
        position = f" position {block.handle}" if block.handle is not None else ""
        return f"nft insert rule {block.family} {block.table} {block.chain}{position} {dev} meta l4proto vrrp accept"
    tool = block.source
    flag = "-i" if direction == "in" else "-o"
    number = f" {block.position}" if block.position else ""
    return f"{tool} -t {block.table} -I {block.chain}{number} {flag} {iface} -p vrrp -j ACCEPT"

