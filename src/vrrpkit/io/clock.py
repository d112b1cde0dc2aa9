"""The daemon's only clock.

VRRP timers must not jump when an operator or NTP steps the wall clock (a step backwards would
freeze a master's adverts; a step forwards would fire every backup's Master_Down timer at once), so
``now()`` is ``time.monotonic()``. The core never reads time: the daemon calls ``now()`` and passes
the value in. Keeping the call here makes "who reads time" a one-line grep and lets tests swap the
clock for ``vrrpkit.testing``'s FakeClock.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything with a monotonic ``now()`` in float seconds (MonotonicClock, FakeClock)."""

    def now(self) -> float: ...


def now() -> float:
    """Seconds on the monotonic clock; only differences are meaningful."""
    return time.monotonic()


class MonotonicClock:
    """The real clock as an object, for code that takes a ``Clock``."""

    def now(self) -> float:
        return time.monotonic()
