"""The demo is the product's main story: it must pass in CI, with either daemon, and leave nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vrrpkit.lab import list_labs

pytestmark = pytest.mark.root


@pytest.mark.parametrize("variant", [[], ["--with-keepalived"]], ids=["vrrpkit", "keepalived"])
def test_demo_passes_and_cleans_up(variant: list[str], lab_name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vrrpkit", "demo", "--json", "--name", lab_name, *variant],
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
