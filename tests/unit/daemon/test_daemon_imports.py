"""`vrrpkit run` keeps ssl (and pyroute2, which imports it unconditionally) out of the daemon until
routes, rules or VMACs need them (cli/cmd_run.py): every module the daemon imports at start must
import without them. A top-level pyroute2 import in io/vmac.py once made every `run` die at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


# What `vrrpkit run` must not load: each is memory for nothing (issue 13: <= 25 MB at 200 instances).
# argparse finds the terminal width with shutil (which imports bz2 and lzma); ctypes.util imports
# shutil and tempfile; pathlib brings urllib.parse and fnmatch; logging.handlers brings pickle and
# queue (only the syslog fallback uses it); random is for ${_RANDOM} in a config, imported then.
HEAVY = ("shutil", "tempfile", "pathlib", "logging.handlers", "pickle", "random", "bz2", "lzma")

START = """
import sys
sys.modules["ssl"] = None
from vrrpkit.cli.main import build_parser
args = build_parser("run").parse_args(["run", "-f", "/dev/null", "--no-syslog"])
import vrrpkit.daemon.app, vrrpkit.daemon.building, vrrpkit.daemon.reloading, vrrpkit.io.caps
from vrrpkit.cli.cmd_run import _log_options
from vrrpkit.daemon import logsetup
logsetup.configure(_log_options(args))
from vrrpkit.config.files import load_file
load_file(sys.argv[1])
print(" ".join(sorted(m for m in %r if m in sys.modules)))
"""


CONF = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24
    }
}
"""


def test_run_loads_no_module_it_does_not_use(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}  # coverage imports them all
    argv = [sys.executable, "-c", START % (HEAVY,), str(conf)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == ""
