"""vrrp_sync_group: instances that must move together (e.g. the outside and inside VIP of a router).

keepalived semantics: when one member becomes MASTER the others do too; when one falls back to
BACKUP the others follow; when one enters FAULT all do, and they leave FAULT only when no member
has a fault of its own any more.
"""

from __future__ import annotations

from collections.abc import Iterable

from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import Event, State

_WON = frozenset({Event.MASTER_DOWN, Event.PREEMPT, Event.STARTUP_OWNER, Event.RECOVERED_OWNER})


class SyncGroup:
    def __init__(self, name: str, members: Iterable[VirtualRouter]) -> None:
        self.name = name
        self.members = list(members)
        for router in self.members:
            router.sync = self

    def faulted(self) -> bool:
        return any(r.running and r.own_fault() is not None for r in self.members)

    def may_leave_fault(self, router: VirtualRouter) -> bool:
        return not any(r.running and r.own_fault() is not None for r in self.members if r is not router)

    def has_master(self, router: VirtualRouter) -> bool:
        return any(r.state is State.MASTER for r in self.members if r is not router and r.running)

    def member_changed(self, router: VirtualRouter, event: Event, new: State, now: float) -> None:
        """A member changed state on its own: the others follow elections and faults; startup,
        recovery and shutdown are not elections, but may end a fault the group was held in."""
        others = [r for r in self.members if r is not router]
        if new is State.FAULT:
            follow: State | None = State.FAULT
        elif event in _WON:
            follow = State.MASTER
        elif event is Event.HIGHER_PRIORITY:
            follow = State.BACKUP
        else:
            follow = None
        for other in others:
            if follow is not None:
                other.sync_to(follow, now)
            elif not self.faulted():
                other.sync_recover(now)

    @property
    def state(self) -> State:
        states = {r.state for r in self.members if r.running}
        for candidate in (State.FAULT, State.MASTER, State.BACKUP):
            if candidate in states:
                return candidate
        return State.INIT
