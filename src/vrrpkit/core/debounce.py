"""interface_up_down_delays: a link must stay down (or up) for a while before instances hear of it.

keepalived (man page, "Interface up/down status change debouncing"): after a change the instance
transitions only if the interface is still in its new state when the delay expires; a flap shorter
than the delay is never seen. Each interface has a down delay and an up delay (the up delay
defaults to the down delay), in microseconds. Sans-I/O like the router: `changed()` takes the time,
`get_timer()` says when to come back, `handle_timer()` returns the changes that became real.
"""

from __future__ import annotations

from collections.abc import Mapping


class LinkDebouncer:
    def __init__(self, delays_us: Mapping[str, tuple[int, int]]) -> None:
        self.delays_us = dict(delays_us)
        self._reported: dict[str, bool] = {}  # what instances were last told
        self._pending: dict[str, tuple[bool, float]] = {}  # ifname -> (state, when it becomes real)

    def reported(self, ifname: str) -> bool | None:
        return self._reported.get(ifname)

    def initial(self, ifname: str, up: bool) -> None:
        """The state at start-up, which instances learn at once."""
        self._reported[ifname] = up
        self._pending.pop(ifname, None)

    def changed(self, ifname: str, up: bool, now: float) -> list[tuple[str, bool]]:
        """A link event; returns what to tell the instances now (nothing while a delay runs)."""
        delays = self.delays_us.get(ifname)
        last = self._reported.get(ifname)
        if delays is None or last is None:
            if last != up:
                self._reported[ifname] = up
                return [(ifname, up)]
            return []
        if up == last:
            self._pending.pop(ifname, None)  # flapped back before the delay ran out: nothing happened
            return []
        delay_us = delays[1] if up else delays[0]
        if delay_us == 0:
            self._reported[ifname] = up
            self._pending.pop(ifname, None)
            return [(ifname, up)]
        pending = self._pending.get(ifname)
        if pending is None or pending[0] != up:
            self._pending[ifname] = (up, now + delay_us / 1_000_000)
        return []

    def get_timer(self) -> float | None:
        return min((when for _, when in self._pending.values()), default=None)

    def handle_timer(self, now: float) -> list[tuple[str, bool]]:
        due = [(name, up) for name, (up, when) in self._pending.items() if when <= now]
        for name, up in due:
            del self._pending[name]
            self._reported[name] = up
        return due
