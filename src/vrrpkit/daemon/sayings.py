"""What is only said of a change, kept in order and, after a takeover, said behind input.

Each wake-up first does what the network sees (adverts, VIPs, GARPs); what is only said of it
follows: log lines, the state history, notify scripts, FIFO lines, mail. After a takeover that
"saying" is most of the work: five log lines, the history, notify_master, ~1 ms of Python on the
lab's machine (perf trace, docs/reliability.md). And a takeover is exactly when input is urgent:
if the master was alive and only its adverts were lost, its answer to our advert comes within a
fraction of a millisecond, and every moment it waits unread is a moment both hold the VIP.

So the sayings of a wake-up with a takeover wait here. For ANSWER_WINDOW the loop says nothing and
stays awake (each turn only polls: a sleeping process takes ~0.1-0.3 ms to run again here), so the
answer is read within one poll; then the sayings are said one every other turn of the loop: a
datagram that arrived meanwhile is read (and the VIP given back) before the next line. The window
costs at most a millisecond of CPU per takeover (however many instances took over at once).
Without a takeover they are said at once, as before. Order is kept whatever happens: sayings that
find others waiting queue behind them, so "Entering BACKUP STATE" never precedes the "Entering
MASTER STATE" it ends. `flush` says everything now (a stop, a reload, a status request: what they
say or show comes after).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from vrrpkit.core import effects as fx
from vrrpkit.core.state import Event, State

if TYPE_CHECKING:
    from vrrpkit.daemon.instance import Instance

log = logging.getLogger("vrrpkit")

Saying = Callable[[], None]
# Seconds after a takeover in which the loop stays awake and says nothing: the old master's answer
# to our advert came 0.2-0.4 ms after it from keepalived, 0.3-0.8 ms from vrrpkit, on the lab's
# machine (docs/reliability.md); the takeover's own work ends ~0.6 ms after the advert.
ANSWER_WINDOW = 0.001


class Sayings:
    def __init__(
        self, soon: Callable[[Callable[[], None]], Any], clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``soon(fn)``: run ``fn`` on the loop's next turn (``loop.call_soon``)."""
        self._soon = soon
        self._clock = clock
        self._queue: deque[Saying] = deque()
        self._scheduled = False
        self._quiet_until = 0.0

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def say(self, items: Iterable[Saying], hurry: bool = False) -> None:
        """Say ``items`` now, or (``hurry``: input may be urgent, or others wait) one per turn."""
        if not hurry and not self._queue:
            for item in items:
                _say(item)
            return
        if hurry:
            self._quiet_until = self._clock() + ANSWER_WINDOW
        before = len(self._queue)
        self._queue.extend(items)
        if len(self._queue) > before and not self._scheduled:
            self._scheduled = True
            self._soon(self._yielded)

    def flush(self) -> None:
        self._quiet_until = 0.0
        queue = self._queue
        while queue:
            _say(queue.popleft())

    def _yielded(self) -> None:
        """A turn with nothing said, between two that say something: input that arrived while a
        line was being said is read before the next one (the loop runs the turn scheduled before
        it polled ahead of the reader it found). Within ANSWER_WINDOW of a takeover, only that."""
        if self._queue and self._clock() < self._quiet_until:
            self._soon(self._yielded)
        else:
            self._soon(self._turn)

    def _turn(self) -> None:
        queue = self._queue
        if queue:
            _say(queue.popleft())
        if queue:
            self._soon(self._yielded)
        else:
            self._scheduled = False


def _say(item: Saying) -> None:
    try:
        item()
    except Exception:  # a failing line or script costs itself, never the loop or the next saying
        log.exception("error while reporting a change")


_GROUP_MOVES = frozenset({Event.SYNC_MASTER, Event.SYNC_BACKUP, Event.SYNC_FAULT})
Block = tuple[tuple["Instance", list[fx.Effect]], list[Saying]]


def moved_by_group(block: tuple[Instance, list[fx.Effect]]) -> bool:
    """Whether a sync group moved this member (rather than its own event). keepalived 2.2.7 moves
    the member whose event moved the group first (state, VIPs), then syncs the others: the first
    VIP added to a subnet is the interface's primary address there (measured: two members' VIPs in
    one /27, the later member in the file completing the group held the primary)."""
    return any(type(e) is fx.StateChanged and e.event in _GROUP_MOVES for e in block[1])


def said_in_order(
    blocks: Iterable[Block], apply: Callable[[Instance, fx.Effect], None], done: tuple[type, ...]
) -> tuple[list[Saying], list[Saying], bool]:
    """What one wake-up did, said in keepalived's order. `blocks`: each touched instance with its
    effects and the sayings of its VIPs and GARPs (`done`: the effects those are of, applied).
    Per instance its state lines and remarks as they happened, then its VIP and GARP lines, then
    the rest (history, notify scripts); a member its sync group moved is said from that move on
    in the second list, for after the group's line: keepalived 2.2.7 logs '(VI_1) Receive
    advertisement timeout', '(VI_1) Entering MASTER STATE', 'VRRP_Group(G1) Syncing instances
    to MASTER state', '(VI_2) Entering MASTER STATE' (measured). And whether one is a takeover."""
    own: list[Saying] = []
    moved: list[Saying] = []
    takeover = False
    for (inst, effects), said in blocks:
        lines, rest = own, []
        for effect in effects:
            if isinstance(effect, fx.StateChanged | fx.Remarked):
                if isinstance(effect, fx.StateChanged):
                    takeover = takeover or effect.new is State.MASTER
                    lines = moved if effect.event in _GROUP_MOVES else lines
                lines.append(partial(apply, inst, effect))
            elif not isinstance(effect, done) and type(effect) is not fx.SendAdvert:
                rest.append(partial(apply, inst, effect))
        lines += said
        lines += rest
    return own, moved, takeover
