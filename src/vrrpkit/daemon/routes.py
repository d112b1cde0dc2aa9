"""Routes, rules and static addresses: what is installed when, and what to do when someone deletes one.

keepalived 2.2.7, measured in namespaces, does this and so do we:

* static_ipaddress/static_routes/static_rules go in at start whatever the instances do, and come
  out at stop; a deleted static address is put back ("Restoring deleted static address"), a
  deleted static route or rule is not, except that the static addresses and routes of an interface
  that comes up again are put back (keepalived's interface_up; not with `no_track`).
* an instance's virtual_routes/virtual_rules go in when it becomes MASTER, after its VIPs (routes,
  then rules), and come out when it leaves MASTER or stops, before its VIPs (rules, then routes).
* at start, before any instance runs, every virtual route and rule is removed: a crashed
  (SIGKILLed) run leaves them behind, and a BACKUP must not hold them.
* a tracked virtual route or rule (one without `no_track`, and for a route one with `dev`) deleted
  by someone else while MASTER makes the instance resign: priority 0, BACKUP, re-election, which
  puts it back if this host is still the best one (`VirtualRouter.resign`).

A route the kernel refuses (no such interface, unknown table) costs that route alone: logged and
counted, never the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from vrrpkit.config.model import InstanceExtras, StaticConfig
from vrrpkit.core.config import Vip
from vrrpkit.core.routing import Route, Rule
from vrrpkit.daemon.ports import Netlink
from vrrpkit.io.routes import AddressCame, AddressGone, Gone, RouteGone, RuleGone

log = logging.getLogger("vrrpkit")


@dataclass
class RouteStats:
    installed: int = 0
    removed: int = 0
    failed: int = 0
    restored: int = 0
    resigned: int = 0


@dataclass
class _Held:
    """The virtual routes and rules one MASTER instance has installed (as last configured)."""

    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()


T = TypeVar("T")


def rekeyed(by_name: Mapping[str, T], renames: Mapping[str, str], dropped: Iterable[str] = ()) -> dict[str, T]:
    """Per-instance state after a reload: each renamed instance's under its new name (all at once:
    two instances may swap their names), a dropped one's gone, the rest as it was."""
    gone = set(dropped)
    kept = {n: v for n, v in by_name.items() if n not in renames and n not in gone}
    return {**kept, **{renames[n]: v for n, v in by_name.items() if n in renames}}


