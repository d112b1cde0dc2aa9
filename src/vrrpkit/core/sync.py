"""vrrp_sync_group: instances that must move together (e.g. the outside and inside VIP of a router).

keepalived semantics: the group goes MASTER only when every member wants to (each one's master-down
or preempt timer ran out; a member that still hears its master holds the group in BACKUP, which
prefers BACKUP to thrashing), and then all members move at once; when one falls back to BACKUP the
others follow; when one enters FAULT all do, and they leave FAULT only when no member has a fault
of its own any more. At startup no member leaves INIT while another waits for its weight-0
scripts, and an owner starts as BACKUP like the rest (listening one interval if its state is
MASTER; keepalived 2.2.7, measured): the group is decided together, and nobody flashes MASTER for
a group about to go FAULT.

The group is one-way, like h11's state-triggered transitions: a router never calls its group.
Routers record the transitions they made on their own; whoever fed a member an input (the daemon,
SimLan, a test) then calls `settle(now)`, which applies the cross-member rules to what was recorded,
again and again until nothing more happens, and tells each member what the rest of the group looks
like (`VirtualRouter.set_group_view`). A router's own call therefore never re-enters another
router, and the order of effects is: the member that had the input first, then its followers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from vrrpkit.core import effects as fx
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import Event, State

_WON = frozenset({Event.MASTER_DOWN, Event.STARTUP_OWNER})


class SyncGroup:
    def __init__(self, name: str, members: Iterable[VirtualRouter]) -> None:
        self.name = name
        self.members = list(members)
        self._effects: deque[fx.Effect] = deque()
        for router in self.members:
            router.group = name
            router.pull_sync_events()  # what happened before joining is not the group's business
        self._state = self.state
        self._refresh_views()

    @property
    def said(self) -> State:
        """The group's state as last announced (its notify), which a reload's new group of the
        same name continues from."""
        return self._state

    def faulted(self) -> bool:
        """Some running member has a fault of its own (not one it only holds for the group)."""
        return any(r.running and r.own_fault() is not None for r in self.members)

    def reconcile(self, now: float, formed: bool = False, was: State | None = None) -> None:
        """Bring the members of a group a reload made or reshaped into one group state.

        A reload can make a group of instances that ran apart, or add one to a group, so a MASTER
        and a BACKUP may now share it. keepalived 2.2.7 syncs them at once (measured side by side,
        tests/interop/reload_matrix.py): a member with a fault of its own takes the group to FAULT,
        otherwise the group stays MASTER only if every member is, and else the masters go back to
        BACKUP and let their VIPs go (the group goes MASTER again only when every member wants to).
        A master leaving says so with priority 0, which keepalived does not on a reload: its peer
        then takes the VIP in Skew_Time rather than after Master_Down with nobody holding it
        (docs/divergences.md).

        Called once the routers have their new configs (a track the reload added or removed has
        counted) and new members have started: what those inputs did is settled first, by the
        usual rules. Members still in INIT (waiting for their scripts) are not counted; they join
        in the group's state when they start.

        A group the reload ``formed`` (no group of its name ran before) starts out as MASTER for
        its notify: keepalived 2.2.7 runs the group's notify for whatever state its members then
        share, BACKUP or FAULT, even when they agree, and none when all are MASTER (measured, six
        rows of reload_matrix.py). A group of a name that ran before says only a move from the
        state it last said (``was``): a member it gained held in FAULT elsewhere is no move of its."""
        if was is not None and not formed:
            self._state = was
        self.settle(now, release=False)  # a member held by a group it left is released below
        counted = [r for r in self.members if r.running and r.state is not State.INIT]
        follow = State.FAULT if self.faulted() else State.BACKUP
        if follow is State.BACKUP:
            for router in counted:
                if router.state is State.FAULT:  # held in FAULT by a group it has left
                    router.sync_recover(now)
                    router.pull_sync_events()  # a release, not an election
        states = {r.state for r in counted}
        if (formed and counted) or (State.MASTER in states and len(states) > 1):
            self._state = State.MASTER  # the group's move from MASTER is notified
        if len(states) < 2:
            self.settle(now)
            return
        self._refresh_views()
        for router in counted:
            router.sync_to(follow, now, goodbye=True)
            router.pull_sync_events()  # this decided the group's state: no member's move is an election
        self.settle(now)

    def settle(self, now: float, release: bool = True) -> None:
        """Apply the group's rules to what its members did since the last call, until quiet.

        Each round answers the transitions recorded in the previous one; followers' transitions
        (the SYNC_* events) are not recorded, and recoveries end in BACKUP or MASTER, so this
        converges within a few rounds. The bound only guards against a bug becoming a hang. When
        nothing is recorded, members held for what is over are freed (`release`, `_release`)."""
        for _ in range(4 * len(self.members) + 4):
            recorded = [(r, event, new) for r in self.members for event, new in r.pull_sync_events()]
            if not recorded:
                if release and self._release(now):
                    continue
                break
            for router, event, new in recorded:
                self._follow(router, event, new, now)
        self._refresh_views()
        state = self.state
        if state is not self._state:
            self._effects.append(fx.SyncGroupChanged(self.name, self._state, state))
            self._state = state

    def _release(self, now: float) -> bool:
        """Start or free the members held in INIT or FAULT for what is over, though no member moved
        to say so. The daemon gives one input to every member it concerns before it settles (a link
        under two members, a script both track), and each judged it by the others' state before
        that input: each held for the other, neither moved (measured: a link flap left both in
        FAULT for good; a shared script at startup, both in INIT). True if a member moved."""
        moved = False
        for router in self.members:
            state = router.state
            if not router.running or state not in (State.INIT, State.FAULT):
                continue
            if state is State.FAULT and (router.own_fault() is not None or self.faulted()):
                continue
            self._refresh_views()
            router.sync_recover(now)
            moved = moved or router.state is not state
        return moved

    def effects(self) -> Iterator[fx.Effect]:
        while self._effects:
            yield self._effects.popleft()

    def _follow(self, router: VirtualRouter, event: Event, new: State, now: float) -> None:
        """A member changed state on its own: the others follow elections and faults; startup,
        recovery and shutdown are not elections, but may end a fault the group was held in."""
        if new is State.FAULT:
            follow: State | None = State.FAULT
        elif event in _WON:
            follow = State.MASTER
        elif event in (Event.HIGHER_PRIORITY, Event.RESIGN):
            follow = State.BACKUP
        else:
            follow = None
        for other in self.members:
            if other is router:
                continue
            self._refresh_views()
            if event is Event.RESIGN:  # keepalived 2.2.7 (measured): every master of the group resigns
                other.resign(now, "sync group member resigned")  # priority 0, back at Skew_Time
            elif follow is not None:
                other.sync_to(follow, now)
            elif not self.faulted() or other.state is State.INIT:
                other.sync_recover(now)  # a member kept in INIT for this one may start now

    def _refresh_views(self) -> None:
        for router in self.members:
            others = [r for r in self.members if r is not router and r.running]
            router.set_group_view(
                fault=any(r.own_fault() is not None for r in others),
                master=any(r.state is State.MASTER for r in others),
                others_want_master=all(r.state is State.MASTER or r.wants_master for r in others),
                waiting=any(r is not router and r.waiting_for_scripts() for r in self.members),
            )

    @property
    def state(self) -> State:
        states = {r.state for r in self.members if r.running}
        for candidate in (State.FAULT, State.MASTER, State.BACKUP):
            if candidate in states:
                return candidate
        return State.INIT
