"""Addresses and links through rtnetlink, as keepalived's ``vrrp_ipaddress.c`` does it.

Why each choice:

* VIPs are added with exactly the attributes keepalived sends (``netlink_ipaddress``): IFA_LOCAL
  and the configured prefix (keepalived's default for an address without ``/len`` is /32 or /128,
  decided by the config parser), IFA_BROADCAST only when ``brd`` is given (``+``/``-`` computed as
  ip-addr(8) does, and only for prefixes up to /30), the scope (default global), IFA_LABEL, and
  IFA_FLAGS from ``home``/``mngtmpaddr``/``noprefixroute``/``autojoin``. IPv6 VIPs get IFA_F_NODAD
  unless ``-nodad`` is configured (a VIP that fails DAD during a split brain would stay dead
  forever), and a /128 VIP is deprecated (preferred_lft 0) so it is never picked as a source
  address; scope and label are ignored for IPv6, as keepalived ignores them.
* Add and delete are idempotent (EEXIST on add; EADDRNOTAVAIL, ESRCH, ENODEV or ENOENT on delete are
  success): the daemon replays them after crashes and reloads without reading state first.
* Requests go through ``vrrpkit.io.rtnl``, one blocking netlink socket per process: a VIP change is
  one kernel round trip made where it is decided, as keepalived makes it (pyroute2, used before,
  cost ~13 MB of RSS and a thread hand-off per change; see docs/reliability.md). Routes and rules
  (``vrrpkit.io.routes``) and VMAC links (``vrrpkit.io.vmac``) still use pyroute2 through
  ``run_sync``, imported only when configured.
* pyroute2 before 0.9.1 (Debian 12 ships 0.7.2) has no AsyncIPRoute. There, ``ThreadedIPRoute``
  gives the same awaitable surface over the classic synchronous ``IPRoute``, one call at a time in
  a worker thread, so the Debian package can depend on Debian's own python3-pyroute2.
* Link state for the loop comes from ``vrrpkit.io.linkmon``. "Up" means IFF_UP and IFF_RUNNING
  (carrier), keepalived's ``IF_FLAGS_UP`` (``flags_up`` here).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address, ip_interface
from typing import Any, Generic, TypeVar

from vrrpkit.core.config import IPAddress, IPInterface, Vip
from vrrpkit.io import consts, rtnl
from vrrpkit.io.viprequest import vip_request

T = TypeVar("T")

IFA_F_TENTATIVE = 0x40
ADD_IS_DONE = frozenset({errno.EEXIST})
DEL_IS_DONE = frozenset({errno.EADDRNOTAVAIL, errno.ESRCH, errno.ENODEV, errno.ENOENT})
_SIOCGIFFLAGS, _SIOCGIFINDEX = 0x8913, 0x8933


# --- synchronous, netlink-free link queries ---------------------------------------------------


class _PerProcess(Generic[T]):
    """One object per process, made on first use and again after a fork (a child must not share
    a socket: answers would go to either process). The fork is noticed by a fork hook, not by
    comparing pids at every use: getpid() is a system call, and the lock only guards the making,
    so a request on the way to a VIP removal costs neither."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self.made: T | None = None
        os.register_at_fork(after_in_child=self.forget)

    def get(self) -> T:
        made = self.made
        if made is not None:
            return made
        with self._lock:
            if self.made is None:
                self.made = self._make()
            return self.made

    def forget(self) -> None:
        """In a forked child: the parent's object stays the parent's (closed with the child)."""
        self.made = None
        self._lock = threading.Lock()  # a lock held by another thread at the fork stays held


# One datagram socket for interface ioctls: if_nametoindex opens and closes one per call, three
# system calls where one does.
_ioctl = _PerProcess(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))


def _ifreq(ifname: str, request: int) -> bytes | None:
    """The struct ifreq the kernel answers for ``ifname``; None when it has no such interface."""
    name = ifname.encode()
    if not name or len(name) >= 16 or b"\0" in name:  # IFNAMSIZ: no interface has such a name
        return None
    try:
        return fcntl.ioctl(_ioctl.get().fileno(), request, struct.pack("16s16x", name))
    except OSError:
        return None


