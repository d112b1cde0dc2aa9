"""What the daemon needs from the operating system, as small protocols with one real implementation.

The daemon's parts take a `Ports` instead of importing `vrrpkit.io` directly, so that each part can
be exercised without root against recording fakes (tests/unit/daemon/fakes.py), while production
wires in `os_ports()`. The protocols name only what the daemon calls: a new adapter method is a
deliberate widening of this seam, visible here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from vrrpkit.core.config import IPAddress, IPInterface, Vip, VmacLink
from vrrpkit.core.effects import SendAdvert
from vrrpkit.core.packet import InvalidPacket
from vrrpkit.core.routing import Route, Rule
from vrrpkit.io import consts, linkbeat, linkmon, netlink, routes, sysctl
from vrrpkit.io.garp import GarpSender, NeighborProber, interface_mac
from vrrpkit.io.nft import NoAcceptFirewall
from vrrpkit.io.stamped import Batch, Known
from vrrpkit.io.timerfd import TimerFd
from vrrpkit.io.vmac import LinkState, VmacLinks
from vrrpkit.io.vrrp_filter import FilterSpec
from vrrpkit.io.vrrp_socket import Datagram, open_vrrp_socket

T = TypeVar("T")


class Netlink(Protocol):
    def add_vip(self, ifname: str, vip: Vip) -> bool: ...
    def prepare_vip(self, ifname: str, vip: Vip) -> None: ...  # build add_vip's request ahead of need
    def del_vip(self, ifname: str, vip: Vip) -> bool: ...
    def has_address(self, ifname: str, address: IPAddress) -> bool: ...
    def link_is_up(self, ifname: str) -> bool: ...
    def interface_exists(self, ifname: str) -> bool: ...
    def primary_address(self, ifname: str, family: int, exclude: Iterable[IPAddress] = ()) -> IPAddress | None: ...
    def interface_index(self, ifname: str) -> int | None: ...
    # routes and rules: True if the call changed something; OSError when the kernel refuses
    def add_route(self, route: Route) -> bool: ...
    def del_route(self, route: Route) -> bool: ...
    def add_rule(self, rule: Rule) -> bool: ...
    def del_rule(self, rule: Rule) -> bool: ...
    def resolve_table(self, table: int | str) -> int: ...
    def interface_names(self) -> list[str]: ...


class Vmacs(Protocol):
    """Virtual-MAC links (macvlan / ipvlan); every call may raise OSError."""

    def state(self, name: str) -> LinkState | None: ...
    def create(self, link: VmacLink) -> None: ...
    def delete(self, name: str, kind: str) -> bool: ...
    def set_up(self, name: str) -> None: ...
    def add_address(self, name: str, address: IPInterface) -> None: ...
    def mac(self, ifname: str) -> bytes: ...


class Sysctl(Protocol):
    """/proc/sys integers by name (`net/ipv4/conf/eth0/arp_ignore`); read gives None when absent."""

    def read(self, name: str) -> int | None: ...
    def write(self, name: str, value: int) -> None: ...


AH_SOCKET = consts.IPPROTO_AH  # a socket key's "family" for auth_type AH instances (io/ah_socket.py)


class VrrpSocket(Protocol):
    """One raw protocol-112 socket per (interface, family); sends never raise."""

    unicast: bool
    group: IPAddress | None
    filter: FilterSpec | None  # the kernel filter attached, if any
    ifindex: int  # the interface index it is bound to: an interface made anew has another

    def fileno(self) -> int: ...
    def close(self) -> None: ...
    def send(self, data: bytes, dst: IPAddress, src: IPAddress, ttl: int = 255) -> OSError | None: ...
    def send_many(self, adverts: Sequence[SendAdvert]) -> list[OSError | None]: ...
    def join(self, group: IPAddress) -> None: ...
    def drain(self, limit: int = ...) -> tuple[list[Datagram], list[InvalidPacket]]: ...
    def set_rcvbuf(self, size: int) -> None: ...
    def mtu(self) -> int | None: ...
    def set_filter(self, spec: FilterSpec) -> None: ...
    def kernel_drops(self) -> int | None: ...
    def arrived(self) -> float | None: ...

    # lazy reading while every instance on the socket is BACKUP (io/wake.py, daemon/sockets.py)
    stamps: list[float]  # arrival (monotonic) of each datagram of the last drain, while stamped

    def open_wake(self) -> int | None: ...
    def clear_wake(self) -> int: ...
    def close_wake(self) -> None: ...
    def set_stamped(self, on: bool) -> None: ...
    # a lazy read: only which known adverts came, when every datagram is one (io/stamped.py)
    def drain_known(
        self, limit: int, table: Mapping[bytes, Known[T]], check: Callable[[Iterable[Known[T]]], bool]
    ) -> Batch[T]: ...


class Announcer(Protocol):
    """Gratuitous ARP / unsolicited NA on one interface."""

    ifindex: int  # the index it is bound to (the name may come to name another interface)
    def announce(self, vips: Iterable[Vip], count: int) -> int: ...
    def refresh_mac(self) -> None: ...  # the interface's MAC can change: read it again
    def frame_for(self, address: IPAddress) -> bytes: ...
    def send_frame(self, frame: bytes) -> OSError | None: ...
    def close(self) -> None: ...


class Prober(Protocol):
    """Asks the link who answers ARP/NS for an address (split-brain detection)."""

    ifindex: int  # as Announcer's
    def probe_all(self, addresses: Iterable[IPAddress]) -> list[tuple[IPAddress, OSError]]: ...
    def finish(self, address: IPAddress) -> frozenset[str]: ...
    def finish_all(self, addresses: Iterable[IPAddress]) -> list[frozenset[str]]: ...
    def close(self) -> None: ...


class Firewall(Protocol):
    """The no_accept rules (RFC 5798 Accept_Mode off): drop traffic to VIPs we hold."""

    def setup(self) -> None: ...
    def add(self, ifname: str, addresses: Iterable[IPAddress]) -> None: ...
    def remove(self, ifname: str, addresses: Iterable[IPAddress]) -> None: ...
    def teardown(self) -> None: ...
    def configure(self, table: str, priority: int, counters: bool) -> None: ...
    def add_vmac(self, vmac: str, base: str, family: int) -> None: ...
    def remove_vmac(self, vmac: str, base: str, family: int) -> None: ...


class RouteEvents(Protocol):
    """Routes, rules and addresses deleted by someone (RTM_DEL*), read when its fd is readable."""

    overruns: int  # ENOBUFS: the kernel dropped events (the caller re-checks what it keeps)

    def fileno(self) -> int: ...
    def drain(self) -> list[routes.Gone]: ...
    def close(self) -> None: ...


class Timer(Protocol):
    """The loop's one protocol timer: readable once the absolute monotonic time given to ``arm``
    has come (sub-millisecond, unlike the loop's own timers); ``clear`` after each wake-up."""

    def fileno(self) -> int: ...
    def arm(self, when: float | None) -> None: ...
    def clear(self) -> None: ...
    def close(self) -> None: ...


class LinkEvents(Protocol):
    """Link up/down notifications (RTMGRP_LINK), read when its fd is readable."""

    overruns: int  # ENOBUFS: the kernel dropped events (a full dump follows)

    def fileno(self) -> int: ...
    def drain(self) -> list[tuple[str, bool]]: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Ports:
    netlink: Netlink
    open_socket: Callable[[str, int, IPAddress | None, bool], VrrpSocket]
    announcer: Callable[[str], Announcer]
    prober: Callable[[str, int], Prober]
    firewall: Callable[[], Firewall]
    link_events: Callable[[], LinkEvents]
    route_events: Callable[[], RouteEvents]
    timer: Callable[[], Timer]
    vmacs: Vmacs
    sysctl: Sysctl
    carrier: Callable[[str, str], bool | None]  # linkbeat: (ifname, MII/ETHTOOL/IOCTL or "") -> up?


class _OsNetlink:
    """`vrrpkit.io.netlink`'s module functions behind the `Netlink` protocol."""

    add_vip = staticmethod(netlink.add_vip)
    prepare_vip = staticmethod(netlink.prepare_vip)
    del_vip = staticmethod(netlink.del_vip)
    has_address = staticmethod(netlink.has_address)
    link_is_up = staticmethod(netlink.link_is_up)
    interface_exists = staticmethod(netlink.interface_exists)
    interface_names = staticmethod(netlink.interface_names)
    interface_index = staticmethod(netlink.interface_index)
    add_route = staticmethod(routes.add_route_sync)
    del_route = staticmethod(routes.del_route_sync)
    add_rule = staticmethod(routes.add_rule_sync)
    del_rule = staticmethod(routes.del_rule_sync)

    @staticmethod
    def resolve_table(table: int | str) -> int:
        return routes.resolve_table(table)

    @staticmethod
    def primary_address(ifname: str, family: int, exclude: Iterable[IPAddress] = ()) -> IPAddress | None:
        return netlink.primary_address(ifname, family, exclude=exclude)


class _OsVmacs(VmacLinks):
    mac = staticmethod(interface_mac)


class _OsSysctl:
    read = staticmethod(sysctl.read)
    write = staticmethod(sysctl.write)


def os_ports() -> Ports:
    """The real adapters: raw sockets, rtnetlink, AF_PACKET, nft."""

    def open_socket(ifname: str, family: int, group: IPAddress | None, unicast: bool) -> VrrpSocket:
        return open_vrrp_socket(ifname, family, group=group, unicast=unicast)  # type: ignore[return-value]

    return Ports(
        netlink=_OsNetlink(),
        open_socket=open_socket,
        announcer=GarpSender,
        prober=NeighborProber,
        firewall=NoAcceptFirewall,
        link_events=linkmon.LinkMonitor,
        vmacs=_OsVmacs(),
        sysctl=_OsSysctl(),
        carrier=linkbeat.carrier,
        route_events=routes.RouteMonitor,
        timer=TimerFd,
    )
