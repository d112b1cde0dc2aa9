"""static_ipaddress, static_routes and static_rules: top-level blocks installed for the daemon's lifetime.

keepalived adds them at start, whatever state its instances are in, and removes them when it
stops; they are read line by line like their virtual_* counterparts inside an instance (the same
line readers, `parse_items.vip` and `parse_routes`), with `track_group` allowed.
"""

from __future__ import annotations

from vrrpkit.config.lexer import Stmt
from vrrpkit.config.parse_items import vip
from vrrpkit.config.parse_routes import route, rule
from vrrpkit.config.parser import Parser
from vrrpkit.config.written import Written


def parse_static_ipaddress(p: Parser, written: Written, st: Stmt) -> None:
    for item in p.values(st):
        v = vip(p, item)
        if v is not None:
            written.static_addresses.append((v, item.loc))


def parse_static_routes(p: Parser, written: Written, st: Stmt) -> None:
    for item in p.values(st):
        r = route(p, item, static=True)
        if r is not None:
            written.static_routes.append((r, item.loc))


def parse_static_rules(p: Parser, written: Written, st: Stmt) -> None:
    for item in p.values(st):
        r = rule(p, item, written.next_rule_priority)
        if r is not None:
            written.static_rules.append((r, item.loc))
