"""`Sayings`: what is only said of a change keeps its order, and after a takeover waits behind input."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from vrrpkit.daemon.sayings import ANSWER_WINDOW, Sayings


class Loop:
    """The loop's `call_soon` by hand: `turn()` runs what the last turn scheduled, as asyncio does."""

    def __init__(self) -> None:
        self.ready: list[Callable[[], None]] = []

    def soon(self, fn: Callable[[], None]) -> None:
        self.ready.append(fn)

    def turn(self) -> None:
        now, self.ready = self.ready, []
        for fn in now:
            fn()


def ticking() -> Callable[[], float]:
    """A clock a second later at every look: every answer window is over by the next turn."""
    t = [0.0]

    def clock() -> float:
        t[0] += 1.0
        return t[0]

    return clock


def lines(said: list[str], *words: str) -> list[Callable[[], None]]:
    return [lambda w=w: said.append(w) for w in words]  # type: ignore[misc]


def test_without_a_takeover_everything_is_said_at_once_in_order() -> None:
    loop, said = Loop(), []
    sayings = Sayings(loop.soon, clock=ticking())
    sayings.say(lines(said, "Entering BACKUP STATE", "notify backup"))
    assert said == ["Entering BACKUP STATE", "notify backup"]
    assert loop.ready == [] and sayings.waiting == 0


def test_after_a_takeover_input_waiting_is_handled_first_then_one_line_per_turn() -> None:
    loop, said = Loop(), []
    sayings = Sayings(loop.soon, clock=ticking())
    sayings.say(lines(said, "Entering MASTER STATE", "setting VIPs", "notify master"), hurry=True)
    assert said == [] and sayings.waiting == 3
    loop.turn()  # the turn in which the old master's answer, already queued, is read
    assert said == []
    # ... which steps down: its lines queue behind the takeover's, whatever its hurry
    sayings.say(lines(said, "Entering BACKUP STATE", "removing VIPs"))
    assert said == []
    for expected in (1, 2, 3, 4, 5):
        loop.turn()
        assert len(said) == expected
        loop.turn()  # a turn with nothing said: what arrived while a line was said is read first
        assert len(said) == expected
    assert said == ["Entering MASTER STATE", "setting VIPs", "notify master", "Entering BACKUP STATE", "removing VIPs"]
    assert loop.ready == [] and sayings.waiting == 0
    sayings.say(lines(said, "later"))  # the queue is empty again: said at once
    assert said[-1] == "later"


def test_flush_says_everything_now_and_the_turn_left_scheduled_is_harmless() -> None:
    loop, said = Loop(), []
    sayings = Sayings(loop.soon, clock=ticking())
    sayings.say(lines(said, "a", "b"), hurry=True)
    sayings.flush()
    assert said == ["a", "b"]
    loop.turn()
    loop.turn()
    assert said == ["a", "b"] and loop.ready == []
    sayings.say(lines(said, "c"), hurry=True)  # a new takeover schedules turns again
    loop.turn()
    loop.turn()
    assert said == ["a", "b", "c"] and loop.ready == []


def test_a_failing_saying_is_logged_and_the_next_one_is_still_said(caplog: pytest.LogCaptureFixture) -> None:
    loop, said = Loop(), []
    sayings = Sayings(loop.soon, clock=ticking())

    def broken() -> None:
        raise RuntimeError("a notify script could not start")

    caplog.set_level(logging.ERROR, logger="vrrpkit")
    sayings.say([broken, *lines(said, "next")])
    assert said == ["next"]
    assert "error while reporting a change" in caplog.text


def test_for_the_answer_window_after_a_takeover_the_loop_only_polls() -> None:
    """Awake and silent: the old master's answer is read within a poll, not after a line or a
    wake-up; then the lines come as before."""
    loop, said, now = Loop(), [], [0.0]
    sayings = Sayings(loop.soon, clock=lambda: now[0])
    sayings.say(lines(said, "Entering MASTER STATE", "setting VIPs"), hurry=True)
    for _ in range(5):
        loop.turn()
        assert said == [] and loop.ready  # still turning (awake), saying nothing
    now[0] = ANSWER_WINDOW * 1.01
    loop.turn()
    loop.turn()
    assert said == ["Entering MASTER STATE"]
    sayings.flush()
    assert said == ["Entering MASTER STATE", "setting VIPs"]


def test_a_group_s_members_are_said_around_its_line_as_keepalived_logs_them() -> None:
    """keepalived 2.2.7 (measured): '(VI_1) Receive advertisement timeout' (held), '(VI_2) Receive
    advertisement timeout', '(VI_2) Entering MASTER STATE' and its VIP lines, 'VRRP_Group(G1)
    Syncing instances to MASTER state', then '(VI_1) Entering MASTER STATE'. vrrpkit said VI_1's
    Entering line before its own timeout line, and the group's line last."""
    from types import SimpleNamespace

    from vrrpkit.core import effects as fx
    from vrrpkit.core.state import Event, State
    from vrrpkit.daemon.sayings import said_in_order

    vi1, vi2 = SimpleNamespace(name="VI_1"), SimpleNamespace(name="VI_2")
    held = fx.Remarked("VI_1", fx.Remark.HELD)
    synced = fx.StateChanged("VI_1", State.BACKUP, State.MASTER, Event.SYNC_MASTER, "sync", 1.0)
    timed_out = fx.StateChanged("VI_2", State.BACKUP, State.MASTER, Event.MASTER_DOWN, "timeout", 1.0)
    notify = fx.Notify("VI_1", fx.NotifyKind.MASTER, 100)
    heard: list[str] = []

    def said(text: str) -> Callable[[], None]:
        return lambda: heard.append(text)

    blocks = [((vi1, [held, synced, notify]), [said("VI_1 VIPs")]), ((vi2, [timed_out]), [said("VI_2 VIPs")])]
    own, moved, takeover = said_in_order(blocks, lambda inst, e: heard.append(f"{inst.name} {type(e).__name__}"), ())
    for saying in [*own, said("group"), *moved]:
        saying()
    assert takeover
    assert heard == ["VI_1 Remarked", "VI_2 StateChanged", "VI_2 VIPs", "group",
                     "VI_1 StateChanged", "VI_1 VIPs", "VI_1 Notify"]  # fmt: skip
