"""Routes and policy rules through rtnetlink (pyroute2), as keepalived's vrrp_iproute.c/vrrp_iprule.c send them.

Why each choice:

* A route or rule is added with exactly what the configuration says (keepalived sends no defaults
  of its own beyond protocol `keepalived` (18) and scope universe), so that `ip route` shows the
  same line under vrrpkit as under keepalived (measured side by side in namespaces).
* Add and delete are idempotent (EEXIST on add; ESRCH/ENOENT/ENODEV on delete mean "not there"):
  the daemon removes leftovers of a crashed run at start, and replays adds after reloads, without
  reading the tables first.
* A routing table named by a word is looked up in rt_tables when it is installed, as `ip` does;
  an unknown name is an error for that route alone.
* `RouteMonitor` reads RTM_DELROUTE/RTM_DELRULE/RTM_DELADDR from a non-blocking netlink socket so
  the daemon can react when someone else deletes a tracked route, rule or static address, as
  keepalived does, and RTM_NEWADDR, since an instance's source address may come or go; the
  messages are parsed here, without pyroute2, so the loop can watch the fd.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

from vrrpkit.core.routing import NO_NEXTHOP_TYPES, IPNetwork, Route, Rule
from vrrpkit.io import netlink
from vrrpkit.io.fdsocket import NOTHING_TO_READ, FdSocket

RT_TABLE_FILES = ("/etc/iproute2/rt_tables", "/usr/share/iproute2/rt_tables", "/usr/lib/iproute2/rt_tables")
RT_TABLES_DIRS = ("/etc/iproute2/rt_tables.d", "/usr/share/iproute2/rt_tables.d")
RTAX = {"lock": 1, "mtu": 2, "window": 3, "rtt": 4, "rttvar": 5, "ssthresh": 6, "cwnd": 7, "advmss": 8,
        "reordering": 9, "hoplimit": 10, "initcwnd": 11, "features": 12, "rto_min": 13, "initrwnd": 14,
        "quickack": 15, "congctl": 16, "fastopen_no_cookie": 17}  # fmt: skip
RULE_ACTIONS = {"table": 1, "goto": 2, "nop": 3, "blackhole": 6, "unreachable": 7, "prohibit": 8}
FIB_RULE_INVERT = 0x2
RTNH_F_ONLINK = 0x4
ADD_IS_DONE = frozenset({errno.EEXIST})
DEL_IS_DONE = frozenset({errno.ESRCH, errno.ENOENT, errno.ENODEV, errno.EADDRNOTAVAIL})


class UnknownTable(LookupError):
    """A routing table name that is neither a number, a kernel name nor in rt_tables."""


def rt_tables(files: Iterable[str] = RT_TABLE_FILES, dirs: Iterable[str] = RT_TABLES_DIRS) -> dict[str, int]:
    """name -> number from iproute2's rt_tables files (the first file that exists, plus its .d directory)."""
    names: dict[str, int] = {}
    paths = [next((f for f in files if os.path.exists(f)), None)]
    for d in dirs:
        with contextlib.suppress(OSError):
            paths += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".conf")]
    for path in paths:
        if path is None:
            continue
        with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                words = line.split("#", 1)[0].split()
                if len(words) >= 2:
                    with contextlib.suppress(ValueError):
                        names.setdefault(words[1], int(words[0], 0))
    return names


def resolve_table(table: int | str, lookup: Callable[[], dict[str, int]] = rt_tables) -> int:
    if isinstance(table, int):
        return table
    number = lookup().get(table)
    if number is None:
        raise UnknownTable(f"routing table {table!r} is not in rt_tables")
    return number


# --- requests (pure but for the interface index lookup) -------------------------------------------


def _family(version: int) -> int:
    return socket.AF_INET if version == 4 else socket.AF_INET6


def _index(ifname: str, index_of: Callable[[str], int | None]) -> int:
    index = index_of(ifname)
    if index is None:
        raise OSError(errno.ENODEV, f"no such interface: {ifname}")
    return index


