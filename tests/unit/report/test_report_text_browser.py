"""The pages in a terminal browser (`w3m -dump`): every fact the SVG draws is also text, and the
SVG's own words do not spill markup into the dump."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report_status import NOW, T, instance, snapshot

from vrrpkit.report.demo import demo_page
from vrrpkit.report.status import status_page

pytestmark = pytest.mark.skipif(shutil.which("w3m") is None, reason="needs w3m (scripts/bootstrap installs it)")


def dump(page: str) -> str:
    done = subprocess.run(["w3m", "-dump", "-cols", "160", "-T", "text/html"], input=page, capture_output=True,
                          text=True, check=True, timeout=20)  # fmt: skip
    return done.stdout


def test_the_status_page_reads_in_a_terminal() -> None:
    trans = [T(NOW - 600, "INIT", "BACKUP", "startup", "startup"),
             T(NOW - 596, "BACKUP", "MASTER", "advertisement timeout", "master down timer expired")]  # fmt: skip
    split = instance(transitions=trans, split_brain=["02:76:6b:00:00:02"], split_brain_since=NOW - 30)
    text = dump(status_page(snapshot(split, instance("VI_<2>", "FAULT", fault_reason="link down")), NOW))
    lines = text.splitlines()
    assert any(line.startswith("SPLIT BRAIN since") for line in lines)
    assert any(line.startswith("FAULT: VI_<2>") for line in lines)  # escaped in HTML, plain in the dump
    row = next(line for line in lines if line.startswith("VI_1"))
    assert "this host (192.0.2.1)" in row and "7 / 596" in row
    assert any("BACKUP MASTER advertisement timeout" in " ".join(line.split()) for line in lines)
    assert "<" not in text.replace("VI_<2>", "")  # no markup leaks


def test_the_demo_report_reads_in_a_terminal() -> None:
    result = json.loads((Path(__file__).parent / "fixtures" / "demo-result.json").read_text())
    text = dump(demo_page(result))
    assert "Demo PASSED: 6 of 6 steps ok" in text
    assert "verdict: multicast-blocked" in text
    assert "failover in 2.86 s" in text