@dataclass
class RouteKeeper:
    netlink: Netlink
    static: StaticConfig = field(default_factory=StaticConfig)
    extras: dict[str, InstanceExtras] = field(default_factory=dict)
    held: dict[str, _Held] = field(default_factory=dict)
    stats: RouteStats = field(default_factory=RouteStats)
    _static_up: bool = False

    # --- configuration ----------------------------------------------------------------------------

    def configure(self, static: StaticConfig, extras: Mapping[str, InstanceExtras]) -> None:
        """A (re)load: static parts that disappeared come out, new ones go in; MASTER instances swap
        the virtual routes and rules that changed (keepalived's clear_diff_routes), nothing else moves."""
        old_static, self.static = self.static, static
        self.extras = dict(extras)
        if self._static_up:
            self._swap(None, old_static.rules, static.rules, old_static.routes, static.routes)
            for vip in old_static.addresses:
                if vip not in static.addresses:
                    self._call("del", None, vip)
            for vip in static.addresses:
                if vip not in old_static.addresses:
                    self._call("add", None, vip)
        for name, held in list(self.held.items()):
            new = self.extras.get(name)
            if new is None:
                continue  # a removed instance leaves MASTER through its own shutdown
            self._swap(name, held.rules, new.virtual_rules, held.routes, new.virtual_routes)
            self.held[name] = _Held(new.virtual_routes, new.virtual_rules)

    def renamed(self, renames: Mapping[str, str]) -> None:
        """A reload renamed MASTER instances in place (same identity): what each installed is now
        its new name's, so that `configure` swaps it and leaving MASTER removes it."""
        self.held = rekeyed(self.held, renames)

    def _swap(self, who: str | None, old_rules: Iterable[Rule], new_rules: tuple[Rule, ...],
              old_routes: Iterable[Route], new_routes: tuple[Route, ...]) -> None:
        for rule in old_rules:
            if rule not in new_rules:
                self._call("del", who, rule)
        for route in old_routes:
            if route not in new_routes:
                self._call("del", who, route)
        for route in new_routes:
            if route not in old_routes:
                self._call("add", who, route)
        for rule in new_rules:
            if rule not in old_rules:
                self._call("add", who, rule)

    # --- lifecycle ----------------------------------------------------------------------------------

    def start_static(self) -> None:
        """static_ipaddress, static_routes, static_rules: in at start (addresses first: routes may use them)."""
        for vip in self.static.addresses:
            self._call("add", None, vip)
        for route in self.static.routes:
            self._call("add", None, route)
        for rule in self.static.rules:
            self._call("add", None, rule)
        self._static_up = True

    def stop_static(self) -> None:
        if not self._static_up:
            return
        for rule in self.static.rules:
            self._call("del", None, rule)
        for route in self.static.routes:
            self._call("del", None, route)
        for vip in self.static.addresses:
            self._call("del", None, vip)
        self._static_up = False

    def remove_leftovers(self, name: str) -> None:
        """Before an instance first runs: what a crashed run left must go (it is not MASTER yet).
        Only what the kernel really had is said ('removed leftover ...'): keepalived says '(VI_1)
        removing Virtual Routes' at every start, with nothing there (docs/divergences.md)."""
        extras = self.extras.get(name)
        if extras is None:
            return
        for rule in extras.virtual_rules:
            self._call("del", name, rule, quiet=True)
        for route in extras.virtual_routes:
            self._call("del", name, route, quiet=True)

    def became_master(self, name: str) -> tuple[str, ...]:
        """After the VIPs are set: routes, then rules (keepalived's order). Returns what to say
        ('setting Virtual <what>'), which the caller says after the VIPs' line: keepalived says
        it after 'Entering MASTER STATE', and the state's line waits behind the takeover."""
        extras = self.extras.get(name)
        # held even when empty: it marks a MASTER, so that a reload adding routes swaps them in
        self.held[name] = _Held(extras.virtual_routes, extras.virtual_rules) if extras is not None else _Held()
        if extras is None:
            return ()
        for route in extras.virtual_routes:
            self._call("add", name, route)
        for rule in extras.virtual_rules:
            self._call("add", name, rule)
        return _said(("Routes", extras.virtual_routes), ("Rules", extras.virtual_rules))

    def leaving_master(self, name: str) -> tuple[str, ...]:
        """Before the VIPs go: rules, then routes. Forgotten first, so our own deletions are not
        "someone's". Returns what to say ('removing Virtual <what>', before the VIPs' line)."""
        held = self.held.pop(name, None)
        if held is None:
            return ()
        for rule in held.rules:
            self._call("del", name, rule)
        for route in held.routes:
            self._call("del", name, route)
        return _said(("Rules", held.rules), ("Routes", held.routes))

    # --- deletions by others ----------------------------------------------------------------------------

    def deleted(self, events: Iterable[Gone]) -> list[tuple[str, str]]:
        """(instance, reason) for each MASTER that lost a tracked route or rule; deleted static
        addresses are put back here."""
        resign: dict[str, str] = {}
        for event in events:
            if isinstance(event, AddressGone):
                self._restore_address(event)
                continue
            if isinstance(event, AddressCame):
                continue
            for name, held in self.held.items():
                if name in resign:
                    continue
                hit: Route | Rule | None
                if isinstance(event, RouteGone):
                    hit = next((r for r in held.routes if r.track and self._route_is(r, event)), None)
                else:
                    hit = next((u for u in held.rules if u.track and self._rule_is(u, event)), None)
                if hit is not None:
                    what = "route" if isinstance(event, RouteGone) else "rule"
                    log.warning("(%s) tracked virtual %s %s was deleted: resigning MASTER", name, what, hit)
                    resign[name] = f"tracked virtual {what} {hit} deleted"
        self.stats.resigned += len(resign)
        return list(resign.items())  # leaving MASTER then removes the rest (the deleted one quietly)

    def _route_is(self, route: Route, gone: RouteGone) -> bool:
        if (route.dst != gone.dst or route.tos != gone.tos or route.type != gone.type
                or route.protocol != gone.protocol or self._table(route.table) != gone.table):
            return False
        if route.metric is not None and route.metric != gone.metric:
            return False
        return not route.dev or gone.oif is None or self.netlink.interface_index(route.dev) == gone.oif

    def _rule_is(self, rule: Rule, gone: RuleGone) -> bool:
        if gone.priority != rule.priority or gone.src != rule.src or gone.dst != rule.dst:
            return False
        if rule.action == "table" and not rule.l3mdev:
            return self._table(rule.table if rule.table is not None else 254) == gone.table
        return True

    def _table(self, table: int | str) -> int | None:
        try:
            return self.netlink.resolve_table(table)
        except LookupError:
            return None

    def _restore_address(self, gone: AddressGone) -> None:
        if not self._static_up:
            return
        for vip in self.static.addresses:
            if (str(vip.address) == gone.address and vip.interface.network.prefixlen == gone.prefixlen
                    and vip.dev is not None and self.netlink.interface_index(vip.dev) == gone.index):
                log.info("Restoring deleted static address %s dev %s", vip, vip.dev)
                self.stats.restored += 1
                self._call("add", None, vip)

    def interface_up(self, ifname: str) -> None:
        """keepalived's interface_up (static_track_group_reinstate_config): the static addresses and
        routes on an interface that comes up are put back (the kernel drops routes with the link),
        unless `no_track`. Measured: 'Restoring deleted static route ... dev dum1'."""
        if not self._static_up:
            return
        for vip in self.static.addresses:
            if vip.dev == ifname and "no_track" not in vip.flags and self._call("add", None, vip):
                log.info("Restoring deleted static address %s dev %s", vip, ifname)
                self.stats.restored += 1
        for route in self.static.routes:
            if route.dev == ifname and route.track and self._call("add", None, route):
                log.info("Restoring deleted static route %s", route)
                self.stats.restored += 1

    # --- one kernel call ----------------------------------------------------------------------------------

    def _call(self, op: str, who: str | None, item: Route | Rule | Vip, quiet: bool = False) -> bool:
        """Add or remove one item; True when the kernel changed (a failure is logged and counted)."""
        nl = self.netlink
        try:
            if isinstance(item, Vip):
                dev = item.dev or ""
                changed = nl.add_vip(dev, item) if op == "add" else nl.del_vip(dev, item)
            elif isinstance(item, Route):
                changed = nl.add_route(item) if op == "add" else nl.del_route(item)
            else:
                changed = nl.add_rule(item) if op == "add" else nl.del_rule(item)
        except (OSError, LookupError) as exc:
            self.stats.failed += 1
            prefix = f"({who}) " if who else ""
            kind = "address" if isinstance(item, Vip) else type(item).__name__.lower()
            log.error("%scannot %s %s %s: %s", prefix, "add" if op == "add" else "remove", kind, item, exc)
            return False
        if changed:
            if op == "add":
                self.stats.installed += 1
            else:
                self.stats.removed += 1
                if quiet:
                    log.info("(%s) removed leftover %s", who, item)
        return changed


def _said(*kinds: tuple[str, tuple[Route, ...] | tuple[Rule, ...]]) -> tuple[str, ...]:
    """The kinds ('Routes', 'Rules') that have anything in them, in the order given."""
    return tuple(kind for kind, items in kinds if items)
