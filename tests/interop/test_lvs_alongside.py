"""One keepalived.conf with VRRP and LVS on one host: `vrrpkit run` does the VRRP, `keepalived --check` the LVS.

Both read the same file (literally: keepalived's `-f` names vrrpkit's copy). What this shows, on a
two-host lab with keepalived's own VRRP as the peer:

- `vrrpkit run` takes the file, runs its VRRP instance and says once that the virtual_server part is
  keepalived's checker's;
- `keepalived --check` starts beside it with its own pid files, reads the same file, starts only its
  health-check child (no VRRP child: no second VRRP speaker for the VRID), and touches neither the VIP
  nor vrrpkit: no state change, no VIP move, while it starts, runs and stops.

IPVS: when the kernel has ip_vs (`/proc/net/ip_vs`), the checker must keep running. Without it (this
project's CI kernel has no modules), keepalived 2.2.7 logs "IPVS: Can't initialize ipvs" and exits 1:
the test then checks that it got that far (started its checker on this file) and that its exit
disturbed nothing. Time: about 10 s.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from needs import KEEPALIVED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from confgen import VIP, config, instance, wait_holders

from vrrpkit.lab import Lab

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]

LVS = f"""
virtual_server {VIP} 80 {{
    delay_loop 2
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 192.0.2.20 80 {{
        weight 1
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}
}}
"""


def status(lab: Lab, host: str) -> dict:  # type: ignore[type-arg]
    out = lab.exec(host, Lab.vrrpkit_argv("status", "--json"), timeout=10).stdout
    return json.loads(out)["instances"][0]  # type: ignore[no-any-return]


def test_vrrpkit_runs_vrrp_and_keepalived_check_runs_lvs_from_one_file(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    text = config(instance(150)) + LVS
    lab.run_keepalived("h2", config(instance(100)))  # keepalived's own VRRP as the peer
    vk = lab.run_vrrpkit("h1", text)
    wait_holders(lab, {"h1"}, 10)
    assert vk.wait_for_log("keepalived's checker", 5), vk.log()
    assert vk.log().count("keepalived --check") == 1  # said once
    before = status(lab, "h1")
    assert before["state"] == "MASTER"

    assert vk.conf_path is not None
    checker = lab.run_keepalived("h1", text, extra_args=["-f", str(vk.conf_path)], role="--check")
    assert checker.wait_for_log("Starting Healthcheck child process", 10), checker.log()
    log = checker.log()
    assert f"Opening file '{vk.conf_path}'" in log  # the very file vrrpkit runs
    assert "VRRP child" not in log  # keepalived does not speak VRRP here: vrrpkit does
    if lab.exec("h1", ["test", "-e", "/proc/net/ip_vs"], timeout=5, check=False).returncode == 0:
        time.sleep(3)
        assert checker.alive(), checker.log()
    else:
        assert checker.wait_for_log("Can't initialize ipvs", 10), checker.log()
        assert checker.wait(10) is not None  # keepalived 2.2.7 without ip_vs: FATAL, exit
    time.sleep(2)
    assert vk.alive()
    assert lab.vip_holders(VIP) == {"h1"}
    after = status(lab, "h1")
    assert after["state"] == "MASTER"
    assert after["transitions_total"] == before["transitions_total"]  # no flap
    if checker.alive():
        checker.stop(timeout=10)
        time.sleep(1)
        assert vk.alive() and lab.vip_holders(VIP) == {"h1"}
