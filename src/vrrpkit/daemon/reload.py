"""Reload planning (SIGHUP): which instances carry on untouched, which take the new config in place,
which restart, which come and go.

Pure: the running configs and the new ones in, a `ReloadPlan` out, so that the rules can be tested
in microseconds and the daemon only carries them out. Instances are matched as keepalived 2.2.7
matches them (`core.reconfig.identity`: VRID, family, interface, unicast or multicast and the
unicast source), not by name: a renamed instance keeps its state, and only an identity change stops
an instance (a master sends priority 0) and starts a new one. Everything else is applied to the
running router (`VirtualRouter.reconfigure`), so that a routine edit never moves a VIP.

Whether a reload may proceed at all is decided first (`refusal`): a config with errors, or an
interface that does not exist, keeps the whole running configuration, because stopping instances
and then failing to build their replacements would drop VIPs that nobody asked to move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from vrrpkit.config.model import ParseResult
from vrrpkit.config.startup import refusals
from vrrpkit.core.config import InstanceConfig
from vrrpkit.core.reconfig import Identity, identity


@dataclass(frozen=True)
class ReloadPlan:
    keep: tuple[str, ...]  # identical config: router, state and timers carry on
    reconfigure: tuple[tuple[str, str], ...]  # (running name, new name): same identity, applied in place
    restart: tuple[str, ...]  # same name, new identity: stopped (a master sends priority 0), started anew
    add: tuple[str, ...]  # new in the file
    remove: tuple[str, ...]  # gone from the file (no instance of its identity left): stopped

    @property
    def stop(self) -> tuple[str, ...]:
        return self.restart + self.remove

    @property
    def start(self) -> tuple[str, ...]:
        return self.restart + self.add


def plan_reload(running: Mapping[str, InstanceConfig], new: Sequence[InstanceConfig]) -> ReloadPlan:
    wanted = {cfg.name: cfg for cfg in new}
    of_identity: dict[Identity, InstanceConfig] = {}
    for cfg in new:
        of_identity.setdefault(identity(cfg), cfg)  # identities are unique in a valid file; first wins
    claimed: dict[str, str] = {}  # new name -> the running instance whose state it takes
    for name, cfg in running.items():
        match = of_identity.get(identity(cfg))
        if match is not None and match.name not in claimed:
            claimed[match.name] = name
    keep = tuple(n for n, old in claimed.items() if n == old and running[old] == wanted[n])
    reconfigure = tuple((old, n) for n, old in claimed.items() if n not in keep)
    taken = set(claimed.values())
    restart = tuple(n for n in running if n not in taken and n in wanted and n not in claimed)
    remove = tuple(n for n in running if n not in taken and n not in restart)
    add = tuple(n for n in wanted if n not in claimed and n not in restart)
    return ReloadPlan(keep, reconfigure, restart, add, remove)


def refusal(result: ParseResult, interface_exists: Callable[[str], bool]) -> str | None:
    """Why the new config must not replace the running one, or None: any error (keepalived would
    run the new file with its fallbacks; vrrpkit keeps what runs), or what keepalived refuses to run
    at all (`config.startup`: a missing interface, a VRRPv3 instance without VIPs, ...)."""
    if not result.ok:
        return "configuration has errors, keeping the running configuration"
    refused = refusals(result, interface_exists)
    if refused:
        return f"{'; '.join(refused)}; keeping the running configuration"
    return None
