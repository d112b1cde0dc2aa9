"""The demo is the product's main story: it must pass in CI, with either daemon, and leave nothing.
Its report is rendered in headless Chromium (with no network) and read back from the DOM."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dom import Node, parse

from vrrpkit.lab import list_labs
from vrrpkit.lab.browser import dump_dom_offline

pytestmark = pytest.mark.root


@pytest.mark.parametrize("variant", [[], ["--with-keepalived"]], ids=["vrrpkit", "keepalived"])
def test_demo_passes_and_cleans_up(variant: list[str], lab_name: str, tmp_path: Path) -> None:
    page = tmp_path / "demo.html"
    proc = subprocess.run(
        [sys.executable, "-m", "vrrpkit", "demo", "--json", "--name", lab_name, "--report", str(page), *variant],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.stdout, proc.stderr
    report = json.loads(proc.stdout)
    failed = [s for s in report["steps"] if not s["ok"]]
    assert proc.returncode == 0 and report["ok"], json.dumps(failed, indent=2)[-4000:]
    steps = {s["step"]: s for s in report["steps"]}
    assert steps[2]["split_brain_after"] <= steps[2]["master_down_interval"] + 1.0
    assert steps[3]["investigate"]["verdict"] == "multicast-blocked"
    assert steps[5]["failover"] <= steps[5]["bound"] + 0.5
    assert lab_name not in list_labs()
    check_report(parse(dump_dom_offline(page)), report)


def check_report(dom: Node, report: dict[str, Any]) -> None:
    """What a reader of the page sees, as Chromium built it: six steps, three hosts' lanes overlapping
    during the split brain, the verdict, the converted lines, the failover against its bound."""
    assert "Demo PASSED: 6 of 6 steps ok" in dom.find(id="result").text()
    rows = dom.find("table", "steps").find_all("tr")[1:]
    assert [r.find_all("td")[0].text() for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert all(r.find_all("td")[2].text() == "ok" for r in rows)
    timeline = dom.find("svg", "timeline")  # the first timeline: who held the VIP
    assert len(timeline.find_all("g", "span")) == 6
    # the split brain: some moment at which every host's lane shows the VIP held
    lanes = {
        h: timeline.find("g", "lane", data_lane=h).find_all("g", "band", data_state="holds") for h in ("h1", "h2", "h3")
    }
    assert all(lanes.values()), {h: len(b) for h, b in lanes.items()}
    t_split = next(o["time"] for o in report["ownership"] if len(o["holders"]) == 3)
    for host, bands in lanes.items():
        assert any(_covers(b, t_split) for b in bands), f"{host} not holding the VIP at {t_split} s"
    holders = timeline.find("g", "lane", data_lane="holders").find_all("g", "band", data_state="split")
    assert any(b.title().startswith("SPLIT BRAIN: h1, h2, h3") and _covers(b, t_split) for b in holders)
    assert "multicast-blocked" in dom.find(id="verdict").text()
    assert "unicast_peer" in dom.find("pre", "converted").text()
    assert "failover in" in dom.find("ul", "timing").text()


def _covers(band: Node, t: float) -> bool:
    return float(band.attrs["data-start"]) <= t < float(band.attrs["data-end"])
