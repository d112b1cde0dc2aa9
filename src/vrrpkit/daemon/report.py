"""What keepalived's DATA/STATS signals and -d put in the log, written from the typed state.

SIGUSR1's state dump stays in `app` (it predates this module); SIGUSR2 (keepalived's STATS) and
``-d`` (keepalived's dump of the configuration) are here: pure formatting over the `Snapshot` and
the parsed configuration, so `app` only wires the signal to them.
"""

from __future__ import annotations

import logging

from vrrpkit.config.model import ParseResult
from vrrpkit.control.snapshot import Snapshot
from vrrpkit.daemon.logsetup import fields

log = logging.getLogger("vrrpkit")


def dump_stats(snapshot: Snapshot) -> None:
    """SIGUSR2: every instance's non-zero counters, one line each."""
    for item in snapshot.instances:
        counters = {k: v for k, v in item.counters.items() if isinstance(v, int) and v}
        text = " ".join(f"{k}={v}" for k, v in sorted(counters.items())) or "none"
        log.info("(%s) stats: %s", item.name, text, extra=fields(instance=item.name, vrid=item.vrid))


def dump_config(result: ParseResult) -> None:
    """keepalived -d: the configuration as vrrpkit understood it, one line per instance."""
    for cfg in result.instances:
        peers = ",".join(str(p.address) for p in cfg.unicast_peers) or "-"
        tracks = ",".join(f"{t.kind.value}:{t.name}/{t.weight}" for t in cfg.tracks) or "-"
        log.info(
            "(%s) config: vrid=%d interface=%s version=%d state=%s priority=%d advert_int=%gs preempt=%s "
            "vips=%s unicast_peers=%s tracks=%s",
            cfg.name, cfg.vrid, cfg.interface, cfg.version, cfg.state, cfg.priority, cfg.advert_int_cs / 100,
            cfg.preempt, ",".join(str(v.interface) for v in cfg.vips), peers, tracks,
            extra=fields(instance=cfg.name, vrid=cfg.vrid),
        )  # fmt: skip
