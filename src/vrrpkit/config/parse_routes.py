"""One line of virtual_routes/static_routes or virtual_rules/static_rules, read as keepalived 2.2.7 reads it.

keepalived's `alloc_route` and `alloc_rule` take `ip route add`/`ip rule add` syntax word by word
(no abbreviations). Most mistakes drop the whole line ("unknown route keyword", "Route must have a
destination", "No action specified for rule"); a few only drop their option (a bad `dport` range,
an unsupported `features` word). Each outcome is a diagnostic on the word it is about, so `check`
shows what keepalived would install. Where 2.2.7 has a parsing bug (a leading `inet6` swallows the
next word; `dport 30` without a range is rejected), vrrpkit reads the line as iproute2 would and
says so (config/divergences.py).

Words are resolved to kernel numbers here (route types, scopes, protocols); a routing table named
by anything but a number or a kernel name stays a name for the I/O layer to look up.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Literal, NoReturn, cast

from vrrpkit.config.lexer import Stmt
from vrrpkit.config.parser import Parser
from vrrpkit.config.written import RULE_START_PRIORITY
from vrrpkit.core.config import IPAddress
from vrrpkit.core.routing import RTN_TYPES, RTPROT_KEEPALIVED, IPNetwork, NextHop, Route, Rule, RuleAction

TABLES = {"unspec": 0, "default": 253, "main": 254, "local": 255}
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
#: iproute2's built-in rt_protos names (kernel constants; /etc/iproute2/rt_protos may add more).
PROTOCOLS = {
    "unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4, "gated": 8, "ra": 9, "mrt": 10,
    "zebra": 11, "bird": 12, "dnrouted": 13, "xorp": 14, "ntk": 15, "dhcp": 16, "keepalived": 18,
    "babel": 42, "openr": 99, "bgp": 186, "isis": 187, "ospf": 188, "rip": 189, "eigrp": 192,
}  # fmt: skip
#: ip_proto names for rules, as numbers (never /etc/protocols).
IP_PROTOS = {"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "sctp": 132}
#: RTA_METRICS words: name -> (may be `lock`ed, value limit).
METRICS: dict[str, tuple[bool, int]] = {
    "mtu": (True, 2**32 - 1), "advmss": (True, 2**32 - 1), "reordering": (True, 2**32 - 1),
    "window": (False, 2**32 - 1), "cwnd": (True, 2**32 - 1), "ssthresh": (True, 2**32 - 1),
    "initcwnd": (False, 2**32 - 1), "initrwnd": (False, 2**32 - 1), "hoplimit": (False, 255),
    "quickack": (False, 1), "fastopen_no_cookie": (False, 1),
}  # fmt: skip
TIME_METRICS = {"rtt": 8, "rttvar": 4, "rto_min": 1}  # a value with a unit is ms, scaled as iproute2 does


class _Bad(Exception):
    """The line is dropped (keepalived's `goto err`); the diagnostic has been reported."""


class _Words:
    """A cursor over a line's words with located error reports."""

    def __init__(self, p: Parser, item: Stmt, what: str) -> None:
        self.p, self.item, self.what = p, item, what
        self.i = 0
        self.family: int | None = None

    def more(self) -> bool:
        return self.i < len(self.item.words)

    @property
    def word(self) -> str:
        return self.item.words[self.i].text

    def take(self) -> str:
        """The next word (the value of an option); a missing value drops the line."""
        self.i += 1
        if self.i >= len(self.item.words):
            self.fail(f"`{self.item.words[self.i - 1].text}` needs a value", self.i - 1)
        return self.item.words[self.i].text

    def fail(self, msg: str, at: int | None = None) -> NoReturn:
        self.p.err(self.item.word_loc(self.i if at is None else at), f"{self.what}-invalid",
                   f"{msg}: keepalived drops this {self.what} ({self.item.keyword} ...)")
        raise _Bad

    def warn(self, msg: str) -> None:
        self.p.err(self.item.word_loc(self.i), f"{self.what}-option", msg)

    def set_family(self, family: int) -> None:
        if self.family is None:
            self.family = family
        elif self.family != family:
            self.fail(f"cannot mix IPv4 and IPv6 in one {self.what}")

    def number(self, text: str, hi: int, what: str, lo: int = 0) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            self.fail(f"invalid {what} {text!r}")
        if not lo <= value <= hi:
            self.fail(f"{what} {value} outside [{lo}, {hi}]")
        return value

    def address(self, text: str, what: str) -> IPAddress:
        try:
            addr = ip_address(text)
        except ValueError:
            self.fail(f"invalid {what} address {text!r}")
        self.set_family(addr.version)
        return addr

    def prefix(self, text: str, what: str) -> IPNetwork:
        """`default`, an address (a host route) or address/len; host bits must be clear, as the kernel wants."""
        if text in ("default", "all", "any"):
            return IPv6Network("::/0") if self.family == 6 else IPv4Network("0.0.0.0/0")
        try:
            net = ip_network(text, strict=True)
        except ValueError:
            try:
                ip_network(text, strict=False)
            except ValueError:
                self.fail(f"unknown {what} keyword or invalid prefix {text!r}")
            self.fail(f"{text} has host bits set (the kernel refuses it); write {ip_network(text, strict=False)}")
        self.set_family(net.version)
        return net

    def table(self, text: str) -> int | str:
        if text in TABLES:
            return TABLES[text]
        try:
            value = int(text, 0)
        except ValueError:
            return text  # a name from rt_tables: resolved when installed, checked by `check` on this host
        if not 0 <= value < 2**32:
            self.fail(f"routing table {text} out of range")
        return value

    def protocol(self, text: str) -> int:
        return PROTOCOLS[text] if text in PROTOCOLS else self.number(text, 255, "protocol")

    def scope(self, text: str) -> int:
        return SCOPES[text] if text in SCOPES else self.number(text, 255, "scope")

    def realms(self, text: str) -> int:
        src, _, dst = text.rpartition("/")
        return (self.number(src, 0xFFFF, "realm") << 16 if src else 0) | self.number(dst, 0xFFFF, "realm")


# --- routes ---------------------------------------------------------------------------------------


def _time_metric(w: _Words, name: str) -> int:
    text = w.take()
    for suffix, factor in (("msecs", 1), ("msec", 1), ("ms", 1), ("secs", 1000), ("sec", 1000), ("s", 1000)):
        if text.endswith(suffix) and text[: -len(suffix)]:
            try:
                ms = float(text[: -len(suffix)]) * factor
            except ValueError:
                w.fail(f"invalid {name} {text!r}")
            return round(ms * TIME_METRICS[name])
    return w.number(text, 2**32 - 1, name)  # raw: passed to the kernel as written


def _nexthops(w: _Words) -> list[NextHop]:
    hops: list[NextHop] = []
    while w.more() and w.word == "nexthop":
        via: IPAddress | None = None
        dev: str | None = None
        weight: int | None = None
        onlink = False
        realms: int | None = None
        w.i += 1
        while w.more() and w.word != "nexthop":
            word = w.word
            if word == "via":
                text = w.take()
                if text in ("inet", "inet6"):
                    w.set_family(4 if text == "inet" else 6)
                    text = w.take()
                via = w.address(text, "nexthop")
            elif word == "dev":
                dev = w.take()
            elif word == "weight":
                weight = w.number(w.take(), 256, "nexthop weight", lo=1)
            elif word == "onlink":
                onlink = True
            elif word == "realms":
                realms = w.realms(w.take())
                w.set_family(4)
            else:
                w.fail(f"route has trailing nonsense after nexthops: {word!r}")
            w.i += 1
        hops.append(NextHop(via, dev, weight, onlink, realms))
    if w.more():
        w.fail(f"route has trailing nonsense after nexthops: {w.word!r}")
    return hops


def route(p: Parser, item: Stmt, *, static: bool) -> Route | None:
    """One virtual_routes/static_routes line; None when keepalived would drop it."""
    w = _Words(p, item, "route")
    try:
        return _route(w, static)
    except _Bad:
        return None


def _route(w: _Words, static: bool) -> Route:
    values: dict[str, object] = {}
    metrics: dict[str, int] = {}
    locked: list[str] = []
    dst: IPNetwork | None = None
    rtype = RTN_TYPES["unicast"]
    track = True
    protocol: int | None = None
    hops: list[NextHop] = []
    while w.more():
        word = w.word
        if word in ("inet", "inet6"):
            w.set_family(4 if word == "inet" else 6)
        elif word == "src":
            values["src"] = w.address(w.take(), "route src")
        elif word in ("via", "gw"):
            if word == "gw":
                w.warn('"gw" for routes is deprecated; keepalived asks for "via"')
            text = w.take()
            if text in ("inet", "inet6"):
                w.set_family(4 if text == "inet" else 6)
                text = w.take()
            values["via"] = w.address(text, "route via")
        elif word == "from":
            net = w.prefix(w.take(), "route from")
            if net.version != 6:
                w.fail("route `from` is only supported with IPv6")
            values["from_"] = net
        elif word in ("tos", "dsfield"):
            values["tos"] = w.number(w.take(), 255, "TOS")
        elif word == "table":
            values["table"] = w.table(w.take())
        elif word == "protocol":
            protocol = w.protocol(w.take())
        elif word == "scope":
            values["scope"] = w.scope(w.take())
        elif word in ("metric", "priority", "preference"):
            values["metric"] = w.number(w.take(), 2**32 - 1, "metric")
        elif word in ("dev", "oif"):
            values["dev"] = w.take()
        elif word == "onlink":
            values["onlink"] = True
        elif word == "realms":
            values["realms"] = w.realms(w.take())
            w.set_family(4)
        elif word in METRICS or word in TIME_METRICS or word == "congctl":
            lockable = METRICS[word][0] if word in METRICS else True
            if lockable and w.i + 1 < len(w.item.words) and w.item.words[w.i + 1].text == "lock":
                w.i += 1
                locked.append(word)
            if word == "congctl":
                values["congctl"] = w.take()
            elif word in TIME_METRICS:
                metrics[word] = _time_metric(w, word)
            else:
                metrics[word] = w.number(w.take(), METRICS[word][1], word)
        elif word == "features":
            if w.take() == "ecn":
                metrics["features"] = 1
            else:
                w.warn(f"route feature {w.word!r} is not supported (only ecn); keepalived ignores it")
        elif word == "pref":
            text = w.take()
            w.set_family(6)
            values["pref"] = {"low": 3, "medium": 0, "high": 1}.get(text) if text in ("low", "medium", "high") \
                else w.number(text, 255, "pref")
        elif word == "expires":
            w.set_family(6)
            values["expires"] = w.number(w.take(), 2**32 - 1, "expires")
        elif word == "or":
            w.warn('"or" for routes is deprecated; keepalived asks for "nexthop"')
            first = values.pop("via", None)
            second = w.address(w.take(), '"or"')
            hops = [NextHop(cast("IPAddress | None", first)), NextHop(second)]
        elif word == "nexthop":
            hops = _nexthops(w)
            break
        elif word == "no_track":
            track = False
        elif word == "track_group" and static:
            w.take()  # the group is read by parse_static (`static_track`)
        elif word in ("as", "encap", "ttl-propagate"):
            w.fail(f"`{word}` (MPLS/lightweight tunnels) is not supported by vrrpkit")
        else:
            if word == "to":
                word = w.take()
            if word in RTN_TYPES:
                rtype = RTN_TYPES[word]
                word = w.take()
            dst = w.prefix(word, "route")
        w.i += 1
    if dst is None:
        w.fail("route must have a destination", at=0)
    assert dst is not None
    if dst.version != (w.family or dst.version):
        w.fail("cannot mix IPv4 and IPv6 in one route")
    if track:
        if protocol is not None and protocol != RTPROT_KEEPALIVED:
            w.warn(f"a tracked route has protocol keepalived ({RTPROT_KEEPALIVED}); keepalived resets "
                   f"protocol {protocol} (add no_track to keep it)")
        protocol = RTPROT_KEEPALIVED
        if not values.get("dev"):
            w.i = 0
            w.warn(f"route {dst} names no interface: keepalived cannot track it, so deleting it "
                   f"will not move the instance out of MASTER (add `dev`)")
            track = False
    family: Literal[4, 6] = 6 if dst.version == 6 else 4
    return Route(
        dst=dst, family=family, type=rtype, protocol=RTPROT_KEEPALIVED if protocol is None else protocol,
        metrics=tuple(sorted(metrics.items())), locked=tuple(locked), nexthops=tuple(hops), track=track,
        **values,  # type: ignore[arg-type]
    )


# --- rules ----------------------------------------------------------------------------------------


def _port_range(w: _Words, text: str, what: str) -> tuple[int, int] | None:
    lo_text, _, hi_text = text.partition("-")
    try:
        lo = int(lo_text)
        hi = int(hi_text) if hi_text else lo
    except ValueError:
        w.warn(f"invalid {what} range {text!r}: keepalived ignores it")
        return None
    if not 0 <= lo <= hi <= 65535:
        w.warn(f"invalid {what} range {text!r}: keepalived ignores it")
        return None
    return lo, hi


def rule(p: Parser, item: Stmt, priorities: dict[int, int], *, static: bool = False) -> Rule | None:
    """One virtual_rules/static_rules line; None when keepalived would drop it.

    `priorities` is keepalived's next_rule_priority_ipv4/6, shared by every rule block of the file:
    a rule without a preference takes the next one down."""
    w = _Words(p, item, "rule")
    try:
        return _rule(w, priorities, static)
    except _Bad:
        return None


def _rule(w: _Words, priorities: dict[int, int], static: bool) -> Rule:
    values: dict[str, object] = {}
    action: RuleAction | None = None
    table_option = False
    track = True

    def set_action(new: RuleAction) -> None:
        nonlocal action
        if action is not None:
            w.fail("a rule takes one of table/nop/goto/blackhole/prohibit/unreachable/l3mdev")
        action = new

    handlers: dict[str, Callable[[], None]] = {}

    def fwmark() -> None:
        text = w.take()
        mark, slash, mask = text.partition("/")
        values["fwmark"] = w.number(mark, 2**32 - 1, "fwmark")
        if slash:
            values["fwmask"] = w.number(mask, 2**32 - 1, "fwmark mask")

    def table() -> None:
        value = w.table(w.take())
        if value == 0:
            w.fail("table 0 is not valid")
        values["table"] = value
        set_action("table")

    def protocol() -> None:
        text = w.take()
        if text in PROTOCOLS or text.isdigit():
            values["protocol"] = w.protocol(text)
        else:
            w.warn(f"invalid rule protocol {text!r}: keepalived ignores it")

    def ip_proto() -> None:
        text = w.take()
        if text in IP_PROTOS or text.isdigit():
            values["ip_proto"] = IP_PROTOS[text] if text in IP_PROTOS else w.number(text, 255, "ipproto")
        else:
            w.warn(f"unknown ipproto {text!r} (write its number): keepalived ignores it")

    def uidrange() -> None:
        text = w.take()
        lo, dash, hi = text.partition("-")
        if not dash:
            w.fail(f"invalid uidrange {text!r}")
        values["uid_range"] = (w.number(lo, 2**32 - 1, "uid"), w.number(hi, 2**32 - 1, "uid"))

    def goto() -> None:
        values["goto"] = w.number(w.take(), 2**32 - 1, "goto target")
        set_action("goto")

    def l3mdev() -> None:
        values["l3mdev"] = True
        set_action("table")

    def realms() -> None:
        nonlocal table_option
        values["realms"] = w.realms(w.take())
        table_option = True
        w.set_family(4)

    def suppress_prefixlength() -> None:
        nonlocal table_option
        values["suppress_prefixlen"] = w.number(w.take(), 2**31 - 1, "suppress_prefixlength")
        table_option = True

    def suppress_ifgroup() -> None:
        nonlocal table_option
        values["suppress_ifgroup"] = w.number(w.take(), 2**32 - 1, "suppress_ifgroup")
        table_option = True

    def ports(key: str) -> Callable[[], None]:
        def handle() -> None:
            rng = _port_range(w, w.take(), key)
            if rng is not None:
                values[key] = rng

        return handle

    handlers.update({
        "from": lambda: values.__setitem__("src", w.prefix(w.take(), "rule from")),
        "to": lambda: values.__setitem__("dst", w.prefix(w.take(), "rule to")),
        "table": table, "lookup": table,
        "not": lambda: values.__setitem__("invert", True),
        "preference": lambda: values.__setitem__("priority", w.number(w.take(), 2**32 - 1, "rule preference")),
        "tos": lambda: values.__setitem__("tos", w.number(w.take(), 255, "TOS")),
        "fwmark": fwmark, "realms": realms,
        "suppress_prefixlength": suppress_prefixlength, "sup_pl": suppress_prefixlength,
        "suppress_ifgroup": suppress_ifgroup, "sup_group": suppress_ifgroup,
        "iif": lambda: values.__setitem__("iif", w.take()),
        "oif": lambda: values.__setitem__("oif", w.take()),
        "tunnel-id": lambda: values.__setitem__("tunnel_id", w.number(w.take(), 2**64 - 1, "tunnel-id")),
        "uidrange": uidrange, "l3mdev": l3mdev, "protocol": protocol, "ipproto": ip_proto,
        "sport": ports("sport"), "dport": ports("dport"), "goto": goto,
        "nop": lambda: set_action("nop"),
    })  # fmt: skip
    handlers["order"] = handlers["priority"] = handlers["preference"]
    handlers["dsfield"] = handlers["tos"]
    handlers["dev"] = handlers["iif"]
    while w.more():
        word = w.word
        if word in ("inet", "inet6"):
            w.set_family(4 if word == "inet" else 6)
        elif word == "no_track":
            track = False
        elif word == "track_group" and static:
            w.take()  # the group is read by parse_static (`static_track`)
        elif word in handlers:
            handlers[word]()
        else:
            if word == "type":
                word = w.take()
            if word in ("blackhole", "unreachable", "prohibit"):
                set_action(word)  # type: ignore[arg-type]
            elif word in ("goto", "nop"):
                handlers[word]()
            else:
                w.fail(f"unknown rule option {word!r}")
        w.i += 1
    w.i = 0
    if action is None:
        w.fail("no action specified for rule (table, goto, nop, blackhole, unreachable or prohibit)")
    assert action is not None
    if action == "goto":
        goto_target = values["goto"]
        if "priority" not in values:
            w.fail(f"goto target {goto_target} specified without a preference")
        if int(values["priority"]) >= int(goto_target):  # type: ignore[call-overload]
            w.fail(f"preference {values['priority']} >= goto target {goto_target}")
    if action != "table" and table_option:
        w.fail("suppress_prefixlength/suppress_ifgroup/realms need a `table` action")
    if values.get("l3mdev") and "table" in values:
        w.fail("table cannot be specified for l3mdev rules")
    if track:
        if values.get("protocol") not in (None, RTPROT_KEEPALIVED):
            w.warn(f"a tracked rule has protocol keepalived ({RTPROT_KEEPALIVED}); keepalived resets "
                   f"protocol {values['protocol']} (add no_track to keep it)")
        values["protocol"] = RTPROT_KEEPALIVED
    family: Literal[4, 6] = 6 if w.family == 6 else 4
    if "priority" not in values:
        values["priority"] = priorities[family]
        priorities[family] -= 1
        w.p.err(w.item.loc, "rule-no-preference",
                f"rule has no preference: keepalived numbers it {values['priority']} (counting down from "
                f"{RULE_START_PRIORITY} in file order); give it one so its place among the rules is yours")
    return Rule(family=family, action=action, track=track, **values)  # type: ignore[arg-type]
