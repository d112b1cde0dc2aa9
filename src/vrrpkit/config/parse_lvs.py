"""virtual_server_group, virtual_server, real_server, sorry_server and SSL: the load balancer, linted only.

vrrpkit runs VRRP; the LVS part of a keepalived.conf is keepalived's checker's job (`keepalived
--check`, see docs/lvs.md). But one file holds both, and one `check` should be trustworthy for all of
it, so these blocks are read the way keepalived reads them: the vocabulary of each block is
`lvs_keywords.LVS_KNOWN` (measured on keepalived 2.2.7), values go through `parse_lvs_values`, the
health checkers through `parse_checkers`, and what keepalived decides when a block closes (a virtual
server without real servers, a real server of the wrong family, defaults for protocol, scheduler
and forwarding method) is reported where keepalived reports it. The first virtual_server of a file
also gets one note saying who runs it. Nothing of the load balancer is kept in the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_interface

from vrrpkit.config.diagnostics import Location
from vrrpkit.config.lexer import Stmt
from vrrpkit.config.lvs_keywords import CHECKERS, FORWARDING, PROTOCOLS, SCHED_FLAGS, SCHEDULERS
from vrrpkit.config.parse_checkers import LONG, read_checker
from vrrpkit.config.parse_lvs_values import (
    Reader,
    choice,
    endpoint,
    flag,
    number,
    script,
    string,
    timer,
    truefalse,
    uint,
)
from vrrpkit.config.parser import Parser
from vrrpkit.config.written import Written

CHECKER_ONLY = (
    "virtual_server blocks are run by keepalived's checker, not by vrrpkit: vrrpkit lints them as keepalived "
    "reads them and runs the VRRP part. Run `keepalived --check` (-C) on this same file beside `vrrpkit run` "
    "(docs/lvs.md shows how)"
)


@dataclass
class VsBlock:
    """One virtual_server as read: what the checks at its closing brace need."""

    st: Stmt
    family: int | None = None  # from the header address; None for fwmark/group
    fwmark: bool = False
    port0: bool = False
    given: dict[str, Location] = field(default_factory=dict)
    sched: str | None = None
    sorry: bool = False
    real_servers: dict[tuple[str, int | None], Location] = field(default_factory=dict)
    weights: int = 0  # the real servers' weights added up (quorum is checked against it)
    values: dict[str, object] = field(default_factory=dict)


def _forwarding(p: Parser, s: Stmt) -> object | None:
    """`lb_kind|lvs_method NAT|DR|TUN [type ipip|gue|gre] [port N] [csum|nocsum|remcsum]`: the method is checked."""
    return choice(FORWARDING, "forwarding method")(p, s)


def _granularity(p: Parser, vs: VsBlock, s: Stmt) -> None:
    """IPv4: a netmask as inet_aton reads it; IPv6: a prefix length 1-128. The family is the virtual
    server's, or (fwmark/group) IPv4 when the value has a dot."""
    text = p.arg(s)
    assert text is not None
    v4 = vs.family == 4 or (vs.family is None and "." in text)
    ok = (_INET_ATON.fullmatch(text) and all(int(x, 0) <= 2**32 - 1 for x in text.split("."))) if v4 else (
        text.isdigit() and 1 <= int(text) <= 128)
    if not ok:
        what = "an IPv4 netmask" if v4 else "an IPv6 prefix length 1-128"
        p.err(s.word_loc(1), "invalid-value", f"persistence_granularity {text!r} is not {what}; keepalived ignores it")


_INET_ATON = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]+)(\.(0[xX][0-9a-fA-F]+|[0-9]+)){0,3}")


def _persistence_timeout(p: Parser, s: Stmt) -> int | None:
    """Bare: keepalived's default (360 s); else 1 s to 31 days."""
    if len(s.words) < 2:
        return 360
    return number(p, s, 1, 1, 2678400)


def _snmp_name(p: Parser, s: Stmt) -> str | None:
    if len(s.words) != 2:
        p.err(s.loc, "syntax", "snmp_name takes exactly one name; keepalived ignores the line")
        return None
    return s.words[1].text


