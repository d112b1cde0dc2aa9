"""What the daemon says about itself outside the control socket: systemd's one-line STATUS and the
SIGUSR1 dump to the log (keepalived writes a data file; we log one line per instance)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from vrrpkit.control.snapshot import Snapshot
from vrrpkit.daemon.instance import Instance

log = logging.getLogger("vrrpkit")


def status_line(instances: Iterable[Instance]) -> str:
    """`2 BACKUP, 1 MASTER`: systemd's STATUS= line."""
    states: dict[str, int] = {}
    for inst in instances:
        states[inst.router.state.value] = states.get(inst.router.state.value, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no instances"


def dump(snapshot: Snapshot) -> None:
    """SIGUSR1: the state of every instance, in the log."""
    for item in snapshot.instances:
        log.info(
            "(%s) state=%s vrid=%d prio=%d/%d master=%s vips=%s rcvd=%d sent=%d%s",
            item.name,
            item.state,
            item.vrid,
            item.effective_priority,
            item.base_priority,
            item.master,
            ",".join(item.vips),
            item.counters["advert_rcvd"],
            item.counters["advert_sent"],
            f" vmac={item.vmac} vmac_errors={item.vmac_errors}" if item.vmac else "",
        )