def interface_index(ifname: str) -> int | None:
    """The ifindex, or None when the interface does not exist (in our network namespace)."""
    answer = _ifreq(ifname, _SIOCGIFINDEX)
    return None if answer is None else int(struct.unpack_from("i", answer, 16)[0])


def interface_exists(ifname: str) -> bool:
    return interface_index(ifname) is not None


def interface_flags(ifname: str) -> int | None:
    """SIOCGIFFLAGS: cheap and synchronous, so the loop may call it (None if missing)."""
    answer = _ifreq(ifname, _SIOCGIFFLAGS)
    return None if answer is None else int(struct.unpack_from("H", answer, 16)[0])


def flags_up(flags: int) -> bool:
    """keepalived's IF_FLAGS_UP: administratively up and with carrier."""
    return flags & (consts.IFF_UP | consts.IFF_RUNNING) == (consts.IFF_UP | consts.IFF_RUNNING)


def link_is_up(ifname: str) -> bool:
    flags = interface_flags(ifname)
    return flags is not None and flags_up(flags)


def interface_names() -> list[str]:
    """Every interface of this network namespace's /sys, by name (``ip netns exec`` remounts it)."""
    return sorted(os.listdir("/sys/class/net"))


def route_source(dst: IPAddress) -> IPAddress | None:
    """The source address the kernel would pick towards ``dst``; None when it has no route.

    connect() on a UDP socket runs the route lookup and binds the source without sending anything.
    """
    family = socket.AF_INET if dst.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((str(dst), 9))
            local = sock.getsockname()[0]
    except OSError:
        return None
    return ip_address(local)


# --- addresses through rtnetlink ----------------------------------------------------------------


@dataclass(frozen=True)
class AddressInfo:
    """One address as the kernel reports it (the fields ``ip -j addr`` shows that we compare)."""

    address: IPAddress
    prefixlen: int
    scope: int
    flags: int
    label: str | None
    broadcast: IPv4Address | None

    @property
    def secondary(self) -> bool:
        return bool(self.flags & consts.IFA_F_SECONDARY)

    @property
    def tentative(self) -> bool:
        return bool(self.flags & IFA_F_TENTATIVE)


def _no_such_interface(ifname: str) -> OSError:
    return OSError(errno.ENODEV, f"no such interface: {ifname}")


_connection = _PerProcess(rtnl.Rtnl)  # the process's one request socket


def _family_of(af: int) -> int:
    return 4 if af == socket.AF_INET else 6


# RTM_NEWADDR and RTM_DELADDR bodies by VIP and ifindex, built ahead by `prepare_vip` (bounded:
# cleared when full)
_bodies: dict[tuple[Vip, int], tuple[bytes, bytes]] = {}


def _bodies_of(vip: Vip, index: int) -> tuple[bytes, bytes]:
    bodies = _bodies.get((vip, index))
    if bodies is None:
        if len(_bodies) >= 4096:
            _bodies.clear()
        request = vip_request(vip)
        bodies = _bodies[(vip, index)] = (request.add_body(index), request.del_body(index))
    return bodies


def prepare_vip(ifname: str, vip: Vip) -> None:
    """Build the requests `add_vip` and `del_vip` will send, ahead: built when a takeover (or a
    step-down) needs them, by code that has not run for a while, each cost ~0.1 ms before the VIP
    changed (measured at 10 ms adverts). A different ifindex by then (the interface made again)
    just builds them again."""
    index = interface_index(ifname)
    if index is not None:
        _bodies_of(vip, index)
        _seen_index(ifname, index)


def add_vip(ifname: str, vip: Vip) -> bool:
    """Add ``vip`` to ``ifname``; True if added, False if it was already there (one round trip).

    The ifindex is looked up unless a lookup saw it within FRESH (the takeover's rehearsal looks
    a millisecond before, `prepare_vip`): the ioctl cost 50-80 µs of a takeover on the lab. An
    interface made again since answers ENODEV at the old index, and the name is looked up then."""
    known = _known_index.get(ifname)
    if known is not None and time.monotonic() - known[1] < FRESH:
        try:
            return _change_at(True, ifname, known[0], vip)
        except _Stale:
            pass
    index = interface_index(ifname)
    if index is None:
        raise _no_such_interface(ifname)
    _seen_index(ifname, index)
    try:
        return _change_at(True, ifname, index, vip)
    except _Stale as exc:
        raise OSError(errno.ENODEV, f"add {vip} dev {ifname}: {os.strerror(errno.ENODEV)}") from exc


