"""Routes and policy rules as configured: data the I/O layer installs, never read by the router.

`virtual_routes`/`virtual_rules` of an instance are installed while it is MASTER; `static_routes`/
`static_rules` (and `static_ipaddress`, which are `Vip`s) for as long as the daemon runs. They live
in the core, next to `Vip`, because both the config parser (which builds them) and the netlink
adapter (which installs them) need them, and those two may only share the core.

Numbers are kernel values (route types, scopes, protocols, tables), already resolved by the parser
from keepalived's words; only a routing table given by a name that is neither a number nor one of
the kernel's own (`main`, `local`, `default`) stays a name, for the I/O layer to look up in
/etc/iproute2/rt_tables as `ip route` would.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from vrrpkit.core.config import IPAddress

IPNetwork = IPv4Network | IPv6Network

RTPROT_KEEPALIVED = 18  # keepalived marks what it installs (and tracks) with this protocol
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RTN_TYPES = {
    "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4, "multicast": 5, "blackhole": 6,
    "unreachable": 7, "prohibit": 8, "throw": 9, "nat": 10, "xresolve": 11,
}  # fmt: skip
#: Route types with no next hop: nothing to track an interface by, and no `via`.
NO_NEXTHOP_TYPES = frozenset({6, 7, 8, 9})


@dataclass(frozen=True)
class NextHop:
    """One `nexthop via X [dev IF] [weight N] [onlink]` of a multipath route (weight as written, 1..256)."""

    via: IPAddress | None = None
    dev: str | None = None
    weight: int | None = None
    onlink: bool = False
    realms: int | None = None


@dataclass(frozen=True)
class Route:
    """One line of virtual_routes/static_routes (keepalived's `alloc_route`).

    `metrics` holds the RTA_METRICS values by their iproute2 name (mtu, advmss, window, ...);
    `locked` the names written with `lock`. `track` is keepalived's tracking: off with `no_track`,
    and off when the route names no interface (keepalived warns that it cannot track it).
    """

    dst: IPNetwork
    family: Literal[4, 6] = 4
    type: int = RTN_UNICAST
    via: IPAddress | None = None
    dev: str | None = None
    src: IPAddress | None = None  # `src`: the preferred source address (RTA_PREFSRC)
    from_: IPNetwork | None = None  # `from`: IPv6 source prefix (RTA_SRC)
    table: int | str = RT_TABLE_MAIN
    metric: int | None = None
    scope: int = 0
    protocol: int = RTPROT_KEEPALIVED
    tos: int = 0
    onlink: bool = False
    realms: int | None = None
    metrics: tuple[tuple[str, int], ...] = ()
    locked: tuple[str, ...] = ()
    congctl: str | None = None
    pref: int | None = None
    expires: int | None = None
    nexthops: tuple[NextHop, ...] = ()
    track: bool = True

    def __str__(self) -> str:
        words = [] if self.type == RTN_UNICAST else [_type_name(self.type)]
        words.append(str(self.dst))
        if self.via is not None:
            words += ["via", str(self.via)]
        if self.dev:
            words += ["dev", self.dev]
        if self.src is not None:
            words += ["src", str(self.src)]
        if self.table != RT_TABLE_MAIN:
            words += ["table", str(self.table)]
        if self.metric is not None:
            words += ["metric", str(self.metric)]
        for hop in self.nexthops:
            words += ["nexthop", "via", str(hop.via)] + (["dev", hop.dev] if hop.dev else [])
        return " ".join(words)


RuleAction = Literal["table", "goto", "nop", "blackhole", "unreachable", "prohibit"]


@dataclass(frozen=True)
class Rule:
    """One line of virtual_rules/static_rules (keepalived's `alloc_rule`); priority is always set."""

    priority: int
    family: Literal[4, 6] = 4
    action: RuleAction = "table"
    table: int | str | None = None
    goto: int | None = None
    src: IPNetwork | None = None  # `from`
    dst: IPNetwork | None = None  # `to`
    invert: bool = False  # `not`
    tos: int = 0
    fwmark: int | None = None
    fwmask: int | None = None
    realms: int | None = None
    suppress_prefixlen: int | None = None
    suppress_ifgroup: int | None = None
    iif: str | None = None
    oif: str | None = None
    tunnel_id: int | None = None
    uid_range: tuple[int, int] | None = None
    l3mdev: bool = False
    protocol: int | None = None
    ip_proto: int | None = None
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    track: bool = True

    def __str__(self) -> str:
        words = [str(self.priority) + ":"]
        if self.invert:
            words.append("not")
        words += ["from", str(self.src) if self.src is not None else "all"]
        if self.dst is not None:
            words += ["to", str(self.dst)]
        if self.iif:
            words += ["iif", self.iif]
        if self.oif:
            words += ["oif", self.oif]
        if self.fwmark is not None:
            words += ["fwmark", hex(self.fwmark) + (f"/{self.fwmask:#x}" if self.fwmask is not None else "")]
        if self.action == "table":
            words += ["lookup", "l3mdev" if self.l3mdev else str(self.table)]
        elif self.action == "goto":
            words += ["goto", str(self.goto)]
        else:
            words.append(self.action)
        return " ".join(words)


def _type_name(value: int) -> str:
    for name, number in RTN_TYPES.items():
        if number == value:
            return name
    return str(value)
