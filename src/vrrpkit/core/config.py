"""The configuration a VirtualRouter runs from: frozen, validated, already defaulted.

The keepalived.conf parser (``vrrpkit.config``) produces these objects; tests and SimLan may build
them directly. Everything here is data: the router never reads a file, and the defaults below are
keepalived's (not the bare RFC's) because vrrpkit must sit in the same virtual router as keepalived.
Intervals are integer centiseconds so that v2 seconds and v3 centiseconds share one exact unit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Literal

IPAddress = IPv4Address | IPv6Address
IPInterface = IPv4Interface | IPv6Interface
#: A notify command: (event, command line, the USER [GROUP] it runs as; empty: the default user).
Notify = tuple[str, str, tuple[str, ...]]

VRRP_GROUP4 = IPv4Address("224.0.0.18")
VRRP_GROUP6 = IPv6Address("ff02::12")

PRIORITY_OWNER = 255
PRIORITY_STOP = 0


class TrackKind(StrEnum):
    """What a tracker watches; it decides how a reported value turns into priority."""

    SCRIPT = "script"
    INTERFACE = "interface"
    FILE = "file"
    PROCESS = "process"  # vrrp_track_process: OK while the process count is within its quorum


@dataclass(frozen=True)
class Track:
    """One tracked object of an instance, with keepalived's weight semantics.

    weight > 0 adds while OK, weight < 0 subtracts while failed, weight 0 means FAULT while failed;
    ``reverse`` negates the adjustment (and, for weight 0, faults while OK). A file's integer value
    is multiplied by the weight; -254 or below (or any non-zero value with weight 0) means FAULT.
    """

    name: str
    kind: TrackKind = TrackKind.SCRIPT
    weight: int = 0
    reverse: bool = False


@dataclass(frozen=True)
class Vip:
    """A virtual address as configured: what to advertise, and how the I/O layer should add it."""

    interface: IPInterface
    dev: str | None = None
    brd: str | None = None  # an address, "+" or "-" (ip-addr(8) semantics)
    scope: str | None = None
    label: str | None = None
    flags: tuple[str, ...] = ()  # -nodad, noprefixroute, home, ... passed through to netlink

    @property
    def address(self) -> IPAddress:
        return self.interface.ip

    def __str__(self) -> str:
        return str(self.interface)


@dataclass(frozen=True)
class UnicastPeer:
    address: IPAddress
    min_ttl: int | None = None
    max_ttl: int | None = None


@dataclass(frozen=True)
class InstanceConfig:
    """One vrrp_instance. Field names follow keepalived's keywords where one exists."""

    name: str
    interface: str
    vrid: int
    priority: int = 100
    state: Literal["MASTER", "BACKUP"] = "BACKUP"
    version: Literal[2, 3] = 2
    advert_int_cs: int = 100
    vips: tuple[Vip, ...] = ()
    excluded_vips: tuple[Vip, ...] = ()
    auth_type: int = 0  # 0 none, 1 simple password (v2 only)
    auth_pass: bytes = b""
    preempt: bool = True
    preempt_delay_cs: int = 0
    unicast_src_ip: IPAddress | None = None
    unicast_peers: tuple[UnicastPeer, ...] = ()
    mcast_src_ip: IPAddress | None = None
    mcast_group4: IPv4Address = VRRP_GROUP4
    mcast_group6: IPv6Address = VRRP_GROUP6
    check_unicast_src: bool = False
    tracks: tuple[Track, ...] = ()
    strict: bool = False
    accept: bool | None = None  # None: keepalived's default (strict => accept only when owner)
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    skip_check_adv_addr: bool = False
    owner_ignore_adverts: bool = False
    down_timer_adverts: int = 3
    garp_master_delay_cs: int = 500
    garp_master_repeat: int = 5
    garp_master_refresh_cs: int = 0
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_delay_cs: int | None = None  # None: same as garp_master_delay
    garp_lower_prio_repeat: int | None = None  # None: same as garp_master_repeat
    notify: tuple[Notify, ...] = ()  # run by the daemon, opaque here
    sync_group: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.vrid <= 255:
            raise ValueError(f"virtual_router_id {self.vrid} out of range 1..255")
        if not 1 <= self.priority <= 255:
            raise ValueError(f"priority {self.priority} out of range 1..255")
        if self.version == 2 and self.advert_int_cs % 100:
            raise ValueError("VRRPv2 advert_int must be whole seconds")
        limit = 25500 if self.version == 2 else 4095
        if not 1 <= self.advert_int_cs <= limit:
            raise ValueError(f"advert_int {self.advert_int_cs / 100} s out of range")
        if self.auth_type not in (0, 1):
            raise ValueError("only auth_type 0 (none) and 1 (PASS) are supported")
        if len(self.auth_pass) > 8:
            raise ValueError("auth_pass is at most 8 bytes")
        if self.is_ipv6 and self.version != 3:
            raise ValueError("IPv6 needs VRRP version 3")
        families = {v.interface.version for v in self.vips}
        if len(families) > 1:
            raise ValueError("virtual_ipaddress mixes IPv4 and IPv6")

    @property
    def family(self) -> Literal[4, 6]:
        return 6 if self.is_ipv6 else 4

    @property
    def is_ipv6(self) -> bool:
        if self.vips:
            return self.vips[0].interface.version == 6
        for addr in (self.unicast_src_ip, self.mcast_src_ip):
            if addr is not None:
                return addr.version == 6
        return bool(self.unicast_peers) and self.unicast_peers[0].address.version == 6

    @property
    def unicast(self) -> bool:
        return bool(self.unicast_peers)

    @property
    def group(self) -> IPAddress:
        return self.mcast_group6 if self.is_ipv6 else self.mcast_group4

    @property
    def owner(self) -> bool:
        return self.priority == PRIORITY_OWNER

    @property
    def accept_mode(self) -> bool:
        """RFC 5798 Accept_Mode as keepalived resolves it (strict: only the owner accepts)."""
        if self.accept is not None:
            return self.accept
        return self.owner if self.strict else True

    def advertised_addresses(self) -> tuple[IPAddress, ...]:
        return tuple(v.address for v in self.vips)

    def replace(self, **changes: object) -> InstanceConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def apply_strict(cfg: InstanceConfig) -> InstanceConfig:
    """keepalived's vrrp_strict protocol effects (vrrp.c vrrp_complete_instance).

    The parser reports what it changed; the router applies the same function so that an
    InstanceConfig built by hand behaves as keepalived would with strict_mode set.
    """
    if not cfg.strict:
        return cfg
    return cfg.replace(
        auth_type=0,
        auth_pass=b"",
        preempt_delay_cs=0,
        down_timer_adverts=3,
        lower_prio_no_advert=True,
        higher_prio_send_advert=False,
        garp_lower_prio_repeat=0,
        garp_lower_prio_delay_cs=0,
        owner_ignore_adverts=cfg.owner_ignore_adverts or cfg.owner,
        state="MASTER" if cfg.owner else "BACKUP",
    )


@dataclass(frozen=True)
class SyncGroupConfig:
    name: str
    members: tuple[str, ...] = field(default_factory=tuple)
    notify: tuple[Notify, ...] = ()