VS_VALUES: dict[str, Reader] = {
    "alpha": flag, "omega": flag, "ha_suspend": flag, "inhibit_on_failure": flag,
    "connect_timeout": timer(True, 4294.967295),
    "delay_loop": timer(True, LONG),
    "delay_before_retry": timer(False, LONG),
    "warmup": timer(False, LONG),
    "retry": uint(1),
    "hysteresis": uint(0),
    "quorum": uint(1, fallback="keepalived uses 1"),
    "weight": uint(1, 2**31 - 1),
    "ip_family": choice({"inet", "inet6"}, "address family"),
    "lb_kind": _forwarding,
    "lvs_method": _forwarding,
    "persistence_engine": string(),
    "persistence_timeout": _persistence_timeout,
    "protocol": choice(PROTOCOLS, "protocol", fold=True),
    "smtp_alert": truefalse,
    "snmp_name": _snmp_name,
    "virtualhost": string("keepalived ignores the line ('virtual server virtualhost missing')"),
}
RS_VALUES: dict[str, Reader] = {
    "alpha": truefalse, "inhibit_on_failure": truefalse, "smtp_alert": truefalse,
    "connect_timeout": timer(True, 4294.967295),
    "delay_loop": timer(True, LONG),
    "delay_before_retry": timer(False, LONG),
    "warmup": timer(False, LONG),
    "retry": uint(1),
    "lthreshold": uint(0),
    "uthreshold": uint(0),
    "weight": uint(0, 2**31 - 1),
    "lvs_method": _forwarding,
    "snmp_name": _snmp_name,
    "virtualhost": string("keepalived ignores the line ('real server virtualhost missing')"),
}
FIRST_WINS = {"quorum_up", "quorum_down", "notify_up", "notify_down"}  # "script already specified - ignoring"

Handler = Callable[[Stmt], None]


def _bind(p: Parser, table: dict[str, Reader], given: dict[str, Location],
          values: dict[str, object] | None = None) -> dict[str, Handler]:
    def bind(kw: str, read: Reader) -> Handler:
        def handle(s: Stmt) -> None:
            if kw in FIRST_WINS and not p.first_wins(given, s, f"{kw} (a script)"):
                return
            value = read(p, s)
            if value is not None:
                given.setdefault(kw, s.loc)
                if values is not None:
                    values[kw] = value

        return handle

    return {kw: bind(kw, read) for kw, read in table.items()}


def _closing(st: Stmt, end: int | None) -> Location:
    return st.loc if end is None else Location(st.file, end, 1)


# --- virtual_server ------------------------------------------------------------------------------


def parse_virtual_server(p: Parser, written: Written, st: Stmt) -> None:
    _note_lvs(p, written, st)
    vs = VsBlock(st)
    first = p.arg(st)
    assert first is not None
    if first == "fwmark":
        vs.fwmark = True
        if len(st.words) < 3:
            p.err(st.loc, "syntax", "virtual_server fwmark needs a number")
        else:
            number(p, st, 2, 0, 2**32 - 1, "keepalived ignores the virtual server")
    elif first == "group":
        if len(st.words) < 3:
            p.err(st.loc, "syntax", "virtual_server group needs a virtual_server_group name")
    else:
        ep = endpoint(p, st, "virtual server address")
        if ep is not None:
            vs.family = ip_address(ep[0]).version
            vs.port0 = not ep[1]
    handlers = _bind(p, VS_VALUES, vs.given, vs.values)
    handlers["persistence_granularity"] = lambda s: _granularity(p, vs, s)
    handlers.update({kw: _sched_flag(p, vs, kw) for kw in (*SCHED_FLAGS, "hashed")})
    handlers["lb_algo"] = handlers["lvs_sched"] = lambda s: _lb_algo(p, vs, s)
    handlers["sorry_server"] = lambda s: _sorry(p, vs, s)
    handlers["sorry_server_inhibit"] = handlers["sorry_server_lvs_method"] = lambda s: _sorry_option(p, vs, s)
    for kw in ("quorum_up", "quorum_down"):
        handlers[kw] = _script(p, written, kw, vs.given)
    handlers["real_server"] = lambda s: _real_server(p, written, vs, s)
    assert set(handlers) == SECTIONS["virtual_server"]
    p.block("virtual_server", handlers, 1, st)
    _vs_complete(p, vs)


def _lb_algo(p: Parser, vs: VsBlock, s: Stmt) -> None:
    sched = choice(SCHEDULERS, "scheduler")(p, s)
    if isinstance(sched, str):
        vs.sched = sched
        vs.given.setdefault("lb_algo", s.loc)


