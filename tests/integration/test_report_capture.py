"""`vrrpkit watch -r CAPTURE --report` in a real browser: the lab's split-brain capture
(tests/data/captures/lab-split-brain.pcap: two masters of VRID 51) drawn as a timeline, rendered by
headless Chromium with no network, and read back from the DOM it built."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from dom import parse

from vrrpkit.lab.browser import dump_dom_offline

pytestmark = pytest.mark.root

CAPTURE = Path(__file__).parents[1] / "data" / "captures" / "lab-split-brain.pcap"


def test_a_capture_report_shows_both_masters_and_their_overlap(tmp_path: Path) -> None:
    page = tmp_path / "capture.html"
    done = subprocess.run([sys.executable, "-m", "vrrpkit", "watch", "-r", str(CAPTURE), "--report", str(page)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stderr  # flagged: two masters
    dom = parse(dump_dom_offline(page))
    assert "split-brain" in dom.find("div", "banner split-brain").text()
    svg = dom.find("svg", "timeline")
    first = svg.find("g", "lane", data_lane="192.0.2.1").find("g", "band", data_state="MASTER")
    second = svg.find("g", "lane", data_lane="192.0.2.2").find("g", "band", data_state="MASTER")
    assert "priority 150" in first.title() and "priority 100" in second.title()
    overlap = svg.find("g", "lane", data_lane="trouble").find("g", "band", data_state="split")
    start, end = float(overlap.attrs["data-start"]), float(overlap.attrs["data-end"])
    assert float(second.attrs["data-start"]) == start and start < end <= float(first.attrs["data-end"])
    senders = [r.find_all("td")[1].text() for r in dom.find("table", "senders").find_all("tr")[1:]]
    assert senders == ["192.0.2.1", "192.0.2.2"]