def _change_at(add: bool, ifname: str, index: int, vip: Vip) -> bool:
    """One RTM_NEWADDR (``add``) or RTM_DELADDR of ``vip`` at ``index``; True if it changed
    something. _Stale when the index may be the wrong one: ENODEV, or for a removal the address
    not being there (a remembered index, looked up again by the caller)."""
    try:
        _connection.get().change_address(add, _bodies_of(vip, index)[0 if add else 1])
    except OSError as exc:
        if exc.errno == errno.ENODEV or (not add and exc.errno == errno.EADDRNOTAVAIL):
            raise _Stale from exc
        if exc.errno in (ADD_IS_DONE if add else DEL_IS_DONE):
            return False
        raise OSError(exc.errno, f"{'add' if add else 'del'} {vip} dev {ifname}: {exc.strerror}") from exc
    return True


def del_vip(ifname: str, vip: Vip) -> bool:
    """Remove ``vip`` from ``ifname``; True if removed, False if it was not there.

    Sent to the ifindex last seen for the name, without asking the kernel first, as keepalived
    removes by the index it keeps: the ioctl cost 50-80 us of a step-down (ending a double holding)
    on the 2-vCPU lab, where the request itself costs about as much. Indexes are not reused soon
    (the kernel hands them out in increasing order), so an interface made again answers ENODEV at
    its old index and one that lost the address EADDRNOTAVAIL: then the name is looked up once
    more, and asked again only if it now names another index."""
    seen = _known_index.get(ifname)
    known = None if seen is None else seen[0]
    if known is not None:
        try:
            return _change_at(False, ifname, known, vip)
        except _Stale:
            pass
    index = interface_index(ifname)
    if index is None:
        _known_index.pop(ifname, None)
        return False  # the interface went away, and its addresses with it
    _seen_index(ifname, index)
    if index == known:
        return False  # that index said it has no such address
    try:
        return _change_at(False, ifname, index, vip)
    except _Stale:
        return False


class _Stale(Exception):
    """A change sent to a remembered ifindex found no interface there (or, removing, not the address)."""


# The ifindex by interface name, as a lookup by `prepare_vip`, `add_vip` or `del_vip` last saw it,
# and when (bounded)
_known_index: dict[str, tuple[int, float]] = {}
FRESH = 1.0  # seconds a lookup's ifindex serves `add_vip` without another


def _seen_index(ifname: str, index: int) -> None:
    if len(_known_index) >= 4096 and ifname not in _known_index:
        _known_index.clear()
    _known_index[ifname] = (index, time.monotonic())


def _info(msg: rtnl.AddrMessage) -> AddressInfo | None:
    raw = msg.local or msg.address
    if raw is None or len(raw) not in (4, 16):
        return None
    return AddressInfo(
        address=ip_address(raw),
        prefixlen=msg.prefixlen,
        scope=msg.scope,
        flags=msg.flags,
        label=msg.label,
        broadcast=IPv4Address(msg.broadcast) if msg.broadcast and len(msg.broadcast) == 4 else None,
    )


def addresses(ifname: str, family: int | None = None) -> list[AddressInfo]:
    """The interface's addresses in kernel order (primaries first for IPv4)."""
    index = interface_index(ifname)
    if index is None:
        raise _no_such_interface(ifname)
    af = {None: socket.AF_UNSPEC, 4: socket.AF_INET, 6: socket.AF_INET6}[family]
    found = []
    for msg in _connection.get().addresses(af):
        if msg.index == index and (family is None or _family_of(msg.family) == family):
            info = _info(msg)
            if info is not None:
                found.append(info)
    return found


def has_address(ifname: str, address: IPAddress) -> bool:
    if not interface_exists(ifname):
        return False
    return any(a.address == address for a in addresses(ifname, address.version))