def route_kwargs(route: Route, index_of: Callable[[str], int | None] = netlink.interface_index,
                 tables: Callable[[], dict[str, int]] = rt_tables) -> dict[str, Any]:
    """pyroute2 ``route('add'|'del', ...)`` arguments for what keepalived's ``netlink_route`` sends."""
    kw: dict[str, Any] = {
        "family": _family(route.family),
        "dst": str(route.dst),
        "table": resolve_table(route.table, tables),
        "type": route.type,
        "proto": route.protocol,
        "scope": route.scope,
    }
    if route.tos:
        kw["tos"] = route.tos
    if route.via is not None and route.type not in NO_NEXTHOP_TYPES:
        kw["gateway"] = str(route.via)
    if route.dev:
        kw["oif"] = _index(route.dev, index_of)
    if route.src is not None:
        kw["prefsrc"] = str(route.src)
    if route.from_ is not None:
        kw["src"] = str(route.from_.network_address)
        kw["src_len"] = route.from_.prefixlen
    if route.metric is not None:
        kw["priority"] = route.metric
    if route.onlink:
        kw["flags"] = RTNH_F_ONLINK
    if route.realms is not None:
        kw["flow"] = route.realms
    if route.pref is not None:
        kw["pref"] = route.pref
    if route.expires is not None:
        kw["expires"] = route.expires
    metrics: dict[str, Any] = dict(route.metrics)
    if route.congctl is not None:
        metrics["congctl"] = route.congctl
    lock = 0
    for name in route.locked:
        lock |= 1 << RTAX[name]
    if lock:
        metrics["lock"] = lock
    if metrics:
        kw["metrics"] = metrics
    if route.nexthops:
        hops = []
        for hop in route.nexthops:
            entry: dict[str, Any] = {}
            if hop.via is not None:
                entry["gateway"] = str(hop.via)
            if hop.dev:
                entry["oif"] = _index(hop.dev, index_of)
            if hop.weight is not None:
                entry["hops"] = hop.weight - 1
            if hop.onlink:
                entry["flags"] = RTNH_F_ONLINK
            if hop.realms is not None:
                entry["flow"] = hop.realms
            hops.append(entry)
        kw["multipath"] = hops
    return kw


def _prefix(kw: dict[str, Any], key: str, net: IPNetwork | None) -> None:
    if net is not None:
        kw[key] = str(net.network_address)
        kw[f"{key}_len"] = net.prefixlen


def _range(pair: tuple[int, int] | None) -> str | None:
    return None if pair is None else f"{pair[0]}:{pair[1]}"


def rule_kwargs(rule: Rule, tables: Callable[[], dict[str, int]] = rt_tables) -> dict[str, Any]:
    """pyroute2 ``rule('add'|'del', ...)`` arguments for what keepalived's ``netlink_rule`` sends."""
    kw: dict[str, Any] = {"family": _family(rule.family), "priority": rule.priority,
                          "action": RULE_ACTIONS[rule.action]}
    if rule.action == "table" and not rule.l3mdev:
        kw["table"] = resolve_table(rule.table if rule.table is not None else 254, tables)
    if rule.l3mdev:
        kw["l3mdev"] = 1
    if rule.goto is not None:
        kw["goto"] = rule.goto
    _prefix(kw, "src", rule.src)
    _prefix(kw, "dst", rule.dst)
    if rule.invert:
        kw["flags"] = FIB_RULE_INVERT
    optional: dict[str, Any] = {
        "tos": rule.tos or None, "fwmark": rule.fwmark, "fwmask": rule.fwmask, "flow": rule.realms,
        "suppress_prefixlen": rule.suppress_prefixlen, "suppress_ifgroup": rule.suppress_ifgroup,
        "iifname": rule.iif, "oifname": rule.oif, "tun_id": rule.tunnel_id, "protocol": rule.protocol,
        "ip_proto": rule.ip_proto,
        "uid_range": _range(rule.uid_range), "sport_range": _range(rule.sport), "dport_range": _range(rule.dport),
    }  # fmt: skip
    kw.update({k: v for k, v in optional.items() if v is not None})
    return kw


