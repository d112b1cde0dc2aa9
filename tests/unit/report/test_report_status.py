"""The status page from a Snapshot: what an on-call person must read at a glance is there, as text and
as a timeline, everything from a config file is escaped, and the page fetches and runs nothing."""

from __future__ import annotations

from dataclasses import replace

from report_markup import SVG_NS, check_page, svgs, titles

from vrrpkit.control.snapshot import InstanceStatus, ScriptStatus, Snapshot, TrackStatus, TransitionRecord
from vrrpkit.report.status import state_bands, status_page, window_start

NOW = 1_764_000_000.0
T = TransitionRecord


def instance(name: str = "VI_1", state: str = "MASTER", transitions: list[TransitionRecord] | None = None,
             **kw: object) -> InstanceStatus:  # fmt: skip
    trans = transitions if transitions is not None else [
        T(NOW - 600, "INIT", "BACKUP", "startup", "startup"),
        T(NOW - 596.4, "BACKUP", "MASTER", "advertisement timeout", "master down timer expired"),
    ]  # fmt: skip
    values: dict[str, object] = dict(
        name=name, vrid=51, interface="eth0", version=2, state=state, base_priority=150, effective_priority=152,
        address="192.0.2.1", master="192.0.2.1" if state == "MASTER" else "192.0.2.2", master_priority=152,
        vips=["192.0.2.99/24"], advert_int=1.0, master_advert_int=1.0, mode="multicast", peers=[],
        time_in_state=NOW - trans[-1].at if trans else 1.0, fault_reason=None,
        counters={"advert_rcvd": 7, "advert_sent": 596, "dropped": {"bad-ttl": 0, "auth-mismatch": 4}},
        mismatches={"address-list": 0}, split_brain=[], split_brain_events=0, transitions=trans, sync_group=None,
        transitions_total=len(trans),
    )  # fmt: skip
    values.update(kw)
    return InstanceStatus(**values)  # type: ignore[arg-type]


def snapshot(*instances: InstanceStatus, uptime: float = 601.0) -> Snapshot:
    return Snapshot(pid=42, hostname="h1", uptime=uptime, reloads=0, unknown_vrid_packets=0,
                    scripts={"chk": ScriptStatus(True, 0)}, instances=list(instances))  # fmt: skip


def test_a_master_row_says_what_on_call_asks_first() -> None:
    doc = status_page(snapshot(instance()), NOW)
    text = check_page(doc)
    assert '<meta http-equiv="refresh" content="5">' in doc
    assert 'id="instance-VI_1"' in doc
    for fact in ("VI_1", "eth0", "VRID 51", "MASTER", "152", "configured 150", "192.0.2.99/24",
                 "this host (192.0.2.1)", "7 / 596", "auth-mismatch", "for 9 min 56 s"):  # fmt: skip
        assert fact in text, fact
    assert "bad-ttl" not in text  # only errors that happened
    assert "SPLIT BRAIN" not in text and "FAULT:" not in text
    (svg,) = svgs(doc)
    (master,) = titles(svg, "band MASTER")
    assert "BACKUP -> MASTER" in master and "advertisement timeout (master down timer expired)" in master
    assert "advertisement timeout" in text  # the transitions table says it in words too


def test_the_header_names_the_router_id_and_the_host() -> None:
    doc = status_page(replace(snapshot(instance()), router_id="lb-1"), NOW)
    assert "<h1>vrrpkit on lb-1 <small>(host h1)</small></h1>" in doc
    assert "<h1>vrrpkit on h1</h1>" in status_page(snapshot(instance()), NOW)


def test_a_backup_names_the_master_it_hears() -> None:
    text = check_page(status_page(snapshot(instance(state="BACKUP", master_priority=200)), NOW))
    assert "192.0.2.2, priority 200" in text


def test_split_brain_and_fault_get_banners() -> None:
    split = instance(split_brain=["02:76:6b:00:00:02"], split_brain_events=1, split_brain_since=NOW - 30)
    fault = instance("VI_2", "FAULT", fault_reason="track_script chk failed")
    doc = status_page(snapshot(split, fault), NOW)
    text = check_page(doc)
    assert 'class="banner split-brain" data-instance="VI_1"' in doc
    assert "02:76:6b:00:00:02 also answer(s) for 192.0.2.99/24" in text
    assert 'class="banner fault" data-instance="VI_2"' in doc and "track_script chk failed" in text
    (svg,) = svgs(doc)
    (overlay,) = titles(svg, "overlay split")
    assert "02:76:6b:00:00:02" in overlay