def _sched_flag(p: Parser, vs: VsBlock, kw: str) -> Handler:
    """`sh-port` & co. only mean something with their scheduler, given before them; `hashed` never does."""

    def handle(s: Stmt) -> None:
        vs.given.setdefault(kw, s.loc)
        needs = SCHED_FLAGS.get(kw, "sh")  # keepalived: "%s only applies to sh scheduler - ignoring"
        if needs is not None and vs.sched not in ("sh", "mh"):
            p.err(s.loc, "ignored-value",
                  f"`{kw}` only applies to the {needs} scheduler (lb_algo {needs}, given before it); keepalived "
                  f"ignores it here", "error")

    return handle


def _sorry(p: Parser, vs: VsBlock, s: Stmt) -> None:
    if endpoint(p, s, "sorry_server address") is not None:
        vs.sorry = True


def _sorry_option(p: Parser, vs: VsBlock, s: Stmt) -> None:
    if not vs.sorry:
        p.err(s.loc, "ignored-value", f"{s.keyword} before (or without) sorry_server: keepalived ignores it", "error")
    elif s.keyword == "sorry_server_lvs_method":
        _forwarding(p, s)


def _vs_complete(p: Parser, vs: VsBlock) -> None:
    """keepalived's checks once a virtual_server is read (it logs them without a line: we use the header's)."""
    where = vs.st.loc
    if not vs.real_servers:
        p.err(where, "lvs-dropped", "virtual_server has no (valid) real_server: keepalived ignores it")
    if vs.fwmark and "protocol" in vs.given:
        p.err(vs.given["protocol"], "ignored-value", "protocol of a fwmark virtual_server: keepalived ignores it")
    elif not vs.fwmark and "protocol" not in vs.given:
        p.err(where, "lvs-default", "virtual_server without `protocol`: keepalived uses UDP (write protocol TCP?)")
    if vs.sched is None:
        p.err(where, "lvs-default", "virtual_server without lb_algo: keepalived uses wlc")
    if "lb_kind" not in vs.given and "lvs_method" not in vs.given:
        p.err(where, "lvs-default", "virtual_server without lb_kind: keepalived uses NAT")
    if "ops" in vs.given and vs.values.get("protocol", "UDP") != "UDP" and not vs.fwmark:
        p.err(vs.given["ops"], "ignored-value", "ops (one-packet scheduling) needs protocol UDP: keepalived resets it",
              "error")
    quorum = vs.values.get("quorum", 1)
    hysteresis = vs.values.get("hysteresis", 0)
    if isinstance(quorum, int) and isinstance(hysteresis, int):
        if vs.real_servers and quorum > vs.weights:
            p.err(vs.given.get("quorum", where), "out-of-range",
                  f"quorum {quorum} is more than the real servers' total weight {vs.weights}: keepalived lowers it",
                  "warning")
            quorum = vs.weights
        if hysteresis and hysteresis >= quorum:
            p.err(vs.given.get("hysteresis", where), "out-of-range",
                  f"hysteresis {hysteresis} >= quorum {quorum}: keepalived sets hysteresis to 0")
    if vs.port0 and "persistence_timeout" not in vs.given:
        p.err(where, "lvs-default", "virtual_server without a port: port 0 is only valid for persistent services "
                                    "(keepalived sets persistence)")


# --- real_server ---------------------------------------------------------------------------------


def _real_server(p: Parser, written: Written, vs: VsBlock, st: Stmt) -> None:
    ep = endpoint(p, st, "real server address")
    given: dict[str, Location] = {}
    values: dict[str, object] = {}
    handlers = _bind(p, RS_VALUES, given, values)
    for kw in ("notify_up", "notify_down"):
        handlers[kw] = _script(p, written, kw, given)
    for checker in CHECKERS:
        handlers[checker] = lambda s: read_checker(p, written, s)
    assert set(handlers) == SECTIONS["real_server"]
    end = p.block("real_server", handlers, 2, st)
    if ep is None:
        return
    family = ip_address(ep[0]).version
    if vs.family is not None and family != vs.family and not _tunnelled(st, given):
        p.err(_closing(st, end), "lvs-dropped",
              f"real server {ep[0]} is IPv{family}, the virtual server IPv{vs.family}: keepalived skips it")
        return
    if ep in vs.real_servers:
        p.err(st.loc, "lvs-dropped",
              f"real server {ep[0]} port {ep[1]} is already listed on line {vs.real_servers[ep].line}: keepalived "
              f"removes the second one")
        return
    vs.real_servers[ep] = st.loc
    weight = values.get("weight", 1)
    vs.weights += weight if isinstance(weight, int) else 1


