"""What a MASTER is told ahead, before a datagram is handled, only while nothing could change it:
the adverts that answer a lower-priority rival's advert (`VirtualRouter.answer_first`), and the
VIPs to remove when the master it followed until its takeover answers (`step_down_first`)."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_address

import pytest
from test_router import GROUP, LOW_PEER, PEER, VIP, advert, drain, master, of, receive, router

from vrrpkit.core import effects as fx
from vrrpkit.core.config import Track, TrackKind
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State

Sends = tuple[fx.SendAdvert, ...] | None


def ahead(r: VirtualRouter, data: bytes, now: float, src: object = PEER, ttl: int = 255) -> Sends:
    return r.answer_first(data, src, GROUP, ttl, now)  # type: ignore[arg-type]


def answered_once(r: VirtualRouter, data: bytes, now: float) -> None:
    """The rival's first advert, answered the usual way (it is what makes the next one known)."""
    assert ahead(r, data, now) is None
    receive(r, data, now)
    assert len(of(drain(r), fx.SendAdvert)) == 1


def test_the_rivals_next_advert_is_answered_ahead_and_once() -> None:
    r = master()  # priority 100, advert_int 1 s
    rival = advert(50)
    answered_once(r, rival, 10.0)
    sent_before = r.stats.advert_sent
    sends = ahead(r, rival, 11.0)
    assert sends is not None and len(sends) == 1
    assert sends[0].priority == 100 and sends[0].dst == GROUP and sends[0].ttl == 255
    assert r.stats.advert_sent == sent_before + 1
    # the datagram itself then does the rest of the answer, without a second advert
    receive(r, rival, 11.0)
    effects = drain(r)
    assert of(effects, fx.SendAdvert) == []
    assert of(effects, fx.SendGarp)[0].count == 5
    notify = of(effects, fx.Notify)[0]
    assert notify.state == "MASTER_RX_LOWER_PRI" and (notify.src, notify.heard, notify.priority) == (PEER, 50, 100)
    assert r.stats.advert_sent == sent_before + 1 and r.stats.lower_prio_unanswered == 0
    assert r.timers()["advert"] == 12.0 and r.state is State.MASTER
    # and the one after is answered ahead again (the token stays while nothing changes)
    assert ahead(r, rival, 12.0) is not None


def test_the_answer_ahead_keeps_the_limit() -> None:
    r = master()
    rival = advert(50)
    answered_once(r, rival, 10.0)
    assert ahead(r, rival, 10.1) is not None  # the second in the interval (a takeover after its claim)
    receive(r, rival, 10.1)
    drain(r)
    assert ahead(r, rival, 10.2) is None  # a flood of the same advert: the limit still holds
    receive(r, rival, 10.2)
    assert drain(r) == [] and r.stats.lower_prio_unanswered == 1
    assert ahead(r, rival, 10.999) is None and ahead(r, rival, 11.0) is not None  # an interval after the first


def test_only_the_very_same_datagram_is_answered_ahead() -> None:
    """Identity, not equality: the socket hands over the same objects for the same bytes; other
    objects are judged the usual way (a few microseconds later), never guessed."""
    r = master()
    rival = advert(50)
    answered_once(r, rival, 10.0)
    assert ahead(r, advert(50), 11.0) is None  # equal bytes, another object
    assert ahead(r, rival, 11.0, src=ip_address("192.0.2.2")) is None  # equal source, another object
    assert ahead(r, rival, 11.0, ttl=254) is None
    assert ahead(r, advert(60), 11.0) is None


def test_a_datagram_other_than_the_one_answered_ahead_is_handled_in_full() -> None:
    r = master()
    rival = advert(50)
    answered_once(r, rival, 10.0)
    assert ahead(r, rival, 11.0) is not None
    receive(r, advert(150), 11.0)  # not what was answered: judged on its own, here a higher priority
    assert r.state is State.BACKUP
    assert ahead(r, rival, 12.0) is None  # no MASTER, no answer


@pytest.mark.parametrize("change", ["priority", "address", "reconfigure", "stop"])
def test_anything_that_could_change_the_answer_forgets_the_rival(change: str) -> None:
    r = master(tracks=(Track("chk", TrackKind.SCRIPT, 10),))
    rival = advert(50)
    answered_once(r, rival, 10.0)
    if change == "priority":
        r.tracker_changed("chk", True, 10.5)
    elif change == "address":
        r.address_changed(ip_address("192.0.2.7"), 10.5)
    elif change == "reconfigure":
        r.reconfigure(replace(r.config, garp_master_repeat=3), 10.5)  # an unchanged config is a no-op
    else:
        r.shutdown(10.5)
    drain(r)
    assert ahead(r, rival, 11.0) is None


