"""Prometheus metrics, read from the daemon's snapshot at scrape time (no counters to keep in sync).

Every family is listed in docs/metrics.md, with the community keepalived exporters' names each one
replaces. Choices that matter to people who write alerts and dashboards:

* The VRRP instance's label is ``vrrp_instance``, never ``instance``: Prometheus sets ``instance``
  on every series to the scrape target, and a clash would rename ours to ``exported_instance``.
  Every per-instance family carries ``vrrp_instance``, ``vrid`` and ``interface``.
* Counters are the daemon's own never-capped counts (`Instance.transitions_total`, the core's
  `Stats`), so ``increase()`` and ``rate()`` work; they restart at zero with the process (or with an
  instance that a reload restarted), which Prometheus treats as a counter reset.
* Error counters are emitted at zero from the first scrape, so ``increase(...[5m]) > 0`` alerts
  do not miss the first error.
* A custom registry has no default collectors: the process (``process_*``), platform
  (``python_info``) and GC (``python_gc_*``) collectors are registered here explicitly.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, GCCollector, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from vrrpkit import __version__
from vrrpkit.control.snapshot import Snapshot

STATES = ("INIT", "BACKUP", "MASTER", "FAULT")
STATE_CODES = {state: code for code, state in enumerate(STATES)}  # keepalived's numbering (vrrp.h)
LABELS = ["vrrp_instance", "vrid", "interface"]
# keepalived's receive error counters (vrrp_print.c names), all exported from zero
ADVERT_ERRORS = (
    "packet_len_err", "ip_ttl_err", "invalid_type_rcvd", "advert_interval_err", "addr_list_err",
    "invalid_authtype", "authtype_mismatch", "auth_failure", "checksum_err", "version_err",
)  # fmt: skip


class DaemonCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        snap = self.snapshot()
        yield from _daemon_families(snap)
        yield from _instance_families(snap)
        yield from _script_families(snap)
        yield from _socket_metrics(snap)


def _daemon_families(snap: Snapshot) -> Iterator[Any]:
    build = GaugeMetricFamily("vrrpkit_build_info", "vrrpkit's version and the Python running it (always 1)",
                              labels=["version", "python_version", "python_implementation"])  # fmt: skip
    build.add_metric([__version__, platform.python_version(), platform.python_implementation()], 1.0)
    reloads = CounterMetricFamily("vrrpkit_reloads", "Configuration reloads taken (SIGHUP or `vrrpkit reload`)")
    reloads.add_metric([], snap.reloads)
    unknown = CounterMetricFamily(
        "vrrpkit_unknown_vrid_packets", "VRRP datagrams for a VRID no instance is configured for (another cluster?)"
    )
    unknown.add_metric([], snap.unknown_vrid_packets)
    events = CounterMetricFamily(
        "vrrpkit_daemon_events",
        "Daemon-wide counts: routes installed/removed/failed, FIFO lines written/dropped, mails sent/failed, ...",
        labels=["kind"],
    )
    for kind, count in sorted(snap.counters.items()):
        events.add_metric([kind], count)
    yield from (build, reloads, unknown, events)


def _instance_families(snap: Snapshot) -> Iterator[Any]:
    def gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=[*LABELS, *extra])

    def counter(name: str, doc: str, extra: tuple[str, ...] = ()) -> CounterMetricFamily:
        return CounterMetricFamily(name, doc, labels=[*LABELS, *extra])

    info = gauge("vrrpkit_instance_info", "The instance's configuration (always 1)",
                 ("vrrp_version", "mode", "sync_group"))  # fmt: skip
    state = gauge("vrrpkit_instance_state", "1 for the instance's current state, 0 for the others", ("state",))
    code = gauge("vrrpkit_vrrp_state", "Current state as keepalived numbers it: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT")
    prio = gauge("vrrpkit_effective_priority", "Effective priority (base + track weights)")
    base = gauge("vrrpkit_base_priority", "Configured priority")
    vip = gauge("vrrpkit_vip_held", "1 while this instance is MASTER and so holds the VIP", ("vip",))
    split = gauge("vrrpkit_split_brain",
                  "1 while another MAC answers ARP/NS for this MASTER's VIP (blind where the network answers ARP)")
    since = gauge("vrrpkit_last_transition_timestamp_seconds", "Unix time of the instance's last state change")
    track = gauge("vrrpkit_track_status", "1 while a tracked script or interface is OK, 0 while it fails",
                  ("track", "kind"))  # fmt: skip
    track_file = gauge("vrrpkit_track_file_value", "The integer a track_file holds", ("track",))
    transitions = counter("vrrpkit_transitions", "State transitions")
    became = counter("vrrpkit_became_master", "Times this instance became MASTER")
    released = counter("vrrpkit_released_master", "Times this instance left MASTER")
    sent = counter("vrrpkit_adverts_sent", "Advertisements sent")
    rcvd = counter("vrrpkit_adverts_received", "Valid advertisements received")
    zero_sent = counter("vrrpkit_priority_zero_sent", "Priority 0 advertisements sent (a master stepping down)")
    zero_rcvd = counter("vrrpkit_priority_zero_received", "Priority 0 advertisements received")
    errors = counter("vrrpkit_advert_errors", "Advertisements received with an error, by keepalived's counter name",
                     ("error",))  # fmt: skip
    drops = counter("vrrpkit_packets_dropped", "Datagrams dropped, by vrrpkit's reason", ("reason",))
    mismatches = counter("vrrpkit_advert_mismatches", "Adverts accepted but disagreeing with our config", ("kind",))
    split_events = counter("vrrpkit_split_brain_events", "Split brains detected")
    unanswered = counter("vrrpkit_lower_priority_unanswered",
                         "Lower-priority adverts not answered: two answered within the last advert interval")
    claims = counter("vrrpkit_takeover_claims", "Adverts sent as BACKUP just before a takeover, to a silent master")
    answered = counter("vrrpkit_takeover_claims_answered",
                       "Claims the silent master answered in time: no takeover (its adverts were lost, or it stalled)")
    for item in snap.instances:
        values = [item.name, str(item.vrid), item.interface]
        info.add_metric([*values, str(item.version), item.mode, item.sync_group or ""], 1.0)
        for s in STATES:
            state.add_metric([*values, s], 1.0 if item.state == s else 0.0)
        code.add_metric(values, STATE_CODES.get(item.state, 0))
        prio.add_metric(values, item.effective_priority)
        base.add_metric(values, item.base_priority)
        for address in item.vips:
            vip.add_metric([*values, address.split("/")[0]], 1.0 if item.state == "MASTER" else 0.0)
        split.add_metric(values, 1.0 if item.split_brain else 0.0)
        if item.transitions:
            since.add_metric(values, item.transitions[-1].at)
        for t in item.tracks:
            if t.kind == "file":
                track_file.add_metric([*values, t.name], t.value or 0)
            elif t.ok is not None:
                track.add_metric([*values, t.name, t.kind], 1.0 if t.ok else 0.0)
        c = item.counters
        transitions.add_metric(values, item.transitions_total)
        became.add_metric(values, c.get("become_master", 0))
        released.add_metric(values, c.get("release_master", 0))
        sent.add_metric(values, c.get("advert_sent", 0))
        rcvd.add_metric(values, c.get("advert_rcvd", 0))
        zero_sent.add_metric(values, c.get("pri_zero_sent", 0))
        zero_rcvd.add_metric(values, c.get("pri_zero_rcvd", 0))
        for name in ADVERT_ERRORS:
            errors.add_metric([*values, name], c.get(name, 0))
        for reason, count in c.get("dropped", {}).items():
            drops.add_metric([*values, reason], count)
        for kind, count in item.mismatches.items():
            mismatches.add_metric([*values, kind], count)
        split_events.add_metric(values, item.split_brain_events)
        unanswered.add_metric(values, c.get("lower_prio_unanswered", 0))
        claims.add_metric(values, c.get("claims_sent", 0))
        answered.add_metric(values, c.get("claims_answered", 0))
    yield from (info, state, code, prio, base, vip, split, since, track, track_file, transitions, became, released,
                sent, rcvd, zero_sent, zero_rcvd, errors, drops, mismatches, split_events, unanswered, claims,
                answered)  # fmt: skip


def _script_families(snap: Snapshot) -> Iterator[Any]:
    status = GaugeMetricFamily("vrrpkit_script_status",
                               "1 while a vrrp_script is OK (GOOD), 0 while it fails (BAD); absent until it has run",
                               labels=["script"])  # fmt: skip
    rc = GaugeMetricFamily("vrrpkit_script_exit_code", "The last exit code of a vrrp_script", labels=["script"])
    for name, script in sorted(snap.scripts.items()):
        if script.ok is not None:
            status.add_metric([name], 1.0 if script.ok else 0.0)
        if script.last_rc is not None:
            rc.add_metric([name], script.last_rc)
    yield from (status, rc)


def _socket_metrics(snap: Snapshot) -> Iterator[Any]:
    """Per receive socket: what was read, and what was dropped before any instance saw it (the
    kernel filter's own drops cannot be counted)."""
    labels = ["interface", "family"]
    received = CounterMetricFamily("vrrpkit_socket_received", "Datagrams read from the VRRP socket", labels=labels)
    dropped = CounterMetricFamily(
        "vrrpkit_socket_dropped",
        "Datagrams dropped before any instance: unknown-vrid, undecodable, queue-full (kernel, queue overflow)",
        labels=[*labels, "reason"],
    )
    for sock in snap.sockets:
        values = [sock.interface, str(sock.family)]
        received.add_metric(values, sock.received)
        dropped.add_metric([*values, "unknown-vrid"], sock.unknown_vrid)
        dropped.add_metric([*values, "undecodable"], sock.undecodable)
        if sock.queue_overflow is not None:
            dropped.add_metric([*values, "queue-full"], sock.queue_overflow)
    yield from (received, dropped)


def build_registry(snapshot: Callable[[], Snapshot]) -> CollectorRegistry:
    """Everything `/metrics` serves: the daemon's families plus the process, platform and GC ones."""
    registry = CollectorRegistry()
    registry.register(DaemonCollector(snapshot))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def metrics_route(snapshot: Callable[[], Snapshot]) -> Callable[[], tuple[str, bytes]]:
    """The /metrics page for `daemon.http`: the registry rendered in Prometheus' text format, on the
    loop (so the snapshot is consistent)."""
    registry = build_registry(snapshot)
    return lambda: (CONTENT_TYPE_LATEST, generate_latest(registry))
