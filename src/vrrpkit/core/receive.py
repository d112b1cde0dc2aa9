"""keepalived's receive rules for one instance, and the verdict on each datagram, remembered.

`ReceiveRules.check`: whether an advert that decoded cleanly is for us (pure, built from the
instance's config, rebuilt when a reload changes it; keepalived's ``vrrp_in_chk`` order), and
`checksum_rule` for the checksum form a v3 IPv4 advert used. `Judge.verdict`: what the codec
(`vrrpkit.core.packet.inspect`), those rules and the mismatch checks make of a datagram. That
depends only on the datagram's bytes, its IP source, destination and TTL, the config and our own
address, never on the router's state; a master resends identical bytes every interval and a flood
repeats one packet, so the verdict is remembered per datagram (bounded) and replayed, and the
router then does what depends on its state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vrrpkit.core import effects as fx
from vrrpkit.core.config import PRIORITY_STOP, VRRP_GROUP4, ChecksumCompat, InstanceConfig, IPAddress, Vip
from vrrpkit.core.packet import AUTH_AH, AUTH_SIMPLE, Advertisement, ChecksumForm, DropReason, InvalidPacket, inspect
from vrrpkit.core.state import Event, State
from vrrpkit.core.stats import Stats

TTL_REQUIRED = 255


class Timer(StrEnum):
    ADVERT = "advert"
    MASTER_DOWN = "master-down"
    PREEMPT_DELAY = "preempt-delay"
    GARP_REPEAT = "garp-repeat"
    GARP_REFRESH = "garp-refresh"
    GARP_EXTRA = "garp-extra-if"
    TAKEOVER = "takeover"


_MASTER_DOWN = Timer.MASTER_DOWN
_NEVER = float("inf")  # no preempt delay has ended

# When the master a BACKUP follows outranks it, the BACKUP's Master_Down timer fires early, and it
# sends its own advert then (the claim): a master that is alive but whose adverts were lost answers
# a lower priority at once (keepalived and vrrpkit do, 0.1-0.8 ms on an idle lab LAN), and the
# BACKUP, hearing it, stays BACKUP: no VIP, no GARP, no notify. Otherwise it takes over when the
# interval ends (`Timer.TAKEOVER`), no later than without the claim. (A master that does not outrank
# us would step down on our advert rather than answer it: then there is nothing to ask, and no
# lead.) How early: half the skew time, so the claim goes out only once the third advert is overdue
# by as much again, and the answer has room for a round trip across zones and for either host
# waking late under load (a fixed 2 ms lost the answer to a 2-core host's run queue, measured in the
# keepalived interop test); never less than CLAIM_LEAD (docs/divergences.md, takeover-claim).
CLAIM_LEAD = 0.002


class ReceiveRules:
    def __init__(self, cfg: InstanceConfig) -> None:
        self.cfg = cfg
        self.peers = {p.address: p for p in cfg.unicast_peers}
        # keepalived only insists that a unicast advert comes from a peer when it checks sources or TTLs
        self.ttl_checked_unicast = cfg.check_unicast_src or any(
            p.min_ttl is not None or p.max_ttl is not None for p in cfg.unicast_peers
        )

    def check(
        self, adv: Advertisement, src: IPAddress, dst: IPAddress, ttl: int, own: IPAddress | None
    ) -> tuple[DropReason | None, str]:
        """(None, "") when the advert is ours to act on, else why it is dropped (`own`: our source)."""
        cfg = self.cfg
        if adv.vrid != cfg.vrid:
            return DropReason.WRONG_VRID, f"vrid {adv.vrid}"
        if src == own:
            return DropReason.OWN_ADVERT, ""
        if src.version != cfg.family:
            return DropReason.FAMILY_MISMATCH, f"IPv{src.version} advert for an IPv{cfg.family} instance"
        if cfg.unicast:
            if dst.is_multicast:
                return DropReason.MULTICAST_IN_UNICAST_MODE, f"to {dst}"
            peer = self.peers.get(src)
            if peer is None and self.ttl_checked_unicast:
                return DropReason.NOT_A_PEER, f"{src} is not a unicast_peer"
            if peer is not None and (
                (peer.min_ttl is not None and ttl < peer.min_ttl) or (peer.max_ttl is not None and ttl > peer.max_ttl)
            ):
                return DropReason.BAD_TTL, f"TTL {ttl} not in [{peer.min_ttl}, {peer.max_ttl}]"
        else:
            if not dst.is_multicast:
                return DropReason.UNICAST_IN_MULTICAST_MODE, f"to {dst}"
            if dst != cfg.group:
                # keepalived has one socket per group (mcast_dst_ip), so another group's adverts
                # never reach this instance; here one socket may have joined several
                return DropReason.WRONG_GROUP, f"to {dst}, mine {cfg.group}"
            if ttl != TTL_REQUIRED:
                return DropReason.BAD_TTL, f"TTL {ttl}, expected 255"
        if adv.version != cfg.version:
            return DropReason.VERSION_MISMATCH, f"VRRPv{adv.version}, configured v{cfg.version}"
        if cfg.version == 2:
            if adv.auth_type != cfg.auth_type:
                return DropReason.AUTH_TYPE_MISMATCH, f"auth type {adv.auth_type}, expected {cfg.auth_type}"
            if cfg.auth_type == AUTH_SIMPLE and not cfg.is_ipv6 and adv.auth_data != cfg.auth_pass.rstrip(b"\0"):
                return DropReason.BAD_PASSWORD, "password differs"
            if adv.interval_cs != cfg.advert_int_cs:
                return DropReason.INTERVAL_MISMATCH, f"interval {adv.interval:g}s, mine {cfg.advert_int_cs // 100}s"
        return None, ""


def checksum_rule(cfg: InstanceConfig, form: ChecksumForm, dst: IPAddress) -> tuple[DropReason | None, bool]:
    """(drop reason, switch to old unicast checksums) for the checksum form a v3 IPv4 advert used.

    keepalived accepts the pre-1.3.6 unicast form (pseudo-header to 224.0.0.18) and from then on
    sends it too, unless `old_unicast_checksum never`, which refuses it.
    """
    if form is not ChecksumForm.IPV4_PSEUDO_GROUP or dst.is_multicast or not cfg.unicast:
        return None, False
    if cfg.old_unicast_checksum is ChecksumCompat.NEVER:
        return DropReason.BAD_CHECKSUM, False
    return None, cfg.old_unicast_checksum is ChecksumCompat.AUTO


VERDICTS = 32  # distinct datagrams whose verdict a router remembers (then it starts afresh)
# Drops that are the protocol working as designed (our own advert, another VRID's or group's): not counted
_QUIET_DROPS = frozenset({DropReason.OWN_ADVERT, DropReason.WRONG_VRID, DropReason.WRONG_GROUP})


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the codec and the receive rules made of one datagram (state plays no part in it)."""

    advert: Advertisement | None
    drop: fx.PacketDropped | None = None  # the effect to emit for every copy, when dropped
    counted: bool = True  # whether the drop goes into stats (own adverts and other VRIDs do not)
    interval: fx.Mismatch | None = None  # VRRPv3 interval mismatch, reported
    addresses: fx.Mismatch | None = None  # address-list mismatch, reported (unless skipped)
    old_checksum: bool = False  # a unicast peer uses keepalived <= 1.3.6 checksums: send them too (auto)


