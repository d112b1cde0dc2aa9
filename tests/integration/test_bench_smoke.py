"""bench/run.py --quick runs end to end: both daemons measured in one lab, every number present.

No performance threshold on purpose (design.md: benchmarks print ratios, tests never time things).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vrrpkit.lab import cleanup_leftovers

BENCH = Path(__file__).resolve().parents[2] / "bench" / "run.py"
KEEPALIVED = "/usr/sbin/keepalived"

pytestmark = [
    pytest.mark.root,
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(not os.access(KEEPALIVED, os.X_OK), reason=f"needs keepalived at {KEEPALIVED}"),
]


def test_quick_mode_measures_both_daemons(lab_name: str, tmp_path: Path) -> None:
    argv = [sys.executable, str(BENCH), "--quick", "--json", "--lab-name", lab_name, "--keep-logs", str(tmp_path)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    finally:
        cleanup_leftovers(lab_name)  # only matters if the run was killed by the timeout
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    master = report["roles"]["master"]
    for kind in ("vrrpkit", "keepalived"):
        result = master[kind]
        assert result["daemon"] == kind
        assert result["adverts_on_wire"] > 0, result
        assert result["vrids_seen"] == report["params"]["instances"], result
        for key in ("cpu_pct_one_core", "cpu_us_per_advert", "rss_mb", "pss_mb"):
            assert isinstance(result[key], float | int) and result[key] >= 0, (key, result)
    assert master["keepalived"]["processes"] >= 2  # the parent and its VRRP child are both counted
    assert all(isinstance(v, float | int) for v in master["ratio"].values()), master["ratio"]
    micro = report["micro"]
    assert micro["handle_timer_cached_advert"]["best_us"] > 0
    assert micro["datagram_received_valid_advert"]["best_us"] > 0