def test_lower_prio_no_advert_never_answers_ahead() -> None:
    r = master(lower_prio_no_advert=True)
    rival = advert(50)
    receive(r, rival, 10.0)
    drain(r)
    assert ahead(r, rival, 11.0) is None


def test_a_higher_priority_or_goodbye_is_never_answered_ahead() -> None:
    r = master()
    goodbye = advert(0)
    receive(r, goodbye, 10.0)
    assert len(of(drain(r), fx.SendAdvert)) == 1  # answered at once, the usual way
    assert ahead(r, goodbye, 11.0) is None


# --- the step-down ahead -------------------------------------------------------------------------


def took_over_from(m: bytes, src: object = PEER, **kw: object) -> VirtualRouter:
    """A BACKUP that followed the master of advert ``m`` until its adverts stopped, now MASTER."""
    r = router(**kw)
    receive(r, m, 1.0, src=src)
    receive(r, m, 2.0, src=src)
    for _ in range(2):  # Master_Down (with a claim when that master outranks us), the takeover
        if r.state is State.BACKUP:
            r.handle_timer(r.get_timer() or 0.0)
    assert r.state is State.MASTER
    drain(r)
    return r


def down(r: VirtualRouter, data: bytes, src: object = PEER, ttl: int = 255) -> fx.DelVips | None:
    return r.step_down_first(data, src, GROUP, ttl)  # type: ignore[arg-type]


def test_the_master_we_followed_answers_and_its_advert_removes_our_vips_ahead() -> None:
    m = advert(200)
    r = took_over_from(m)
    gone = down(r, m)
    assert gone is not None and gone.vips == (VIP,) and gone.interface == "eth0"
    assert r.state is State.MASTER and drain(r) == []  # only said: nothing changed
    receive(r, m, 6.0)  # the handling steps down, the VIPs out with the rest of it
    effects = drain(r)
    assert r.state is State.BACKUP and of(effects, fx.DelVips)[0].vips == (VIP,)
    assert down(r, m) is None  # a BACKUP has nothing to remove


def test_an_equal_priority_master_steps_us_down_ahead_only_from_a_higher_address() -> None:
    m = advert(100)
    assert down(took_over_from(m), m) is not None  # PEER (.2) is above ME (.1)
    low = advert(100, src=LOW_PEER)
    r = took_over_from(low, src=LOW_PEER)
    assert down(r, low, src=LOW_PEER) is None  # .0 is below: its advert is a rival's, we stay
    receive(r, low, 6.0, src=LOW_PEER)
    assert r.state is State.MASTER


def test_a_lower_priority_master_followed_without_preempt_is_no_step_down() -> None:
    m = advert(50)
    r = took_over_from(m, preempt=False)
    assert down(r, m) is None
    receive(r, m, 6.0)
    assert r.state is State.MASTER


def test_the_step_down_ahead_needs_the_very_same_datagram() -> None:
    m = advert(200)
    r = took_over_from(m)
    assert down(r, advert(200)) is None  # equal bytes, another object
    assert down(r, m, src=ip_address("192.0.2.2")) is None
    assert down(r, m, ttl=254) is None


@pytest.mark.parametrize("change", ["priority", "address", "reconfigure", "stop"])
def test_anything_that_could_change_the_verdict_forgets_the_master(change: str) -> None:
    m = advert(200)
    r = took_over_from(m, tracks=(Track("chk", TrackKind.SCRIPT, 10),))
    if change == "priority":
        r.tracker_changed("chk", True, 5.5)
    elif change == "address":
        r.address_changed(ip_address("192.0.2.7"), 5.5)
    elif change == "reconfigure":
        r.reconfigure(replace(r.config, garp_master_repeat=3), 5.5)
    else:
        r.shutdown(5.5)
    assert down(r, m) is None


def test_no_step_down_ahead_when_something_must_go_out_first() -> None:
    """higher_prio_send_advert sends our advert before stepping down: then nothing is done ahead."""
    m = advert(200)
    assert down(took_over_from(m, higher_prio_send_advert=True), m) is None
