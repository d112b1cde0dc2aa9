"""Split-brain detection while MASTER: ask the link who else answers ARP/NS for our VIP.

Silence proves nothing (a healthy master hears no adverts either), so a master asks. Any other MAC
answering for its VIP means another master. Two rules keep it honest: no probe until the protocol
had time to settle after becoming master (a handover leaves the old master holding the VIP until our
first advert reaches it), and a MAC counts only when two probes in a row saw it. The verdict clears
as soon as its cause does: leaving MASTER, or a probe that sees nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from vrrpkit.core.state import State
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.ports import Ports, Prober
from vrrpkit.io.garp import format_mac

log = logging.getLogger("vrrpkit")

PROBE_EVERY_ADVERTS = 3
ANSWER_WAIT = 0.3  # seconds we listen for ARP replies / NAs after a probe


MIN_PERIOD = 1.0  # seconds between two probes of one master, at least
# Probes a second, at most, on average over every master of the daemon: with more masters than
# this, each is asked less often (200 masters: every 4 s). A probe is a frame on the wire and a
# reply to read, work keepalived does not do; at scale it was ~7 % of a MASTER's CPU.
PROBE_RATE = 50


def probe_period(inst: Instance, masters: int = 1) -> float:
    return max(MIN_PERIOD, PROBE_EVERY_ADVERTS * inst.cfg.advert_int_cs / 100, masters / PROBE_RATE)


def due(inst: Instance, now: float, masters: int = 1) -> bool:
    """Whether to probe now (``masters``: how many share the budget); moves `inst.next_probe` so a
    caller polling often probes once a period."""
    router = inst.router
    if router.state is not State.MASTER or not inst.cfg.vips or now < inst.next_probe:
        return False
    period = probe_period(inst, masters)
    if now - router.state_since < period:
        inst.next_probe = router.state_since + period
        return False
    inst.next_probe = now + period
    return True


_NONE: frozenset[str] = frozenset()


def judge(inst: Instance, seen: frozenset[str], wall: float) -> None:
    """Fold one probe's answers into the instance's verdict, logging when it changes; `wall` (the wall
    clock) dates the start of a split brain for the status page."""
    seen = seen or _NONE  # kept per instance: one empty set for all (200 instances, 42 KB otherwise)
    suspects, inst.suspects = inst.suspects, seen
    others = seen & suspects or _NONE  # seen by two probes in a row: not a handover in flight
    vip = inst.cfg.vips[0].address if inst.cfg.vips else None
    if others and not inst.split_brain:
        inst.split_brain_since = wall
    if others and others != inst.split_brain:
        inst.split_brain_events += 1
        log.error(
            "(%s) SPLIT BRAIN: %s is also answering for VIP %s (our adverts are not reaching it, or theirs "
            "not reaching us; run `vrrpkit investigate`)",
            inst.name,
            ", ".join(sorted(others)),
            vip,
        )
    elif not others and inst.split_brain:
        log.info("(%s) split brain over: only this host answers for %s", inst.name, vip)
    inst.split_brain = others
    if not others:
        inst.split_brain_since = None


def left_master(inst: Instance) -> None:
    """A backup holds no VIP, so whatever another host does is no longer *our* split brain."""
    if inst.split_brain:
        log.info("(%s) split brain over: this host is no longer MASTER", inst.name)
    inst.split_brain = _NONE
    inst.split_brain_since = None
    inst.suspects = _NONE


class SplitBrainProber:
    def __init__(self, ports: Ports, spawn: Callable[[Any], None], wall_clock: Callable[[], float] = time.time) -> None:
        self.ports = ports
        self.spawn = spawn
        self.wall_clock = wall_clock
        self.probers: dict[tuple[str, int], Prober] = {}
        self._next_scan = 0.0

    def check(self, instances: Iterable[Instance], now: float) -> None:
        """Start a probe round for every MASTER that is due: one task per (interface, family) for
        all of them, one wait for the answers (not one task and one wait per instance).

        The look over every instance happens at most once a second, and not before the earliest
        master is due: a master probes once a period (>= 1 s, longer when more than PROBE_RATE
        masters share the budget) and never within its first period as
        master, so one that becomes master after a look is not due before the next look (and
        `Cycle._drain` ends the split brain of one that leaves MASTER at once)."""
        if now < self._next_scan:
            return
        rounds: dict[tuple[str, int], list[Instance]] = {}
        next_scan = now + MIN_PERIOD
        masters = self.forget_left(instances)
        for inst in masters:
            if due(inst, now, len(masters)):
                rounds.setdefault((inst.cfg.interface, inst.cfg.family), []).append(inst)
            if inst.cfg.vips and inst.next_probe < next_scan:
                next_scan = inst.next_probe
        self._next_scan = next_scan
        for key, members in rounds.items():
            self.spawn(self._probe(key, members))

    @staticmethod
    def forget_left(instances: Iterable[Instance]) -> list[Instance]:
        """Clear the verdict of every instance that is no longer MASTER; return the ones that are.

        Cheap, so the loop calls it after every input, adverts included: an advert that sends us
        to BACKUP must end our split brain at once (a backup's timer may never fire again while
        the new master advertises, so waiting for the next probe round would keep it forever)."""
        masters = []
        for inst in instances:
            if inst.router.state is not State.MASTER:
                if inst.split_brain or inst.suspects:
                    left_master(inst)
            else:
                masters.append(inst)
        return masters

    async def _probe(self, key: tuple[str, int], members: list[Instance]) -> None:
        try:
            prober = self.probers.get(key)
            if prober is None:
                prober = self.probers[key] = self.ports.prober(*key)
            for address, error in prober.probe_all(inst.cfg.vips[0].address for inst in members):
                log.debug("VIP probe for %s failed: %s", address, error)
            await asyncio.sleep(ANSWER_WAIT)
            answers = zip(members, prober.finish_all(inst.cfg.vips[0].address for inst in members), strict=True)
        except OSError as exc:
            log.debug("VIP probes on %s failed: %s", key[0], exc)
            return
        own: frozenset[str] | None = None
        for inst, seen in answers:
            if seen:  # rare: only then are this host's own MACs read
                own = self._own_macs() if own is None else own
                seen = seen - own
            if inst.router.state is State.MASTER:
                judge(inst, seen, self.wall_clock())

    def _own_macs(self) -> frozenset[str]:
        """The MACs of every interface of this host. One with two interfaces on a LAN answers ARP
        (NS) for its VIP on both: Linux answers for any local address on any interface (arp_ignore
        0). Measured (a veth pair with both ends in one namespace): the other end's MAC was flagged
        as a second master. An answer from this host is never another master."""
        macs: set[str] = set()
        for name in self.ports.netlink.interface_names():
            with contextlib.suppress(OSError, ValueError):
                macs.add(format_mac(self.ports.vmacs.mac(name)))
        return frozenset(macs)

    def forget_moved(self, ifname: str, index: int | None) -> None:
        """`ifname` now has this index (None: gone): probers bound to another one go (see
        `Applier.forget_moved`); the next round opens them again."""
        for key in [k for k, p in self.probers.items() if k[0] == ifname and p.ifindex != index]:
            self.probers.pop(key).close()

    def probes_on(self, ifname: str) -> bool:
        return any(key[0] == ifname for key in self.probers)

    def close(self) -> None:
        for prober in self.probers.values():
            prober.close()
        self.probers.clear()
