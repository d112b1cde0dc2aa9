"""One model of a host firewall, and the walk of a concrete packet through it (pure).

Both front ends (``nft.py``, ``iptables.py``) produce a Ruleset of chains, conditions and verdicts;
``find_blocks`` walks a Packet through every base chain of its hook, following jumps and gotos, and
returns every place that drops it. Every condition evaluates to True, False or None (unknown: an
``xt`` match, ``fib``, a limit); a drop reached only past unknown conditions comes back uncertain,
never silently dropped or asserted.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any, Literal

from vrrpkit.core.config import IPAddress

Tri = bool | None
Direction = Literal["in", "out"]

PROTOCOLS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "vrrp": 112, "carp": 112,
             "esp": 50, "ah": 51, "sctp": 132, "gre": 47}  # fmt: skip
IN_HOOKS = ("ingress", "prerouting", "input")
OUT_HOOKS = ("output", "postrouting", "egress")
_HOOK_ORDER = {"ingress": 0, "prerouting": 1, "input": 2, "output": 3, "postrouting": 4, "egress": 5}
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
            return False  # `ip protocol 112` never matches an IPv6 packet, even negated
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



def dedupe_blocks(blocks: Iterable[Block]) -> list[Block]:
    """One Block per rule, certain ones first: several packets (one per peer) often meet the same rule."""
    seen: set[tuple[Any, ...]] = set()
    out: list[Block] = []
    for b in blocks:
        k = (b.source, b.family, b.table, b.chain, b.handle, b.position, b.verdict)
        if k not in seen:
            seen.add(k)
            out.append(b)
    return sorted(out, key=lambda b: not b.certain)


# --- the packets we ask about, and the fix ------------------------------------------------------


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


def accept_rule_for(
    block: Block, iface: str, direction: Direction, firewalld: bool = False, vip: IPAddress | None = None
) -> str:
    """The exact command that lets VRRP (or, with ``vip``, traffic to that VIP) through ahead of ``block``.

    Protocol 112 is written as a number in every tool's syntax: the name ``vrrp`` resolves through
    /etc/protocols, which minimal images and containers do not have (netbase is not installed), and
    nft/iptables then reject the whole command.
    """
    if firewalld or block.table == "firewalld":
        family = "ipv6" if vip is not None and vip.version == 6 else "ipv4"
        what = f'family="{family}" destination address="{vip}"' if vip is not None else 'protocol value="112"'
        return f"firewall-cmd --permanent --add-rich-rule='rule {what} accept' && firewall-cmd --reload"
    dev = f'{"iifname" if direction == "in" else "oifname"} "{iface}"'
    if block.source == "nftables":
        position = f" position {block.handle}" if block.handle is not None else ""
        match = f"ip{'6' if vip.version == 6 else ''} daddr {vip}" if vip is not None else "meta l4proto 112"
        return f"nft insert rule {block.family} {block.table} {block.chain}{position} {dev} {match} accept"
    tool = block.source
    flag = "-i" if direction == "in" else "-o"
    number = f" {block.position}" if block.position else ""
    match = f"-d {vip}" if vip is not None else "-p 112"
    return f"{tool} -t {block.table} -I {block.chain}{number} {flag} {iface} {match} -j ACCEPT"

