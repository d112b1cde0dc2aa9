"""Housekeeping rounds ride on the protocol's wake-ups (daemon/rounds.py): a round starts on the
first poke from `every` on, by its own timer at `latest` without one, and at `every` when urgent;
the timer of a round a poke started never wakes the loop. (Order of events, not speed: the
bounds are seconds apart.)"""

from __future__ import annotations

import asyncio

from vrrpkit.daemon.rounds import Rounds

EARLY = 0.001  # asyncio may run a timer up to its clock's resolution early


async def _round(rounds: Rounds, every: float, latest: float, urgent: bool, pokes: list[float]) -> tuple[float, int]:
    """How long until the round started, and how many pokes had come by then."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    poked: list[float] = []

    def poke() -> None:
        poked.append(loop.time())
        rounds.poke(loop.time())

    for at in pokes:
        loop.call_at(t0 + at, poke)
    await asyncio.wait_for(rounds.wait(every, latest, urgent), 10)
    return loop.time() - t0, len(poked)


def test_a_round_starts_on_the_first_poke_once_it_may() -> None:
    async def body() -> None:
        rounds = Rounds(asyncio.get_running_loop())
        took, poked = await _round(rounds, 0.1, 5.0, False, [0.01, 0.02, 0.3, 1.5])
        assert poked == 3 and took >= 0.3 - EARLY  # not the pokes before `every`: the first one after
        assert rounds.soon == float("inf")
        rounds.poke(asyncio.get_running_loop().time())  # no round pending: nothing happens

    asyncio.run(body())


def test_without_a_poke_the_round_starts_at_latest_and_urgent_at_every() -> None:
    async def body() -> None:
        rounds = Rounds(asyncio.get_running_loop())
        took, _ = await _round(rounds, 0.05, 0.3, False, [])
        assert took >= 0.3 - EARLY
        took, _ = await _round(rounds, 0.05, 5.0, True, [])
        assert 0.05 - EARLY <= took < 5.0

    asyncio.run(body())


def test_the_timer_of_a_poked_round_is_gone() -> None:
    """After a poke started the round, asyncio holds no live timer of it: the loop's next wait is
    not cut short for a round that already ran."""

    async def body() -> None:
        loop = asyncio.get_running_loop()
        rounds = Rounds(loop)
        await _round(rounds, 0.01, 5.0, False, [0.05])
        live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        assert live == []

    asyncio.run(body())
