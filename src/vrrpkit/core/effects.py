"""What a VirtualRouter (or a sync group) asks the outside world to do. The daemon, SimLan and
tests drain them.

Every field that a consumer branches on is an enum member (`State`, `Event`, `NotifyKind`,
`MismatchKind`, `DropReason`), never text: the words in `reason`/`detail` are for people and logs,
and may change without breaking anyone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

from vrrpkit.core.config import IPAddress, Vip
from vrrpkit.core.packet import DropReason
from vrrpkit.core.state import Event, State


class NotifyKind(StrEnum):
    """Which notify scripts keepalived runs: `notify_<kind>`, and `notify` with the kind as an argument
    (MASTER_RX_LOWER_PRI only has its own script)."""

    MASTER = "MASTER"
    BACKUP = "BACKUP"
    FAULT = "FAULT"
    STOP = "STOP"
    MASTER_RX_LOWER_PRI = "MASTER_RX_LOWER_PRI"


class MismatchKind(StrEnum):
    ADDRESS_LIST = "address-list"
    INTERVAL = "interval"
    OLD_CHECKSUM = "old-checksum"  # a unicast peer uses keepalived <= 1.3.6 checksums: we switch to them


@dataclass(frozen=True)
class SendAdvert:
    instance: str
    interface: str
    src: IPAddress
    dst: IPAddress
    data: bytes  # the VRRP message; the I/O layer adds the IP header
    priority: int
    ttl: int = 255  # TTL / hop limit (unicast_ttl changes it for unicast adverts)
    said: bool = True  # logged ('sent 0 priority' for a goodbye); keepalived sends some goodbyes unsaid


class VipCause(StrEnum):
    """Why addresses come or go: the instance entered or left MASTER (its virtual routes and rules
    follow), or a reload changed the list of a MASTER that stays MASTER (nothing else moves)."""

    STATE = "state"
    RELOAD = "reload"


@dataclass(frozen=True)
class AddVips:
    instance: str
    interface: str
    vips: tuple[Vip, ...]
    cause: VipCause = VipCause.STATE


@dataclass(frozen=True)
class DelVips:
    instance: str
    interface: str
    vips: tuple[Vip, ...]
    cause: VipCause = VipCause.STATE


@dataclass(frozen=True)
class SendGarp:
    """count gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6) per VIP, sent on
    `interface`, where these VIPs live (a router emits one per interface)."""

    instance: str
    interface: str
    vips: tuple[Vip, ...]
    count: int


@dataclass(frozen=True)
class StateChanged:
    """``event`` is what happened (the state table's input); ``reason`` says it for a log line."""

    instance: str
    old: State
    new: State
    event: Event
    reason: str
    at: float


@dataclass(frozen=True)
class Notify:
    """Run the instance's notify scripts for ``state``. MASTER_RX_LOWER_PRI also says whose
    advert it was (``src``, its ``heard`` priority): keepalived logs that line, and alerts grep it."""

    instance: str
    state: NotifyKind
    priority: int
    src: IPAddress | None = None
    heard: int | None = None


@dataclass(frozen=True)
class ClaimAnswered:
    """A BACKUP's master went silent for a Master_Down interval, then answered the claim (our
    advert sent just before the takeover): no takeover. Its adverts were lost, or it stalled."""

    instance: str
    master: IPAddress | None
    priority: int | None


class Remark(StrEnum):
    """keepalived's lines for moments that change no state (people grep for them)."""

    HELD = "Receive advertisement timeout"  # Master_Down ran out, but the sync group holds us
    PRIORITY_ZERO = "Backup received priority 0 advertisement"  # the master said goodbye
    LOWER_PRIORITY = "received lower priority ({priority}) advert from {src} - discarding"  # we may preempt it


@dataclass(frozen=True)
class Remarked:
    instance: str
    remark: Remark
    src: IPAddress | None = None  # the advert's sender, for a remark that names it
    priority: int = 0  # and its priority

    def text(self) -> str:
        return self.remark.value.format(src=self.src, priority=self.priority)


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
    kind: MismatchKind
    src: IPAddress
    detail: str


@dataclass(frozen=True)
class PriorityChanged:
    """The effective priority moved (a tracker); `state` is the router's state when it did."""

    instance: str
    old: int
    new: int
    state: State = State.INIT


@dataclass(frozen=True)
class SyncGroupChanged:
    """A vrrp_sync_group as a whole moved (keepalived runs the group's notify scripts once for it).

    Emitted by `SyncGroup.settle`, never by a router."""

    group: str
    old: State
    new: State


Effect = (
    SendAdvert
    | AddVips
    | DelVips
    | SendGarp
    | StateChanged
    | Notify
    | PacketDropped
    | ClaimAnswered
    | Remarked
    | Mismatch
    | PriorityChanged
    | SyncGroupChanged
)


def without_undone_vips(effects: list[Effect]) -> list[Effect]:
    """One router's effects of a step, less the VIPs (and their GARPs) that a later removal in the
    same step takes away again: a reload's new VIP on a master that the reload itself, or its sync
    group, then faults. Applied in order they cancel out; but after a reload the daemon makes every
    removal first (a VIP that moved between instances must not be removed after its new holder
    added it), and the addition would then come last and stay on a host that is not MASTER
    (measured: keepalived 2.2.7 holds none)."""
    removed: set[Vip] = set()
    kept: list[Effect] = []
    for effect in reversed(effects):
        if isinstance(effect, DelVips):
            removed.update(effect.vips)
        elif removed and isinstance(effect, AddVips | SendGarp) and not removed.isdisjoint(effect.vips):
            vips = tuple(v for v in effect.vips if v not in removed)
            if not vips:
                continue
            effect = dataclasses.replace(effect, vips=vips)
        kept.append(effect)
    kept.reverse()
    return kept
