"""Reload planning (SIGHUP): which instances keep running untouched, which restart, which come and go.

Pure: the running configs and the new ones in, a `ReloadPlan` out, so that the rules can be tested
in microseconds and the daemon only carries them out. Whether a reload may proceed at all is
decided first (`refusal`): a config with errors, or an interface that does not exist, keeps the
whole running configuration, because stopping instances and then failing to build their
replacements would drop VIPs that nobody asked to move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from vrrpkit.core.config import InstanceConfig


@dataclass(frozen=True)
class ReloadPlan:
    keep: tuple[str, ...]  # identical config: router, state and timers carry on
    restart: tuple[str, ...]  # changed: stopped (a master sends priority 0) and started anew
    add: tuple[str, ...]  # new in the file
    remove: tuple[str, ...]  # gone from the file: stopped

    @property
    def stop(self) -> tuple[str, ...]:
        return self.restart + self.remove

    @property
    def start(self) -> tuple[str, ...]:
        return self.restart + self.add


def plan_reload(running: Mapping[str, InstanceConfig], new: Sequence[InstanceConfig]) -> ReloadPlan:
    wanted = {cfg.name: cfg for cfg in new}
    keep = tuple(n for n, cfg in running.items() if wanted.get(n) == cfg)
    restart = tuple(n for n, cfg in running.items() if n in wanted and wanted[n] != cfg)
    remove = tuple(n for n in running if n not in wanted)
    add = tuple(n for n in wanted if n not in running)
    return ReloadPlan(keep, restart, add, remove)


def refusal(new: Sequence[InstanceConfig], ok: bool, interface_exists: Callable[[str], bool]) -> str | None:
    """Why the new config must not replace the running one, or None."""
    if not ok:
        return "configuration has errors, keeping the running configuration"
    missing = sorted({c.interface for c in new if not interface_exists(c.interface)})
    if missing:
        return f"interface(s) {', '.join(missing)} do not exist, keeping the running configuration"
    return None
