"""./scripts/package builds dist/vrrpkit_<version>_all.deb with Debian's tooling; the package holds
what a user needs (command, man page, completion, unit, /etc/default conffile, docs, contrib) and
runs on Debian 12's own python3-pyroute2 and python3-prometheus-client (extracted into a scratch
root and run with /usr/bin/python3). The full `apt install` on a fresh Debian 12 is
../shared/tools/fresh-debian's job (it takes minutes)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vrrpkit import __version__

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="installs build dependencies with apt")]
SYSTEM = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
EXPECTED = [
    "./usr/bin/vrrpkit",
    "./usr/share/man/man8/vrrpkit.8.gz",
    "./usr/share/bash-completion/completions/vrrpkit",
    "./lib/systemd/system/vrrpkit.service",
    "./etc/default/vrrpkit",
    "./usr/share/doc/vrrpkit/README.md.gz",
    "./usr/share/doc/vrrpkit/metrics.md.gz",
    "./usr/share/doc/vrrpkit/copyright",
    "./usr/share/vrrpkit/prometheus/vrrpkit-rules.yml",
    "./usr/share/vrrpkit/prometheus/keepalived-compat-rules.yml",
    "./usr/share/vrrpkit/grafana/vrrpkit-dashboard.json",
    "./usr/lib/python3/dist-packages/vrrpkit/daemon/app.py",
]


@pytest.fixture(scope="module")
def deb() -> Path:
    done = subprocess.run([str(ROOT / "scripts" / "package")], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    path = ROOT / done.stdout.strip().splitlines()[-1]
    assert path.name == f"vrrpkit_{__version__}_all.deb" and path.exists()
    # scripts/package repeats every build warning on stderr (apt's own chatter may be there too)
    assert [line for line in done.stderr.splitlines() if "warn" in line.lower()] == [], done.stderr
    return path


def dpkg_deb(*args: str) -> str:
    return subprocess.run(["dpkg-deb", *args], capture_output=True, text=True, check=True).stdout


def test_file_list_control_and_conffiles(deb: Path, tmp_path: Path) -> None:
    listed = {line.split()[-1] for line in dpkg_deb("-c", str(deb)).splitlines()}
    assert [p for p in EXPECTED if p not in listed] == []
    assert not any("/tests/" in p or ".pyc" in p for p in listed)
    fields = dpkg_deb("-f", str(deb), "Depends", "Conflicts", "Architecture")
    for dep in ("python3-pyroute2 (>= 0.7.2)", "python3-prometheus-client (>= 0.16)", "python3-scapy (>= 2.5)"):
        assert dep in fields
    assert "Architecture: all" in fields and "Conflicts" not in fields  # one daemon per host: the unit's Conflicts=
    control = tmp_path / "DEBIAN"
    dpkg_deb("-e", str(deb), str(control))
    assert (control / "conffiles").read_text().split() == ["/etc/default/vrrpkit"]
    assert "deb-systemd-invoke start" not in (control / "postinst").read_text()  # never stops a running keepalived


def test_the_packaged_files_work_with_debian_s_python_libraries(deb: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    dpkg_deb("-x", str(deb), str(root))
    env = {**SYSTEM, "PYTHONPATH": str(root / "usr/lib/python3/dist-packages")}
    run = subprocess.run([str(root / "usr/bin/vrrpkit"), "--version"], env=env, capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert run.stdout.strip() == f"vrrpkit {__version__}"
    probe = (
        "import pyroute2, prometheus_client, vrrpkit.io.netlink as nl, vrrpkit.daemon.metrics as m;"
        "from vrrpkit.control.snapshot import Snapshot;"
        "print(nl.async_iproute_class() is None, pyroute2.__file__.startswith('/usr/lib/python3/dist-packages'),"
        " b'vrrpkit_build_info' in prometheus_client.generate_latest("
        "  m.build_registry(lambda: Snapshot(1, 'h', 0, 0, 0))))"
    )
    done = subprocess.run(["/usr/bin/python3", "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True", "True"]  # Debian's pyroute2 0.7.2: the threaded adapter
    assert (root / "lib/systemd/system/vrrpkit.service").read_bytes() == (ROOT / "contrib/vrrpkit.service").read_bytes()
    subprocess.run(["bash", "-n", str(root / "usr/share/bash-completion/completions/vrrpkit")], check=True)
    if shutil.which("man"):
        page = subprocess.run(["man", "-l", str(root / "usr/share/man/man8/vrrpkit.8.gz")], env={**SYSTEM,
                              "MANWIDTH": "100"}, capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert "vrrpkit run" in page and "--log-facility" in page
