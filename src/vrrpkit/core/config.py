"""The configuration a VirtualRouter runs from: frozen, validated, already defaulted.

The keepalived.conf parser (``vrrpkit.config``) produces these objects; tests and SimLan may build
them directly. Everything here is data: the router never reads a file, and the defaults below are
keepalived's (not the bare RFC's) because vrrpkit must sit in the same virtual router as keepalived.
Intervals are integer centiseconds so that v2 seconds and v3 centiseconds share one exact unit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
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


@dataclass(frozen=True, slots=True)
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
    vip: bool = False  # an interface tracked because a VIP is on it (keepalived's, unless no_track)


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class UnicastPeer:
    address: IPAddress
    min_ttl: int | None = None
    max_ttl: int | None = None


class ChecksumCompat(StrEnum):
    """`old_unicast_checksum`: VRRPv3 IPv4 unicast checksums of keepalived <= 1.3.6 (pseudo-header
    destination 224.0.0.18 instead of the peer). keepalived starts with the current form and switches
    to the old one for good once a peer sends it (AUTO), unless told `never`; bare
    `old_unicast_checksum` sends the old form from the start."""

    AUTO = "auto"
    NEVER = "never"
    ALWAYS = "always"


@dataclass(frozen=True, slots=True)
class VmacLink:
    """One virtual-MAC interface an instance owns: a private macvlan (or an L2 ipvlan) on `base`.

    `use_vmac` makes one on the instance's interface (named vrrp.VRID unless named); `use_vmac_addr`
    or a VIP's own `use_vmac` makes more, for VIPs on other interfaces or of the other family.
    """

    name: str
    base: str
    family: Literal[4, 6]
    mac: bytes  # 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6) unless configured
    kind: Literal["macvlan", "ipvlan"] = "macvlan"
    ipvlan_mode: Literal["bridge", "private", "vepa"] = "bridge"
    ipvlan_address: IPInterface | None = None  # use_ipvlan's address (required for IPv4)


def rfc_vmac(vrid: int, family: int) -> bytes:
    """RFC 5798 section 7.3: 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6."""
    return bytes((0x00, 0x00, 0x5E, 0x00, 0x01 if family == 4 else 0x02, vrid))


@dataclass(frozen=True, slots=True)
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
    vmac: VmacLink | None = None  # use_vmac / use_ipvlan: carries the VIPs and (usually) the adverts
    vmac_addr_links: tuple[VmacLink, ...] = ()  # use_vmac_addr / a VIP's use_vmac: VIPs elsewhere
    vmac_xmit_base: bool = False  # adverts from the base interface's real MAC, VIPs still on the VMAC
    garp_extra_if_s: int = 0  # garp_extra_if / vmac_garp_intvl: one GARP/NA per extra interface every N s
    garp_extra_if_all: bool = False  # ... on every VIP interface, not only VMACs
    dont_track_primary: bool = False  # the instance's own link going down is no fault
    unicast_fault_no_peer: bool = False  # unicast mode even without peers: FAULT, not multicast
    unicast_ttl: int | None = None  # TTL / hop limit of unicast adverts (None: 255)
    kernel_rx_buf_size: int = 0  # this instance's SO_RCVBUF share on its socket (0: the global policy)
    track_src_ip: bool = False  # FAULT while the configured source address is not on the host
    promote_secondaries: bool = False  # the daemon sets net.ipv4.conf.IF.promote_secondaries
    native_ipv6: bool = False  # IPv6 (so VRRPv3) even before any address says so
    v3_checksum_as_v2: bool = False  # VRRPv3 IPv4 checksum without pseudo-header; received ones unchecked
    old_unicast_checksum: ChecksumCompat = ChecksumCompat.AUTO
    no_virtual_ipaddress: bool = False  # no VIPs on purpose (v3 adverts then carry no address)
    linkbeat_polled: bool = False  # the deprecated per-instance linkbeat_use_polling (the daemon polls)

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
        if self.auth_type not in (0, 1, 2):
            raise ValueError("auth_type is 0 (none), 1 (PASS) or 2 (AH)")
        if self.auth_type == 2 and (self.version != 2 or self.is_ipv6):
            raise ValueError("auth_type AH is VRRPv2 over IPv4 only")
        if len(self.auth_pass) > 8:
            raise ValueError("auth_pass is at most 8 bytes")
        # IPv6 with version 2 is keepalived's own VRRPv2 over IPv6 (core/packet.py), allowed only
        # where the instance asks for it (config/semantics.py); it carries no password.
        families = {v.interface.version for v in self.vips}
        if len(families) > 1:
            raise ValueError("virtual_ipaddress mixes IPv4 and IPv6")
        if self.unicast_ttl is not None and not 0 <= self.unicast_ttl <= 255:
            raise ValueError(f"unicast_ttl {self.unicast_ttl} out of range 0..255")

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
        if self.unicast_peers:
            return self.unicast_peers[0].address.version == 6
        return self.native_ipv6

    @property
    def unicast(self) -> bool:
        return bool(self.unicast_peers) or self.unicast_fault_no_peer

    @property
    def checks_unicast_sources(self) -> bool:
        """Unicast adverts only from a listed peer: `check_unicast_src`, or a peer with TTL limits
        (keepalived then looks the source up to find the limits, and drops strangers)."""
        return self.check_unicast_src or any(p.min_ttl is not None or p.max_ttl is not None for p in self.unicast_peers)

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

    # --- where things happen: the base interface, or the virtual-MAC interfaces --------------------

    @property
    def vmac_links(self) -> tuple[VmacLink, ...]:
        """Every virtual-MAC interface this instance needs, its own first."""
        return ((self.vmac,) if self.vmac is not None else ()) + self.vmac_addr_links

    @property
    def vip_interface(self) -> str:
        """Where VIPs without `dev` go: the VMAC when there is one, else the instance's interface."""
        return self.vmac.name if self.vmac is not None else self.interface

    @property
    def advert_interface(self) -> str:
        """Where adverts are sent and received: the VMAC (source MAC = virtual MAC) unless vmac_xmit_base."""
        return self.vmac.name if self.vmac is not None and not self.vmac_xmit_base else self.interface

    def device_of(self, vip: Vip) -> str:
        """The interface a VIP is added on (keepalived: its `dev`, moved onto the VMAC made for it)."""
        family = vip.interface.version
        base = vip.dev or self.interface
        for link in self.vmac_addr_links:
            if link.base == base and link.family == family:
                return link.name
        if vip.dev is None or vip.dev == self.interface:
            return self.vip_interface
        return vip.dev

    def devices(self, vips: tuple[Vip, ...]) -> Mapping[str, tuple[Vip, ...]]:
        """VIPs grouped by the interface they live on, in configuration order (GARPs go out there)."""
        out: dict[str, list[Vip]] = {}
        for vip in vips:
            out.setdefault(self.device_of(vip), []).append(vip)
        return {dev: tuple(group) for dev, group in out.items()}

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
        vmac_xmit_base=False,
        vmac=None if cfg.vmac is None or cfg.vmac.kind != "macvlan"
        else dataclasses.replace(cfg.vmac, mac=rfc_vmac(cfg.vrid, cfg.vmac.family)),
        no_virtual_ipaddress=False,
    )


@dataclass(frozen=True)
class SyncGroupConfig:
    name: str
    members: tuple[str, ...] = field(default_factory=tuple)
    notify: tuple[Notify, ...] = ()
