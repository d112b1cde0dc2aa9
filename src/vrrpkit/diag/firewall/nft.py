"""``nft -j list ruleset`` to the firewall model (pure: it parses text it is given).

Why JSON and not ``nft list ruleset``: every expression comes structured (payload, meta, ct, set
references) instead of as text to re-parse, and every rule carries its handle, which the fix needs
for ``nft insert rule ... position H``.
An expression this reader does not understand becomes an unknown condition, so the walk reports
the rule as uncertain instead of guessing.
"""

from __future__ import annotations

import json
from ipaddress import ip_network
from typing import Any

from vrrpkit.diag.firewall.model import PROTOCOLS, Chain, Cond, Rule, Ruleset

NFPROTO = {"ipv4": 4, "ipv6": 6, "ip": 4, "ip6": 6}

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

