"""Virtual-MAC interfaces through rtnetlink (pyroute2): the links keepalived's ``vrrp_vmac.c`` makes.

A VMAC is a macvlan in *private* mode on the instance's interface, with the virtual MAC as its
address: private mode, because the backup's VMAC carries the same MAC as the master's, and two
macvlans of one lower device in bridge mode would talk to each other instead of the wire. An
``use_ipvlan`` link is an L2 ipvlan (no MAC of its own; bridge, private or vepa flag). The kernel
here has CONFIG_MACVLAN but not CONFIG_IPVLAN, so creating an ipvlan fails with EOPNOTSUPP: the
caller reports it like any refusal.

Only links this module can prove are VMACs are ever deleted: `delete` checks the kind first, so
a physical interface that happens to carry a configured name survives any bug upstream.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import IPv6Interface
from typing import TYPE_CHECKING, Any, TypeVar

from vrrpkit.core.config import IPInterface, VmacLink
from vrrpkit.io import consts, netlink

if TYPE_CHECKING:  # pyroute2 < 0.9.1 (Debian 12) has no AsyncIPRoute: io.netlink adapts IPRoute
    from pyroute2 import AsyncIPRoute

T = TypeVar("T")

IPVLAN_MODE_L2 = 0
IPVLAN_FLAGS = {"bridge": 0, "private": 1, "vepa": 2}  # linux/if_link.h IPVLAN_F_*
GONE = frozenset({errno.ENODEV, errno.ENOENT})


@dataclass(frozen=True)
class LinkState:
    """What the kernel says about one interface, as far as VMACs are concerned."""

    name: str
    index: int
    kind: str  # "macvlan", "ipvlan", "veth", ... ("" for a link without IFLA_LINKINFO, e.g. a NIC)
    mode: str | None  # macvlan mode ("private", "bridge", ...) when kind == "macvlan"
    base_index: int | None  # IFLA_LINK: the lower device of a macvlan/ipvlan
    mac: bytes | None
    up: bool
    mtu: int = 1500


def _mac(text: str | None) -> bytes | None:
    return bytes(int(part, 16) for part in text.split(":")) if text else None


def _state(msg: Any) -> LinkState:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = (info.get_attr("IFLA_INFO_KIND") if info is not None else None) or ""
    mode = None
    if kind == "macvlan" and info is not None:
        data = info.get_attr("IFLA_INFO_DATA")
        mode = data.get_attr("IFLA_MACVLAN_MODE") if data is not None else None
    return LinkState(
        name=msg.get_attr("IFLA_IFNAME"),
        index=msg["index"],
        kind=kind,
        mode=mode if isinstance(mode, str) else None,
        base_index=msg.get_attr("IFLA_LINK"),
        mac=_mac(msg.get_attr("IFLA_ADDRESS")),
        up=bool(msg["flags"] & consts.IFF_UP),
        mtu=msg.get_attr("IFLA_MTU") or 1500,
    )


async def link_state(ipr: AsyncIPRoute, name: str) -> LinkState | None:
    index = netlink.interface_index(name)
    if index is None:
        return None
    try:
        msgs = await ipr.link("get", index=index)
    except netlink.netlink_error() as exc:
        if exc.code in GONE:
            return None
        raise OSError(exc.code, f"link {name}: {exc}") from exc
    return _state(next(iter(msgs)))


async def link_kinds(ipr: AsyncIPRoute) -> dict[str, str]:
    """Every interface's kind (what `check` needs to tell a VMAC from an interface it must not touch)."""
    out: dict[str, str] = {}
    async for msg in await ipr.get_links():
        state = _state(msg)
        out[state.name] = state.kind
    return out