# --- install and remove -----------------------------------------------------------------------------


async def add_route(nl: netlink.Netlink, route: Route) -> bool:
    """True if added, False if it was already there; OSError on anything else (the caller logs it)."""
    kw = route_kwargs(route)
    ipr = await nl.connection()
    try:
        await ipr.route("add", **kw)
    except netlink.netlink_error() as exc:
        if exc.code in ADD_IS_DONE:
            return False
        raise OSError(exc.code, f"add route {route}: {exc}") from exc
    return True


async def del_route(nl: netlink.Netlink, route: Route) -> bool:
    try:
        kw = route_kwargs(route)
    except OSError as exc:
        if exc.errno == errno.ENODEV:
            return False  # the interface went away, and its routes with it
        raise
    ipr = await nl.connection()
    try:
        await ipr.route("del", **kw)
    except netlink.netlink_error() as exc:
        if exc.code in DEL_IS_DONE:
            return False
        raise OSError(exc.code, f"del route {route}: {exc}") from exc
    return True


async def add_rule(nl: netlink.Netlink, rule: Rule) -> bool:
    ipr = await nl.connection()
    try:
        await ipr.rule("add", **rule_kwargs(rule))
    except netlink.netlink_error() as exc:
        if exc.code in ADD_IS_DONE:
            return False
        raise OSError(exc.code, f"add rule {rule}: {exc}") from exc
    return True


async def del_rule(nl: netlink.Netlink, rule: Rule) -> bool:
    ipr = await nl.connection()
    try:
        await ipr.rule("del", **rule_kwargs(rule))
    except netlink.netlink_error() as exc:
        if exc.code in DEL_IS_DONE:
            return False
        raise OSError(exc.code, f"del rule {rule}: {exc}") from exc
    return True


def add_route_sync(route: Route) -> bool:
    return netlink.run_sync(lambda nl: add_route(nl, route))


def del_route_sync(route: Route) -> bool:
    return netlink.run_sync(lambda nl: del_route(nl, route))


def add_rule_sync(rule: Rule) -> bool:
    return netlink.run_sync(lambda nl: add_rule(nl, rule))


def del_rule_sync(rule: Rule) -> bool:
    return netlink.run_sync(lambda nl: del_rule(nl, rule))


# --- deletions made by others -----------------------------------------------------------------------

RTM_NEWADDR, RTM_DELADDR, RTM_DELROUTE, RTM_DELRULE = 20, 21, 25, 33
RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_IPV4_RULE = 0x10, 0x40, 0x80
RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE = 0x100, 0x400
RTNLGRP_IPV6_RULE = 19
_NLMSGHDR = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")  # family dst_len src_len tos table protocol scope type flags
_IFADDRMSG = struct.Struct("=BBBBI")  # family prefixlen flags scope index
RTA_DST, RTA_OIF, RTA_PRIORITY, RTA_TABLE = 1, 4, 6, 15
FRA_DST, FRA_SRC, FRA_PRIORITY, FRA_TABLE = 1, 2, 6, 15
IFA_ADDRESS, IFA_LOCAL = 1, 2


@dataclass(frozen=True)
class RouteGone:
    """A route someone deleted: the fields keepalived compares to find which of its routes it was."""

    dst: IPNetwork
    table: int
    tos: int
    type: int
    protocol: int
    oif: int | None
    metric: int | None


@dataclass(frozen=True)
class RuleGone:
    family: int
    priority: int | None
    table: int
    action: int
    src: IPNetwork | None
    dst: IPNetwork | None


@dataclass(frozen=True)
class AddressGone:
    index: int
    address: str
    prefixlen: int


@dataclass(frozen=True)
class AddressCame:
    index: int
    address: str
    prefixlen: int


Gone = RouteGone | RuleGone | AddressGone | AddressCame  # what the route monitor reports


