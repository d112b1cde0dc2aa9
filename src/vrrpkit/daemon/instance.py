"""One running vrrp_instance as the daemon sees it: the core router plus what only the daemon knows.

The router owns the protocol state; this record adds the wall-clock history people read in
`vrrpkit status`, the split-brain verdict of the ARP/NS prober, and counters of what the core only
reports (mismatches). `status()` turns it into the typed `InstanceStatus` every consumer reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vrrpkit.control.snapshot import InstanceStatus, TrackStatus, TransitionRecord
from vrrpkit.core import effects as fx
from vrrpkit.core.config import InstanceConfig, TrackKind
from vrrpkit.core.router import VirtualRouter

RECENT = 20  # transitions `status` always shows, however old
WINDOW = 3600.0  # and the rest of the last hour's, for the status page's timeline
HISTORY = 256  # at most, whatever an instance does; the total is counted separately and never capped


@dataclass
class Instance:
    cfg: InstanceConfig  # what runs (keepalived's run-time fix-ups applied, e.g. a VMAC name it had to change)
    router: VirtualRouter
    written: InstanceConfig | None = None  # as configured, when it differs from `cfg`: what reloads compare
    transitions: list[TransitionRecord] = field(default_factory=list)  # the last HISTORY (a deque: ~600 B more each)
    transitions_total: int = 0
    split_brain: frozenset[str] = frozenset()
    split_brain_since: float | None = None  # wall clock
    suspects: frozenset[str] = frozenset()
    split_brain_events: int = 0
    next_probe: float = 0.0
    mismatches: dict[str, int] = field(default_factory=dict)
    name: str = field(init=False)  # cfg.name, read on every datagram: a plain attribute
    vmac_errors: int = 0
    vmac_error: str | None = None  # the last one, logged once until it changes

    @property
    def configured(self) -> InstanceConfig:
        return self.written or self.cfg

    def __post_init__(self) -> None:
        self.name = self.cfg.name

    def reconfigure(self, cfg: InstanceConfig) -> None:
        """What runs from now on; a reload may rename the instance in place. (Not a __setattr__
        hook: that would cost a Python call on every attribute write, the prober's per tick.)"""
        self.cfg = cfg
        self.name = cfg.name

    def record(self, effect: fx.StateChanged, wall: float) -> None:
        self.transitions.append(
            TransitionRecord(wall, effect.old.value, effect.new.value, effect.reason, effect.event.value)
        )
        if len(self.transitions) > HISTORY:
            del self.transitions[0]
        self.transitions_total += 1

    def count_mismatch(self, kind: fx.MismatchKind) -> int:
        """Count one; returns how many came before (the caller logs the 1st, 101st, ...)."""
        before = self.mismatches.get(kind.value, 0)
        self.mismatches[kind.value] = before + 1
        return before

    def history(self, wall: float) -> list[TransitionRecord]:
        """The last RECENT transitions and every older one of the last hour (HISTORY at most): enough
        for `status` to say since when and why, and for a timeline of the last hour. Recorded once per
        state change, so it costs nothing per advert; filtered here, when someone reads it."""
        kept = list(self.transitions)
        cut = len(kept) - RECENT
        return [t for n, t in enumerate(kept) if n >= cut or t.at >= wall - WINDOW]

    def status(self, now: float, wall: float) -> InstanceStatus:
        """`now` on the loop's clock (time in state), `wall` the wall clock (which transitions to show)."""
        r, cfg = self.router, self.cfg
        return InstanceStatus(
            name=cfg.name,
            vrid=cfg.vrid,
            interface=cfg.interface,
            version=cfg.version,
            state=r.state.value,
            base_priority=cfg.priority,
            effective_priority=r.priority,
            address=str(r.address) if r.address else None,
            master=str(r.master_address) if r.master_address else None,
            master_priority=r.master_priority,
            vips=[str(v) for v in cfg.vips],
            advert_int=cfg.advert_int_cs / 100,
            master_advert_int=r.master_adver_int_cs / 100,
            mode="unicast" if cfg.unicast else "multicast",
            peers=[str(p.address) for p in cfg.unicast_peers],
            time_in_state=round(now - r.state_since, 3),
            fault_reason=r.fault_reason,
            counters=r.stats.as_dict(),
            mismatches=dict(self.mismatches),
            split_brain=sorted(self.split_brain),
            split_brain_events=self.split_brain_events,
            transitions=self.history(wall),
            sync_group=cfg.sync_group,
            transitions_total=self.transitions_total,
            vmac=cfg.vmac.name if cfg.vmac is not None else None,
            vmac_errors=self.vmac_errors,
            tracks=self.track_statuses(),
            split_brain_since=self.split_brain_since if self.split_brain else None,
        )

    def track_statuses(self) -> list[TrackStatus]:
        values = self.router.track_values()
        out = []
        for track in self.cfg.tracks:
            value = values.get(track.name)
            if track.kind is TrackKind.FILE:
                out.append(TrackStatus(track.name, track.kind.value, track.weight, value=int(value or 0)))
            else:
                ok = None if value is None else bool(value)
                out.append(TrackStatus(track.name, track.kind.value, track.weight, ok=ok))
        return out