def primary_address(
    ifname: str, family: int, include_tentative: bool = False, exclude: Iterable[IPAddress] = ()
) -> IPAddress | None:
    """keepalived's source address: IPv4 the interface's primary address; IPv6 the link-local.

    IPv4: the first non-secondary address of global scope in kernel order, else the first
    non-secondary one. The kernel lists a more local scope first, so a /32 ``scope link`` VIP
    left by a crash would otherwise become our advert source: pass the configured VIPs as
    ``exclude``. IPv6: a tentative link-local (DAD running) cannot be a source yet, so it is
    skipped unless asked for; the caller retries.
    """
    skip = set(exclude)
    fallback: IPAddress | None = None
    for info in addresses(ifname, family):
        if info.address in skip:
            continue
        if family == 4 and not info.secondary:
            if info.scope == 0:
                return info.address
            fallback = fallback or info.address
        if family == 6 and info.address.is_link_local and (include_tentative or not info.tentative):
            return info.address
    return fallback


def interface_addresses() -> dict[str, tuple[IPInterface, ...]]:
    """Every interface in our network namespace with its addresses (none for a link without any):
    what ``check`` compares a configuration with."""
    names = dict(socket.if_nameindex())
    out: dict[str, list[IPInterface]] = {name: [] for name in names.values()}
    for msg in _connection.get().addresses():
        name = names.get(msg.index)
        raw = msg.address or msg.local
        if name is None or raw is None or len(raw) not in (4, 16):
            continue
        out.setdefault(name, []).append(ip_interface(f"{ip_address(raw)}/{msg.prefixlen}"))
    return {k: tuple(v) for k, v in out.items()}


class _Messages:
    """A list of netlink messages that reads like AsyncIPRoute's async generators (``async for``)."""

    def __init__(self, messages: Iterable[Any]) -> None:
        self._messages = iter(list(messages))

    def __aiter__(self) -> _Messages:
        return self

    def __iter__(self) -> Iterator[Any]:  # AsyncIPRoute's link("get") answers a plain list
        return self._messages

    async def __anext__(self) -> Any:
        try:
            return next(self._messages)
        except StopIteration:
            raise StopAsyncIteration from None


def legacy_addr_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """pyroute2 < 0.9 drops ``preferred_lft``/``valid_lft`` given as keywords (its filter reads them
    from inside ``cacheinfo``), so a /128 VIP would not be deprecated: pass them there instead."""
    if "preferred_lft" not in kwargs and "valid_lft" not in kwargs:
        return kwargs
    out = dict(kwargs)
    forever = consts.INFINITY_LIFE_TIME
    out["cacheinfo"] = {"preferred": out.pop("preferred_lft", forever), "valid": out.pop("valid_lft", forever)}
    return out


class ThreadedIPRoute:
    """AsyncIPRoute's surface (``addr``, ``link``, ``route``, ``rule``, ``get_links``, ``get_addr``, ``close``) over
    the synchronous ``IPRoute`` of pyroute2 < 0.9.1, for the Debian 12 package (python3-pyroute2 0.7.2).

    Each call runs in a worker thread, one at a time (IPRoute is not safe for concurrent use), and
    dumps are read to the end there, so the caller's loop never blocks on the kernel.
    """

    def __init__(self, ipr: Any = None) -> None:
        if ipr is None:
            from pyroute2 import IPRoute

            ipr = IPRoute()
        self._ipr = ipr
        self._lock = threading.Lock()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> list[Any]:
        with self._lock:
            return list(getattr(self._ipr, method)(*args, **kwargs) or [])

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> _Messages:
        loop = asyncio.get_running_loop()
        messages = await loop.run_in_executor(None, lambda: self._call(method, *args, **kwargs))
        return _Messages(messages)

    async def addr(self, command: str, **kwargs: Any) -> _Messages:
        return await self._run("addr", command, **legacy_addr_kwargs(kwargs))

    async def route(self, command: str, **kwargs: Any) -> _Messages:
        return await self._run("route", command, **kwargs)

    async def link(self, command: str, **kwargs: Any) -> _Messages:
        return await self._run("link", command, **kwargs)

    async def rule(self, command: str, **kwargs: Any) -> _Messages:
        return await self._run("rule", command, **kwargs)

    async def get_links(self) -> _Messages:
        return await self._run("get_links")

    async def get_addr(self) -> _Messages:
        return await self._run("get_addr")

    def close(self) -> None:
        with self._lock:
            self._ipr.close()


