"""`vrrpkit run` keeps ssl (and pyroute2, which imports it unconditionally) out of the daemon until
routes, rules or VMACs need them (cli/cmd_run.py): every module the daemon imports at start must
import without them. A top-level pyroute2 import in io/vmac.py once made every `run` die at start."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
sys.modules["ssl"] = None
import vrrpkit.cli.cmd_run, vrrpkit.daemon.app, vrrpkit.daemon.building, vrrpkit.daemon.reloading
import vrrpkit.io.vmac, vrrpkit.io.routes, vrrpkit.io.netlink
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pyroute2", "ssl", "_ssl")))
"""


def test_daemon_modules_import_without_ssl_or_pyroute2() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "['ssl']"  # only our own None entry
