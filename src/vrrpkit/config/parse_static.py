"""static_ipaddress, static_routes and static_rules: top-level blocks installed for the daemon's lifetime.

keepalived adds them at start, whatever state its instances are in, and removes them when it
stops; they are read line by line like their virtual_* counterparts inside an instance (the same
line readers, `parse_items.vip` and `parse_routes`), with `track_group` allowed: the instances of
that group track the item's interface (its `dev`; a route's; a rule's `iif`), as if each had it in
track_interface with weight 0 (keepalived's static_track_group_init). keepalived looks the group up
when it reads the line, so the track_group block must come first ('track_group G not found').
"""

from __future__ import annotations

from vrrpkit.config.lexer import Stmt
from vrrpkit.config.parse_items import vip
from vrrpkit.config.parse_routes import route, rule
from vrrpkit.config.parser import Parser
from vrrpkit.config.written import Written


def parse_static_ipaddress(p: Parser, written: Written, st: Stmt) -> None:
    for item in p.values(st):
        v = vip(p, item, static=True)
        if v is not None:
            written.static_addresses.append((v, item.loc))
            static_track(p, written, item, "address", v.dev, "no_track" not in v.flags)


def parse_static_routes(p: Parser, written: Written, st: Stmt) -> None:
    for item in p.values(st):
        r = route(p, item, static=True)
        if r is not None:
            written.static_routes.append((r, item.loc))
            static_track(p, written, item, "route", r.dev, r.track)


def parse_static_rules(p: Parser, written: Written, st: Stmt) -> None:
    for item in p.values(st):
        r = rule(p, item, written.next_rule_priority, static=True)
        if r is not None:
            written.static_rules.append((r, item.loc))
            static_track(p, written, item, "rule", r.iif, r.track)


def static_track(p: Parser, written: Written, item: Stmt, what: str, ifname: str | None, tracked: bool) -> None:
    """Record `track_group G` of a static item (the first; keepalived reports a second as a duplicate)."""
    words = [w.text for w in item.words]
    if "track_group" not in words[1:-1]:
        return
    i = words.index("track_group", 1) + 1
    name, loc = words[i], item.word_loc(i)
    if name not in written.interfaces.track_groups:
        p.err(loc, "invalid-value", f"track_group {name} not found (a track_group block must come before its use)")
        return
    if words.count("track_group") > 1:
        j = words.index("track_group", i) + 1
        p.err(item.word_loc(j), "invalid-value", f"track_group {words[j] if j < len(words) else ''} is a duplicate")
    written.interfaces.static_tracks.append((what, name, ifname, tracked, loc))
