"""Checks of a configuration against the host it will run on, with the host's facts passed in as data.

`vrrpkit.diag.hostfacts` gathers the facts (interfaces and their addresses, which programs and
users exist) and this module only compares: that keeps `vrrpkit.config` pure and lets tests and the
differential test describe a host (for instance a network namespace) without touching it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

from vrrpkit.config.diagnostics import Diagnostic, Location, Reporter
from vrrpkit.config.model import GlobalDefs, ParseResult, ScriptUse
from vrrpkit.core.config import IPAddress, IPInterface
from vrrpkit.core.routing import Route, Rule


@dataclass(frozen=True)
class ScriptVerdict:
    """What keepalived would do with one command on this host (``io.scripts``, via ``diag.hostfacts``)."""

    user: str  # who it would run as
    disabled: str | None = None  # keepalived's line disabling it
    refusal: str | None = None  # why: not-found, user, not-executable, wrong-type, insecure, shell-form, parse
    notes: tuple[str, ...] = ()  # keepalived's warnings about a command that still runs


@dataclass(frozen=True)
class HostFacts:
    """What `check` needs to know about the host. None for a fact means "unknown, do not check"."""

    interfaces: Mapping[str, tuple[IPInterface, ...]] = field(default_factory=dict)
    kinds: Mapping[str, str] | None = None  # interface -> link kind ("macvlan", "veth", "" for a NIC)
    script_check: Callable[[ScriptUse, GlobalDefs], ScriptVerdict] | None = None  # keepalived's verdict here
    path_kind: Callable[[str], str | None] | None = None  # 'fifo', 'file', 'symlink'..., None if absent
    rt_tables: Mapping[str, int] | None = None  # routing table names (iproute2's rt_tables)

    def addresses(self) -> set[IPAddress]:
        return {a.ip for addrs in self.interfaces.values() for a in addrs}

    def primary(self, interface: str, version: int) -> IPAddress | None:
        """The interface's first address of that family (IPv6: link-local first, as VRRPv3 sends from it)."""
        addrs = [a.ip for a in self.interfaces.get(interface, ()) if a.version == version]
        if version == 6:
            addrs.sort(key=lambda a: not a.is_link_local)
        return addrs[0] if addrs else None


def host_checks(result: ParseResult, facts: HostFacts) -> list[Diagnostic]:
    """Warnings for what keepalived would find missing on this host (it logs them and goes on, or drops parts)."""
    r = Reporter()
    have = facts.addresses()
    for inst in result.instances:
        src = result.sources[inst.name]
        if inst.interface and inst.interface not in facts.interfaces:
            r.add(src.at("interface"), "host-interface-missing",
                  f"interface {inst.interface} of vrrp_instance {inst.name} does not exist on this host")
        for vip in (*inst.vips, *inst.excluded_vips):
            if vip.dev and vip.dev not in facts.interfaces:
                r.add(src.item(f"vip:{vip.address}", "virtual_ipaddress"), "host-interface-missing",
                      f"interface {vip.dev} for virtual address {vip} does not exist on this host")
        for keyword, addr in (("unicast_src_ip", inst.unicast_src_ip), ("mcast_src_ip", inst.mcast_src_ip)):
            if addr is not None and addr not in have:
                r.add(src.at(keyword), "host-address-missing",
                      f"{keyword} {addr} is not an address of this host: adverts cannot be sent from it")
        vip_devs = {vip.dev for vip in (*inst.vips, *inst.excluded_vips)}  # said above (config/interface_blocks.py)
        for track in inst.tracks:
            if track.kind.value == "interface" and track.name not in facts.interfaces and track.name not in vip_devs:
                r.add(src.item(f"track:{track.name}", "track_interface"), "host-interface-missing",
                      f"tracked interface {track.name} does not exist on this host (the instance stays in FAULT)")
    _interface_block_checks(r, result, facts)
    if facts.script_check is not None:
        for use in result.script_uses():
            _script_diagnostics(r, result, use, facts.script_check(use, result.globals))
    _fifo_and_table_checks(r, result, facts)
    return r.items


def _interface_block_checks(r: Reporter, result: ParseResult, facts: HostFacts) -> None:
    """Interfaces named outside instances (keepalived: 'unknown interface eth9 specified for ...'), and a
    use_vmac name that belongs to an interface keepalived would not use as its VMAC."""
    for block, name, loc in result.interface_refs:
        if name not in facts.interfaces:
            r.add(loc, "host-interface-missing", f"unknown interface {name} specified for {block}")
    for inst in result.instances:
        for link in inst.vmac_links:
            kind = None if facts.kinds is None else facts.kinds.get(link.name)
            if link.name in facts.interfaces and kind is not None and kind != link.kind:
                src = result.sources[inst.name]
                r.add(src.at("use_ipvlan" if link.kind == "ipvlan" else "use_vmac"), "host-vmac-name-taken",
                      f"({inst.name}) interface {link.name} already exists and is not a "
                      f"{'private macvlan' if link.kind == 'macvlan' else 'l2 ipvlan'}: keepalived and vrrpkit "
                      f"ignore the name and use vrrp.VRID (or the first free vrrpN.VRID), and leave {link.name} "
                      f"alone")


