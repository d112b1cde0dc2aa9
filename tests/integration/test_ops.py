"""Operations, in network namespaces: the daemon started the way keepalived's Debian unit starts
keepalived (`--dont-fork $DAEMON_ARGS` from /etc/default/keepalived), `run -t` beside `keepalived
-t`, the /metrics that the Grafana dashboard reads, and the daemon under the unit's capability
bounding set (setpriv), so the sandbox is known to be enough for VRRP, nftables and script_user."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from confgen import VIP, config, instance, wait_holders

from vrrpkit.lab import Lab
from vrrpkit.lab.lab import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contrib"))
from grafana_queries import exposition_names, metric_names, queries

pytestmark = pytest.mark.root
MakeLab = Callable[..., Lab]
KEEPALIVED_UNIT = Path("/lib/systemd/system/keepalived.service")
KEEPALIVED_DEFAULT = Path("/etc/default/keepalived")
FETCH = "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:9650/metrics',timeout=5).read().decode())"


def tracked_config(lab: Lab, priority: int) -> str:
    """A script (run as root), a track file and a VIP: every family the dashboard reads has samples."""
    track = lab.workdir / f"track-{priority}"
    track.write_text("0\n")
    scripts = ('vrrp_script chk {\n    script "/usr/bin/true"\n    interval 1\n    weight 5\n}\n'
               f"vrrp_track_file tf {{\n    file {track}\n}}\n")  # fmt: skip
    extra = "track_script {\n    chk\n}\ntrack_file {\n    tf weight 1\n}"
    return config(instance(priority, version=3, advert_int="0.1", extra=extra),
                  globals_="enable_script_security\nscript_user root", scripts=scripts)  # fmt: skip


def daemon_args_from_debian(lab: Lab) -> list[str]:
    """keepalived's unit line `/usr/sbin/keepalived --dont-fork $DAEMON_ARGS` with DAEMON_ARGS read by
    the shell from a copy of Debian's /etc/default/keepalived, set to the flags admins put there."""
    exec_start = next(line.split("=", 1)[1] for line in KEEPALIVED_UNIT.read_text().splitlines()
                      if line.startswith("ExecStart="))  # fmt: skip
    assert exec_start.split()[:2] == ["/usr/sbin/keepalived", "--dont-fork"] and "$DAEMON_ARGS" in exec_start
    default = KEEPALIVED_DEFAULT.read_text()
    assert re.search(r'^DAEMON_ARGS=""$', default, re.MULTILINE), default
    stem = lab.workdir / "h1"
    flags = f"--vrrp -D -S 1 -l -p {stem}.pid -r {stem}.vrrp.pid -c {stem}.checkers.pid -b {stem}.bfd.pid"
    copy = lab.workdir / "default-keepalived"
    copy.write_text(default.replace('DAEMON_ARGS=""', f'DAEMON_ARGS="{flags}"'))
    expanded = subprocess.run(["sh", "-c", f". {copy}; echo {exec_start}"], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip
    return shlex.split(expanded)[1:]  # what follows the binary


@pytest.mark.skipif(not KEEPALIVED_UNIT.exists(), reason="keepalived's Debian unit is not installed")
def test_debian_daemon_args_config_test_and_the_dashboard_s_metrics(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    args = daemon_args_from_debian(lab)
    h1 = lab.run_vrrpkit("h1", tracked_config(lab, 150), extra_args=[*args, "--metrics", "127.0.0.1:9650"])
    lab.run_keepalived("h2", config(instance(100, version=3, advert_int="0.1")))
    wait_holders(lab, {"h1"}, 10)
    stem = lab.workdir / "h1"
    assert Path(f"{stem}.pid").read_text().strip() == Path(f"{stem}.vrrp.pid").read_text().strip() == str(h1.pid)
    assert not Path(f"{stem}.checkers.pid").exists()  # there is no checker process
    assert h1.wait_for_log("(VI_1) Entering MASTER STATE", 5), h1.log()[-2000:]
    assert h1.wait_for_log(f"Sending gratuitous ARP on eth0 for {VIP}", 5), h1.log()[-2000:]  # -D's lines
    assert "VRRP_Script(chk) succeeded" in h1.log()

    # the dashboard reads only what a live daemon exports
    assert wait_until(lambda: 'vrrpkit_script_status{script="chk"} 1.0' in lab.exec("h1", [sys.executable, "-c",
                      FETCH]).stdout or None, 5)  # fmt: skip
    text = lab.exec("h1", [sys.executable, "-c", FETCH]).stdout
    exported = exposition_names(text)
    wanted = set().union(*(metric_names(q) for q in queries()))
    assert wanted - exported == set(), sorted(wanted - exported)
    assert f'vrrpkit_vip_held{{interface="eth0",vip="{VIP}",vrid="51",vrrp_instance="VI_1"}} 1.0' in text
    assert "process_resident_memory_bytes" in text

    # `vrrpkit run -t` answers like `keepalived -t`, in the same namespace
    bad = lab.workdir / "bad.conf"
    bad.write_text(config(instance(100, extra="bogus_keyword 1")))
    for conf, rc in ((h1.conf_path, 0), (bad, 5)):
        assert conf is not None
        theirs = lab.exec("h1", ["keepalived", "-t", "-f", str(conf)], check=False).returncode
        ours = lab.exec("h1", Lab.vrrpkit_argv("run", "-t", "-f", str(conf)), check=False)
        assert (ours.returncode, theirs) == (rc, rc), ours.stderr

    h1.signal(signal.SIGTERM)
    assert h1.wait(10) == 0
    assert not Path(f"{stem}.pid").exists() and "Stopped vrrpkit" in h1.log()


def test_the_unit_s_capabilities_are_enough(make_lab: MakeLab) -> None:
    """Under the unit's CapabilityBoundingSet and NoNewPrivileges (setpriv, as systemd would apply
    them), with the daemon's own capability drop on top: VIPs, adverts, GARP, the no_accept nftables
    table, and a track script run as script_user nobody."""
    lab = make_lab(1)
    conf = lab.workdir / "caps.conf"
    scripts = 'vrrp_script chk {\n    script "/usr/bin/true"\n    interval 1\n}\n'
    conf.write_text(config(instance(150, version=3, advert_int="0.1", extra="no_accept\ntrack_script {\n    chk\n}"),
                           globals_="enable_script_security\nscript_user nobody", scripts=scripts))  # fmt: skip
    conf.chmod(0o644)
    control = lab.rundir / "caps.sock"  # short: an AF_UNIX path has 108 bytes
    unit = (Path(__file__).resolve().parents[2] / "contrib" / "vrrpkit.service").read_text()
    names = re.search(r"^CapabilityBoundingSet=(.+)$", unit, re.MULTILINE).group(1).split()  # type: ignore[union-attr]
    caps = "-all," + ",".join("+" + n.removeprefix("CAP_").lower() for n in names)
    argv = ["setpriv", f"--bounding-set={caps}", "--inh-caps=-all", "--no-new-privs",
            *Lab.vrrpkit_argv("run", "-f", str(conf), "--control", str(control), "--no-syslog")]  # fmt: skip
    log = lab.workdir / "caps.log"
    with open(log, "wb") as out:
        proc = lab.popen("h1", argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: lab.vip_holders(VIP) == {"h1"} or None, 10), log.read_text()[-2000:]
        status = json.loads(lab.exec("h1", Lab.vrrpkit_argv("status", "--json", "--control", str(control))).stdout)
        assert status["scripts"]["chk"]["ok"] is True, status["scripts"]
        assert status["instances"][0]["state"] == "MASTER"
        tables = lab.exec("h1", ["nft", "list", "tables"]).stdout
        assert "vrrpkit" in tables, tables
        with open(f"/proc/{proc.pid}/status") as fh:
            bounding = next(int(line.split()[1], 16) for line in fh if line.startswith("CapBnd:"))
        from vrrpkit.io import caps as kcaps

        assert bounding == kcaps.mask(kcaps.DAEMON_KEEPS)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0, log.read_text()[-2000:]
    assert "Traceback" not in log.read_text() and lab.vip_holders(VIP) == set()


def test_dash_s_runs_the_daemon_in_the_named_namespace(make_lab: MakeLab) -> None:
    """keepalived -s NAME. The interface exists only inside the lab host, so a daemon that failed to
    enter the namespace would stop at once ("does not exist") instead of touching this host."""
    lab = make_lab(1)
    lab.exec("h1", ["sh", "-c", "ip link add vkops0 type veth peer name vkops1 && ip link set vkops0 up && "
                    "ip link set vkops1 up && ip addr add 198.51.100.1/24 dev vkops0"])  # fmt: skip
    assert subprocess.run(["ip", "link", "show", "vkops0"], capture_output=True).returncode != 0
    conf = lab.workdir / "ns.conf"
    conf.write_text(config(instance(100, interface="vkops0", vips=("198.51.100.77/24",), version=3,
                                    advert_int="0.1")))  # fmt: skip
    log = lab.workdir / "ns.log"
    argv = Lab.vrrpkit_argv("run", "-s", lab.netns("h1"), "-f", str(conf), "--control", str(lab.rundir / "ns.sock"),
                            "-G")  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def holds() -> bool | None:
        return "198.51.100.77/24" in lab.exec("h1", ["ip", "-br", "addr", "show", "vkops0"]).stdout or None

    try:
        assert wait_until(holds, 10), log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, log.read_text()
    assert "(VI_1) Entering MASTER STATE" in log.read_text()
