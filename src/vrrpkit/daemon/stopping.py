"""A stop, in the order the network needs it: every master's priority-0 advert before any other
stop work (backups count Skew_Time from it), then each instance's VIPs and notify_stop; said in
keepalived's order, instance by instance ('sent 0 priority', 'removing VIPs.')."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from vrrpkit.core import effects as fx
from vrrpkit.daemon.instance import Instance

if TYPE_CHECKING:
    from vrrpkit.core.sync import SyncGroup
    from vrrpkit.daemon.applier import EffectApplier
    from vrrpkit.daemon.sayings import Sayings

Unsaid = dict[str, list[tuple[Instance, fx.Effect, OSError | None]]]  # by instance: what was done, to say


class StopHost(Protocol):
    """What a stop needs of the daemon."""

    stopping: bool
    instances: dict[str, Instance]
    applier: EffectApplier
    sayings: Sayings
    _unsaid: Unsaid  # `_farewell`'s

    def _now(self) -> float: ...
    def _apply(self, inst: Instance, effect: fx.Effect) -> None: ...
    def _drain(
        self, instances: Iterable[Instance], extra_groups: Iterable[SyncGroup] = (), removals_first: bool = False
    ) -> None: ...
    def _farewell(self, first: Callable[[], None] | None = None) -> None: ...
    def _say_farewell(self, inst: Instance | None) -> None: ...


class Stopping:
    """The daemon's stop (a mixin: the state is the daemon's)."""

    def _farewell(self: StopHost, first: Callable[[], None] | None = None) -> None:
        """Every master's priority-0 adverts and nothing else: the backups count Skew_Time from
        them, so no log line, no VIP removal, no other instance's stop goes first. Safe to call
        early (the stop signal's own handler does, when the loop is idle) and again. `first`: said
        at once ("Stopping", as keepalived logs it); each "(VI_1) sent 0 priority" by `_goodbye`."""
        now = self._now()
        unsaid = self._unsaid
        for inst in self.instances.values():
            router = inst.router
            router.goodbye(now)
            for effect in router.take_effects():  # the adverts: `goodbye` queues nothing else
                error = None
                if isinstance(effect, fx.SendAdvert):
                    error = self.applier.send_advert(inst, effect, quiet=True)
                unsaid.setdefault(inst.name, []).append((inst, effect, error))
        self.sayings.flush()  # what was still to be said of earlier changes, in order, before the stop's
        if first is not None:
            first()

    def _say_farewell(self: StopHost, inst: Instance | None) -> None:
        """What `_farewell` did for ``inst`` (None: for every instance), said now."""
        unsaid = self._unsaid
        for said in [unsaid.pop(inst.name, [])] if inst is not None else [unsaid.pop(n) for n in list(unsaid)]:
            for who, effect, error in said:
                if isinstance(effect, fx.SendAdvert):
                    self.applier.said(who, effect, error)
                else:
                    self._apply(who, effect)

    def _goodbye(self: StopHost, then: Callable[[], None] | None = None) -> None:
        """The priority-0 adverts first (`_farewell`), then the rest of each instance's stop (VIPs
        removed, notify_stop queued): with many instances, the last goodbye must not wait for
        every VIP removal before it."""
        self.stopping = True
        self._farewell(then)  # `then`: said once the goodbyes are out ("Stopping")
        now = self._now()
        for inst in self.instances.values():
            self._say_farewell(inst)
            inst.router.shutdown(now)
            for effect in inst.router.effects():
                self._apply(inst, effect)
        self._drain(self.instances.values())  # sync groups, deadlines
        self.sayings.flush()  # notify_stop and the last lines: the loop may not turn again
