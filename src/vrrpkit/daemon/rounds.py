"""When the daemon's slow looks at the host run: on a wake-up the protocol makes anyway.

A Python daemon pays for every wake-up from idle far more than for the work it then does: on the
2-vCPU lab (2026-12-01) a bare asyncio loop waking ten times a second cost 273 us of CPU per
wake-up, with nothing to do. With one instance, housekeeping every half second (and a track-file
poll without a track file) made 3.3 wake-ups a second at 1 s adverts where keepalived makes one:
9-14x keepalived's CPU per advert, all of it spent waking up.

So a round may start from `every` after the previous one, and starts on the first protocol
wake-up after that (`poke`: an advert tick, a lazy read); a timer of its own starts it at
`latest` when no such wake-up came (a host with nothing to send or read). A MASTER at 0.1 s
adverts then looks every 0.5 s as before, at 1 s adverts every second with its tick, and neither
wakes up for it. A round that something waits for (a source address not there yet, track_src_ip)
is `urgent`: its timer is set for `every`, as before.
"""

from __future__ import annotations

import asyncio


class Rounds:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.soon = float("inf")  # when the pending round may start (none pending: never)
        self._waiting: asyncio.Future[None] | None = None

    async def wait(self, every: float, latest: float, urgent: bool = False) -> None:
        """Until the next round may run: on a `poke` from ``every`` on, by ``latest`` at the latest
        (``every`` when ``urgent``); both in seconds from now."""
        loop = self.loop
        now = loop.time()
        self.soon = now + every
        waiting = self._waiting = loop.create_future()
        timer = loop.call_at(self.soon if urgent else now + max(every, latest), self._start)
        try:
            await waiting
        finally:
            timer.cancel()  # a cancelled timer at the head of asyncio's heap never wakes the loop
            self._waiting, self.soon = None, float("inf")

    def poke(self, now: float) -> None:
        """A protocol wake-up is under way (``now`` on the loop's clock): start the pending round
        if it may run. The round itself runs on the loop's next pass, which does not wait."""
        if now >= self.soon:
            self._start()

    def _start(self) -> None:
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            waiting.set_result(None)
