"""The demo's report and a capture's report, from real outputs: `fixtures/demo-result.json` is what
`vrrpkit demo --json` printed on this machine (vrrpkit as the daemon), and
`fixtures/watch-lab-split-brain.json` is the summary line of `vrrpkit watch -r --json` on the
lab's split-brain capture (tests/data/captures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from report_markup import SVG_NS, check_page, svgs, titles

from vrrpkit.report.capture import capture_page
from vrrpkit.report.demo import demo_page, holding_periods, ownership_chart

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


def lane_titles(svg: Any, lane: str, cls: str) -> list[str]:
    for g in svg.iter(f"{SVG_NS}g"):
        if g.get("class") == "lane" and g.get("data-lane") == lane:
            return titles(g, cls)
    raise AssertionError(f"no lane {lane}")


def test_holding_periods_come_from_change_only_samples() -> None:
    samples = [(0.0, []), (5.0, ["h1"]), (9.7, ["h1", "h2"]), (18.1, ["h1"]), (18.2, []), (21.6, ["h1"])]
    assert holding_periods("h1", samples, 30.0) == [(5.0, 18.2), (21.6, 30.0)]
    assert holding_periods("h2", samples, 30.0) == [(9.7, 18.1)]
    assert holding_periods("h3", samples, 30.0) == []


def test_the_demo_report_tells_the_six_steps_with_the_split_brain_as_overlapping_bands() -> None:
    result = load("demo-result.json")
    doc = demo_page(result)
    text = check_page(doc)
    assert "Demo PASSED: 6 of 6 steps ok" in text
    for n in range(1, 7):
        assert f'id="step-{n}"' in doc
    lab_svg, own_svg, timing_svg = svgs(doc)
    assert [g.get("data-host") for g in lab_svg.iter(f"{SVG_NS}g") if g.get("class") == "host"] == ["h1", "h2", "h3"]
    # during step 2's split brain all three lanes hold the VIP at the same moment
    split_at = next(o["time"] for o in result["ownership"] if len(o["holders"]) == 3)
    chart = ownership_chart(result)
    for host in ("h1", "h2", "h3"):
        lane = next(lane for lane in chart.lanes if lane.key == host)
        assert any(b.start <= split_at < b.end for b in lane.bands), host
    splits = lane_titles(own_svg, "holders", "band split")
    assert any(t.startswith("SPLIT BRAIN: h1, h2, h3 all hold 192.0.2.99") for t in splits), splits
    spans = [g.get("data-label") for g in own_svg.iter(f"{SVG_NS}g") if "span" in (g.get("class") or "")]
    assert spans == ["1. elect", "2. cloud", "3. investigate", "4. convert, reload", "5. failover", "6. down"]
    # h1 was killed with its link down: what is left on it is drawn apart, and answers nobody
    assert any("dead link" in t for t in lane_titles(own_svg, "h1", "band holds"))
    assert lane_titles(own_svg, "h1", "marker power-off")
    killed = next(e["time"] for e in result["events"] if e["kind"] == "power-off")
    holders = next(lane for lane in chart.lanes if lane.key == "holders")
    after = [b for b in holders.bands if b.start >= killed]
    assert [b.label for b in after][:2] == ["nobody", "one: h2"], [b.label for b in after]
    assert "verdict: multicast-blocked" in text
    assert "unicast_peer { 192.0.2.2 192.0.2.3 }" in text
    assert "failover in 2.86 s (bound: Master_Down_Interval 3.602 s" in text
    assert len(titles(timing_svg, "band")) == 4


def test_a_demo_that_never_got_a_lab_still_gets_a_page() -> None:
    step = {"step": 1, "title": "Three hosts", "ok": False, "seconds": 0.1, "details": ["error: boom"]}
    failed = {"ok": False, "daemon": "vrrpkit", "seconds": 0.4, "steps": [step]}
    text = check_page(demo_page(failed))
    assert "Demo FAILED: 0 of 1 steps ok" in text and "error: boom" in text


def test_the_capture_report_shows_who_advertised_when_and_the_overlap() -> None:
    summary = load("watch-lab-split-brain.json")
    doc = capture_page(summary, "lab-split-brain.pcap")
    text = check_page(doc)
    assert 'class="banner split-brain" data-code="split-brain"' in doc
    (svg,) = svgs(doc)
    lanes = [g.get("data-lane") for g in svg.iter(f"{SVG_NS}g") if g.get("class") == "lane"]
    assert lanes == ["192.0.2.1", "192.0.2.2", "trouble"]
    (first,) = lane_titles(svg, "192.0.2.1", "band MASTER")
    assert "25 adverts, priority 150" in first
    (overlap,) = lane_titles(svg, "trouble", "band split")
    assert overlap.startswith("two masters for 2.21 s")
    assert "192.0.2.1 (priority 150" in overlap and "192.0.2.2 (priority 100" in overlap
    assert "02:76:6b:00:00:02" in text and "37 frames, 37 VRRP" in text


def test_an_empty_capture_says_so() -> None:
    text = check_page(capture_page({"type": "summary", "table": [], "flags": [], "timeline": {"vrids": []}}, "x"))
    assert "No VRRP advertisement" in text


def test_watch_replay_writes_the_report_from_its_own_summary(tmp_path: Path, capsys: Any) -> None:
    """The real pipeline: `vrrpkit watch -r CAPTURE --report` on the lab's split-brain capture."""
    from vrrpkit.cli.main import main

    capture = Path(__file__).parents[2] / "data" / "captures" / "lab-split-brain.pcap"
    page = tmp_path / "capture.html"
    code = main(["watch", "-r", str(capture), "--report", str(page), "--json"])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 1 and summary["type"] == "summary"  # the split brain is flagged
    doc = page.read_text()
    text = check_page(doc)
    assert "lab-split-brain.pcap" in text
    (svg,) = svgs(doc)
    assert lane_titles(svg, "trouble", "band split")
    assert doc == capture_page(summary, str(capture))  # the page is the JSON summary, drawn
