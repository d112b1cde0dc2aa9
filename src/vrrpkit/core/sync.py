"""vrrp_sync_group: instances that must move together (e.g. the outside and inside VIP of a router).

keepalived semantics: when one member becomes MASTER the others do too; when one falls back to
BACKUP the others follow; when one enters FAULT all do, and they leave FAULT only when no member
has a fault of its own any more.
"""

from __future__ import annotations

from collections.abc import Iterable

from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State


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

    def member_changed(self, router: VirtualRouter, new: State, now: float) -> None:
        if new in (State.MASTER, State.BACKUP, State.FAULT):
            for other in self.members:
                if other is not router:
                    other.sync_to(new, now)

    def member_recovered(self, router: VirtualRouter, now: float) -> None:
        for other in self.members:
            if other is not router:
                other.sync_recover(now)

    @property
    def state(self) -> State:
        states = {r.state for r in self.members if r.running}
        for candidate in (State.FAULT, State.MASTER, State.BACKUP):
            if candidate in states:
                return candidate
        return State.INIT