class Judge:
    def __init__(self, config: InstanceConfig, address: IPAddress | None) -> None:
        self.config = config
        self.name = config.name
        self.address = address
        self._rules = ReceiveRules(config)
        self._vip_set = frozenset(config.advertised_addresses())
        self._verdicts: dict[bytes, tuple[IPAddress, IPAddress, int, Verdict]] = {}

    def set_address(self, address: IPAddress | None) -> None:
        self.address = address
        self._verdicts.clear()

    def verdict(self, data: bytes, src: IPAddress, dst: IPAddress, ttl: int) -> Verdict:
        known = self._verdicts.get(data)
        if (
            known is not None
            and (known[0] is src or known[0] == src)
            and (known[1] is dst or known[1] == dst)
            and known[2] == ttl
        ):
            return known[3]
        verdict = self._judge(data, src, dst, ttl)
        if len(self._verdicts) >= VERDICTS:
            self._verdicts.clear()
        self._verdicts[data] = (src, dst, ttl, verdict)
        return verdict

    def _judge(self, data: bytes, src: IPAddress, dst: IPAddress, ttl: int) -> Verdict:
        """The codec, the receive rules and the mismatch checks: a pure function of the datagram,
        the config and our address, so its result can be replayed for identical datagrams."""
        cfg = self.config
        try:
            group = cfg.mcast_group4 if src.version == 4 else VRRP_GROUP4
            insp = inspect(
                data, src, dst, group, check_checksum=not cfg.v3_checksum_as_v2, allow_empty=cfg.no_virtual_ipaddress
            )
        except InvalidPacket as exc:
            return Verdict(None, fx.PacketDropped(self.name, exc.reason, src, exc.detail))
        adv = insp.advert
        reason, detail = self._rules.check(adv, src, dst, ttl, self.address)
        old = False
        if reason is None:
            reason, old = checksum_rule(cfg, insp.checksum_form, dst)
            detail = "keepalived <= 1.3.6 unicast checksum (old_unicast_checksum never)"
        if reason is not None:
            counted = reason not in _QUIET_DROPS
            return Verdict(None, fx.PacketDropped(self.name, reason, src, detail), counted)
        interval, addresses = self._mismatches(adv, src)
        ignore = None
        if cfg.owner and cfg.owner_ignore_adverts:
            ignore = fx.PacketDropped(self.name, DropReason.OWNER_IGNORES, src, "address owner ignores adverts")
        return Verdict(adv, ignore, False, interval, addresses, old)

    def _mismatches(self, adv: Advertisement, src: IPAddress) -> tuple[fx.Mismatch | None, fx.Mismatch | None]:
        """What keepalived only logs: a v3 interval that differs, an address list that differs
        (never checked on a priority-0 advert; `skip_check_adv_addr` is applied by the caller)."""
        cfg = self.config
        interval = addresses = None
        if cfg.version == 3 and adv.interval_cs != cfg.advert_int_cs:
            detail = f"{adv.interval:g}s, mine {cfg.advert_int_cs / 100:g}s"
            interval = fx.Mismatch(self.name, fx.MismatchKind.INTERVAL, src, detail)
        if adv.priority != PRIORITY_STOP and (
            frozenset(adv.addresses) != self._vip_set or len(adv.addresses) != len(self._vip_set)
        ):
            got = ",".join(map(str, adv.addresses)) or "none"
            addresses = fx.Mismatch(self.name, fx.MismatchKind.ADDRESS_LIST, src, f"advertised {got}")
        return interval, addresses


