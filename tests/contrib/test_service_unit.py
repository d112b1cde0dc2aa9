"""contrib/vrrpkit.service (the packaged /lib/systemd/system/vrrpkit.service): systemd accepts it
(`systemd-analyze verify`) and its sandbox rates far below keepalived's unit (`systemd-analyze
security --offline`: keepalived.service 9.6 UNSAFE)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "contrib" / "vrrpkit.service"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="no systemd-analyze (scripts/bootstrap installs systemd)")


def local_unit(tmp_path: Path) -> Path:
    """The unit with /usr/bin/vrrpkit pointing at this checkout's vrrpkit (verify checks it exists)."""
    vrrpkit = Path(sys.executable).with_name("vrrpkit")
    unit = tmp_path / "vrrpkit.service"
    unit.write_text(UNIT.read_text().replace("/usr/bin/vrrpkit", str(vrrpkit)))
    return unit


def exposure(unit: Path) -> float:
    done = subprocess.run([str(ANALYZE), "security", "--offline=true", str(unit)], capture_output=True, text=True,
                          check=False)  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    assert match, done.stdout + done.stderr
    return float(match.group(1))


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    done = subprocess.run([str(ANALYZE), "verify", "--man=no", str(local_unit(tmp_path))], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_the_sandbox_rates_far_below_keepalived_s_unit(tmp_path: Path) -> None:
    ours = exposure(local_unit(tmp_path))
    assert ours <= 3.5, ours
    keepalived = Path("/lib/systemd/system/keepalived.service")
    if keepalived.exists():
        assert exposure(keepalived) >= 9.0 > ours + 5


def test_the_unit_keeps_what_vrrp_and_the_daemon_need() -> None:
    text = UNIT.read_text()
    settings = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["Type"] == "notify" and settings["WatchdogSec"] == "30s"
    assert settings["EnvironmentFile"] == "-/etc/default/vrrpkit"
    assert settings["ExecStart"] == "/usr/bin/vrrpkit run --dont-fork $DAEMON_ARGS"
    from vrrpkit.io import caps

    # exactly what the daemon keeps after its own capability drop: a smaller set would make capset fail
    assert set(settings["CapabilityBoundingSet"].split()) == set(caps.NAMES.values())
    for family in ("AF_NETLINK", "AF_PACKET", "AF_INET", "AF_INET6", "AF_UNIX"):
        assert family in settings["RestrictAddressFamilies"]
    assert "Conflicts=keepalived.service" in text
