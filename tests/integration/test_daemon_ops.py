"""Operating `vrrpkit run`: refusals, notify scripts, track files, metrics, systemd readiness, signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from confgen import VIP, config, instance, wait_holders

from vrrpkit.lab import Lab
from vrrpkit.lab.lab import wait_until

pytestmark = pytest.mark.root

MakeLab = Callable[..., Lab]


def run_cli(lab: Lab, host: str, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = Lab.vrrpkit_argv(*args)
    if user:
        argv = ["setpriv", f"--reuid={user}", "--regid=65534", "--clear-groups", *argv]
    return lab.exec(host, argv, check=False, timeout=20)


def test_refusals_have_one_clear_line_and_exit_codes(make_lab: MakeLab, tmp_path: Path) -> None:
    lab = make_lab(1)
    bad = tmp_path / "bad.conf"
    bad.write_text(config(instance(100)).replace("virtual_router_id 51", "virtual_router_id 300"))
    proc = run_cli(lab, "h1", "run", "-f", str(bad), "--control", str(tmp_path / "a.sock"))
    assert proc.returncode == 1
    assert "error" in proc.stderr and "not starting" in proc.stderr.splitlines()[-1]
    noif = tmp_path / "noif.conf"
    noif.write_text(config(instance(100, interface="eth7")))
    proc = run_cli(lab, "h1", "run", "-f", str(noif), "--control", str(tmp_path / "b.sock"))
    # keepalived 2.2.7 refuses a missing interface too ("Non-existent interface specified in configuration")
    assert proc.returncode == 1 and "interface eth7 does not exist" in proc.stderr
    assert "not starting" in proc.stderr.splitlines()[-1]
    public = Path(tempfile.mkdtemp(prefix="vrrpkit-test-"))  # readable by nobody, unlike tmp_path
    try:
        good = public / "good.conf"
        good.write_text(config(instance(100)))
        public.chmod(0o755)
        good.chmod(0o644)
        proc = run_cli(lab, "h1", "run", "-f", str(good), "--control", str(public / "c.sock"), user="nobody")
    finally:
        shutil.rmtree(public)
    if "must run as root" not in proc.stderr:
        pytest.skip(f"cannot run the venv as nobody here: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 2


def test_notify_scripts_get_keepalived_arguments_in_order(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    out = lab.workdir / "notify.log"
    script = lab.workdir / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$*" >> {out}\n')
    script.chmod(0o755)
    extra = f'notify_master "{script} master-hook"\nnotify "{script}"\nnotify_stop "{script} stop-hook"'
    lab.run_vrrpkit("h1", config(instance(150, version=3, advert_int="0.1", extra=extra)))
    assert wait_until(lambda: lab.vip_holders(VIP) == {"h1"} or None, 8)
    lab.processes("h1")[0].stop()
    lines = out.read_text().splitlines()
    assert lines == [
        "INSTANCE VI_1 BACKUP 150",
        "master-hook",
        "INSTANCE VI_1 MASTER 150",
        "stop-hook",
        "INSTANCE VI_1 STOP 150",
    ], lines


def test_track_file_weight_moves_the_vip(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    value = lab.workdir / "prio-h1"
    value.write_text("0\n")
    track = f'track_file weightfile {{\n    file "{value}"\n    weight -10\n}}\n'
    lab.run_vrrpkit(
        "h1",
        config(instance(150, version=3, advert_int="0.1", extra="track_file {\n    weightfile\n}"), scripts=track),
    )
    lab.run_vrrpkit("h2", config(instance(100, version=3, advert_int="0.1")))
    assert wait_until(lambda: lab.vip_holders(VIP) == {"h1"} or None, 8)
    value.write_text("6\n")  # 150 - 60 = 90 < 100
    assert wait_until(lambda: lab.vip_holders(VIP) == {"h2"} or None, 5), lab.processes("h1")[0].log()


def test_metrics_status_and_sigusr1(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    metrics = ["--metrics", "127.0.0.1:9650"]
    lab.run_vrrpkit("h1", config(instance(150, version=3, advert_int="0.1")), extra_args=metrics)
    lab.run_vrrpkit("h2", config(instance(100, version=3, advert_int="0.1")))
    assert wait_until(lambda: lab.vip_holders(VIP) == {"h1"} or None, 8)
    time.sleep(0.5)
    fetch = "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:9650/metrics',timeout=5).read().decode())"
    text = lab.exec("h1", [sys.executable, "-c", fetch]).stdout
    assert 'vrrpkit_instance_state{interface="eth0",state="MASTER",vrid="51",vrrp_instance="VI_1"} 1.0' in text
    assert 'vrrpkit_effective_priority{interface="eth0",vrid="51",vrrp_instance="VI_1"} 150.0' in text
    assert 'vrrpkit_split_brain{interface="eth0",vrid="51",vrrp_instance="VI_1"} 0.0' in text
    sent = [line for line in text.splitlines() if line.startswith("vrrpkit_adverts_sent_total")]
    assert sent and float(sent[0].split()[-1]) > 0
    table = lab.exec("h2", Lab.vrrpkit_argv("status")).stdout
    assert "VI_1" in table and "BACKUP" in table and str(lab.addr("h1")) in table
    h1 = lab.processes("h1")[0]
    h1.signal(signal.SIGUSR1)
    assert h1.wait_for_log("state=MASTER vrid=51", timeout=5), h1.log()[-1000:]
    assert (lab.control_path("h1").stat().st_mode & 0o777) == 0o600


def test_systemd_readiness_and_startup_delay(make_lab: MakeLab, tmp_path: Path) -> None:
    lab = make_lab(1)
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(8)
        t0 = time.monotonic()
        lab.run_vrrpkit(
            "h1",
            config(instance(100, version=3, advert_int="0.1"), globals_="vrrp_startup_delay 1"),
            env={"NOTIFY_SOCKET": str(path)},
        )
        first = sock.recv(4096).decode()
        waited = time.monotonic() - t0
        assert first.startswith("READY=1") and "STATUS=" in first
        assert waited >= 1.0, waited
        h1 = lab.processes("h1")[0]
        assert h1.wait_for_log("Delaying startup for 1 seconds", timeout=1)
        h1.signal(signal.SIGTERM)
        messages = []
        while True:
            message = sock.recv(4096).decode()
            messages.append(message)
            if "STOPPING=1" in message:
                break
        assert h1.wait(5) == 0
    os.unlink(path)


def test_reload_with_status_json_transitions(make_lab: MakeLab) -> None:
    """`vrrpkit status --json` is one document with the shape docs/json.md promises."""
    lab = make_lab(1)
    lab.run_vrrpkit("h1", config(instance(255, state="MASTER", version=3, advert_int="0.1")))
    assert wait_until(lambda: lab.vip_holders(VIP) == {"h1"} or None, 5)
    doc = json.loads(lab.exec("h1", Lab.vrrpkit_argv("status", "--json")).stdout)
    inst = doc["instances"][0]
    for key in ("name", "vrid", "interface", "state", "base_priority", "effective_priority", "master", "vips",
                "advert_int", "mode", "time_in_state", "counters", "transitions"):
        assert key in inst
    assert inst["transitions"][-1]["new"] == "MASTER" and inst["transitions"][-1]["reason"] == "startup"


def test_sync_group_moves_together_and_notifies_as_group(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    flag = lab.workdir / "h1-ok"
    flag.write_text("ok\n")
    out = lab.workdir / "group.log"
    script = lab.workdir / "group.sh"
    script.write_text(f'#!/bin/sh\necho "$*" >> {out}\n')
    script.chmod(0o755)
    vip2 = "198.51.100.100"

    def conf(prio: int, host: str) -> str:
        check = f"/usr/bin/test -f {flag}" if host == "h1" else "/bin/true"
        scripts = f'vrrp_script chk {{\n    script "{check}"\n    interval 0.2\n}}\n'
        group = f'vrrp_sync_group G {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    notify "{script}"\n}}\n'
        one = instance(prio, version=3, advert_int="0.1", extra="track_script {\n    chk\n}")
        two = instance(prio, name="VI_2", vrid=52, version=3, advert_int="0.1", vips=(f"{vip2}/24",))
        return config(one, two, scripts=scripts + group)

    lab.run_vrrpkit("h1", conf(150, "h1"))
    lab.run_vrrpkit("h2", conf(100, "h2"))
    both = lambda host: lab.vip_holders(VIP) == {host} and lab.vip_holders(vip2) == {host}  # noqa: E731
    assert wait_until(lambda: both("h1") or None, 10), lab.processes("h1")[0].log()[-2000:]
    flag.unlink()  # VI_1's weight-0 script fails on h1: the whole group goes FAULT there
    assert wait_until(lambda: both("h2") or None, 5), lab.processes("h1")[0].log()[-2000:]
    st = json.loads(lab.exec("h1", Lab.vrrpkit_argv("status", "--json")).stdout)
    assert {i["name"]: i["state"] for i in st["instances"]} == {"VI_1": "FAULT", "VI_2": "FAULT"}
    assert wait_until(lambda: "GROUP G FAULT 0" in out.read_text() or None, 3), out.read_text()


@pytest.mark.interop
def test_split_brain_flag_clears_when_keepalived_takes_the_vip_back(make_lab: MakeLab) -> None:
    """keepalived (150) and `vrrpkit run` (100) both master while the switch eats multicast: vrrpkit sees
    keepalived answer for the VIP (SPLIT BRAIN); once multicast flows, keepalived's adverts send vrrpkit
    to BACKUP and the flag goes with its cause (`status` shows plain BACKUP)."""
    if not shutil.which("keepalived", path="/usr/sbin:/usr/bin:/sbin:/bin"):
        pytest.skip("keepalived is not installed")
    lab = make_lab(2, ipv6=False)
    lab.cloud(True)
    lab.run_keepalived("h2", config(instance(150, version=3, advert_int="0.2")))
    lab.run_vrrpkit("h1", config(instance(100, version=3, advert_int="0.2")))
    wait_holders(lab, {"h1", "h2"}, 10)

    def status() -> dict[str, object]:
        doc = json.loads(lab.exec("h1", Lab.vrrpkit_argv("status", "--json")).stdout)
        return dict(doc["instances"][0])

    flagged = wait_until(lambda: status() if status().get("split_brain") else None, 10)
    assert flagged and flagged["state"] == "MASTER", status()
    lab.cloud(False)
    wait_holders(lab, {"h2"}, 10)
    cleared = wait_until(lambda: status() if status()["state"] == "BACKUP" else None, 5)
    assert cleared and not cleared["split_brain"], cleared
    assert "SPLIT BRAIN" not in lab.exec("h1", Lab.vrrpkit_argv("status")).stdout
