"""contrib/grafana/vrrpkit-dashboard.json: valid JSON Grafana imports, every query valid PromQL
(promtool parses each one as a recording rule), reading only metrics docs/metrics.md documents.
tests/integration/test_ops.py checks the same names against a live daemon's /metrics."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from grafana_queries import DASHBOARD, ROOT, metric_names, queries, substituted


def test_dashboard_is_importable_json() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] == "vrrpkit" and doc["__inputs"][0]["name"] == "DS_PROMETHEUS"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for p in doc["panels"]:
        for t in p.get("targets", []):
            assert t["datasource"]["uid"] == "${DS_PROMETHEUS}"


def test_metric_name_extraction() -> None:
    assert metric_names('sum by (vrid, vip) (vrrpkit_vip_held{job="$job"}) == 0') == {"vrrpkit_vip_held"}
    assert metric_names("rate(process_cpu_seconds_total{a=~\"x|y\"}[$__rate_interval]) * 1e2") == {
        "process_cpu_seconds_total"}  # fmt: skip
    assert metric_names("a_total * on (x) group_left (state) (b == 1) or c") == {"a_total", "b", "c"}
    assert metric_names("label_values(vrrpkit_build_info{job=\"$job\"}, instance)") == {"vrrpkit_build_info"}


def test_every_query_parses_and_reads_documented_metrics(tmp_path: Path) -> None:
    exprs = queries()
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": substituted(e)}
                                                        for i, e in enumerate(exprs) if "label_values" not in e]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    checked = subprocess.run([str(ROOT / "scripts" / "promtool"), "check", "rules", str(path)],
                             capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    doc = (ROOT / "docs" / "metrics.md").read_text()
    names = set().union(*(metric_names(e) for e in exprs))
    assert {n for n in names if n.startswith("vrrpkit_") and f"`{n}`" not in doc} == set()
    assert {n for n in names if not n.startswith(("vrrpkit_", "process_"))} == set()