def _script_diagnostics(r: Reporter, result: ParseResult, use: ScriptUse, v: ScriptVerdict) -> None:
    """Each case on the line of its command, in keepalived's words and what it means here."""
    loc = use.loc or result_script_loc(result, use.owner)
    what = f"vrrp_script {use.owner}" if use.kind == "vrrp_script" else f"{use.owner} notify_{use.event}"
    what = what.replace("notify_notify", "notify")
    if v.disabled is not None:
        effect = ("disabled: instances tracking it ignore it" if use.kind == "vrrp_script"
                  else "disabled: it never runs")  # fmt: skip
        rule = {"not-found": "host-script-missing", "user": "host-script-user-missing"}.get(v.refusal or "",
                                                                                          "host-script-disabled")
        r.add(loc, rule, f"{what}: keepalived logs '{v.disabled}' here and the command is {effect}")
        return
    for note in v.notes:
        if note.startswith("Unsafe permissions"):
            r.add(loc, "host-script-insecure", f"{what} runs as {v.user} although others can modify it: "
                  f"keepalived logs '{note}' (and refuses it with enable_script_security)")  # fmt: skip
        elif note.startswith("Please add a #! shebang"):
            r.add(loc, "host-script-no-shebang", f"{what}: '{note}': vrrpkit and a keepalived built with libmagic "
                  "run it with /bin/sh; Debian's keepalived 2.2.7 never runs it and reports success")  # fmt: skip
        else:
            r.add(loc, "host-script-path-search", f"{what}: keepalived logs '{note}'")


def _fifo_and_table_checks(r: Reporter, result: ParseResult, facts: HostFacts) -> None:
    """A notify FIFO path that is something else; a routing table name this host does not know."""
    g = result.globals
    if facts.path_kind is not None:
        for key, fifo in (("notify_fifo", g.notify_fifo), ("vrrp_notify_fifo", g.vrrp_notify_fifo)):
            if fifo is None or not fifo.path:
                continue
            kind = facts.path_kind(fifo.path)
            if kind not in (None, "fifo"):
                r.add(result.fifo_locs.get(key, Location(result.files[0] if result.files else "<string>", 1)),
                      "host-fifo-not-fifo",
                      f"{key} {fifo.path} is a {kind}, not a FIFO: keepalived 2.2.7 would write its lines into it; "
                      f"vrrpkit refuses it (remove it, or name a FIFO)")
    _interface_checks(r, result, facts)
    if facts.rt_tables is None:
        return
    known = facts.rt_tables
    places: list[tuple[Location, str]] = []
    for inst in result.instances:
        src = result.sources[inst.name]
        extras = result.extras_of(inst.name)
        places += [(src.item(f"route:{x}", "virtual_routes"), str(x.table)) for x in extras.virtual_routes
                   if isinstance(x.table, str)]
        places += [(src.item(f"rule:{x.priority}", "virtual_rules"), str(x.table)) for x in extras.virtual_rules
                   if isinstance(x.table, str)]
    fallback = Location(result.files[0] if result.files else "<string>", 1)
    places += [(result.static_locs.get(f"route:{x}", fallback), str(x.table)) for x in result.static.routes
               if isinstance(x.table, str)]
    places += [(result.static_locs.get(f"rule:{x.priority}", fallback), str(x.table)) for x in result.static.rules
               if isinstance(x.table, str)]
    for loc, name in places:
        if name not in known:
            r.add(loc, "host-table-unknown",
                  f"routing table {name!r} is not in rt_tables on this host: keepalived drops the line "
                  f"('Routing table {name} not found'), vrrpkit cannot install it")


def _interface_checks(r: Reporter, result: ParseResult, facts: HostFacts) -> None:
    """Interfaces named by routes, rules and static addresses: keepalived drops the line when one is missing."""
    fallback = Location(result.files[0] if result.files else "<string>", 1)
    places: list[tuple[Location, str, str]] = []
    groups: list[tuple[Callable[[str], Location], tuple[Route, ...], tuple[Rule, ...]]] = [
        (lambda key: result.static_locs.get(key, fallback), result.static.routes, result.static.rules)]
    for inst in result.instances:
        src = result.sources[inst.name]
        extras = result.extras_of(inst.name)
        groups.append((partial(src.item, fallback="virtual_routes"), extras.virtual_routes, extras.virtual_rules))
    for where, routes, rules in groups:
        for route in routes:
            for dev in [route.dev, *(hop.dev for hop in route.nexthops)]:
                if dev:
                    places.append((where(f"route:{route}"), dev, f"route {route}"))
        for rule in rules:
            for dev in (rule.iif, rule.oif):
                if dev:
                    places.append((where(f"rule:{rule.priority}"), dev, f"rule {rule}"))
    for vip in result.static.addresses:
        if vip.dev:
            places.append((result.static_locs.get(f"address:{vip.address}", fallback), vip.dev, f"address {vip}"))
    for loc, dev, what in places:
        if dev not in facts.interfaces:
            r.add(loc, "host-interface-missing",
                  f"interface {dev} of {what} does not exist on this host: keepalived drops the line")


def result_script_loc(result: ParseResult, name: str) -> Location:
    loc = result.script_locs.get(name)
    return loc if loc is not None else Location(result.files[0] if result.files else "<string>", 1)
