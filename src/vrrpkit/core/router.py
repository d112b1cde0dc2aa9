"""One virtual router (a keepalived vrrp_instance): RFC 5798 section 6 with keepalived's defaults.

Sans-I/O: every method takes ``now`` (seconds, any monotonic origin) and nothing here sleeps, sends
or logs. Outputs are effects pulled with ``effects()``; the next deadline is ``get_timer()``.
Where keepalived and the RFC differ, keepalived wins (reference section 3): an advert and re-GARP in
answer to a lower priority, owner still listening, VIP-list mismatch only counted, real MAC. One
divergence on purpose: that answer goes out at most once per advert interval (docs/divergences.md),
so a flood of lower-priority adverts never makes this router a flood of adverts and GARPs.

Received datagrams are judged once per distinct packet (`vrrpkit.core.receive.Judge`): a master
resends identical bytes every interval and a flood repeats one packet, so the verdict of the codec
and the receive rules is remembered and replayed; what depends on state (timers, transitions, the
answers) runs for every datagram.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from enum import StrEnum
from operator import itemgetter

from vrrpkit.core import effects as fx
from vrrpkit.core.config import (
    PRIORITY_STOP,
    InstanceConfig,
    IPAddress,
    TrackKind,
    apply_strict,
)
from vrrpkit.core.packet import Advertisement, DropReason, encode
from vrrpkit.core.receive import Judge
from vrrpkit.core.state import Event, State, next_state
from vrrpkit.core.stats import Stats
from vrrpkit.core.weights import FILE_FAULT, TrackValue, effective_priority, file_status


class Timer(StrEnum):
    ADVERT = "advert"
    MASTER_DOWN = "master-down"
    PREEMPT_DELAY = "preempt-delay"
    GARP_REPEAT = "garp-repeat"
    GARP_REFRESH = "garp-refresh"


_BY_TIME_THEN_NAME = itemgetter(1, 0)
_ADVERT, _MASTER_DOWN = Timer.ADVERT, Timer.MASTER_DOWN
class VirtualRouter:
    def __init__(self, config: InstanceConfig, address: IPAddress | None = None) -> None:
        self.config = apply_strict(config)
        cfg = self.config
        # The address adverts come from, and the one compared on equal priority. keepalived uses
        # unicast_src_ip, else mcast_src_ip, else the interface's primary address (given by the host).
        self.address: IPAddress | None = cfg.unicast_src_ip or cfg.mcast_src_ip or address
        self.name = cfg.name
        self.state = State.INIT
        self.state_since = 0.0
        self.stats = Stats()
        self.master_address: IPAddress | None = None
        self.master_priority: int | None = None
        self.master_adver_int_cs = cfg.advert_int_cs
        self.running = False
        # Sync groups are one-way: the group (core/sync.py) reads what this router recorded in
        # `_sync_log` during `settle()` and tells it what the group looks like through
        # `set_group_view()`; the router never calls into its group.
        self.group: str | None = None
        self._group_fault = False  # another member has a fault of its own: hold us in FAULT
        self._group_master = False  # another running member is MASTER
        self._group_others_want_master = True  # every other running member is MASTER or wants to be
        # keepalived's wantstate MASTER: our master-down (or preempt) timer ran out, but a sync group
        # that is not MASTER yet holds us in BACKUP until every member wants MASTER.
        self.wants_master = False
        self._sync_log: list[tuple[Event, State]] = []
        self.fault_reason: str | None = None
        self.transitions: list[tuple[float, State, State, str]] = []
        self._effects: deque[fx.Effect] = deque()
        self._deadlines: dict[Timer, float] = {}
        self._link_up = True
        self._sync_fault = False
        self._garp_lower_pending = False
        self._tracks: dict[str, TrackValue] = {}
        for track in cfg.tracks:
            initial: TrackValue = (
                None if track.kind in _UNKNOWN_AT_START else (True if track.kind is TrackKind.INTERFACE else 0)
            )
            self._tracks[track.name] = initial
        self._advert_cache: dict[int, tuple[fx.SendAdvert, ...]] = {}
        self._judge = Judge(cfg, self.address)  # the receive rules, remembered per datagram
        self._answer_after = 0.0  # no answer to a lower priority before this time
        self._mdi: tuple[tuple[int, int], float] = ((0, 0), 0.0)
        self._master_advert: Advertisement | None = None  # the advert last accepted as our master's
        self._master_advert_prio = 0  # our priority when we accepted it
        # (data, src, dst, ttl) of the master's advert while nothing can change what it means
        self._hot: tuple[bytes, IPAddress, IPAddress, int] | None = None
        # True when the last datagram did nothing but move Master_Down later: no effect, no
        # earlier deadline (a caller that tracks deadlines may skip looking at this router)
        self.only_timer_moved = False
        self._advert_interval = cfg.advert_int_cs / 100
        self._priority = self._compute_priority()

    # --- inputs -------------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Initialize (RFC 5798 6.4.1); may stay INIT while weight-0 scripts have not reported."""
        self.running = True
        self.state_since = now
        self._evaluate(now)

    def set_initial_track(self, name: str, value: TrackValue) -> None:
        """Set a tracker's value before start(): scripts with init_fail, interfaces already down."""
        if name in self._tracks:
            self._tracks[name] = value
            self._priority = self._compute_priority()

    def tracker_changed(self, name: str, value: TrackValue, now: float) -> None:
        """A tracked script (bool ok), interface (bool up) or file (int) reported a new value."""
        if name not in self._tracks or self._tracks[name] == value:
            return
        self._tracks[name] = value
        self._evaluate(now)

    def address_changed(self, address: IPAddress | None, now: float) -> None:
        """The interface's primary address appeared, changed or went away (DHCP, late config).

        Pinned sources (unicast_src_ip, mcast_src_ip) never change this way."""
        cfg = self.config
        if cfg.unicast_src_ip is not None or cfg.mcast_src_ip is not None or address == self.address:
            return
        self.address = address
        self._advert_cache.clear()
        self._judge.set_address(address)  # "our own advert" depends on the address
        self._hot = None
        self._evaluate(now)

    def link_changed(self, up: bool, now: float) -> None:
        if up == self._link_up:
            return
        self._link_up = up
        self._evaluate(now)

    def resign(self, now: float, reason: str) -> None:
        """A MASTER lost something it installed and tracks (a virtual route or rule deleted behind its
        back): keepalived gives up with a priority-0 advert and re-elects after Skew_Time, which puts
        everything back if this router is still the best one (measured with keepalived 2.2.7)."""
        if not self.running or self.state is not State.MASTER:
            return
        self._send_advert(now, PRIORITY_STOP)
        self._transition(Event.RESIGN, now, reason)
        self._deadlines[Timer.MASTER_DOWN] = now + self.skew_time

    def shutdown(self, now: float) -> None:
        """Graceful stop: a master sends priority 0 so a backup takes over after Skew_Time."""
        if not self.running:
            return
        if self.state is State.MASTER:
            self._send_advert(now, PRIORITY_STOP)
        self.running = False  # first: a sync group must no longer count our fault
        if self.state is not State.INIT:
            self._transition(Event.SHUTDOWN, now, "shutdown")
        self._emit(fx.Notify(self.name, fx.NotifyKind.STOP, self._priority))
        self._deadlines.clear()

    def datagram_received(
        self, data: bytes, src: IPAddress, dst: IPAddress, ttl: int, now: float
    ) -> Advertisement | None:
        """Apply RFC and keepalived receive rules; bad packets are dropped and counted."""
        hot = self._hot
        if hot is not None and data is hot[0] and src is hot[1] and dst is hot[2] and ttl == hot[3]:
            # A BACKUP hearing its master's advert again (the very objects the socket handed over
            # last time): clean, accepted, our priority and state unchanged since (any change
            # clears `_hot`), so the one thing to do is move Master_Down.
            self.stats.advert_rcvd += 1
            self._deadlines[_MASTER_DOWN] = now + self._mdi[1]
            if self.wants_master:  # held by a sync group, and now the master is back: the group must look
                self.wants_master = self.only_timer_moved = False
            else:
                self.only_timer_moved = True
            return self._master_advert
        self.only_timer_moved = False
        if not self.running or self.state in (State.INIT, State.FAULT):
            self._drop(DropReason.NOT_RUNNING, src, f"state {self.state.value}", count=False)
            return None
        verdict = self._judge.verdict(data, src, dst, ttl)
        adv = verdict.advert
        if adv is None:
            assert verdict.drop is not None
            if verdict.counted:
                self.stats.count_drop(verdict.drop.reason)
            self._effects.append(verdict.drop)
            return None
        self.stats.advert_rcvd += 1
        if adv.priority == PRIORITY_STOP:
            self.stats.pri_zero_rcvd += 1
        if verdict.interval is not None:
            self._effects.append(verdict.interval)
        if verdict.addresses is not None and not (self.config.skip_check_adv_addr and src == self.master_address):
            self.stats.addr_list_err += 1
            self._effects.append(verdict.addresses)
        if verdict.drop is not None:  # the owner ignores adverts: received, counted, not acted on
            self._effects.append(verdict.drop)
            return adv
        if self.state is State.BACKUP:
            self._backup_received(adv, src, now)
            if (
                adv is self._master_advert
                and verdict.interval is None
                and verdict.addresses is None
                and self.state is State.BACKUP
            ):
                self._hot = (data, src, dst, ttl)
        else:
            self._master_received(adv, src, now)
        return adv

    def handle_timer(self, now: float) -> None:
        """Run every deadline that is due, earliest first (ties in the order of the timers' names)."""
        deadlines = self._deadlines
        while self.running and deadlines:
            name, when = min(deadlines.items(), key=_BY_TIME_THEN_NAME)
            if when > now:
                return
            del deadlines[name]
            self._fire(name, now, when)

    # --- outputs ------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        return min(self._deadlines.values()) if self._deadlines else None

    def timers(self) -> dict[str, float]:
        return {name.value: when for name, when in self._deadlines.items()}

    def effects(self) -> Iterator[fx.Effect]:
        while self._effects:
            yield self._effects.popleft()

    def advert_tick(self, now: float) -> tuple[tuple[fx.SendAdvert, ...], float] | None:
        """A MASTER's every tick, when it is nothing more: only the advert timer is set and due,
        nothing is queued, the advert is cached. Returns what to send and the next deadline (the
        only one); otherwise None and nothing changed (then `handle_timer` does the general case)."""
        deadlines = self._deadlines
        when = deadlines.get(_ADVERT)
        if when is None or when > now or len(deadlines) != 1 or self._effects or not self.running:
            return None
        sends = self._advert_cache.get(self._priority)
        if sends is None:
            return None
        nxt = when + self._advert_interval
        if nxt <= now:  # a whole interval behind: start again from now
            nxt = now + self._advert_interval
        deadlines[_ADVERT] = nxt
        self.stats.advert_sent += 1
        return sends, nxt

    def take_effects(self) -> list[fx.Effect]:
        """Everything queued, at once (what ``effects()`` yields, for a caller in a hot loop)."""
        queued = self._effects
        if not queued:
            return _NONE
        out = list(queued)
        queued.clear()
        return out

    @property
    def priority(self) -> int:
        """Effective priority: base plus track weights, clamped to 1..254; 255 for the owner."""
        return self._priority

    @property
    def skew_time(self) -> float:
        prio = self._priority
        if self.config.version == 2:
            return (256 - prio) / 256
        return ((256 - prio) * self.master_adver_int_cs) / 256 / 100

    @property
    def master_down_interval(self) -> float:
        # computed for every advert a BACKUP accepts: remember it for the interval and priority
        key = (self.master_adver_int_cs, self._priority)
        if self._mdi[0] != key:
            self._mdi = (key, self.config.down_timer_adverts * self.master_adver_int_cs / 100 + self.skew_time)
        return self._mdi[1]

    def own_fault(self) -> str | None:
        """Why this instance itself must be in FAULT, ignoring its sync group."""
        if not self._link_up:
            return f"interface {self.config.interface} down"
        if self.address is None:
            return "src address not configured"
        for track in self.config.tracks:
            value = self._tracks[track.name]
            if track.kind is TrackKind.FILE:
                status = file_status(track.weight, track.reverse, int(value or 0))
                if status <= FILE_FAULT:
                    return f"tracked file {track.name} = {value}"
            elif track.weight == 0 and value is not None and bool(value) is track.reverse:
                return f"tracked {track.kind.value} {track.name} {'ok (reverse)' if value else 'failed'}"
        return None

    # --- internals: state changes -------------------------------------------------------------

    def _waiting_for_scripts(self) -> bool:
        return any(
            t.kind in _UNKNOWN_AT_START and t.weight == 0 and self._tracks[t.name] is None for t in self.config.tracks
        )

    def _evaluate(self, now: float) -> None:
        """Re-derive priority and fault state after any input changed."""
        old = self._priority
        self._priority = self._compute_priority()
        if self._priority != old:
            self._hot = None  # a new priority may make the same advert mean something else
            self._advert_cache.clear()
            self._emit(fx.PriorityChanged(self.name, old, self._priority, self.state))
        if not self.running:
            return
        fault = self.own_fault()
        if fault is not None:
            self.fault_reason = fault
            if self.state is not State.FAULT:
                self._enter_fault(Event.FAULT, now, fault)
            return
        if self.state is State.FAULT:
            if self._group_fault:
                self._sync_fault = True  # our own fault is over; the group's is not
                self.fault_reason = "sync group member in fault"
                return
            self._sync_fault = False
            self.fault_reason = None
            self._transition(Event.RECOVERED_OWNER if self.config.owner else Event.RECOVERED, now, "fault cleared")
            return
        if self.state is State.INIT:
            if self._waiting_for_scripts():
                return
            if self._group_fault:
                self._enter_fault(Event.SYNC_FAULT, now, "sync group in fault")
                self._sync_fault = True
                return
            owner = self.config.owner
            self._transition(Event.STARTUP_OWNER if owner else Event.STARTUP, now, "startup")
            if self._group_master and not owner:
                # keepalived starts a member in its group's state: a reload of one member must
                # not pull the group's VIPs down
                self._transition(Event.SYNC_MASTER, now, "sync group is master")
            return
        if self._priority != old and self.state is State.MASTER:
            # keepalived tells the LAN at once rather than at the next tick (faster handover).
            self._send_advert(now)
            self._deadlines[Timer.ADVERT] = now + self.config.advert_int_cs / 100

    def _enter_fault(self, event: Event, now: float, reason: str) -> None:
        if self.state is State.MASTER and self._link_up:
            # keepalived sends priority 0 on leaving MASTER for FAULT so a backup need not wait.
            self._send_advert(now, PRIORITY_STOP)
        self._transition(event, now, reason)

    def _transition(self, event: Event, now: float, reason: str) -> None:
        old = self.state
        new = next_state(old, event)
        self._master_advert = self._hot = None
        if old is State.MASTER:
            self._leave_master()
        self.state = new
        self.wants_master = new is State.MASTER
        self.state_since = now
        self.transitions.append((now, old, new, reason))
        for timer in (Timer.MASTER_DOWN, Timer.PREEMPT_DELAY):
            self._deadlines.pop(timer, None)
        self._emit(fx.StateChanged(self.name, old, new, event, reason, now))
        if new is State.MASTER:
            self._become_master(now)
        elif new is State.BACKUP:
            self.master_adver_int_cs = self.config.advert_int_cs  # until a master tells us its own
            self._deadlines[Timer.MASTER_DOWN] = now + self.master_down_interval
        if new is not State.INIT:
            self._emit(fx.Notify(self.name, fx.NotifyKind(new.value), self._priority))
        if self.group is not None and event not in _SYNC_EVENTS:
            self._sync_log.append((event, new))

    def _become_master(self, now: float) -> None:
        cfg = self.config
        self.stats.become_master += 1
        self.master_address = self.address
        self.master_priority = self._priority
        self._emit(fx.AddVips(self.name, cfg.interface, cfg.vips + cfg.excluded_vips))
        self._send_advert(now)
        self._deadlines[Timer.ADVERT] = now + cfg.advert_int_cs / 100
        self._garp(cfg.garp_master_repeat)
        if cfg.garp_master_delay_cs > 0 and cfg.garp_master_repeat > 0:
            self._deadlines[Timer.GARP_REPEAT] = now + cfg.garp_master_delay_cs / 100
            self._garp_lower_pending = False
        if cfg.garp_master_refresh_cs > 0:
            self._deadlines[Timer.GARP_REFRESH] = now + cfg.garp_master_refresh_cs / 100

    def _leave_master(self) -> None:
        cfg = self.config
        self.stats.release_master += 1
        for timer in (Timer.ADVERT, Timer.GARP_REPEAT, Timer.GARP_REFRESH):
            self._deadlines.pop(timer, None)
        self.master_address = None
        self.master_priority = None
        self._emit(fx.DelVips(self.name, cfg.interface, cfg.vips + cfg.excluded_vips))

    def set_group_view(self, *, fault: bool, master: bool, others_want_master: bool = True) -> None:
        """What the sync group's other members look like: one has a fault of its own (so we are held
        in FAULT), one is MASTER (so a starting member joins as MASTER, and a member whose timer ran
        out may take over at once), all want MASTER (so our timer running out moves the whole
        group). Set by `SyncGroup`."""
        self._group_fault = fault
        self._group_master = master
        self._group_others_want_master = others_want_master

    def _may_take_over(self) -> bool:
        """keepalived's vrrp_sync_can_goto_master: a group goes MASTER only when every member wants
        to, which prefers BACKUP to thrashing when one member's master is still alive."""
        return self.group is None or self._group_master or self._group_others_want_master

    def pull_sync_events(self) -> list[tuple[Event, State]]:
        """The transitions this router made on its own since the group last looked (settle)."""
        log, self._sync_log = self._sync_log, []
        return log

    def sync_to(self, state: State, now: float) -> None:
        """Called by the sync group: follow a member's transition where the table allows it."""
        if not self.running:
            return
        if state is State.FAULT and self.state is not State.FAULT:
            self._sync_fault = True
            self._enter_fault(Event.SYNC_FAULT, now, "sync group member entered fault")
        elif state is State.MASTER and self.state is State.BACKUP:
            self._transition(Event.SYNC_MASTER, now, "sync group member became master")
        elif state is State.BACKUP and self.state is State.MASTER:
            self._transition(Event.SYNC_BACKUP, now, "sync group member became backup")

    def sync_recover(self, now: float) -> None:
        """The sync group's last own fault cleared: leave a FAULT we only held for the group."""
        self._sync_fault = False
        if self.running and self.state is State.FAULT and self.own_fault() is None:
            self.fault_reason = None
            self._transition(
                Event.RECOVERED_OWNER if self.config.owner else Event.RECOVERED, now, "sync group recovered"
            )

    # --- internals: receive -------------------------------------------------------------------

    def _backup_received(self, adv: Advertisement, src: IPAddress, now: float) -> None:
        if adv is self._master_advert and src is self.master_address and self._priority == self._master_advert_prio:
            # the very advert (the same object, from the verdict cache) we accepted last time, and
            # our priority unchanged: the same decision, and only the timer moves
            self._deadlines[Timer.MASTER_DOWN] = now + self._mdi[1]  # computed when it was accepted
            self.wants_master = False
            return
        cfg = self.config
        if adv.priority == PRIORITY_STOP:
            self._deadlines[Timer.MASTER_DOWN] = now + self.skew_time
            return
        if not cfg.preempt or adv.priority >= self._priority:
            self._accept_master(adv, src, now)
            self._deadlines.pop(Timer.PREEMPT_DELAY, None)
            self.wants_master = False  # a master we defer to is alive: we want BACKUP again
            self._master_advert, self._master_advert_prio = adv, self._priority
            return
        # A lower priority master and we may preempt: let the down timer run out, unless
        # preempt_delay asks us to keep deferring to it for a while first.
        if cfg.preempt_delay_cs > 0:
            if Timer.PREEMPT_DELAY not in self._deadlines:
                self._deadlines[Timer.PREEMPT_DELAY] = now + cfg.preempt_delay_cs / 100
            self._accept_master(adv, src, now)
            self.wants_master = False

    def _accept_master(self, adv: Advertisement, src: IPAddress, now: float) -> None:
        if self.config.version == 3:
            self.master_adver_int_cs = adv.interval_cs
        self.master_address = src
        self.master_priority = adv.priority
        self._deadlines[Timer.MASTER_DOWN] = now + self.master_down_interval

    def _master_received(self, adv: Advertisement, src: IPAddress, now: float) -> None:
        cfg = self.config
        if adv.priority == PRIORITY_STOP:
            self._send_advert(now)
            self._deadlines[Timer.ADVERT] = now + cfg.advert_int_cs / 100
            return
        mine = self._priority
        assert self.address is not None  # a master always has one (else FAULT)
        if adv.priority > mine or (adv.priority == mine and int(src) > int(self.address)):
            if cfg.higher_prio_send_advert:
                self._send_advert(now)
            self._transition(Event.HIGHER_PRIORITY, now, f"higher priority {adv.priority} from {src}")
            self._accept_master(adv, src, now)
            return
        # Lower priority: another host thinks it is master (e.g. a split brain healing). keepalived
        # answers at once and re-announces the VIPs, so switches stop black-holing them. We answer
        # at most once per advert interval: a second answer within one interval tells the other
        # host nothing new, and a flood of lower-priority adverts must not become one of ours.
        if now < self._answer_after:
            self.stats.lower_prio_unanswered += 1
            return
        self._answer_after = now + cfg.advert_int_cs / 100
        self._emit(fx.Notify(self.name, fx.NotifyKind.MASTER_RX_LOWER_PRI, mine))
        if not cfg.lower_prio_no_advert:
            self._send_advert(now)
            self._deadlines[Timer.ADVERT] = now + cfg.advert_int_cs / 100
        # keepalived re-GARPs whenever garp_lower_prio_repeat is set (strict mode sets it to 0)
        repeat = cfg.garp_master_repeat if cfg.garp_lower_prio_repeat is None else cfg.garp_lower_prio_repeat
        delay = cfg.garp_master_delay_cs if cfg.garp_lower_prio_delay_cs is None else cfg.garp_lower_prio_delay_cs
        if repeat > 0:
            self._garp(repeat)
            if delay > 0:
                self._deadlines[Timer.GARP_REPEAT] = now + delay / 100
                self._garp_lower_pending = True

    # --- internals: timers and sending ----------------------------------------------------------

    def _fire(self, name: Timer, now: float, when: float) -> None:
        cfg = self.config
        if name is Timer.ADVERT:
            self._send_advert(now)
            # the next tick counts from when this one was due, so a late wake-up does not stretch
            # the advert period (unless we are a whole interval behind)
            interval = cfg.advert_int_cs / 100
            self._deadlines[Timer.ADVERT] = when + interval if when + interval > now else now + interval
        elif name is Timer.MASTER_DOWN:
            self.wants_master = True
            if self._may_take_over():
                self._transition(Event.MASTER_DOWN, now, "advertisement timeout")
            else:  # held by the group; keepalived looks again after another down interval
                self._deadlines[Timer.MASTER_DOWN] = now + self.master_down_interval
        elif name is Timer.PREEMPT_DELAY:
            # only if we still outrank the master we deferred to (our priority may have dropped)
            if self.master_priority is None or self.master_priority < self._priority:
                self.wants_master = True
                if self._may_take_over():
                    self._transition(Event.PREEMPT, now, "preempt delay expired")
        elif name is Timer.GARP_REPEAT:
            lower = self._garp_lower_pending
            self._garp_lower_pending = False
            if lower and cfg.garp_lower_prio_repeat is not None:
                self._garp(cfg.garp_lower_prio_repeat)
            else:
                self._garp(cfg.garp_master_repeat)
        else:  # GARP_REFRESH
            self._garp(cfg.garp_master_refresh_repeat)
            self._deadlines[Timer.GARP_REFRESH] = now + cfg.garp_master_refresh_cs / 100

    def _garp(self, count: int) -> None:
        if count > 0 and self.config.vips:
            self._emit(fx.SendGarp(self.name, self.config.interface, self.config.vips, count))

    def destinations(self) -> tuple[IPAddress, ...]:
        cfg = self.config
        if cfg.unicast:
            return tuple(p.address for p in cfg.unicast_peers)
        return (cfg.group,)

    def _send_advert(self, now: float, priority: int | None = None) -> None:
        """Send the (cached) advert bytes. A master's advert only changes with its priority."""
        prio = self._priority if priority is None else priority
        cached = self._advert_cache.get(prio)
        if cached is None:
            cfg = self.config
            assert self.address is not None
            adv = Advertisement(
                version=cfg.version,
                vrid=cfg.vrid,
                priority=prio,
                addresses=cfg.advertised_addresses(),
                interval=cfg.advert_int_cs / 100,
                auth_type=cfg.auth_type if cfg.version == 2 else 0,
                auth_data=cfg.auth_pass if cfg.version == 2 and cfg.auth_type else b"",
            )
            cached = tuple(
                fx.SendAdvert(self.name, cfg.interface, self.address, dst, encode(adv, self.address, dst), prio)
                for dst in self.destinations()
            )
            self._advert_cache[prio] = cached
        self._effects.extend(cached)
        self.stats.advert_sent += 1
        if prio == PRIORITY_STOP:
            self.stats.pri_zero_sent += 1

    def _drop(self, reason: DropReason, src: IPAddress | None, detail: str, count: bool = True) -> None:
        if count:
            self.stats.count_drop(reason)
        self._emit(fx.PacketDropped(self.name, reason, src, detail))

    def _emit(self, effect: fx.Effect) -> None:
        self._effects.append(effect)

    def _compute_priority(self) -> int:
        return effective_priority(self.config, self._tracks)


_SYNC_EVENTS = frozenset({Event.SYNC_MASTER, Event.SYNC_BACKUP, Event.SYNC_FAULT})
_NONE: list[fx.Effect] = []  # take_effects() with nothing queued (never appended to)
# Trackers with no value until they first report (a script's first run, a process table's first look).
_UNKNOWN_AT_START = frozenset({TrackKind.SCRIPT, TrackKind.PROCESS})