def netlink_error() -> Any:
    """pyroute2's error class (with ``.code``), imported only once pyroute2 is in use (an ``except``
    clause's expression is evaluated only when an exception reaches it): a daemon without routes,
    rules or VMACs never imports pyroute2 (nor the ssl it drags in, see async_iproute_class)."""
    from pyroute2.netlink.exceptions import NetlinkError

    return NetlinkError


def async_iproute_class() -> Any:
    """pyroute2's AsyncIPRoute (>= 0.9.1), or None before it; imports pyroute2 (and so ssl) on first
    use only: `vrrpkit run` keeps ssl out of the daemon (cli/cmd_run.py) until something needs it."""
    if "ssl" in sys.modules and sys.modules["ssl"] is None:
        del sys.modules["ssl"]  # pyroute2 imports ssl unconditionally
    try:  # pyroute2 >= 0.9.1
        from pyroute2 import AsyncIPRoute
    except ImportError:  # pyroute2 0.7.x / 0.8.x (Debian 12: 0.7.2)
        return None
    return AsyncIPRoute


def open_iproute() -> Any:
    """AsyncIPRoute where pyroute2 has it (>= 0.9.1), else the threaded adapter over IPRoute."""
    cls = async_iproute_class()
    return cls() if cls is not None else ThreadedIPRoute()


class Netlink:
    """The same queries for asyncio code that prefers to await them (each is one kernel round trip,
    answered at once, so awaiting it never blocks the loop for longer than calling it would); and
    the pyroute2 connection that routes, rules and VMAC links still go through, made (and pyroute2
    imported) only when one is first asked for."""

    def __init__(self) -> None:
        self._ipr: Any = None

    async def connection(self) -> Any:
        """The shared pyroute2 connection (AsyncIPRoute, or the threaded adapter on pyroute2 < 0.9.1)."""
        if self._ipr is None:
            self._ipr = open_iproute()
        return self._ipr

    async def __aenter__(self) -> Netlink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    async def add_vip(self, ifname: str, vip: Vip) -> bool:
        return add_vip(ifname, vip)

    async def del_vip(self, ifname: str, vip: Vip) -> bool:
        return del_vip(ifname, vip)

    async def addresses(self, ifname: str, family: int | None = None) -> list[AddressInfo]:
        return addresses(ifname, family)

    async def has_address(self, ifname: str, address: IPAddress) -> bool:
        return has_address(ifname, address)

    async def primary_address(
        self, ifname: str, family: int, include_tentative: bool = False, exclude: Iterable[IPAddress] = ()
    ) -> IPAddress | None:
        return primary_address(ifname, family, include_tentative, exclude)

    async def interface_addresses(self) -> dict[str, tuple[IPInterface, ...]]:
        return interface_addresses()


# --- the pyroute2 bridge for routes and rules -----------------------------------------------------


class _Background:
    """One pyroute2 connection on a private event-loop thread, for ``run_sync``.

    pyroute2 0.9's sync API cannot run inside a running loop, so the routes adapter hands its
    coroutine to this thread and waits for it. Created on first use: a daemon without
    virtual_routes/virtual_rules never starts the thread or imports pyroute2.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._netlink: Netlink | None = None
        self._pid = 0

    def _ensure(self) -> tuple[asyncio.AbstractEventLoop, Netlink]:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # a fork must not share the socket
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="vrrpkit-netlink", daemon=True)
                thread.start()
                self._loop, self._netlink, self._pid = loop, Netlink(), os.getpid()
            assert self._netlink is not None
            return self._loop, self._netlink

    def run(self, call: Callable[[Netlink], Awaitable[T]], timeout: float) -> T:
        loop, nl = self._ensure()

        async def main() -> T:
            return await call(nl)

        return asyncio.run_coroutine_threadsafe(main(), loop).result(timeout)


_background = _Background()
SYNC_TIMEOUT = 10.0


def run_sync(call: Callable[[Netlink], Awaitable[T]]) -> T:
    """Run a coroutine on the shared pyroute2 connection and wait (one kernel round trip)."""
    return _background.run(call, SYNC_TIMEOUT)
