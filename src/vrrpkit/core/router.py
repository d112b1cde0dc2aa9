"""One virtual router (a keepalived vrrp_instance): RFC 5798 section 6 with keepalived's defaults.

Sans-I/O: every method takes ``now`` (seconds, any monotonic origin) and nothing here sleeps, sends
or logs. Outputs are effects pulled with ``effects()``; the next deadline is ``get_timer()``.
Where keepalived and the RFC differ, keepalived wins (reference section 3): an advert and re-GARP in
answer to a lower priority, owner still listening, VIP-list mismatch only counted, real MAC.

Two divergences on purpose (docs/divergences.md): a lower priority is answered at most twice in any
advert interval (a flood of them never makes us a flood of adverts and GARPs), and a BACKUP asks a
silent master that outranks it (its own advert, `CLAIM_LEAD` early) before it takes over.

Datagrams are judged once per distinct packet (`vrrpkit.core.receive.Judge`: a master resends the
same bytes, a flood repeats one); what depends on state runs for each one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from operator import itemgetter

from vrrpkit.core import announce
from vrrpkit.core import effects as fx
from vrrpkit.core.config import PRIORITY_STOP, ChecksumCompat, InstanceConfig, IPAddress, Vip, apply_strict
from vrrpkit.core.packet import Advertisement, DropReason
from vrrpkit.core.receive import Judge, Receiving, Remembered, Timer
from vrrpkit.core.reconfig import diff, identity
from vrrpkit.core.state import Event, State, next_state
from vrrpkit.core.stats import Stats
from vrrpkit.core.tracks import TrackValue, effective_priority, initial_value, track_fault, waiting_for_scripts

_BY_TIME_THEN_NAME = itemgetter(1, 0)
_ADVERT, _MASTER_DOWN = Timer.ADVERT, Timer.MASTER_DOWN


class VirtualRouter(Receiving):
    # Slots, not a dict (more than 30 attributes: no shared keys): 200 routers take 440 KB, not 830.
    __slots__ = (  # and `Receiving`'s
        "_advert_cache", "_advert_interval", "_deadlines", "_effects", "_group_fault", "_group_master",
        "_group_others_want_master", "_group_waiting", "_host_address", "_judge", "_link_up", "_priority",
        "_said_goodbye", "_src_present", "_sync_fault", "_sync_log", "_tracks", "address", "config",
        "fault_reason", "group", "name", "running", "state", "state_since", "stats", "transitions",
    )  # fmt: skip

    def __init__(self, config: InstanceConfig, address: IPAddress | None = None) -> None:
        self.config = apply_strict(config)
        cfg = self.config
        # The address adverts come from, and the one compared on equal priority. keepalived uses
        # unicast_src_ip, else mcast_src_ip, else the interface's primary address (given by the host).
        self._host_address = address
        self.address: IPAddress | None = cfg.unicast_src_ip or cfg.mcast_src_ip or address
        self.name = cfg.name
        self.state = State.INIT
        self.state_since = 0.0
        self.stats = Stats()
        self.master_address: IPAddress | None = None
        self.master_priority: int | None = None
        self.master_adver_int_cs = cfg.advert_int_cs
        self.running = False
        # Sync groups are one-way (core/sync.py): the group reads `_sync_log` in `settle()` and
        # tells us what it looks like (`set_group_view()`); we never call into it.
        self.group: str | None = None
        self._group_fault = False  # another member has a fault of its own: hold us in FAULT
        self._group_master = False  # another running member is MASTER
        self._group_others_want_master = True  # every other running member is MASTER or wants to be
        self._group_waiting = False  # another member is in INIT until its scripts report: so are we
        # keepalived's wantstate MASTER: our Master_Down ran out, but our group holds us in BACKUP
        self.wants_master = False
        self._sync_log: list[tuple[Event, State]] = []
        self.fault_reason: str | None = None
        self.transitions: list[tuple[float, State, State, str]] = []
        self._effects: list[fx.Effect] = []  # a list: a deque's first block is ~600 bytes per router
        self._deadlines: dict[Timer, float] = {}
        self._link_up = True
        self._src_present = True  # track_src_ip: the configured source address is on the host
        self._old_checksum = False  # sending keepalived <= 1.3.6 unicast checksums (see `_derive`)
        self._sync_fault = self._garp_lower_pending = False
        self._tracks: dict[str, TrackValue] = {track.name: initial_value(track) for track in cfg.tracks}
        self._advert_cache: dict[int, tuple[fx.SendAdvert, ...]] = {}
        self._said_goodbye = False  # this mastership's priority-0 adverts already went out (`goodbye`)
        self._answer_after = self._last_answer = self._lower_said = float("-inf")
        self._claimed = self._master_left = False
        self._preempt_end = float("inf")  # when the preempt delay ended (lower adverts discarded since)
        self._lead = 0.0
        self._mdi = ((0, 0, False), 0.0, 0.0)
        self._master_advert: Advertisement | None = None  # the advert last accepted as our master's
        self._master_advert_prio = 0  # our priority when we accepted it
        # (data, src, dst, ttl), while nothing can change what it means: our master's advert; the
        # lower-priority rival a MASTER answered last, and the one `answer_first` answered; the
        # outranking master a BACKUP followed until it took over (its answer steps us down)
        self._hot: tuple[bytes, IPAddress, IPAddress, int] | None = None
        self._rival: Remembered | None = None
        self._answered: Remembered | None = None
        self._superior: Remembered | None = None
        # True when the last datagram did nothing but move Master_Down later: no effect, no
        # earlier deadline (a caller that tracks deadlines may skip looking at this router)
        self.only_timer_moved = False
        self._derive()
        self._priority = self._compute_priority()

    def _derive(self) -> None:
        """Lookups that follow from the config (rebuilt when a reload changes it)."""
        cfg = self.config
        self._judge = Judge(cfg, self.address)  # the receive rules, remembered per datagram
        compat = cfg.old_unicast_checksum  # `auto` keeps what a peer taught us, across reloads too
        self._old_checksum = compat is ChecksumCompat.ALWAYS or (compat is ChecksumCompat.AUTO and self._old_checksum)
        self._advert_cache.clear()
        self._advert_interval = cfg.advert_int_cs / 100
        self._master_advert = self._hot = self._rival = self._superior = None
        self._mdi = ((0, 0, False), 0.0, 0.0)

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

    def track_values(self) -> dict[str, TrackValue]:
        """Each tracked object's last reported value (None: a script not run yet), for status and metrics."""
        return dict(self._tracks)

    def address_changed(self, address: IPAddress | None, now: float) -> None:
        """The interface's primary address appeared, changed or went away (DHCP, an operator); gone
        from a MASTER: FAULT, with its goodbyes from the old one (keepalived 2.2.7, measured).
        Pinned sources (unicast_src_ip, mcast_src_ip) never change this way."""
        self._host_address = address
        if self.config.unicast_src_ip is not None or self.config.mcast_src_ip is not None or address == self.address:
            return
        if address is None and self.state is State.MASTER:
            self._enter_fault(Event.FAULT, now, "src address not configured")
        self.address = address
        self._advert_cache.clear()
        self._judge.set_address(address)  # "our own advert" depends on the address
        self._hot = self._rival = self._superior = None
        self._evaluate(now)

    def link_changed(self, up: bool, now: float) -> None:
        if up == self._link_up:
            return
        self._link_up = up
        self._evaluate(now)

    def source_changed(self, present: bool, now: float) -> None:
        """track_src_ip: the configured unicast_src_ip/mcast_src_ip appeared on or left the host."""
        if present == self._src_present:
            return
        self._src_present = present
        self._evaluate(now)

    def reconfigure(self, config: InstanceConfig, now: float, tracks: Mapping[str, TrackValue] | None = None) -> None:
        """A reload changed this instance but not its identity (`core.reconfig.identity`): apply it in
        place, as keepalived does. The state is kept and the election re-run with the new values: a
        master stays master unless a peer now outranks it (the peer preempts, as from keepalived); a
        master adds and removes VIPs (GARP for new ones), advertises at once. `tracks`: new tracks' values."""
        new = apply_strict(config)
        old = self.config
        if identity(new) != identity(old):
            raise ValueError(f"{old.name}: identity changed, the instance must be restarted")
        if new == old:
            return
        change = diff(old, new)
        silent_since = None  # when a backup last heard its master, to re-time its down timer
        if Timer.MASTER_DOWN in self._deadlines:
            silent_since = self._deadlines[Timer.MASTER_DOWN] - self.master_down_interval + self._lead
        delay_since = self._deadlines.get(Timer.PREEMPT_DELAY, now) - old.preempt_delay_cs / 100
        known = dict(tracks or {})
        kinds = {t.name: t.kind for t in old.tracks}
        self._tracks = {
            t.name: self._tracks[t.name] if kinds.get(t.name) is t.kind else known.get(t.name, initial_value(t))
            for t in new.tracks
        }
        self.config, self.name = new, new.name
        self.address = new.unicast_src_ip or new.mcast_src_ip or self._host_address
        self._derive()
        added: tuple[Vip, ...] = ()
        if self.state is State.MASTER:
            self.master_address = self.address
            self.master_adver_int_cs = new.advert_int_cs
            if change.vips_removed:
                self._emit(fx.DelVips(self.name, old.vip_interface, change.vips_removed, fx.VipCause.RELOAD))
            added = change.vips_added + change.vips_moved  # moved: the VMAC took them along
            for timer, name, every in ((Timer.GARP_REFRESH, "garp_master_refresh_cs", new.garp_master_refresh_cs / 100),
                                       (Timer.GARP_EXTRA, "garp_extra_if_s", new.garp_extra_if_s)):  # fmt: skip
                if name in change.fields:
                    self._deadlines.pop(timer, None)
                    if every > 0:
                        self._deadlines[timer] = now + every
        elif self.state is State.BACKUP:
            if new.version == 2 or self.master_address is None:
                self.master_adver_int_cs = new.advert_int_cs  # v3 keeps the interval its master sends
            if not new.preempt or not new.preempt_delay_cs:
                self._deadlines.pop(Timer.PREEMPT_DELAY, None)
            elif Timer.PREEMPT_DELAY in self._deadlines:
                self._deadlines[Timer.PREEMPT_DELAY] = delay_since + new.preempt_delay_cs / 100
        seen = len(self.transitions)
        self._evaluate(now, announce=change.advert_changed, cleared="fault cleared by reload")
        if added and self.state is State.MASTER:  # not when the reload itself ends the mastership (a new FAULT)
            self._emit(fx.AddVips(self.name, new.vip_interface, added, fx.VipCause.RELOAD))
            self._garp(new.garp_master_repeat, tuple(v for v in added if v in new.vips))
        if self.state is State.BACKUP and len(self.transitions) == seen and silent_since is not None:
            # The down timer measures the master's silence: re-derived with the new priority
            # (keepalived restarts it: divergence reload-keeps-master-silence); a VRRPv2 interval
            # change restarts it, as keepalived: the master's adverts mismatch until its reload.
            if new.version == 2 and new.advert_int_cs != old.advert_int_cs:
                silent_since = now
            self._deadlines[Timer.MASTER_DOWN] = max(now, self._down_from(silent_since))

    def resign(self, now: float, reason: str) -> None:
        """A MASTER lost something it installed and tracks (a virtual route or rule deleted behind its
        back): keepalived gives up with a priority-0 advert and re-elects after Skew_Time, which puts
        everything back if this router is still the best one (measured with keepalived 2.2.7)."""
        if not self.running or self.state is not State.MASTER:
            return
        self._send_advert(now, PRIORITY_STOP)
        self._transition(Event.RESIGN, now, reason)
        self._deadlines[Timer.MASTER_DOWN] = now + self.skew_time

    def goodbye(self, now: float) -> None:
        """A graceful stop's first step, alone: a master's priority-0 adverts and no advert after them.
        The backups count Skew_Time from these, so they go before anything else; `shutdown()` sends none."""
        if self.running and self.state is State.MASTER and not self._said_goodbye:
            self._said_goodbye = True
            self._deadlines.pop(Timer.ADVERT, None)
            self._send_advert(now, PRIORITY_STOP)

    def shutdown(self, now: float) -> None:
        """Graceful stop: a master sends priority 0 so a backup takes over after Skew_Time."""
        if not self.running:
            return
        self.goodbye(now)
        self.running = False  # first: a sync group must no longer count our fault
        if self.state is not State.INIT:
            self._transition(Event.SHUTDOWN, now, "shutdown")
        self._emit(fx.Notify(self.name, fx.NotifyKind.STOP, self._priority))
        self._deadlines.clear()

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
        queued = self._effects
        while queued:
            yield queued.pop(0)  # a handful at most: cheaper than a deque per router

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
        nxt = nxt if nxt > now else now + self._advert_interval  # a whole interval behind: from now
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

    def own_fault(self) -> str | None:
        """Why this instance itself must be in FAULT, ignoring its sync group."""
        cfg = self.config
        if not self._link_up and not cfg.dont_track_primary:
            return f"interface {cfg.advert_interface} down"
        if self.address is None:
            return "src address not configured"
        if cfg.track_src_ip and not self._src_present:
            return f"src address {self.address} not on the host (track_src_ip)"
        if cfg.unicast and not cfg.unicast_peers:
            return "no unicast peers (unicast_fault_no_peer)"
        return track_fault(cfg, self._tracks)

    # --- internals: state changes -------------------------------------------------------------

    def waiting_for_scripts(self) -> bool:
        """In INIT until a weight-0 script reports (and with us, the rest of our sync group)."""
        return self.state is State.INIT and waiting_for_scripts(self.config, self._tracks)

    def _evaluate(self, now: float, announce: bool = False, cleared: str = "fault cleared") -> None:
        """Re-derive priority and fault state after any input changed. A master advertises at once when
        its priority changed (priority-change-advert) or `announce` says its advert did (a reload); a BACKUP's
        Master_Down counts again from its master's last advert (keepalived). `cleared`: why a fault ends."""
        old, down = self._priority, self._deadlines.get(_MASTER_DOWN)
        self._priority = self._compute_priority()
        if self._priority != old:
            # the same advert may mean something else (our master's next one is no mere repeat)
            self._master_advert = self._hot = self._rival = self._superior = None
            self._advert_cache.clear()
            if down is not None and self.state is State.BACKUP and not self._master_left:
                self._deadlines[_MASTER_DOWN] = max(now, self._down_from(down - self._mdi[1]))
            self._emit(fx.PriorityChanged(self.name, old, self._priority, self.state))
            announce = True
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
            self._sync_fault = False  # also a fault held for a group we no longer share (a reload)
            self._leave_fault(now, cleared)
            return
        if self.state is State.INIT:
            if self.waiting_for_scripts() or self._group_waiting:
                return  # keepalived: no member of a group leaves INIT before all can (measured)
            if self._group_fault:
                self._enter_fault(Event.SYNC_FAULT, now, "sync group in fault")
                self._sync_fault = True
                return
            # keepalived 2.2.7 (measured): an owner starts MASTER if its state is MASTER (unset
            # counts), alone or into a MASTER group; in another group, BACKUP for one interval
            cfg, late = self.config, now > self.state_since  # late: its scripts kept it waiting
            wants = cfg.owner and cfg.state == "MASTER"
            owner = wants and (self.group is None or self._group_master)
            self._transition(Event.STARTUP_OWNER if owner else Event.STARTUP, now, "scripts ran" if late else "startup")
            if self._group_master and not owner:  # in its group's state: a reload of one member
                self._transition(Event.SYNC_MASTER, now, "sync group is master")  # keeps the VIPs
            elif wants and not owner:  # plus keepalived's VRRP_TIMER_SKEW_MIN
                skew = self._advert_interval / 256 if cfg.version == 3 else 1 / 256
                self._deadlines[Timer.MASTER_DOWN] = now + self._advert_interval + skew
            return
        if announce and self.state is State.MASTER:
            # keepalived tells the LAN at once rather than at the next tick (faster handover).
            self._send_advert(now)
            self._deadlines[Timer.ADVERT] = now + self.config.advert_int_cs / 100

    def _enter_fault(self, event: Event, now: float, reason: str) -> None:
        if self.state is State.MASTER and self._link_up:  # priority 0: a backup need not wait
            own = event is not Event.SYNC_FAULT
            self._effects += announce.goodbyes(self._own_adverts(PRIORITY_STOP), own)
            self.stats.advert_sent += 1 + own
            self.stats.pri_zero_sent += own  # keepalived counts the logged one
        self._transition(event, now, reason)

    def _transition(self, event: Event, now: float, reason: str) -> None:
        old = self.state
        new = next_state(old, event)
        followed, heard = self._hot, self._master_advert
        self._master_advert = self._hot = self._rival = self._superior = None
        if old is State.MASTER:
            self._leave_master()
        self.state = new
        self.wants_master = new is State.MASTER
        self.state_since = now
        self.transitions.append((now, old, new, reason))
        for timer in (Timer.MASTER_DOWN, Timer.TAKEOVER, Timer.PREEMPT_DELAY):
            self._deadlines.pop(timer, None)
        self._claimed, self._preempt_end = False, float("inf")
        self._emit(fx.StateChanged(self.name, old, new, event, reason, now))
        if new is State.MASTER:
            self._become_master(now)
            if old is State.BACKUP and followed and heard and self._outranked_by(heard, followed[1]):
                self._superior = followed  # a master that outranks us: its answer will step us down
        elif new is State.BACKUP:
            self.master_adver_int_cs = self.config.advert_int_cs  # until a master tells us its own
            self._deadlines[Timer.MASTER_DOWN] = self._down_from(now)
        if new is not State.INIT:
            self._emit(fx.Notify(self.name, fx.NotifyKind(new.value), self._priority))
        if self.group is not None and event not in _SYNC_EVENTS:
            self._sync_log.append((event, new))

    def _become_master(self, now: float) -> None:
        cfg = self.config
        self.stats.become_master += 1
        self._said_goodbye = False
        self.master_address = self.address
        self.master_priority = self._priority
        self._emit(fx.AddVips(self.name, cfg.vip_interface, cfg.vips + cfg.excluded_vips))
        self._send_advert(now)
        self._deadlines[Timer.ADVERT] = now + cfg.advert_int_cs / 100
        self._garp(cfg.garp_master_repeat)
        if cfg.garp_master_delay_cs > 0 and cfg.garp_master_repeat > 0:
            self._deadlines[Timer.GARP_REPEAT] = now + cfg.garp_master_delay_cs / 100
            self._garp_lower_pending = False
        if cfg.garp_master_refresh_cs > 0:
            self._deadlines[Timer.GARP_REFRESH] = now + cfg.garp_master_refresh_cs / 100
        if cfg.garp_extra_if_s > 0:
            self._deadlines[Timer.GARP_EXTRA] = now + cfg.garp_extra_if_s

    def _leave_master(self) -> None:
        cfg = self.config
        self.stats.release_master += 1
        for timer in (Timer.ADVERT, Timer.GARP_REPEAT, Timer.GARP_REFRESH, Timer.GARP_EXTRA):
            self._deadlines.pop(timer, None)
        self.master_address = self.master_priority = None
        self._emit(fx.DelVips(self.name, cfg.vip_interface, cfg.vips + cfg.excluded_vips))

    def set_group_view(
        self, *, fault: bool, master: bool, others_want_master: bool = True, waiting: bool = False
    ) -> None:
        """What the sync group's other members look like (set by `SyncGroup`): one has a fault of its
        own (we are held in FAULT), one is MASTER (a starting member joins it, a timer running out
        takes over at once), all want MASTER (our timer moves the group), one waits in INIT for its
        scripts (so do we)."""
        self._group_fault = fault
        self._group_master = master
        self._group_others_want_master = others_want_master
        self._group_waiting = waiting

    def _may_take_over(self) -> bool:
        """keepalived's vrrp_sync_can_goto_master: a group goes MASTER when every member wants to."""
        return self.group is None or self._group_master or self._group_others_want_master

    def pull_sync_events(self) -> list[tuple[Event, State]]:
        """The transitions this router made on its own since the group last looked (settle)."""
        log, self._sync_log = self._sync_log, []
        return log

    def sync_to(self, state: State, now: float, goodbye: bool = False) -> None:
        """Called by the sync group: follow a member's transition where the table allows it
        (`goodbye`: a MASTER going BACKUP sends priority 0 first, as it does for FAULT)."""
        if not self.running:
            return
        if state is State.FAULT and self.state is not State.FAULT:
            self._sync_fault = True
            self._enter_fault(Event.SYNC_FAULT, now, "sync group member entered fault")
        elif state is State.MASTER and self.state is State.BACKUP:
            self._transition(Event.SYNC_MASTER, now, "sync group member became master")
        elif state is State.BACKUP and self.state is State.MASTER:
            if goodbye and self._link_up:
                self._send_advert(now, PRIORITY_STOP)
            self._transition(Event.SYNC_BACKUP, now, "sync group member became backup")

    def sync_recover(self, now: float) -> None:
        """The sync group's last own fault cleared: leave a FAULT we only held for the group. A
        member the group kept in INIT starts now, if it can."""
        self._sync_fault = False
        if self.running and self.state is State.INIT:
            self._evaluate(now)
        elif self.running and self.state is State.FAULT and self.own_fault() is None:
            self._leave_fault(now, "sync group recovered")

    def _leave_fault(self, now: float, reason: str) -> None:
        """As BACKUP, even the owner: keepalived 2.2.7 takes the VIP back after Master_Down, alone or
        in a group (measured; not at once, as vrrpkit did), so a group moves as one."""
        self.fault_reason = None
        self._transition(Event.RECOVERED, now, reason)

    # --- internals: timers and sending ----------------------------------------------------------

    def _fire(self, name: Timer, now: float, when: float) -> None:
        cfg = self.config
        if name is Timer.ADVERT:
            self._send_advert(now)
            # the next tick counts from when this one was due, so a late wake-up does not stretch
            # the advert period (unless we are a whole interval behind)
            interval = cfg.advert_int_cs / 100
            self._deadlines[Timer.ADVERT] = when + interval if when + interval > now else now + interval
        elif name is Timer.MASTER_DOWN or name is Timer.TAKEOVER:
            if name is Timer.MASTER_DOWN and self._claim(now, when):
                return  # the takeover is due `_lead` later, unless the master answers
            if name is Timer.TAKEOVER and Timer.MASTER_DOWN in self._deadlines:
                self._claimed = False  # heard meanwhile, not as an answer: a goodbye, or no claim was out
                return
            self.wants_master = True
            if self._may_take_over():
                self._transition(Event.MASTER_DOWN, now, "advertisement timeout")
            else:  # held by the group; keepalived says so and looks again after another interval
                self._deadlines[Timer.MASTER_DOWN] = self._down_from(now)
                self._emit(fx.Remarked(self.name, fx.Remark.HELD))
        elif name is Timer.PREEMPT_DELAY:  # lower adverts are discarded from now: Master_Down runs out
            self._preempt_end = when
            self._master_advert = self._hot = None  # a repeat of the master's is not news any more
        elif name is Timer.GARP_REPEAT:
            lower = self._garp_lower_pending
            self._garp_lower_pending = False
            if lower and cfg.garp_lower_prio_repeat is not None:
                self._garp(cfg.garp_lower_prio_repeat)
            else:
                self._garp(cfg.garp_master_repeat)
        elif name is Timer.GARP_REFRESH:
            self._garp(cfg.garp_master_refresh_repeat)
            self._deadlines[Timer.GARP_REFRESH] = now + cfg.garp_master_refresh_cs / 100
        else:  # GARP_EXTRA
            self._garp_extra_interfaces()
            self._deadlines[Timer.GARP_EXTRA] = now + cfg.garp_extra_if_s

    def _garp(self, count: int, vips: tuple[Vip, ...] | None = None) -> None:
        self._effects.extend(announce.garps(self.config, count, vips))

    def _garp_extra_interfaces(self) -> None:
        self._effects.extend(announce.extra_garps(self.config))

    def destinations(self) -> tuple[IPAddress, ...]:
        return announce.destinations(self.config)

    def _send_advert(self, now: float, priority: int | None = None) -> None:
        """Send the (cached) advert bytes. A master's advert only changes with its priority."""
        prio = self._priority if priority is None else priority
        self._effects.extend(self._own_adverts(prio))
        self.stats.advert_sent += 1
        if prio == PRIORITY_STOP:
            self.stats.pri_zero_sent += 1

    def _own_adverts(self, priority: int) -> tuple[fx.SendAdvert, ...]:
        cached = self._advert_cache.get(priority)
        if cached is None:
            cached = self._advert_cache[priority] = self._adverts(priority)
        return cached

    def rehearse_takeover(self, now: float) -> State:
        """Take over on a scratch router of the same config, inputs and adverts, and throw it away
        (returns its state). For a caller whose real takeover is due within a millisecond: the
        takeover's code and data are then in the CPU's caches, which took Master_Down to the VIP
        from ~0.3 ms to ~0.12 ms of Python (measured at 10 ms adverts)."""
        scratch = VirtualRouter(self.config, self.address)
        scratch._tracks = dict(self._tracks)
        scratch._old_checksum = self._old_checksum
        scratch._advert_cache = dict(self._advert_cache)
        scratch.start(now)
        for _ in range(4):  # Master_Down and the takeover, or a preempt delay first
            when = scratch.get_timer()
            if when is None or scratch.state is not State.BACKUP:
                break
            scratch.handle_timer(when)
        scratch.take_effects()
        return scratch.state

    def prepare_adverts(self) -> None:
        """Build, ahead of need, the adverts this router sends first when its state next changes:
        a master's priority-0 goodbye (a stop, a fault), anyone else's own advert (a takeover).
        Built when needed, each cost ~0.15 ms (measured) before the goodbye left or the VIP was
        added. For idle moments; what the encoder refuses is left to the moment of sending."""
        priority = PRIORITY_STOP if self.state is State.MASTER else self._priority
        if self.address is None or priority in self._advert_cache:
            return
        try:
            self._advert_cache[priority] = self._adverts(priority)
        except ValueError:
            return

    def _adverts(self, priority: int) -> tuple[fx.SendAdvert, ...]:
        assert self.address is not None
        return announce.adverts(self.config, self.address, priority, self._old_checksum)

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
