"""The takeover claim: a BACKUP whose master outranks it sends its advert half its skew time (at
least CLAIM_LEAD) before Master_Down_Interval ends, and takes over at the interval's end only if
that master did not answer. A master that was alive (its adverts lost) answers a lower priority at
once, so the VIP never moves; a dead one does not, and the takeover comes exactly when it would
have without the claim."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_router import LOW_PEER, PEER, advert, drain, of, receive, router

from vrrpkit.core import effects as fx
from vrrpkit.core.receive import CLAIM_LEAD
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State
from vrrpkit.core.sync import SyncGroup

MDI = 3 + (256 - 100) / 256  # VRRPv2, 1 s adverts, our priority 100
LEAD = (256 - 100) / 256 / 2  # the claim's lead: half the skew time


def fire(r: VirtualRouter) -> float:
    when = r.get_timer()
    assert when is not None
    r.handle_timer(when)
    return when


def following(master: int = 200, **kw: object) -> VirtualRouter:
    r = router(**kw)
    receive(r, advert(master), 1.0)
    drain(r)
    return r


def test_a_silent_master_that_outranks_us_is_asked_first() -> None:
    r = following(200)
    assert fire(r) == pytest.approx(1.0 + MDI - LEAD)
    effects = drain(r)
    claim = of(effects, fx.SendAdvert)
    assert len(claim) == 1 and claim[0].priority == 100  # our own advert, our priority
    assert not of(effects, fx.AddVips) and not of(effects, fx.SendGarp) and not of(effects, fx.StateChanged)
    assert r.state is State.BACKUP and r.stats.claims_sent == 1
    assert r.timers() == {"takeover": pytest.approx(1.0 + MDI)}  # the RFC's own moment


def test_an_answered_claim_is_no_takeover() -> None:
    r = following(200)
    fire(r)
    drain(r)
    receive(r, advert(200), 1.0 + MDI - LEAD / 2)  # the master answers within the lead
    effects = drain(r)
    assert of(effects, fx.ClaimAnswered) == [fx.ClaimAnswered("VI_1", PEER, 200)]
    assert not of(effects, fx.AddVips) and not of(effects, fx.SendAdvert) and not r.claiming
    assert r.state is State.BACKUP and r.stats.claims_answered == 1 and r.stats.become_master == 0
    # no takeover: Master_Down counts from the answer, as from any advert of the master
    assert r.timers() == {"master-down": pytest.approx(1.0 + MDI - LEAD / 2 + MDI - LEAD)}


@pytest.mark.parametrize("how", ["judged", "fast", "again"])
def test_every_way_of_hearing_the_master_answers_the_claim(how: str) -> None:
    """The answer is the master's usual advert: judged afresh, the verdict cache's same advert,
    or the lazy reader's count of known copies (`heard_again`, which then says the router changed)."""
    r = router()
    if how == "judged":
        receive(r, advert(200), 1.0)
        r.reconfigure(replace(r.config, garp_master_repeat=2), 1.0)  # forgets what it judged
    else:
        receive(r, advert(200), 0.5)
        receive(r, advert(200), 1.0)
    fire(r)
    drain(r)
    at = 1.0 + MDI - LEAD / 2
    if how == "again":
        assert r.heard_again(1, at) is None and not r.only_timer_moved
    else:
        receive(r, advert(200), at)
    assert of(drain(r), fx.ClaimAnswered) and not r.claiming and r.state is State.BACKUP


def test_a_goodbye_during_the_claim_takes_over_after_skew_time() -> None:
    r = following(200)
    fire(r)
    receive(r, advert(0), 1.0 + MDI - LEAD / 2)  # not an answer: it leaves
    assert r.stats.claims_answered == 0
    fire(r)  # the claim's takeover time: a master spoke since, nothing to do
    assert r.state is State.BACKUP
    assert fire(r) == pytest.approx(1.0 + MDI - LEAD / 2 + (256 - 100) / 256)
    assert r.state is State.MASTER


def test_an_unanswered_claim_takes_over_at_the_rfc_time() -> None:
    r = following(200)
    fire(r)
    drain(r)
    assert fire(r) == pytest.approx(1.0 + MDI)
    effects = drain(r)
    assert r.state is State.MASTER and r.transitions[-1][0] == pytest.approx(1.0 + MDI)
    assert r.transitions[-1][3] == "advertisement timeout"
    assert of(effects, fx.AddVips) and len(of(effects, fx.SendAdvert)) == 1  # the takeover's own advert
    assert r.stats.claims_sent == 1 and r.stats.claims_answered == 0


def test_a_lower_priority_advert_is_no_answer() -> None:
    """Another BACKUP's claim, lower than ours, while we wait: we may preempt it, so it changes nothing."""
    r = following(200)
    fire(r)
    drain(r)
    receive(r, advert(50), 1.0 + MDI - LEAD / 2, src=LOW_PEER)
    fire(r)
    assert r.state is State.MASTER and r.stats.claims_answered == 0