def _attrs(data: bytes, start: int, end: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while start + 4 <= end:
        alen, atype = struct.unpack_from("=HH", data, start)
        if alen < 4:
            break
        out.setdefault(atype & 0x3FFF, data[start + 4 : start + alen])
        start += (alen + 3) & ~3
    return out


def _net(family: int, raw: bytes | None, plen: int) -> IPNetwork | None:
    if raw is None:
        return IPv4Network(f"0.0.0.0/{plen}") if family == socket.AF_INET else IPv6Network(f"::/{plen}")
    addr = ip_address(raw)
    return ip_network(f"{addr}/{plen}", strict=False)


def _u32(raw: bytes | None) -> int | None:
    return None if raw is None or len(raw) < 4 else int(struct.unpack_from("=I", raw)[0])


def parse_deletions(data: bytes) -> list[Gone]:
    """RTM_DELROUTE/RTM_DELRULE/RTM_DELADDR/RTM_NEWADDR messages in a netlink buffer; anything else
    is skipped."""
    out: list[Gone] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind = _NLMSGHDR.unpack_from(data, offset)[:2]
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        body, end = offset + _NLMSGHDR.size, offset + length
        with contextlib.suppress(ValueError, struct.error):
            if kind in (RTM_DELROUTE, RTM_DELRULE) and end - body >= _RTMSG.size:
                family, dst_len, src_len, tos, table, proto, _scope, rtype, _flags = _RTMSG.unpack_from(data, body)
                a = _attrs(data, body + _RTMSG.size, end)
                table = _u32(a.get(RTA_TABLE)) or table
                if kind == RTM_DELROUTE and family in (socket.AF_INET, socket.AF_INET6):
                    dst = _net(family, a.get(RTA_DST), dst_len)
                    assert dst is not None
                    out.append(RouteGone(dst, table, tos, rtype, proto, _u32(a.get(RTA_OIF)),
                                         _u32(a.get(RTA_PRIORITY))))
                elif kind == RTM_DELRULE:
                    # fib_rule_hdr has the rtmsg layout: the action sits where a route's type is
                    out.append(RuleGone(family, _u32(a.get(FRA_PRIORITY)), table, rtype,
                                        _net(family, a.get(FRA_SRC), src_len) if FRA_SRC in a else None,
                                        _net(family, a.get(FRA_DST), dst_len) if FRA_DST in a else None))
            elif kind in (RTM_DELADDR, RTM_NEWADDR) and end - body >= _IFADDRMSG.size:
                family, plen, _f, _s, index = _IFADDRMSG.unpack_from(data, body)
                a = _attrs(data, body + _IFADDRMSG.size, end)
                raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
                if raw is not None:
                    kind_of = AddressGone if kind == RTM_DELADDR else AddressCame
                    out.append(kind_of(index, str(ip_address(raw)), plen))
        offset += (length + 3) & ~3
    return out


class RouteMonitor(FdSocket):
    """Deleted routes, rules and addresses, for asyncio: ``loop.add_reader(mon.fileno(), ...)``."""

    def __init__(self) -> None:
        groups = (RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_RULE | RTMGRP_IPV6_IFADDR
                  | RTMGRP_IPV6_ROUTE | (1 << (RTNLGRP_IPV6_RULE - 1)))
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, socket.NETLINK_ROUTE)
        try:
            self.sock.bind((0, groups))
        except BaseException:
            self.sock.close()
            raise
        self.overruns = 0

    def drain(self, limit: int = 64) -> list[Gone]:
        """Read what is queued (bounded); an overrun (ENOBUFS) is counted, and the caller re-checks."""
        events: list[Gone] = []
        for _ in range(limit):
            try:
                data = self.sock.recv(65536)
            except OSError as exc:
                if exc.errno in NOTHING_TO_READ:
                    break
                if exc.errno == errno.ENOBUFS:
                    self.overruns += 1
                    continue
                raise
            events.extend(parse_deletions(data))
        return events
