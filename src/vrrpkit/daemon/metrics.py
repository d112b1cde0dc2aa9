"""Prometheus metrics, read from the daemon's snapshot at scrape time (no counters to keep in sync)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from vrrpkit.control.snapshot import Snapshot

STATES = ("INIT", "BACKUP", "MASTER", "FAULT")


class DaemonCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        snap = self.snapshot()
        labels = ["instance", "vrid", "interface"]
        state = GaugeMetricFamily(
            "vrrpkit_instance_state", "1 for the instance's current state", labels=[*labels, "state"]
        )
        prio = GaugeMetricFamily(
            "vrrpkit_effective_priority", "Effective priority (base + track weights)", labels=labels
        )
        base = GaugeMetricFamily("vrrpkit_base_priority", "Configured priority", labels=labels)
        split = GaugeMetricFamily(
            "vrrpkit_split_brain",
            "1 while another MAC answers ARP/NS for this MASTER's VIP (blind where the network answers ARP itself)",
            labels=labels,
        )
        split_events = CounterMetricFamily("vrrpkit_split_brain_events", "Split brains detected", labels=labels)
        transitions = CounterMetricFamily("vrrpkit_transitions", "State transitions", labels=labels)
        became = CounterMetricFamily("vrrpkit_became_master", "Times this instance became MASTER", labels=labels)
        sent = CounterMetricFamily("vrrpkit_adverts_sent", "Advertisements sent", labels=labels)
        rcvd = CounterMetricFamily("vrrpkit_adverts_received", "Valid advertisements received", labels=labels)
        drops = CounterMetricFamily(
            "vrrpkit_packets_dropped", "Datagrams dropped by reason", labels=[*labels, "reason"]
        )
        for item in snap.instances:
            values = [item.name, str(item.vrid), item.interface]
            for s in STATES:
                state.add_metric([*values, s], 1.0 if item.state == s else 0.0)
            prio.add_metric(values, item.effective_priority)
            base.add_metric(values, item.base_priority)
            split.add_metric(values, 1.0 if item.split_brain else 0.0)
            split_events.add_metric(values, item.split_brain_events)
            counters = item.counters
            transitions.add_metric(values, item.transitions_total)
            became.add_metric(values, counters["become_master"])
            sent.add_metric(values, counters["advert_sent"])
            rcvd.add_metric(values, counters["advert_rcvd"])
            for reason, count in counters["dropped"].items():
                drops.add_metric([*values, reason], count)
        events = CounterMetricFamily(
            "vrrpkit_daemon_events",
            "Daemon-wide counts: routes installed/removed/failed, FIFO lines written/dropped, mails sent/failed, ...",
            labels=["kind"],
        )
        for kind, count in sorted(snap.counters.items()):
            events.add_metric([kind], count)
        yield from (state, prio, base, split, split_events, transitions, became, sent, rcvd, drops, events)


def metrics_route(snapshot: Callable[[], Snapshot]) -> Callable[[], tuple[str, bytes]]:
    """The /metrics page for `daemon.http`: the registry rendered in Prometheus' text format, on the
    loop (so the snapshot is consistent)."""
    registry = CollectorRegistry()
    registry.register(DaemonCollector(snapshot))
    return lambda: (CONTENT_TYPE_LATEST, generate_latest(registry))
