"""What a VirtualRouter asks the outside world to do. The daemon, SimLan and tests drain them."""

from __future__ import annotations

from dataclasses import dataclass

from vrrpkit.core.config import IPAddress, Vip
from vrrpkit.core.packet import DropReason


@dataclass(frozen=True)
class SendAdvert:
    instance: str
    interface: str
    src: IPAddress
    dst: IPAddress
    data: bytes  # the VRRP message; the I/O layer adds the IP header (TTL 255)
    priority: int


@dataclass(frozen=True)
class AddVips:
    instance: str
    interface: str
    vips: tuple[Vip, ...]


@dataclass(frozen=True)
class DelVips:
    instance: str
    interface: str
    vips: tuple[Vip, ...]


@dataclass(frozen=True)
class SendGarp:
    """count gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6) per VIP."""

    instance: str
    interface: str
    vips: tuple[Vip, ...]
    count: int


@dataclass(frozen=True)
class StateChanged:
    instance: str
    old: str
    new: str
    reason: str
    at: float


@dataclass(frozen=True)
class Notify:
    """Run the notify scripts: state is MASTER, BACKUP, FAULT, STOP or MASTER_RX_LOWER_PRI."""

    instance: str
    state: str
    priority: int


@dataclass(frozen=True)
class PacketDropped:
    instance: str
    reason: DropReason
    src: IPAddress | None
    detail: str = ""


@dataclass(frozen=True)
class Mismatch:
    """Counted and reported, not dropped: keepalived >= 2.3.3 only logs a VIP-list mismatch, and
    VRRPv3 only logs an interval mismatch."""

    instance: str
    kind: str  # "address-list" | "interval"
    src: IPAddress
    detail: str


@dataclass(frozen=True)
class PriorityChanged:
    instance: str
    old: int
    new: int


Effect = SendAdvert | AddVips | DelVips | SendGarp | StateChanged | Notify | PacketDropped | Mismatch | PriorityChanged
