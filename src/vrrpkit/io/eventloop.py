"""The daemon's event loop: asyncio's epoll loop, with one change in how it waits.

CPython's epoll wrapper (``select.epoll.poll``, PEP 475) retries an ``epoll_wait`` that a signal
interrupted only while its timeout has not run out; past it, it returns no events without looking
again. Linux interrupts ``epoll_wait`` when a stopped process is continued, handler or not
(SIGSTOP then SIGCONT, signal(7)). A daemon frozen for longer than its wait therefore wakes to an
empty wait, although its protocol timer and sockets have been readable all along: asyncio runs its
due ``call_later`` callbacks, queues what they wake (housekeeping tasks' steps), and sees the
overdue advert's timer only on its next pass, behind that work. Measured on the 2-vCPU lab
(perf trace, SIGSTOP of a MASTER for 2 s at 0.1 s adverts, 2026-12-01): 0.21 ms of housekeeping
between the wake-up and the advert, whose departure ends the double VIP holding; keepalived, which
waits without a timeout, sends it 0.07 ms after waking.

`ReadyFirstSelector` looks once more without blocking whenever a blocking wait came back empty, so
what is ready is handled first, on the same pass. An empty blocking wait is otherwise a
``call_later`` timer coming due (a few times a second here): the extra look is one
``epoll_wait(0)`` then, a few microseconds.
"""

from __future__ import annotations

import asyncio
import selectors


class ReadyFirstSelector(selectors.EpollSelector):
    """An epoll selector whose blocking wait never returns nothing while something is ready."""

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(timeout)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        return super().select(0)


def new_loop() -> asyncio.AbstractEventLoop:
    """The loop the daemon runs in (`asyncio.Runner`'s ``loop_factory``)."""
    return asyncio.SelectorEventLoop(ReadyFirstSelector())
