"""The Prometheus exposition: every family docs/metrics.md lists, with its labels and values, from a
daemon on a loop against the recording fakes; parsed back with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from daemon_fakes import FakeOs, FakeRunner
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from test_daemon_loop import advert, conf, drive, state, until

from vrrpkit import __version__
from vrrpkit.config import load_string
from vrrpkit.daemon.app import Daemon
from vrrpkit.daemon.instance import HISTORY
from vrrpkit.daemon.metrics import ADVERT_ERRORS, build_registry

DOC = Path(__file__).resolve().parents[3] / "docs" / "metrics.md"
SCRIPTED = conf(extra="track_script {\n        chk\n    }\n    track_interface {\n        eth1\n    }") + """
vrrp_script chk {
    script "/bin/true"
    interval 1
    weight 10
}
"""


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_exposition_families_labels_and_values(tmp_path: Path) -> None:
    texts: list[str] = []

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        d.trackers.scripts["chk"].last_rc = 0  # as if it ran once and succeeded
        d.trackers.scripts["chk"].counter.update(True)
        d._tracker_changed("chk", True)
        await until(lambda: state(d) == "MASTER")
        sock = fake.sockets[("eth0", 4)]
        sock.deliver(advert(10, src="192.0.2.2")[:-1], "192.0.2.2")  # a truncated advert: packet_len_err
        await asyncio.sleep(0.05)
        texts.append(generate_latest(build_registry(d.snapshot)).decode())

    fake = FakeOs()
    fake.netlink.interfaces["eth1"] = False  # tracked, and down: weight 0 would be FAULT, so give it none
    drive(tmp_path, SCRIPTED.replace("eth1\n", "eth1 weight -5\n"), body, fake)
    text = texts[0]
    found = samples(text)
    me = {"vrrp_instance": "VI_1", "vrid": "51", "interface": "eth0"}
    assert value(found, "vrrpkit_build_info", version=__version__, python_version=re.search(
        r'python_version="([^"]+)"', text).group(1), python_implementation="CPython") == 1  # type: ignore[union-attr]
    assert value(found, "vrrpkit_instance_state", state="MASTER", **me) == 1
    assert value(found, "vrrpkit_instance_state", state="BACKUP", **me) == 0
    assert value(found, "vrrpkit_vrrp_state", **me) == 2  # keepalived's MASTER
    assert value(found, "vrrpkit_effective_priority", **me) == 105  # 100 + chk's 10 - eth1's 5 (down)
    assert value(found, "vrrpkit_vip_held", vip="192.0.2.99", **me) == 1
    assert value(found, "vrrpkit_instance_info", vrrp_version="3", mode="multicast", sync_group="", **me) == 1
    assert value(found, "vrrpkit_track_status", track="chk", kind="script", **me) == 1
    assert value(found, "vrrpkit_track_status", track="eth1", kind="interface", **me) == 0
    assert value(found, "vrrpkit_script_status", script="chk") == 1
    assert value(found, "vrrpkit_script_exit_code", script="chk") == 0
    assert value(found, "vrrpkit_became_master_total", **me) == 1
    assert value(found, "vrrpkit_adverts_sent_total", **me) >= 1
    assert value(found, "vrrpkit_advert_errors_total", error="packet_len_err", **me) == 1
    assert all((("vrrpkit_advert_errors_total", frozenset({**me, "error": e}.items())) in found) for e in ADVERT_ERRORS)
    assert value(found, "vrrpkit_transitions_total", **me) == 2  # INIT->BACKUP->MASTER
    assert value(found, "vrrpkit_last_transition_timestamp_seconds", **me) > 1.7e9
    assert value(found, "vrrpkit_reloads_total") == 0
    # the collectors a custom registry does not get for free
    assert any(name == "process_resident_memory_bytes" for name, _ in found)
    assert any(name == "python_info" for name, _ in found)
    assert any(name.startswith("python_gc_") for name, _ in found)
    # no label may be called `instance`: Prometheus owns it (the scrape target)
    assert not any("instance" in dict(labels) for _, labels in found)


def test_transitions_total_never_caps(tmp_path: Path) -> None:
    """It once was the length of the 20-entry history; now it counts past any history bound."""
    totals: list[float] = []

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        for _ in range(15):  # 30 transitions: fault and back
            fake.links.push("eth0", False)  # type: ignore[union-attr]
            await until(lambda: state(d) == "FAULT")
            fake.links.push("eth0", True)  # type: ignore[union-attr]
            await until(lambda: state(d) != "FAULT")
        found = samples(generate_latest(build_registry(d.snapshot)).decode())
        totals.append(value(found, "vrrpkit_transitions_total", vrrp_instance="VI_1", vrid="51", interface="eth0"))
        assert len(d.instances["VI_1"].transitions) <= HISTORY  # the history is bounded, the counter is not

    drive(tmp_path, conf(), body)
    assert totals[0] == 31  # INIT->BACKUP, then 15 x (->FAULT, ->BACKUP)


def test_every_exported_family_is_documented(tmp_path: Path) -> None:
    """docs/metrics.md is the contract: every vrrpkit_ family the daemon exports has a row there."""
    names: set[str] = set()

    async def main() -> None:
        d = Daemon(load_string(SCRIPTED, filename="k.conf"), files=[], config_id=None,
                   control_path=str(tmp_path / "c.sock"), ports=FakeOs().ports(), runner=FakeRunner())  # fmt: skip
        await d.start()
        try:
            for family in text_string_to_metric_families(generate_latest(build_registry(d.snapshot)).decode()):
                names.add(family.name + ("_total" if family.type == "counter" else ""))
        finally:
            await d.shutdown()

    asyncio.run(main())
    doc = DOC.read_text()
    missing = sorted(n for n in names if n.startswith("vrrpkit_") and f"`{n}`" not in doc)
    assert not missing, missing


def test_lost_link_and_route_events_are_daemon_events(tmp_path: Path) -> None:
    """The kernel drops netlink events when a burst overruns a monitor's queue (ENOBUFS): the
    monitors resync and count it; the count reaches status and metrics, from zero."""
    found: list[dict[tuple[str, frozenset[tuple[str, str]]], float]] = []

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        found.append(samples(generate_latest(build_registry(d.snapshot)).decode()))
        assert fake.links is not None and fake.route_events is not None
        fake.links.overruns, fake.route_events.overruns = 2, 1
        assert {k: d.snapshot().counters[k] for k in ("link_event_overruns", "route_event_overruns")} == {
            "link_event_overruns": 2, "route_event_overruns": 1}  # fmt: skip
        found.append(samples(generate_latest(build_registry(d.snapshot)).decode()))

    drive(tmp_path, conf(), body)
    before, after = found
    for kind in ("link_event_overruns", "route_event_overruns"):
        assert value(before, "vrrpkit_daemon_events_total", kind=kind) == 0
    assert value(after, "vrrpkit_daemon_events_total", kind="link_event_overruns") == 2
    assert value(after, "vrrpkit_daemon_events_total", kind="route_event_overruns") == 1