async def create(ipr: AsyncIPRoute, link: VmacLink) -> None:
    """Create the link, down (sysctls and addresses are set before it comes up, as keepalived does)."""
    base = netlink.interface_index(link.base)
    if base is None:
        raise OSError(errno.ENODEV, f"base interface {link.base} does not exist")
    kwargs: dict[str, Any] = {"ifname": link.name, "link": base}
    if link.kind == "macvlan":
        kwargs.update(kind="macvlan", macvlan_mode="private", address=":".join(f"{b:02x}" for b in link.mac))
    else:
        kwargs.update(kind="ipvlan", ipvlan_mode=IPVLAN_MODE_L2, ipvlan_flags=IPVLAN_FLAGS[link.ipvlan_mode])
    try:
        await ipr.link("add", **kwargs)
    except netlink.netlink_error() as exc:
        what = "the kernel has no ipvlan (CONFIG_IPVLAN)" if exc.code == errno.EOPNOTSUPP else str(exc)
        raise OSError(exc.code, f"cannot create {link.kind} {link.name} on {link.base}: {what}") from exc


async def delete(ipr: AsyncIPRoute, name: str, kind: str) -> bool:
    """Delete `name` if it is a link of `kind`; False when it is gone already (or not ours to delete)."""
    state = await link_state(ipr, name)
    if state is None or state.kind != kind:
        return False
    try:
        await ipr.link("del", index=state.index)
    except netlink.netlink_error() as exc:
        if exc.code in GONE:
            return False
        raise OSError(exc.code, f"delete {name}: {exc}") from exc
    return True


async def set_up(ipr: AsyncIPRoute, name: str) -> None:
    index = netlink.interface_index(name)
    if index is None:
        raise OSError(errno.ENODEV, f"no such interface: {name}")
    try:
        await ipr.link("set", index=index, state="up")
    except netlink.netlink_error() as exc:
        raise OSError(exc.code, f"set {name} up: {exc}") from exc


async def add_address(ipr: AsyncIPRoute, name: str, address: IPInterface) -> None:
    """Add a non-VIP address (the link-local an IPv6 VMAC sends from, an ipvlan's own); EEXIST is fine.

    IPv6 addresses skip DAD: the VMAC borrows the base interface's link-local, and an address that
    stays tentative cannot source adverts."""
    index = netlink.interface_index(name)
    if index is None:
        raise OSError(errno.ENODEV, f"no such interface: {name}")
    kwargs: dict[str, Any] = {
        "index": index,
        "address": str(address.ip),
        "prefixlen": address.network.prefixlen,
        "family": socket.AF_INET6 if isinstance(address, IPv6Interface) else socket.AF_INET,
    }
    if isinstance(address, IPv6Interface):
        kwargs["flags"] = consts.IFA_F_NODAD
    else:
        kwargs["local"] = str(address.ip)
    try:
        await ipr.addr("add", **kwargs)
    except netlink.netlink_error() as exc:
        if exc.code != errno.EEXIST:
            raise OSError(exc.code, f"add {address} dev {name}: {exc}") from exc


class VmacLinks:
    """The synchronous face of this module, for the daemon (`ports.Vmacs`)."""

    @staticmethod
    def _run(call: Callable[[AsyncIPRoute], Awaitable[T]]) -> T:
        return _sync(call)

    def state(self, name: str) -> LinkState | None:
        return self._run(lambda ipr: link_state(ipr, name))

    def create(self, link: VmacLink) -> None:
        self._run(lambda ipr: create(ipr, link))

    def delete(self, name: str, kind: str) -> bool:
        return self._run(lambda ipr: delete(ipr, name, kind))

    def set_up(self, name: str) -> None:
        self._run(lambda ipr: set_up(ipr, name))

    def add_address(self, name: str, address: IPInterface) -> None:
        self._run(lambda ipr: add_address(ipr, name, address))


def _sync(call: Callable[[AsyncIPRoute], Awaitable[T]]) -> T:
    """Run `call` with the shared background connection (io.netlink) and wait for it."""

    async def with_connection(nl: netlink.Netlink) -> T:
        return await call(await nl.connection())

    return netlink.run_sync(with_connection)


def interface_kinds() -> dict[str, str]:
    """Synchronous `link_kinds`, for `check`'s host facts."""
    return _sync(link_kinds)
