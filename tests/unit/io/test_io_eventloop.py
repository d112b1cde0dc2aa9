"""The daemon's selector: a wait a signal cut short past its timeout still reports what is ready.

The interruption is real: SIGALRM lands during the wait and its handler makes a pipe readable and
outlasts the wait's timeout, the same return path in CPython's epoll wrapper (EINTR, then a
deadline already passed: no events, no second look) that a SIGSTOP/SIGCONT of the daemon takes.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import time
from collections.abc import Iterator
from types import FrameType

import pytest

from vrrpkit.io.eventloop import ReadyFirstSelector, new_loop

WAIT = 0.05


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    try:
        yield r, w
    finally:
        os.close(r)
        os.close(w)


def _wait_cut_short(selector: selectors.BaseSelector, r: int, w: int) -> list[int]:
    """Wait WAIT s for ``r``; a signal 10 ms in writes to ``w`` and returns only after the wait's
    deadline. The fds the wait reported."""

    def late_handler(signum: int, frame: FrameType | None) -> None:
        os.write(w, b"x")
        time.sleep(2 * WAIT)

    old = signal.signal(signal.SIGALRM, late_handler)
    try:
        selector.register(r, selectors.EVENT_READ)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        return [key.fd for key, _ in selector.select(WAIT)]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        selector.close()


def test_asyncios_own_selector_reports_nothing_after_such_a_wait(pipe: tuple[int, int]) -> None:
    """Why the daemon has its own: the stock epoll selector returns an empty list."""
    assert _wait_cut_short(selectors.EpollSelector(), *pipe) == []


def test_the_daemons_selector_reports_the_ready_pipe(pipe: tuple[int, int]) -> None:
    assert _wait_cut_short(ReadyFirstSelector(), *pipe) == [pipe[0]]


def test_an_ordinary_timeout_still_returns_empty_and_a_poll_does_not_look_twice(pipe: tuple[int, int]) -> None:
    selector = ReadyFirstSelector()
    try:
        selector.register(pipe[0], selectors.EVENT_READ)
        started = time.monotonic()
        assert selector.select(0.02) == []
        assert time.monotonic() - started >= 0.02
        assert selector.select(0) == []
        os.write(pipe[1], b"x")
        assert [key.fd for key, _ in selector.select(None)] == [pipe[0]]
    finally:
        selector.close()


def _first_after_a_cut_short_wait(loop: asyncio.AbstractEventLoop, r: int, w: int) -> list[str]:
    """A reader and a call_later timer; the wait for the timer is cut short past its deadline by a
    signal whose handler made the reader's fd ready (the daemon after SIGSTOP/SIGCONT: the
    protocol timerfd and a housekeeping timer both due). What ran, in order."""
    order: list[str] = []

    def late_handler(signum: int, frame: FrameType | None) -> None:
        os.write(w, b"x")
        time.sleep(2 * WAIT)

    def reader() -> None:
        os.read(r, 1)
        loop.remove_reader(r)
        order.append("reader")

    async def main() -> None:
        done = loop.create_future()
        loop.add_reader(r, reader)
        loop.call_later(WAIT, lambda: order.append("timer"))
        loop.call_later(3 * WAIT, done.set_result, None)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        await done

    old = signal.signal(signal.SIGALRM, late_handler)
    try:
        loop.run_until_complete(main())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        loop.close()
    return order


def test_the_daemons_loop_runs_the_ready_reader_before_the_due_timer(pipe: tuple[int, int]) -> None:
    stock = asyncio.SelectorEventLoop(selectors.EpollSelector())
    assert _first_after_a_cut_short_wait(stock, *pipe) == ["timer", "reader"]
    assert _first_after_a_cut_short_wait(new_loop(), *pipe) == ["reader", "timer"]
