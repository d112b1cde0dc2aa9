"""The loop's order of work, wake-up by wake-up: what runs first, what waits, what is skipped.

`Daemon` (daemon/app.py) owns the lifecycle; this is the part of it that runs on every wake-up,
kept apart because it is the hot path and the place where the protocol's urgencies are decided:

* a readable socket first runs any due timer (an advert to send beats reading more), then reads
  one bounded batch (`BATCH`); the loop comes back for the rest after its other ready work;
* a BACKUP's repeated master advert only moves its Master_Down later (the router says so with
  ``only_timer_moved``) and is not drained: its deadline known here stays earlier than the real
  one, which costs at worst a timer wake-up that finds nothing due and puts the deadline right;
* before a BACKUP's Master_Down fires, whatever is queued on its socket is read (the master's
  advert may be waiting behind a flood);
* a steady MASTER's tick is `VirtualRouter.advert_tick` for each due instance and one sendmmsg
  per socket (`EffectApplier.send_adverts`), not the general timer path;
* what a MASTER's router decided already (`EffectApplier.act_ahead`: a known rival answered, or
  the VIPs out for the master it followed) is done as soon as a batch's first datagram is read;
* after any input, adverts, VIP changes and GARPs of every touched instance go out before log
  lines, history and notify scripts;
* a socket whose instances are all BACKUP is read lazily (`_review_lazy`): on a schedule, once
  per LAZY_ADVERTS shortest advert intervals there, each datagram counted from its kernel timestamp
  (and a batch of nothing but adverts the BACKUPs know byte for byte only counted, io/stamped.py),
  and at once when a master says goodbye (priority 0, io/wake.py) or a deadline comes; it is read
  eagerly again as soon as one of its instances is anything but BACKUP, and for `LAZY_BACKOFF`
  after a read found more than its instances send (a flood must not overflow a queue nobody
  reads: the master's adverts would be lost in it);
* on SIGTERM every priority-0 advert leaves before any other stop work (daemon/stopping.py);
* the one protocol timer (a timerfd) is re-armed only when it must move earlier.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from vrrpkit.core import effects as fx
from vrrpkit.core.packet import AUTH_AH
from vrrpkit.core.state import State
from vrrpkit.core.sync import SyncGroup
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.ports import AH_SOCKET
from vrrpkit.daemon.sayings import Saying, Sayings, moved_by_group, said_in_order
from vrrpkit.daemon.sockets import socket_key

if TYPE_CHECKING:
    from vrrpkit.daemon.applier import EffectApplier, SocketKey
    from vrrpkit.daemon.linkwatch import Change, LinkWatch
    from vrrpkit.daemon.ports import Timer
    from vrrpkit.daemon.sockets import SocketSet
    from vrrpkit.daemon.splitbrain import SplitBrainProber
    from vrrpkit.io.stamped import Known
    from vrrpkit.io.vrrp_socket import Datagram

log = logging.getLogger("vrrpkit")

BATCH = 64  # datagrams read per readable socket and wake-up
QUEUE_ROUNDS = 16  # batches read before a Master_Down fires, at most (then the timer wins)
_URGENT = (fx.AddVips, fx.DelVips, fx.SendGarp)  # with SendAdvert: applied before everything else
LAZY_MIN, LAZY_MAX, STAMP_AGE = 0.001, 2.0, 30.0  # s between lazy reads; older stamps are no arrival
# A lazy socket is read every this many (shortest) advert intervals: a read's cost per BACKUP is
# paid once for this many adverts, long before Master_Down (and a deadline reads the queue first).
LAZY_ADVERTS = 2
LAZY_BACKOFF = 10.0  # seconds a socket is read eagerly after a lazy read found a flood in it
# A takeover's timer (a BACKUP's Master_Down) fires this much early: the loop rehearses the takeover
# (code that has not run for a while took ~0.2 ms more) and waits out the rest awake (a sleeping
# process takes ~0.1 ms to run again); measured at 10 ms adverts, docs/reliability.md. Not more
# often than every TAKEOVER_SPACING (200 takeovers at once cost at most a tenth of a core).
TAKEOVER_AHEAD, TAKEOVER_SPACING = 0.001, 0.01


class Cycle:
    """The wake-up handlers of `Daemon` (a mixin: the state below is the daemon's)."""

    instances: dict[str, Instance]
    group_of: dict[str, SyncGroup]
    socketset: SocketSet
    linkwatch: LinkWatch
    applier: EffectApplier
    prober: SplitBrainProber
    sayings: Sayings
    stopping: bool
    _deadline_of: dict[str, float]
    _tick: Timer | None
    _next_deadline: float | None
    _takeover: Instance | None  # the BACKUP whose takeover the timer is armed (early) for
    _waited_at: float  # when the last wait for a takeover ended
    _lazy_reads: dict[SocketKey, asyncio.TimerHandle]
    _lazy_after: dict[SocketKey, float]  # no lazy reading of this socket before then (a flood)

    def _now(self) -> float:
        raise NotImplementedError

    def _later(self, delay: float, callback: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        raise NotImplementedError

    def _links_changed(self, changes: list[Change], now: float) -> None:
        raise NotImplementedError

    def _on_readable(self, key: SocketKey) -> None:
        """Due timers first (no queue may delay an advert), then one bounded batch: the loop calls
        again while the socket stays readable, after its other ready work. A lazy socket's goodbye
        socket woke us: the whole queue now (the goodbye waits in it behind what came before)."""
        self._timers_first()
        if key in self.socketset.lazy:
            self.socketset.clear_wake(key)
            self._drain_lazy(key)
        else:
            self._receive(key, BATCH)

    def _timers_first(self) -> None:
        """Run what is due before reading more: no queue may delay an advert."""
        if self._next_deadline is not None and self._next_deadline <= self._now():
            self._on_timer()

    def _read_queue(self, key: SocketKey) -> int:
        total = 0
        for _ in range(QUEUE_ROUNDS):
            count = self._receive(key, BATCH)
            total += count
            if count < BATCH:
                break
        return total

    # --- lazy sockets ------------------------------------------------------------------------------

    def _review_lazy(self) -> None:
        """Read lazily every socket whose instances are all BACKUP and hear their master (called
        every housekeeping round: within half a second of the last one settling)."""
        sockets = self.socketset
        now = self._now()
        for key, members in sockets.members.items():
            if key in sockets.lazy or not members or self._lazy_after.get(key, 0.0) > now:
                continue
            if not sockets.room_for(key, members):
                continue
            if all(_steady_backup(i) for i in members) and sockets.go_lazy(key):
                old = self._lazy_reads.pop(key, None)  # a chain from before a reload made it eager
                if old is not None:
                    old.cancel()
                hold = _hold(members)  # once: the intervals only change by a reload, which makes it eager
                self._lazy_reads[key] = self._later(hold, self._lazy_read, key, hold)

    def _lazy_read(self, key: SocketKey, hold: float) -> None:
        self._lazy_reads.pop(key, None)
        sockets = self.socketset
        if key not in sockets.lazy:
            return
        self._timers_first()
        self._drain_lazy(key)
        if key in sockets.lazy:  # still (reading may have made an instance leave BACKUP)
            self._lazy_reads[key] = self._later(hold, self._lazy_read, key, hold)
            # The adverts just read moved their BACKUPs' Master_Down (and `_receive` the known
            # deadlines with them): re-arm for the earliest, rather than let the timer fire on a
            # stale one and find nothing due.
            self._next_deadline = None
            self._rearm()

    def _read_lazy(self) -> None:
        """Read every lazy socket's queue now (before a status is taken)."""
        for key in list(self.socketset.lazy):
            if key in self.socketset.lazy:
                self._drain_lazy(key)

    def _drain_lazy(self, key: SocketKey) -> None:
        """Read a lazy socket's whole queue (bounded). More than twice the adverts a master sends
        per instance between two reads is not a master advertising: a flood is read as it comes,
        for LAZY_BACKOFF at least."""
        count = self._read_queue(key)
        if count > BATCH and count > 2 * LAZY_ADVERTS * len(self.socketset.members.get(key, ())):
            log.info("(%s) %d datagrams queued between two reads: reading them as they come", key[0], count)
            self._lazy_after[key] = self._now() + LAZY_BACKOFF
            self._make_eager(key)

    def _eager_again(self, instances: Iterable[Instance]) -> None:
        """An instance that is not BACKUP (any more) needs its socket read as adverts arrive."""
        lazy = self.socketset.lazy
        for inst in instances:
            if inst.router.state is not State.BACKUP or inst.router.claiming:  # an answer comes at once
                key = socket_key(inst.cfg)
                if key in lazy:
                    self._make_eager(key)

    def _make_eager(self, key: SocketKey) -> None:
        self.socketset.go_eager(key)
        handle = self._lazy_reads.pop(key, None)
        if handle is not None:
            handle.cancel()

    def _receive(self, key: SocketKey, limit: int) -> int:
        """Read and handle up to ``limit`` datagrams of one socket; returns how many were read.

        A router that only moved its Master_Down later (its master's advert again) is not drained:
        its known deadline stays earlier than the real one, which costs at worst a timer wake-up
        that finds nothing due and then looks again (`_on_timer`)."""
        sockets = self.socketset
        lazy = key in sockets.lazy
        if lazy:
            batch, routes = sockets.read_known(key, limit, self._still_repeats)
            if batch.hits is not None:
                self._heard_again(key, batch.hits, batch.seen)
                return batch.read
            datagrams, count, stamps = batch.good, batch.read, batch.stamps
        else:
            # the first alone: `act_ahead` before the rest is read (an empty read costs ~20 µs)
            datagrams, routes, count, stamps = sockets.read(key, 1)
            if datagrams:
                self.applier.act_ahead(datagrams[0], routes, self._now())
            if count and limit > 1:
                more, _, extra, more_stamps = sockets.read(key, limit - 1)
                datagrams, count, stamps = datagrams + more, count + extra, [*stamps, *more_stamps]
        if not datagrams:
            return count
        now = self._now()
        if stamps:  # a lazy socket: each datagram counts from its own arrival
            early = now - STAMP_AGE  # a clock step between arrival and read: the reader said now
            whens = [t if early < t <= now else now for t in stamps]
        else:
            # Every datagram of the batch arrived by the time the last one did: a BACKUP counts its
            # Master_Down from then. A batch only for MASTERs (an answer, a step-down) needs no such
            # precision, nor the ioctl that says it, on the way to its advert or VIP removal.
            if _not_only_masters(datagrams, routes):
                arrived = self.socketset.arrived(key)
                if arrived is not None and now - 1.0 < arrived < now:
                    now = arrived
            whens = [now] * len(datagrams)
        touched: dict[str, Instance] = {}
        grouped = self.group_of
        sealed = key[1] == AH_SOCKET  # each datagram opened by its instance's AH session first
        try:
            for (src, dst, ttl, payload, _ifname), now in zip(datagrams, whens, strict=True):
                vrid = payload[1] if len(payload) > 1 else 0
                targets = routes[vrid]
                if not targets:
                    self.socketset.unknown_vrid(key, vrid, src, now)
                    continue
                for inst in targets:
                    router = inst.router
                    message = self.applier.ah.open(inst, payload, src) if sealed else payload
                    if message is None:  # refused: its drop is said
                        touched[inst.name] = inst
                        continue
                    if sealed:
                        before = router.stats.advert_rcvd
                        router.datagram_received(message, src, dst, ttl, now)
                        self.applier.ah.heard(inst, message, src, before)
                    else:
                        router.datagram_received(message, src, dst, ttl, now)
                    if not router.only_timer_moved:
                        touched[inst.name] = inst
                        if grouped and inst.name in grouped:
                            self._settle_group_of(inst, now)
        except Exception:  # a bug must cost one datagram, never the protocol loop
            log.exception("error while handling a datagram on %s", key[0])
        finally:
            if touched:
                self._drain(touched.values())
            if lazy:  # what the next reads can match as raw bytes, and the deadlines these moved
                self._put_right(sockets.learn(key, datagrams))
        return count

    def _heard_again(self, key: SocketKey, hits: dict[Known[Instance], float], seen: list[Known[Instance]]) -> None:
        """A lazy read of nothing but adverts the BACKUPs had heard already (io/stamped.py): each
        router hears its own so many times, the last at its arrival. Nothing else can come of it
        but a sync group that held a member back looking again."""
        now = self._now()
        early = now - STAMP_AGE
        counts = Counter(seen)
        touched: list[Instance] = []
        deadline_of, grouped = self._deadline_of, self.group_of
        try:
            for known, when in hits.items():
                inst = known.owner
                router = inst.router
                if not early < when <= now:  # nonsense (a clock step is caught by the reader)
                    when = now
                deadline = router.heard_again(counts[known], when)
                if deadline is not None:
                    if inst.name in deadline_of:
                        deadline_of[inst.name] = deadline
                    continue
                touched.append(inst)
                if grouped and inst.name in grouped:
                    self._settle_group_of(inst, when)
        except Exception:  # a bug must cost one read, never the protocol loop
            log.exception("error while handling datagrams on %s", key[0])
        finally:
            if touched:
                self._drain(touched)

    def _still_repeats(self, hits: Iterable[Known[Instance]]) -> bool:
        """Whether every instance a lazy read matched is still running and its router still
        expects exactly that advert (the table is made after reads; a timer, a tracker or a reload
        may have changed a router, or replaced the instance, since)."""
        live = self.instances
        return all(live.get(k.owner.name) is k.owner and k.owner.router.repeat is k.token for k in hits)

    def _put_right(self, instances: Iterable[Instance]) -> None:
        """The known deadlines of these instances as their routers now have them (a lazy read moved
        some later without telling the loop)."""
        deadline_of = self._deadline_of
        for inst in instances:
            if inst.name in deadline_of and (real := inst.router.get_timer()) is not None:
                deadline_of[inst.name] = real

    def _on_tick(self) -> None:
        assert self._tick is not None
        self._tick.clear()
        inst, self._takeover = self._takeover, None
        if inst is not None:
            self._wait_for_takeover(inst)
        self._on_timer()

    def _wait_for_takeover(self, inst: Instance) -> None:
        """The timer fired TAKEOVER_AHEAD early for this BACKUP's takeover: rehearse it, then wait
        the rest awake (bounded), unless the deadline has moved meanwhile (its master's advert
        came; a lazy socket's queue is read first, with the adverts' arrival stamps). The queue is
        read at the deadline, as for any timer, so an advert that comes during the wait counts."""
        key = socket_key(inst.cfg)
        if key in self.socketset.lazy:
            self._read_queue(key)
        due, real = self._next_deadline, inst.router.get_timer()
        if due is None or real is None or real > due or inst.router.state is not State.BACKUP:
            return
        clock = time.monotonic  # the loop's clock
        now = clock()
        end = min(due, now + 2 * TAKEOVER_AHEAD)
        try:
            inst.router.rehearse_takeover(now)
            self.applier.prepare_vips(inst)
            # A new master must hear the old one's answer at once: its socket is read eagerly from
            # now, not after the VIP (0.1-0.3 ms of system calls then, while the answer waits).
            # Should its master's advert still come, housekeeping makes the socket lazy again.
            if key in self.socketset.lazy:
                self._make_eager(key)
        except Exception:  # only a head start: the takeover itself meets (and logs) the same error
            log.debug("(%s) takeover rehearsal failed", inst.name, exc_info=True)
        while now < end:
            now = clock()
        self._waited_at = now

    def _due(self, now: float) -> list[Instance]:
        """Instances whose known deadline has come. The deadline known here may be earlier than
        the router's own (a BACKUP's repeated master advert moves it later without telling the
        loop): `_on_timer` puts those right instead of running their timers."""
        live = self.instances  # every name with a deadline is live (_drain drops the others)
        return [live[n] for n, d in self._deadline_of.items() if d <= now]

    def _on_timer(self) -> None:
        now = self._now()
        if (when := self.linkwatch.get_timer()) is not None and when <= now:  # interface_up_down_delays
            self._links_changed(self.linkwatch.handle_timer(now), now)
        # The common tick first: a MASTER whose advert is due and nothing else. Its cached adverts
        # go straight to the socket; every other due instance takes the general path.
        rest: list[Instance] = []
        burst: list[fx.SendAdvert] = []
        deadline_of = self._deadline_of
        for inst in self._due(now):
            # AH: each round sealed anew (EffectApplier.send_advert), by the general path
            tick = None if inst.cfg.auth_type == AUTH_AH else inst.router.advert_tick(now)
            if tick is None:
                rest.append(inst)
                continue
            sends, deadline_of[inst.name] = tick
            burst.extend(sends)
        if burst:
            self.applier.send_adverts(burst)  # one system call per socket for the whole tick
        # A BACKUP's Master_Down (or preempt delay) must not fire while the advert that resets it
        # waits in the queue: read what is queued first (bounded), then look again.
        backups = [i for i in rest if i.router.state is State.BACKUP and (i.router.get_timer() or now) <= now]
        if backups:
            for key in self.socketset.keys_of(backups):
                for _ in range(QUEUE_ROUNDS):
                    if self._receive(key, BATCH) < BATCH:
                        break
            now = self._now()
            rest = self._due(now)  # the masters ticked above are due again only an interval later
        stale = False
        try:
            grouped = self.group_of
            for inst in rest:
                real = inst.router.get_timer()
                if real is not None and real > now:
                    stale = True  # only the known deadline was early
                    continue
                inst.router.handle_timer(now)
                if grouped:
                    self._settle_group_of(inst, now)  # followers move before the next member's timer
        except Exception:
            log.exception("error while running timers")
        finally:
            if stale:
                # Known deadlines lag behind BACKUPs' real ones (their masters' adverts moved them):
                # put every one right now, so the timer next fires when something may really be
                # due, rather than once per instance as each stale deadline passes.
                self._put_right(self.instances.values())
            self._next_deadline = None  # the timer fired: re-arm it exactly, at the earliest deadline
            self._drain(rest)

    def _settle_group_of(self, inst: Instance, now: float) -> None:
        group = self.group_of.get(inst.name)
        if group is not None:
            group.settle(now)

    def _drain_all(self) -> None:
        """After rare events (start, reload, link, scripts): every instance, deadlines rebuilt."""
        self._deadline_of.clear()
        self._drain(self.instances.values())

    def _drain(
        self, instances: Iterable[Instance], extra_groups: Iterable[SyncGroup] = (), removals_first: bool = False
    ) -> None:
        """Settle the sync groups of the instances that had input, apply their effects (and their
        group followers'), and re-arm the one timer. Only those instances are visited: a wake-up
        costs what it touched, not the number of instances. After a reload every instance's VIP
        removals go first (`removals_first`), so a VIP that moved between instances is not
        removed after its new holder added it."""
        now = self._now()
        touched = {inst.name: inst for inst in instances}
        groups = {id(g): g for g in extra_groups}
        if self.group_of:
            groups.update({id(g): g for n in touched if (g := self.group_of.get(n)) is not None})
        for group in groups.values():
            group.settle(now)
            for router in group.members:
                inst = self.instances.get(router.name)
                if inst is not None and inst.router is router:
                    touched.setdefault(inst.name, inst)
        group_effects = [e for group in groups.values() for e in group.effects()]
        # What is only said (log lines, history, notify scripts) is collected in order and said at
        # the end, after a takeover behind input (daemon/sayings.py). keepalived announces a
        # group's first state before its members'.
        sayings: list[Saying] = [partial(self._apply_group, e) for e in group_effects if _first_group_state(e)]
        act, send = self._act, self.applier.send_advert
        later = [(inst, fx.without_undone_vips(effects) if removals_first else effects)  # removals go first
                 for inst in touched.values() if (effects := inst.router.take_effects())]  # fmt: skip
        # the member that moved its sync group acts before those the group moved, as in keepalived
        # (the first VIP on a subnet is its primary address); what is said keeps the events' order
        order = sorted(range(len(later)), key=lambda i: moved_by_group(later[i])) if groups else range(len(later))
        # said in each instance's order below (a reload that faults: 'Entering FAULT STATE' first)
        removed = [[act(inst, e) for e in effects if type(e) is fx.DelVips] if removals_first else []
                   for inst, effects in later]  # fmt: skip
        # What the network sees first: adverts of every instance (a new master's before its VIP, as
        # keepalived sends it: the old master answers it at once, and a double holding ends the
        # sooner), then VIPs and GARPs; what is said of it all comes after, in keepalived's order
        # per instance: the state lines, the advert ('sent 0 priority'), VIP and GARP lines, the rest
        acted: list[list[Saying]] = [[] for _ in later]
        for i in order:
            inst, effects = later[i]
            for effect in effects:
                if type(effect) is fx.SendAdvert and ((error := send(inst, effect, True)) or effect.priority == 0):
                    acted[i].append(partial(self.applier.said, inst, effect, error))
        for i in order:
            inst, effects = later[i]
            acted[i] += removed[i]
            acted[i] += [act(inst, e) for e in effects
                         if isinstance(e, _URGENT) and not (removals_first and type(e) is fx.DelVips)]  # fmt: skip
        # hurry: a takeover, what is said waits behind input (the old master's answer)
        own, moved, hurry = said_in_order(zip(later, acted, strict=True), self._apply, _URGENT)
        moves = [e for e in group_effects if not _first_group_state(e)]
        sayings += own
        sayings += [partial(self._apply_group, e, True) for e in moves]  # the group's line
        sayings += moved
        sayings += [partial(self._apply_group, e, False) for e in moves]  # its scripts, FIFO, mail
        deadline_of, live = self._deadline_of, self.instances
        earliest, first = None, None
        for name, inst in touched.items():
            deadline = inst.router.get_timer() if name in live else None
            if deadline is None:
                deadline_of.pop(name, None)
            else:
                deadline_of[name] = deadline
                if earliest is None or deadline < earliest:
                    earliest, first = deadline, inst
        self.prober.forget_left(touched.values())  # a split brain ends as soon as we leave MASTER
        if self.socketset.lazy:
            self._eager_again(touched.values())
        self._rearm(earliest, first)
        self.sayings.say(sayings, hurry)  # after a takeover: the old master's answer is read first

    def _act(self, inst: Instance, effect: fx.AddVips | fx.DelVips | fx.SendGarp) -> Saying:
        try:
            return self.applier.act(inst, effect)
        except Exception:  # an OS hiccup on one effect must not stop the protocol loop
            log.exception("(%s) failed to apply %s", inst.name, type(effect).__name__)
            return _nothing

    def _apply(self, inst: Instance, effect: fx.Effect) -> None:
        try:
            self.applier.apply(inst, effect)
        except Exception:  # an OS hiccup on one effect must not stop the protocol loop
            log.exception("(%s) failed to apply %s", inst.name, type(effect).__name__)

    def _apply_group(self, effect: fx.Effect, line: bool | None = None) -> None:
        """`line`: True the log line alone, False the rest alone (sayings.said_in_order), None both."""
        try:
            if isinstance(effect, fx.SyncGroupChanged):
                if line:
                    self.applier.group_said(effect)
                else:
                    self.applier.group_changed(effect, said=line is False)
        except Exception:
            log.exception("failed to apply %s", type(effect).__name__)

    def _rearm(self, earliest: float | None = None, first: Instance | None = None) -> None:
        """Arm the timer for the earliest deadline (``first``: the instance it is from). After a
        batch of datagrams (``earliest``: the soonest deadline among the instances it touched) the
        timer only ever moves earlier: a BACKUP's Master_Down moves later with every advert, and
        re-arming for each batch would cost a walk over every instance and a system call; when the
        timer then fires with nothing due, `_on_timer` re-arms it exactly. A BACKUP's deadline
        (a takeover) is armed TAKEOVER_AHEAD early."""
        armed = self._next_deadline
        links = self.linkwatch.get_timer()  # interface_up_down_delays' own deadline, if one runs
        if links is not None and earliest is not None and links < earliest:
            earliest, first = links, None
        if earliest is not None and armed is not None and armed <= earliest:
            return
        if earliest is None or armed is None:
            earliest, first = self._earliest(links)
        self._next_deadline = earliest
        router = first.router if first is not None and first.router.state is State.BACKUP else None
        # the router's own deadline (no advert moved it since); a claim's takeover (its lead later) too
        takeover = router is not None and earliest is not None and router.get_timer() == earliest and (
            router.claiming or earliest - self._waited_at >= TAKEOVER_SPACING
        ) and router.timers().get("preempt-delay") != earliest  # its end is no takeover (keepalived)
        self._takeover = first if takeover else None
        if self._tick is not None:
            self._tick.arm(earliest - TAKEOVER_AHEAD if takeover and earliest is not None else earliest)

    def _earliest(self, links: float | None) -> tuple[float | None, Instance | None]:
        deadline_of = self._deadline_of
        if not deadline_of:
            return links, None
        when = min(deadline_of.values())  # then its owner: half a walk on average, not a keyed min
        if links is not None and links < when:
            return links, None
        for name, deadline in deadline_of.items():
            if deadline == when:
                return when, self.instances.get(name)
        return when, None


def _not_only_masters(datagrams: list[Datagram], routes: list[list[Instance]]) -> bool:
    for datagram in datagrams:
        payload = datagram[3]
        for inst in routes[payload[1] if len(payload) > 1 else 0]:
            if inst.router.state is not State.MASTER:
                return True
    return False


def _first_group_state(effect: fx.Effect) -> bool:
    return isinstance(effect, fx.SyncGroupChanged) and effect.old is State.INIT


def _nothing() -> None:
    """What is said of an effect that failed (its error is logged already)."""


def _steady_backup(inst: Instance) -> bool:
    """BACKUP, and hearing a master: until the first advert is heard the instance is read as
    adverts come (whom it follows, and whether to preempt, is known at once)."""
    router = inst.router
    return router.state is State.BACKUP and router.running and router.master_address is not None


def _hold(members: list[Instance]) -> float:
    """LAZY_ADVERTS times the shortest advert interval among a lazy socket's instances (their own,
    or their master's when it is shorter): the queue then holds about two adverts per instance
    (510 at most, well within the 1 MiB queue). Status reads the queue first, so it is never old."""
    shortest = min((min(i.router.config.advert_int_cs, i.router.master_adver_int_cs) for i in members), default=100)
    return min(LAZY_MAX, max(LAZY_MIN, LAZY_ADVERTS * shortest / 100))