@pytest.mark.parametrize(
    ("master", "kw"),
    [
        (100, {}),  # equal priority from a lower address than ours: it steps down on our advert
        (50, {"preempt": False}),  # a lower master we keep: the same
    ],
)
def test_no_claim_to_a_master_that_would_step_down_rather_than_answer(master: int, kw: dict[str, object]) -> None:
    r = router(**kw)
    receive(r, advert(master), 1.0, src=LOW_PEER)
    drain(r)
    mdi = r.master_down_interval
    assert fire(r) == pytest.approx(1.0 + mdi)  # the RFC's Master_Down, no lead
    assert r.state is State.MASTER and r.stats.claims_sent == 0


def test_an_equal_master_from_a_higher_address_is_asked() -> None:
    r = following(100)  # PEER (.2) is above ME (.1)
    fire(r)
    assert r.stats.claims_sent == 1 and r.state is State.BACKUP


def test_no_claim_at_startup_nor_after_a_goodbye() -> None:
    r = router()
    assert fire(r) == pytest.approx(MDI)  # nobody heard: nobody to ask
    assert r.state is State.MASTER and r.stats.claims_sent == 0
    g = following(200)
    receive(g, advert(0), 2.0)  # the master leaves: take over after Skew_Time exactly
    assert fire(g) == pytest.approx(2.0 + (256 - 100) / 256)
    assert g.state is State.MASTER and g.stats.claims_sent == 0


def test_a_master_back_after_its_goodbye_is_asked_again() -> None:
    r = following(200)
    receive(r, advert(0), 2.0)
    receive(r, advert(200), 2.5)
    receive(r, advert(200), 3.0)  # the fast path again
    assert fire(r) == pytest.approx(3.0 + MDI - LEAD)
    assert r.stats.claims_sent == 1 and r.state is State.BACKUP


def test_a_late_timer_takes_over_at_once_without_a_claim() -> None:
    r = following(200)
    r.handle_timer(1.0 + MDI + 0.01)  # the loop woke past the interval's end
    assert r.state is State.MASTER and r.stats.claims_sent == 0


def test_a_member_held_by_its_sync_group_sends_no_claim() -> None:
    a, b = following(200), router(name="VI_2", vrid=52)
    group = SyncGroup("G", [a, b])
    receive(b, advert(200, vrid=52), 1.0)
    for t in (2.0, 3.0, 4.0, 5.0):
        receive(b, advert(200, vrid=52), t)  # VI_2 still hears its master: the group stays BACKUP
        group.settle(t)
        while (a.get_timer() or t + 1) <= t:
            a.handle_timer(t)
            group.settle(t)
    assert a.state is State.BACKUP and a.wants_master
    assert a.stats.claims_sent == 0 and not of(drain(a), fx.SendAdvert)


def test_a_reload_keeps_the_lead() -> None:
    r = following(200)
    r.reconfigure(replace(r.config, priority=150), 2.0)
    skew = (256 - 150) / 256
    assert r.timers()["master-down"] == pytest.approx(1.0 + 3 + skew - skew / 2)  # the new skew's half
    fire(r)
    assert r.stats.claims_sent == 1


def test_claiming_says_the_takeover_is_next() -> None:
    r = following(200)
    assert not r.claiming
    fire(r)
    assert r.claiming  # the takeover's own time is next
    fire(r)
    assert not r.claiming and r.state is State.MASTER



@pytest.mark.parametrize(
    ("priority", "interval", "lead"),
    [
        (100, 0.1, 156 * 0.1 / 256 / 2),  # 30.5 ms: room for a round trip and a late wake-up
        (100, 0.01, 156 * 0.01 / 256 / 2),  # 3.0 ms
        (254, 0.01, CLAIM_LEAD),  # half the skew is 0.04 ms: the floor
    ],
)
def test_the_lead_is_half_the_skew_time_of_the_masters_interval(priority: int, interval: float, lead: float) -> None:
    """VRRPv3: the skew, and so the lead, follow the interval the master sends (ours is 1 s)."""
    r = router(version=3, priority=priority)
    receive(r, advert(255, version=3, interval=interval), 1.0)
    drain(r)
    assert r.claim_lead == pytest.approx(lead)
    mdi = 3 * interval + (256 - priority) * interval / 256
    assert fire(r) == pytest.approx(1.0 + mdi - lead)
    assert r.stats.claims_sent == 1 and r.state is State.BACKUP
    assert fire(r) == pytest.approx(1.0 + mdi)  # no answer: the takeover, at the RFC's time
    assert r.state is State.MASTER


def test_no_claim_with_auth_type_ah() -> None:
    """With AH the counter a claim moves is also the replay guard: the master's next advert would
    carry the claim's number and be dropped, the takeover the claim exists to avoid (keepalived
    never sends from BACKUP). So Master_Down fires at the RFC's moment, with no claim."""
    r = router(auth_type=2, auth_pass=b"secret12")
    receive(r, advert(200, auth_type=2), 1.0)
    drain(r)
    assert r.claim_lead == 0 and r.master_priority == 200
    assert fire(r) == pytest.approx(1.0 + MDI)
    assert r.state is State.MASTER and r.stats.claims_sent == 0
