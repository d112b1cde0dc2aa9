"""contrib/prometheus: the alert and compatibility rules load (`promtool check rules`) and fire as
their tests say (`promtool test rules`), with Debian's promtool (scripts/promtool fetches it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "contrib" / "prometheus"
PROMTOOL = str(ROOT / "scripts" / "promtool")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], cwd=RULES, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("name", ["vrrpkit-rules", "keepalived-compat-rules"])
def test_rules_check_and_their_tests_pass(name: str) -> None:
    checked = promtool("check", "rules", f"{name}.yml")
    assert checked.returncode == 0 and "SUCCESS" in checked.stdout, checked.stdout + checked.stderr
    tested = promtool("test", "rules", f"{name}.test.yml")
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_every_alert_has_a_test_and_a_row_in_the_docs() -> None:
    rules = (RULES / "vrrpkit-rules.yml").read_text()
    tests = (RULES / "vrrpkit-rules.test.yml").read_text()
    doc = (ROOT / "docs" / "metrics.md").read_text()
    alerts = [line.split(":", 1)[1].strip() for line in rules.splitlines() if line.strip().startswith("- alert:")]
    assert len(alerts) == 8
    assert [a for a in alerts if f"alertname: {a}\n" not in tests] == []
    assert [a for a in alerts if f"`{a}`" not in doc] == []
