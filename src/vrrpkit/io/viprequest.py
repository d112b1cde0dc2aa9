"""What keepalived's ``netlink_ipaddress`` sends for a VIP, computed without touching the system
(pure: `vrrpkit.io.netlink` sends it). The choices are explained there."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface

from vrrpkit.core.config import IPAddress, Vip
from vrrpkit.io import consts, rtnl

SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
FLAG_BITS = {
    "home": consts.IFA_F_HOMEADDRESS,
    "mngtmpaddr": consts.IFA_F_MANAGETEMPADDR,
    "noprefixroute": consts.IFA_F_NOPREFIXROUTE,
    "autojoin": consts.IFA_F_MCAUTOJOIN,
}


@dataclass(frozen=True)
class VipRequest:
    """The RTM_NEWADDR attributes for one VIP, computed without touching the system."""

    family: int  # 4 or 6
    address: IPAddress
    prefixlen: int
    broadcast: IPv4Address | None = None
    scope: int = 0
    label: str | None = None
    flags: int = 0  # IFA_FLAGS
    preferred_lft: int | None = None  # None: forever, no IFA_CACHEINFO sent

    def add_body(self, index: int) -> bytes:
        """The RTM_NEWADDR body keepalived sends: IFA_LOCAL (IPv4) and IFA_ADDRESS, the broadcast
        only when configured, label, IFA_FLAGS, and the lifetimes only when preferred_lft is set."""
        af = socket.AF_INET if self.family == 4 else socket.AF_INET6
        lifetimes = None if self.preferred_lft is None else (self.preferred_lft, consts.INFINITY_LIFE_TIME)
        return rtnl.addr_body(
            family=af,
            index=index,
            prefixlen=self.prefixlen,
            address=self.address.packed,
            local=self.address.packed if self.family == 4 else None,
            broadcast=self.broadcast.packed if self.broadcast is not None else None,
            scope=self.scope,
            label=self.label,
            flags=self.flags,
            lifetimes=lifetimes,
        )

    def del_body(self, index: int) -> bytes:
        """The RTM_DELADDR body (keepalived: local, address, prefix)."""
        af = socket.AF_INET if self.family == 4 else socket.AF_INET6
        return rtnl.addr_body(
            family=af,
            index=index,
            prefixlen=self.prefixlen,
            address=self.address.packed,
            local=self.address.packed if self.family == 4 else None,
        )


def parse_scope(scope: str | None) -> int:
    """rt_scopes names or a number; None means global (keepalived's default)."""
    if scope is None:
        return 0
    if scope in SCOPES:
        return SCOPES[scope]
    value = int(scope, 0)
    if not 0 <= value <= 255:
        raise ValueError(f"scope {scope} out of range")
    return value


def broadcast_for(vip: Vip) -> IPv4Address | None:
    """``brd`` as ip-addr(8) and keepalived compute it: ``+`` host bits set, ``-`` cleared.

    ``+``/``-`` on a prefix longer than /30 is ignored (keepalived logs "too long for broadcast").
    """
    if vip.brd is None or vip.interface.version != 4:
        return None
    prefixlen = vip.interface.network.prefixlen
    if vip.brd in ("+", "-"):
        if prefixlen > 30:
            return None
        network = IPv4Interface(f"{vip.address}/{prefixlen}").network
        return network.broadcast_address if vip.brd == "+" else network.network_address
    return IPv4Address(vip.brd)


def _preferred_lft(vip: Vip) -> int | None:
    """keepalived: IPv6 /128 VIPs default to deprecated (0); ``preferred_lft N|forever`` overrides."""
    value: str | None = None
    tokens = list(vip.flags)
    for i, token in enumerate(tokens):
        if token.startswith("preferred_lft="):
            value = token.split("=", 1)[1]
        elif token == "preferred_lft" and i + 1 < len(tokens):
            value = tokens[i + 1]
    if value is None:
        return 0 if vip.interface.network.prefixlen == 128 else None
    if value == "forever":
        return None
    return int(value)


def vip_request(vip: Vip) -> VipRequest:
    """What keepalived's ``netlink_ipaddress`` sends for this VIP."""
    family = vip.interface.version
    prefixlen = vip.interface.network.prefixlen
    flags = 0
    for token in vip.flags:
        flags |= FLAG_BITS.get(token, 0)
    if family == 4:
        return VipRequest(
            family=4,
            address=vip.address,
            prefixlen=prefixlen,
            broadcast=broadcast_for(vip),
            scope=parse_scope(vip.scope),
            label=vip.label,
            flags=flags,
        )
    if "-nodad" not in vip.flags:
        flags |= consts.IFA_F_NODAD
    return VipRequest(
        family=6, address=vip.address, prefixlen=prefixlen, flags=flags, preferred_lft=_preferred_lft(vip)
    )