def test_names_from_the_config_are_escaped_everywhere() -> None:
    evil = '<script>alert("x")</script>'
    inst = instance(evil, "FAULT", fault_reason=evil, vips=[evil], split_brain=[evil], sync_group=evil)
    snap = replace(snapshot(inst), hostname=evil, scripts={evil: ScriptStatus(False, 1, evil)})
    doc = status_page(snap, NOW)
    check_page(doc)  # no <script> survives
    assert "&lt;script&gt;" in doc


def test_bands_follow_the_transitions() -> None:
    trans = [
        T(NOW - 900, "INIT", "BACKUP", "startup"),
        T(NOW - 800, "BACKUP", "MASTER", "timeout"),
        T(NOW - 100, "MASTER", "FAULT", "link down"),
    ]
    bands = state_bands(instance(transitions=trans), NOW - 1000, NOW)
    assert [(b.start, b.end, b.kind) for b in bands] == [
        (NOW - 900, NOW - 800, "BACKUP"),
        (NOW - 800, NOW - 100, "MASTER"),
        (NOW - 100, NOW, "FAULT"),
    ]  # nothing before startup: it was not running


def test_a_state_older_than_the_window_fills_it_from_the_start() -> None:
    trans = [T(NOW - 7200, "INIT", "BACKUP", "startup"), T(NOW - 5000, "BACKUP", "MASTER", "timeout")]
    bands = state_bands(instance(transitions=trans), NOW - 3600, NOW)
    assert [(b.kind, b.hatched) for b in bands if b.end > NOW - 3600] == [("MASTER", False)]


def test_dropped_history_is_drawn_as_not_known() -> None:
    trans = [T(NOW - 60, "BACKUP", "MASTER", "timeout")]
    bands = state_bands(instance(transitions=trans, transitions_total=300), NOW - 3600, NOW)
    assert [(b.start, b.kind, b.hatched) for b in bands] == [(NOW - 3600, "BACKUP", True), (NOW - 60, "MASTER", False)]


def test_the_window_is_the_last_hour_or_the_uptime_but_at_least_a_minute() -> None:
    assert window_start(snapshot(uptime=7200), NOW) == NOW - 3600
    assert window_start(snapshot(uptime=600), NOW) == NOW - 600
    assert window_start(snapshot(uptime=5), NOW) == NOW - 60


def test_only_transitions_in_the_window_are_listed() -> None:
    trans = [T(NOW - 7200, "INIT", "BACKUP", "startup"), T(NOW - 30, "BACKUP", "MASTER", "timeout")]
    doc = status_page(snapshot(instance(transitions=trans), uptime=7201), NOW)
    check_page(doc)
    listed = doc[doc.index('<table class="transitions">') :]
    listed = listed[: listed.index("</table>")]
    assert "timeout" in listed and "startup" not in listed


def test_daemon_wide_counters_show_when_something_happened() -> None:
    snap = replace(snapshot(instance()), counters={"routes_installed": 4, "routes_failed": 1, "mails_sent": 0})
    doc = status_page(snap, NOW)
    text = check_page(doc)
    assert "routes_installed" in text and '<span class="bad">routes_failed</span>' in doc and "mails_sent" not in text
    assert "daemon-counters" not in status_page(snapshot(instance()), NOW)


def test_an_empty_daemon_says_so() -> None:
    text = check_page(status_page(snapshot(), NOW))
    assert "No vrrp_instance is configured" in text


def test_the_svg_has_one_lane_per_instance() -> None:
    doc = status_page(snapshot(instance("A"), instance("B", "BACKUP")), NOW)
    (svg,) = svgs(doc)
    lanes = [g.get("data-lane") for g in svg.iter(f"{SVG_NS}g") if g.get("class") == "lane"]
    assert lanes == ["A", "B"]


def test_tracked_objects_show_their_status_and_what_it_does_to_the_priority() -> None:
    tracks = [
        TrackStatus("chk_web", "script", 2, ok=True),
        TrackStatus("eth1", "interface", 0, ok=False),
        TrackStatus("/run/app.prio", "file", 1, value=-20),
        TrackStatus("chk_<b>", "script", -10),
    ]
    text = check_page(status_page(snapshot(instance(tracks=tracks)), NOW))
    for fact in ("script chk_web: ok (weight +2)", "interface eth1: down (FAULT when failed)",
                 "file /run/app.prio: value -20 (weight +1)", "script chk_<b>: not run yet (weight -10)"):  # fmt: skip
        assert fact in text, fact