Remembered = tuple[bytes, IPAddress, IPAddress, int]  # (data, src, dst, ttl) of a datagram judged before


def _same(token: Remembered, data: bytes, src: IPAddress, dst: IPAddress, ttl: int) -> bool:
    """The very datagram remembered in ``token``: the socket's same objects for the same bytes
    and addresses (its parse cache), and the same TTL. Identity, not equality: a few pointer
    comparisons, and nothing judged again is taken for something already judged."""
    return data is token[0] and src is token[1] and dst is token[2] and ttl == token[3]


class Receiving:
    """What a `VirtualRouter` does with a datagram (a mixin: the state below is the router's)."""

    # What this half of the router sets; the rest of the router's slots are `VirtualRouter`'s.
    __slots__ = (
        "_answer_after", "_answered", "_claimed", "_garp_lower_pending", "_hot", "_last_answer", "_lead",
        "_lower_said", "_master_advert", "_master_advert_prio", "_master_left", "_mdi", "_old_checksum",
        "_preempt_end", "_rival", "_superior",
        "master_address", "master_adver_int_cs", "master_priority", "only_timer_moved", "wants_master",
    )  # fmt: skip

    config: InstanceConfig
    name: str
    state: State
    running: bool
    stats: Stats
    address: IPAddress | None
    master_address: IPAddress | None
    master_priority: int | None
    master_adver_int_cs: int
    wants_master: bool
    only_timer_moved: bool
    _judge: Judge
    _effects: list[fx.Effect]
    _deadlines: dict[Any, float]
    _priority: int
    _hot: tuple[bytes, IPAddress, IPAddress, int] | None
    _rival: Remembered | None
    _answered: Remembered | None
    _superior: Remembered | None
    _master_advert: Advertisement | None
    _master_advert_prio: int
    _answer_after: float  # no answer to a lower priority before this time
    _last_answer: float  # when we last answered one
    _lower_said: float  # when a BACKUP last logged a lower priority it discarded
    _claimed: bool  # this Master_Down sent a claim (`_claim`)
    _lead: float  # how much earlier than the RFC's the Master_Down deadline is set: 0 or `claim_lead`
    _master_left: bool  # the master's last word was priority 0: nobody will answer a claim
    _mdi: tuple[tuple[int, int, bool], float, float]  # (interval, priority, claim): down interval, lead
    _garp_lower_pending: bool
    _old_checksum: bool
    _advert_cache: dict[int, Any]

    @property
    def skew_time(self) -> float:
        prio = self._priority
        if self.config.version == 2:
            return (256 - prio) / 256
        return ((256 - prio) * self.master_adver_int_cs) / 256 / 100

    @property
    def master_down_interval(self) -> float:
        """RFC 5798's Master_Down_Interval (keepalived's down_timer_adverts for its 3)."""
        return self.config.down_timer_adverts * self.master_adver_int_cs / 100 + self.skew_time

    def _down_from(self, when: float) -> float:
        """The Master_Down deadline for a silence that starts at ``when``: the interval, less
        the claim's lead when the master we follow outranks us and did not say goodbye (`_lead`
        remembers which, for the timer). Remembered per interval, priority and lead: a BACKUP's
        repeated master advert (the fast paths) adds `_mdi`'s value without looking again."""
        master, address = self.master_priority, self.master_address
        # AH: no claim, whose number would make the master's next advert a replay (core/ah.py)
        claim = (master is not None and address is not None and self.address is not None and not self._master_left
                 and self.config.auth_type != AUTH_AH and self._outranks_us(master, address))
        key = (self.master_adver_int_cs, self._priority, claim)
        if self._mdi[0] != key:
            lead = max(CLAIM_LEAD, self.skew_time / 2) if claim else 0.0
            self._mdi = (key, self.master_down_interval - lead, lead)
        self._lead = self._mdi[2]
        return when + self._mdi[1]

    @property
    def claim_lead(self) -> float:
        """How long before Master_Down_Interval ends a claim goes out to the master we follow now
        (half the skew time, at least CLAIM_LEAD); 0 when there is no one to ask."""
        return self._lead

    @property
    def claiming(self) -> bool:
        """Master_Down fired early (a claim is out, unless a sync group held it back) and no master
        was heard since: the takeover's own time is next (a caller waits for it awake however
        recently it waited, and reads the master's answer as it comes)."""
        return Timer.TAKEOVER in self._deadlines

    def _may_take_over(self) -> bool:
        raise NotImplementedError

    def _claim(self, now: float, when: float) -> bool:
        """Master_Down fired (due at ``when``), set `_lead` early: ask the master whether it is
        alive (our advert), and take over when the interval ends, unless it answered by then.
        False: no lead, take over now. A sync group that holds us back gets no claim (nor a
        takeover: the timer looks again then)."""
        if not self._lead:
            return False
        end = when + self._lead
        self._deadlines[Timer.TAKEOVER] = end
        if end > now and self._may_take_over():
            self._claimed = True
            self.stats.claims_sent += 1
            self._send_advert(now)
        return True

    def _claim_heard(self) -> None:
        """A master's advert while our claim is out: its answer. No takeover; Master_Down runs
        from this advert, as from any."""
        self._claimed = False
        self._deadlines.pop(Timer.TAKEOVER, None)
        self.stats.claims_answered += 1
        self._emit(fx.ClaimAnswered(self.name, self.master_address, self.master_priority))

    def _drop(self, reason: DropReason, src: IPAddress | None, detail: str, count: bool = True) -> None:
        raise NotImplementedError

    def refused(self, reason: DropReason, src: IPAddress, detail: str) -> None:
        """A datagram for this router that its AH session refused (core/ah.py) before it could be
        handled: counted and said as the router's own drops are."""
        self._drop(reason, src, detail)

    def _emit(self, effect: fx.Effect) -> None:
        raise NotImplementedError

    def _send_advert(self, now: float, priority: int | None = None) -> None:
        raise NotImplementedError

    def _own_adverts(self, priority: int) -> tuple[fx.SendAdvert, ...]:
        raise NotImplementedError

    def _transition(self, event: Event, now: float, reason: str) -> None:
        raise NotImplementedError

    def _garp(self, count: int, vips: tuple[Vip, ...] | None = None) -> None:
        raise NotImplementedError

    @property
    def repeat(self) -> tuple[bytes, IPAddress, IPAddress, int] | None:
        """(payload, source, destination, TTL) of the advert that, heard again, would only move
        Master_Down (a BACKUP's master's, while nothing changed what it means), else None. The
        same tuple object for as long as that holds: a caller that matched raw bytes against it
        checks it is still this one before calling `heard_again`."""
        return self._hot

    def heard_again(self, count: int, now: float) -> float | None:
        """`count` more copies of `repeat`'s advert, the last arriving at ``now``: what receiving
        each would do, at once. Returns the router's next deadline when that is all that changed
        (`only_timer_moved`); None when a sync group held this BACKUP back and must look again,
        as after any other input."""
        self.stats.advert_rcvd += count
        deadlines = self._deadlines
        deadlines[_MASTER_DOWN] = now + self._mdi[1]
        if self.wants_master or self._claimed:  # a sync group must look again, or our claim is answered
            if self._claimed:
                self._claim_heard()
            self.wants_master = self.only_timer_moved = False
            return None
        self.only_timer_moved = True
        return min(deadlines.values())

    def answer_first(
        self, data: bytes, src: IPAddress, dst: IPAddress, ttl: int, now: float
    ) -> tuple[fx.SendAdvert, ...] | None:
        """The adverts to send at once, before this datagram is handled, when it is the very
        advert of a lower-priority rival this MASTER answered last time (the same objects the
        socket handed over then) and an answer is due: its verdict, our priority and our state
        are unchanged since (any change clears the token), so the answer is already decided.
        Code that has not run since the last rival (seconds) costs ~0.2 ms before the answer
        leaves; this is a few comparisons. The caller sends them and then hands this datagram to
        `datagram_received` next, which does the rest of the answer (re-GARP, notify, timers)
        without sending the adverts again. None: nothing to send ahead, handle it as usual."""
        rival = self._rival
        if rival is None or not _same(rival, data, src, dst, ttl) or now < self._answer_after or not self.running:
            return None
        self._answered = rival
        self.stats.advert_sent += 1
        return self._own_adverts(self._priority)

    def step_down_first(self, data: bytes, src: IPAddress, dst: IPAddress, ttl: int) -> fx.DelVips | None:
        """The VIPs to remove at once, before this datagram is handled, when it is the very advert
        of the master this router followed as BACKUP until it took over (the same objects the
        socket handed over then), which outranks it: that master was alive and answers our
        takeover, and handling its advert will step down (nothing that could change the verdict
        has happened since: any change clears the token). The removal is what ends the double
        holding; the caller makes it, then hands the datagram to `datagram_received`, whose
        step-down says the VIPs go with the rest (routes, firewall, what is said; the daemon does
        not ask the kernel for them twice). Nothing here changes the router."""
        superior = self._superior
        if superior is None or not _same(superior, data, src, dst, ttl):
            return None
        if self.state is not State.MASTER or not self.running:
            return None
        cfg = self.config
        return fx.DelVips(self.name, cfg.vip_interface, cfg.vips + cfg.excluded_vips)

    def _outranked_by(self, adv: Advertisement, src: IPAddress) -> bool:
        """Whether a MASTER steps down, and does nothing else first, on this accepted advert."""
        cfg = self.config
        if cfg.higher_prio_send_advert or (cfg.owner and cfg.owner_ignore_adverts) or self.address is None:
            return False
        return self._outranks_us(adv.priority, src)

    def outranks_us(self, priority: int, src: IPAddress) -> bool:
        """`_outranks_us` for the daemon (AH's sequence sync), and False while we have no address."""
        return self.address is not None and self._outranks_us(priority, src)

    def _outranks_us(self, priority: int, src: IPAddress) -> bool:
        """RFC 5798 6.4.3: a higher priority, or ours from a higher address (we have one)."""
        mine, address = self._priority, self.address
        assert address is not None
        return priority > mine or (priority == mine and int(src) > int(address))

    def datagram_received(
        self, data: bytes, src: IPAddress, dst: IPAddress, ttl: int, now: float
    ) -> Advertisement | None:
        """Apply RFC and keepalived receive rules; bad packets are dropped and counted."""
        hot = self._hot
        if hot is not None and data is hot[0] and src is hot[1] and dst is hot[2] and ttl == hot[3]:
            # A BACKUP hearing its master's advert again (the very objects the socket handed over
            # last time): clean, accepted, our priority and state unchanged since (any change
            # clears `_hot`), so the one thing to do is move Master_Down.
            self.heard_again(1, now)
            return self._master_advert
        self.only_timer_moved = False
        answered = self._answered
        if answered is not None:  # `answer_first` sent the answer to this very datagram, or to none
            self._answered = None
            if data is not answered[0]:
                answered = None
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
        if verdict.old_checksum and not self._old_checksum:
            self._old_checksum = True
            self._advert_cache.clear()
            detail = "peer uses keepalived <= 1.3.6 unicast checksums; sending them too"
            self._effects.append(fx.Mismatch(self.name, fx.MismatchKind.OLD_CHECKSUM, src, detail))
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
        elif self._master_received(adv, src, now, answered is not None) and not self.config.lower_prio_no_advert:
            # answered a rival: its next advert (the same bytes, the socket's same objects) can
            # be answered ahead (`answer_first`) while nothing changes what it means
            self._rival = (data, src, dst, ttl)
        return adv

    def _backup_received(self, adv: Advertisement, src: IPAddress, now: float) -> None:
        if adv is self._master_advert and src is self.master_address and self._priority == self._master_advert_prio:
            # the very advert (the same object, from the verdict cache) we accepted last time, and
            # our priority unchanged: the same decision, and only the timer moves
            self._deadlines[Timer.MASTER_DOWN] = now + self._mdi[1]  # computed when it was accepted
            self.wants_master = False
            if self._claimed:
                self._claim_heard()
            return
        cfg = self.config
        if adv.priority == PRIORITY_STOP:
            self._effects.append(fx.Remarked(self.name, fx.Remark.PRIORITY_ZERO))
            self._deadlines[Timer.MASTER_DOWN] = now + self.skew_time
            # nobody to ask: no claim, and its next advert (if it comes back) goes the full way
            self._master_left, self._lead, self._master_advert, self._hot = True, 0.0, None, None
            return
        if not cfg.preempt or adv.priority >= self._priority:
            self._accept_master(adv, src, now)
            self._deadlines.pop(Timer.PREEMPT_DELAY, None)
            self._preempt_end = _NEVER  # a delay starts again from the next lower master
            self.wants_master = False  # a master we defer to is alive: we want BACKUP again
            self._master_advert, self._master_advert_prio = adv, self._priority
            return
        # A lower priority master and we may preempt: let the down timer run out, unless
        # preempt_delay asks us to keep deferring to it for a while first. keepalived 2.2.7
        # (measured): its adverts count until the delay is over, and then Master_Down runs out
        # from the last one (the takeover comes up to Master_Down_Interval after the delay).
        # Judged by arrival: a queue read late holds adverts from before the end (they count), and
        # one at the very end may be read before the delay's timer runs (it does not).
        ends = self._deadlines.get(Timer.PREEMPT_DELAY, self._preempt_end)
        if cfg.preempt_delay_cs > 0 and ends > now:
            if ends == _NEVER:
                self._deadlines[Timer.PREEMPT_DELAY] = now + cfg.preempt_delay_cs / 100
            self._accept_master(adv, src, now)
            self.wants_master = False
        elif now - self._lower_said >= cfg.advert_int_cs / 200:
            # discarded: keepalived says so for each one; we at most twice an advert interval (a
            # lower master advertising every interval is said every time, a flood is not a flood of lines)
            self._lower_said = now
            self._effects.append(fx.Remarked(self.name, fx.Remark.LOWER_PRIORITY, src, adv.priority))

    def _accept_master(self, adv: Advertisement, src: IPAddress, now: float) -> None:
        if self.config.version == 3:
            self.master_adver_int_cs = adv.interval_cs
        self.master_address = src
        self.master_priority = adv.priority
        self._master_left = False
        self._deadlines[Timer.MASTER_DOWN] = self._down_from(now)
        if self._claimed:
            self._claim_heard()

    def _master_received(self, adv: Advertisement, src: IPAddress, now: float, answered: bool = False) -> bool:
        """What a MASTER (or a FAULT-free non-BACKUP) does with an accepted advert; True when it
        was a lower-priority rival's, answered. ``answered``: `answer_first` sent the adverts."""
        cfg = self.config
        if adv.priority == PRIORITY_STOP:
            self._send_advert(now)
            self._deadlines[Timer.ADVERT] = now + cfg.advert_int_cs / 100
            return False
        mine = self._priority
        assert self.address is not None  # a master always has one (else FAULT)
        if self._outranks_us(adv.priority, src):
            if cfg.higher_prio_send_advert:
                self._send_advert(now)
            self._transition(Event.HIGHER_PRIORITY, now, f"higher priority {adv.priority} from {src}")
            self._accept_master(adv, src, now)
            return False
        # Lower priority: another host thinks it is master (e.g. a split brain healing). keepalived
        # answers at once and re-announces the VIPs, so switches stop black-holing them. We answer
        # at most twice in any advert interval: a flood of lower-priority adverts must not become
        # one of ours, yet a rival that advertises every interval is answered every time (once an
        # interval lost every other one of its adverts: they arrive an interval apart give or take
        # a wake-up's jitter, and when our answer to the first was lost, both held the VIP one
        # interval longer; measured, docs/reliability.md), and so is a BACKUP's takeover right
        # after its claim (core/receive.py `claim_lead`) when our answer to the claim was lost.
        if now < self._answer_after and not answered:
            self.stats.lower_prio_unanswered += 1
            return False
        self._answer_after = self._last_answer + cfg.advert_int_cs / 100  # the one before this, + an interval
        self._last_answer = now
        self._emit(fx.Notify(self.name, fx.NotifyKind.MASTER_RX_LOWER_PRI, mine, src, adv.priority))
        if not cfg.lower_prio_no_advert:
            if not answered:  # else already sent, and counted, by `answer_first`
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
        return True