def _script(p: Parser, written: Written, kw: str, given: dict[str, Location]) -> Handler:
    """notify_up/down, quorum_up/down: the first wins, and it is a script (script security applies)."""
    inner = _bind(p, {kw: script}, given)[kw]

    def handle(s: Stmt) -> None:
        inner(s)
        written.note_script(s.loc)

    return handle


def _tunnelled(st: Stmt, given: dict[str, Location]) -> bool:
    return "lvs_method" in given  # a TUN real server may be of the other family; the method is on its line


# --- virtual_server_group and SSL ----------------------------------------------------------------


def parse_virtual_server_group(p: Parser, written: Written, st: Stmt) -> None:
    """`virtual_server_group NAME { IP[-LAST] [PORT] | IP/LEN [PORT] | fwmark N ... }`."""
    _note_lvs(p, written, st)
    name = p.arg(st)
    items = p.values(Stmt(st.words[:1], st.file, st.line))
    entries = 0
    for item in items:
        words = [w.text for w in item.words]
        if words[0] == "fwmark":
            if len(words) > 1 and number(p, item, 1, 0, 2**32 - 1, "keepalived skips the entry") is not None:
                entries += 1
            elif len(words) < 2:
                p.err(item.loc, "syntax", "fwmark needs a number; keepalived skips the entry")
            continue
        if _vsg_address(words[0]) and (len(words) < 2 or number(p, item, 1, 0, 65535, "keepalived skips the entry")
                                       is not None):
            entries += 1
        elif not _vsg_address(words[0]):
            p.err(item.loc, "invalid-address",
                  f"virtual_server_group {name}: {words[0]!r} is not an address or range; keepalived skips it")
    if not entries:
        end = p.last_values_end
        p.err(st.loc if end is None else Location(st.file, end, 1), "lvs-dropped",
              f"virtual_server_group {name} (line {st.line}) has no valid entry: keepalived removes it")


def _vsg_address(text: str) -> bool:
    """`10.0.0.1`, `10.0.0.1-9` (last octet/hextet range), `10.0.0.0/24`."""
    base, _, last = text.partition("-")
    try:
        if "/" in base:
            ip_interface(base)
        else:
            ip_address(base)
    except ValueError:
        return False
    return not last or (last.isdigit() if "." in base else all(c in "0123456789abcdefABCDEF" for c in last))


SSL_FILES = {"password": "password", "ca": "cafile", "certificate": "certfile", "key": "keyfile"}


def parse_ssl(p: Parser, written: Written, st: Stmt) -> None:
    """The checkers' SSL context; a repeated file replaces the earlier one (keepalived says so)."""
    _note_lvs(p, written, st)
    seen: dict[str, Location] = {}

    def bind(kw: str) -> Handler:
        def handle(s: Stmt) -> None:
            if p.arg(s, missing=f"keepalived ignores the line ('SSL {SSL_FILES[kw]} missing')") is None:
                return
            if kw in seen:
                p.err(s.loc, "repeated-keyword",
                      f"SSL {kw} is already given on line {seen[kw].line}: keepalived replaces it with this one",
                      "warning")
            seen[kw] = s.loc

        return handle

    p.block("SSL", {kw: bind(kw) for kw in SSL_FILES}, 1, st)


def _note_lvs(p: Parser, written: Written, st: Stmt) -> None:
    """One note per file, on the first load-balancer block: who runs it."""
    if written.lvs_loc is None:
        written.lvs_loc = st.loc
        p.err(st.loc, "lvs-checker-only", CHECKER_ONLY)


#: section -> keyword -> handler-maker check: which keywords each block's table covers (for the tests).
SECTIONS = {
    "virtual_server": set(VS_VALUES) | set(SCHED_FLAGS) | {"hashed", "lb_algo", "lvs_sched", "sorry_server",
                                                           "sorry_server_inhibit", "sorry_server_lvs_method",
                                                           "quorum_up", "quorum_down", "real_server",
                                                           "persistence_granularity"},
    "real_server": set(RS_VALUES) | {"notify_up", "notify_down"} | set(CHECKERS),
    "SSL": set(SSL_FILES),
}
