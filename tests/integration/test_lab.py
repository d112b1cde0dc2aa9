"""The lab itself: topology, cloud mode, faults, processes, and that it always cleans up after itself.

Every claim is checked on the wire or in the kernel (tcpdump on the receiver, nft counters on the
switch, `ip netns pids`), never by trusting the lab's own state file.
"""

from __future__ import annotations

import ipaddress
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vrrpkit.lab import Lab, LabError, cleanup_leftovers, list_labs, read_pcap, run_dir, system, wait_until
from vrrpkit.lab.faults import fault_rules, table_script

pytestmark = pytest.mark.root

VIP = "192.0.2.100"
# VRRPv3 with 200 ms adverts: Master_Down_Interval is well under a second, so the test stays fast.
KEEPALIVED_CONF = """\
global_defs {{
  vrrp_version 3
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {priority}
  advert_int 0.2
  virtual_ipaddress {{
    {vip}/24
  }}
}}
"""


def leftovers(name: str) -> list[str]:
    """Anything of lab `name` that still exists, looked up in the kernel and on disk."""
    found = [f"netns {ns}" for ns in system.netns_list() if ns.startswith(f"{name}-")]
    found += [f"root link {link['ifname']}" for link in system.ip_json("link", "show") if name in link["ifname"]]
    tables = system.run([system.tool("nft"), "list", "tables"]).stdout
    found += [f"root nft {line}" for line in tables.splitlines() if name in line]
    if run_dir(name).exists():
        found.append(f"dir {run_dir(name)}")
    return found


def root_snapshot() -> dict[str, Any]:
    """The root namespace's addresses and routes: the lab must never change them."""
    addrs = sorted(
        (link["ifname"], info.get("local"))
        for link in system.ip_json("addr", "show")
        for info in link.get("addr_info", [])
    )
    return {"addrs": addrs, "routes": system.ip_json("route", "show"), "routes6": system.ip_json("-6", "route", "show")}


def udp_frames_seen(lab: Lab, receiver: str, send: Callable[[], None], port: int = 9999) -> int:
    """Frames for UDP `port` that reach `receiver`'s eth0 while `send` runs (tcpdump on the receiver)."""
    cap = lab.start_capture(receiver, f"udp port {port}")
    send()
    time.sleep(0.3)  # frames are on the wire in microseconds; this only covers scheduling
    return len(cap.frames())


def test_up_down_leaves_nothing(tmp_path: Path, lab_name: str) -> None:
    before = root_snapshot()
    name = lab_name
    with Lab(name=name, hosts=3, workdir=tmp_path) as lab:
        assert lab.hosts == ["h1", "h2", "h3"]
        assert set(_lab_ns(name)) == {f"{name}-h1", f"{name}-h2", f"{name}-h3", f"{name}-sw"}
        assert all(len(lab.port(h)) <= 15 for h in lab.hosts)
        tables = system.run([system.tool("ip"), "netns", "exec", lab.switch_netns, "nft", "list", "tables"]).stdout
        assert f"table bridge {lab.nft_table}" in tables
        sleeper = lab.popen("h1", ["sleep", "300"])
        assert wait_until(lambda: sleeper.pid in system.netns_pids(lab.netns("h1")), 5)
        addrs = json.loads(lab.exec("h2", ["ip", "-j", "addr", "show", "dev", "eth0"]).stdout)[0]["addr_info"]
        assert {(a["local"], a["prefixlen"]) for a in addrs} >= {("192.0.2.2", 24), ("2001:db8::2", 64)}
        assert lab.link_local("h2").is_link_local
        assert lab.exec("h1", ["sh", "-c", "echo $VRRPKIT_CONTROL"]).stdout.strip() == str(lab.control_path("h1"))
        assert name in list_labs()
        status = lab.status()
        json.dumps(status)  # JSON-able
        assert [h["addr"] for h in status["hosts"]] == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert sleeper.poll() is not None
    assert leftovers(name) == []
    assert root_snapshot() == before
    lab.down()  # idempotent


def _lab_ns(name: str) -> list[str]:
    return [ns for ns in system.netns_list() if ns.startswith(f"{name}-")]


def test_lab_is_removed_when_the_test_body_fails(tmp_path: Path, lab_name: str) -> None:
    name = lab_name
    with pytest.raises(RuntimeError, match="test failed"), Lab(name=name, hosts=2, workdir=tmp_path) as lab:
        sleeper = lab.popen("h1", ["sleep", "300"])
        lab.cloud(True)
        raise RuntimeError("test failed")
    assert sleeper.poll() is not None
    assert leftovers(name) == []


def test_ping_between_hosts(lab: Lab) -> None:
    assert lab.ping("h1", "h2", count=2) == 2
    assert lab.ping("h3", str(lab.addr6("h1")), count=2) == 2
    assert lab.ping("h2", f"{lab.link_local('h3')}%eth0", count=2) == 2
    assert lab.ping("h1", "192.0.2.99", count=1, timeout=0.3) == 0  # nobody there


def test_cloud_drops_multicast_but_not_unicast_or_neighbour_discovery(lab: Lab) -> None:
    send4 = lambda: lab.send_udp("h1", "224.0.0.18", count=5)  # noqa: E731 - VRRP's group
    send6 = lambda: lab.send_udp("h1", "ff02::12", count=5)  # noqa: E731
    assert udp_frames_seen(lab, "h2", send4) == 5
    assert udp_frames_seen(lab, "h2", send6) == 5

    lab.cloud(True)
    assert udp_frames_seen(lab, "h2", send4) == 0
    assert udp_frames_seen(lab, "h2", send6) == 0
    counters = lab.counters()
    assert counters["cloud-ipv4"] == 10  # 5 datagrams, flooded towards 2 ports, all dropped
    assert counters["cloud-ipv6"] >= 10  # plus whatever MLD the hosts sent meanwhile

    # Unicast still flows, and so does neighbour discovery (a fresh neighbour needs a multicast NS).
    assert udp_frames_seen(lab, "h2", lambda: lab.send_udp("h1", "192.0.2.2", count=3)) == 3
    for host in ("h1", "h3"):
        lab.exec(host, ["ip", "neigh", "flush", "dev", "eth0"])
    assert lab.ping("h1", "h3", count=2) == 2
    assert lab.ping("h1", str(lab.addr6("h3")), count=2) == 2
    assert lab.counters()["cloud-nd"] > 0

    lab.cloud(False)
    assert udp_frames_seen(lab, "h2", send4) == 5
    assert "cloud-ipv4" not in lab.counters()


def test_loss_rule_drops_a_fraction(lab: Lab) -> None:
    # Resolve neighbours first: a lost ARP exchange would otherwise stall the echoes for a whole second.
    assert lab.ping("h1", "h2", count=1) == 1
    lab.loss("h1", 50)
    nft = [system.tool("ip"), "netns", "exec", lab.switch_netns, "nft", "list", "chain", "bridge", lab.nft_table]
    ruleset = system.run([*nft, "lab_loss"]).stdout
    assert f'iifname "{lab.port("h1")}" numgen random mod 100 < 50' in ruleset
    # Each echo crosses h1's port twice (request in, reply out): about 25% come back.
    received = lab.ping("h1", "h2", count=60, timeout=0.5, interval=0.01)
    counters = lab.counters()
    dropped = counters["loss-h1-in"] + counters["loss-h1-out"]
    assert 0 < received < 60, received
    assert dropped > 0
    lab.loss("h1", 0)
    assert "loss-h1-in" not in lab.counters()
    assert lab.ping("h1", "h2", count=10, timeout=0.5, interval=0.01) == 10


def test_switch_rules_load_without_etc_protocols() -> None:
    """Minimal images have no netbase: every switch rule must name protocols by number or nft keyword."""
    table, ports = "vrrpkit_lab_np", {"h1": "nph1", "h2": "nph2", "h3": "nph3"}
    script = table_script(table) + fault_rules(table, ports, cloud=True, loss={"h1": 30}, partition=[["h1"], ["h2"]])
    # Private mount namespace: the files are hidden from this nft only. Private network namespace:
    # the table never reaches the root namespace and vanishes with the process.
    hide = "for f in /etc/protocols /etc/services; do [ ! -e $f ] || mount --bind /dev/null $f || exit 1; done"
    argv = [system.tool("unshare"), "--mount", "--net", "sh", "-c", f"{hide}; nft -f - && nft list ruleset"]
    listed = system.run(argv, input=script).stdout
    assert 'comment "cloud-nd"' in listed and 'comment "loss-h1-in"' in listed and 'comment "partition"' in listed


def test_partition_heal_and_link_down(lab: Lab) -> None:
    lab.partition({"h1"}, {"h2", "h3"})
    assert lab.ping("h1", "h2", count=1, timeout=0.3) == 0
    assert lab.ping("h2", "h3", count=1) == 1
    assert lab.status()["faults"]["partition"] == [["h1"], ["h2", "h3"]]
    lab.heal()
    assert lab.ping("h1", "h2", count=1) == 1

    lab.link("h2", up=False)
    assert lab.ping("h1", "h2", count=1, timeout=0.3) == 0
    assert lab.status()["faults"]["down"] == ["h2"]
    lab.link("h2", up=True)
    assert lab.ping("h1", str(lab.addr6("h2")), count=1) == 1  # the lab's own addresses survive a link flap


def test_daemons_are_tracked_signalled_and_reaped(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(2)
    procs = [lab.run_keepalived(h, KEEPALIVED_CONF.format(priority=100 + i, vip=VIP)) for i, h in enumerate(lab.hosts)]
    assert wait_until(lambda: lab.vip_holders(VIP) == {"h2"}, 8), [p.log()[-500:] for p in procs]
    # Each keepalived has its own pid files (else the second would refuse to start).
    assert (lab.workdir / "h1.keepalived.pid").read_text().strip() == str(procs[0].pid)
    frames = read_pcap(lab.capture("h1", "vrrp", count=2, duration=3.0))
    assert len(frames) == 2 and all(f.data[12:14] == b"\x08\x00" and f.data[23] == 112 for f in frames)
    assert ipaddress.IPv4Address(frames[0].data[26:30]) == lab.addr("h2")

    assert lab.signal("h2", signal.SIGKILL, group=True) == 1  # crash the master
    assert wait_until(lambda: "h1" in lab.vip_holders(VIP), 5)
    assert [p.alive() for p in lab.processes()] == [True, False]
    pids = [pid for h in lab.hosts for pid in system.netns_pids(lab.netns(h))]
    assert pids  # keepalived on h1, parent and VRRP child
    lab.down()
    assert not any(system.pid_alive(pid, None) for pid in pids)
    assert leftovers(lab.name) == []


CHILD = textwrap.dedent(
    """
    import sys, time
    from vrrpkit.lab import Lab
    lab = Lab(name=sys.argv[1], hosts=2, workdir=sys.argv[2]).up()
    sleeper = lab.popen("h1", ["sleep", "300"])
    daemon = lab.run_keepalived("h2", sys.argv[3])
    print(sleeper.pid, daemon.pid, flush=True)
    time.sleep(300)
    """
)


def test_cleanup_after_sigkill_of_the_lab_process(tmp_path: Path, lab_name: str) -> None:
    name = lab_name
    conf = KEEPALIVED_CONF.format(priority=100, vip=VIP)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, name, str(tmp_path), conf], stdout=subprocess.PIPE, text=True
    )
    try:
        ready, _, _ = select.select([child.stdout], [], [], 20)
        assert ready and child.stdout is not None, "child never built its lab"
        pids = [int(p) for p in child.stdout.readline().split()]
        child.kill()  # SIGKILL: no finally, no atexit, no __exit__
        child.wait()
        assert len(_lab_ns(name)) == 3 and all(system.pid_alive(p, None) for p in pids)
        assert name in list_labs()
        assert cleanup_leftovers(name) == [name]
        assert leftovers(name) == []
        assert not any(system.pid_alive(p, None) for p in pids)
    finally:
        child.kill()
        cleanup_leftovers(name)


def test_two_labs_at_once(make_lab: Callable[..., Lab]) -> None:
    a, b = make_lab(2), make_lab(2, cloud=True)
    assert a.name != b.name and a.addr("h1") == b.addr("h1")  # same addresses, separate worlds
    a.partition({"h1"}, {"h2"})
    assert "cloud-ipv4" in b.counters() and "cloud-ipv4" not in a.counters()
    assert a.ping("h1", "h2", count=1, timeout=0.3) == 0
    assert b.ping("h1", "h2", count=1) == 1
    assert a.status()["cloud"] is False and b.status()["faults"]["partition"] == []
    a.down()
    assert leftovers(a.name) == []
    assert b.ping("h2", "h1", count=1) == 1


def vrrpkit_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vrrpkit", "lab", *args], capture_output=True, text=True, timeout=30, check=check
    )


def test_cli_round_trip(tmp_path: Path, lab_name: str) -> None:
    name = lab_name
    conf = tmp_path / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF.format(priority=150, vip=VIP))
    try:
        vrrpkit_cli("up", "--name", name, "--hosts", "2")
        assert vrrpkit_cli("up", "--name", name, check=False).returncode == 2  # exists: one clear error
        script = "ip -j addr show dev eth0; exit 3"
        done = vrrpkit_cli("exec", "--name", name, "h2", "--", "sh", "-c", script, check=False)
        assert done.returncode == 3
        assert "192.0.2.2" in done.stdout
        vrrpkit_cli("run", "--name", name, "h1", "keepalived", "-f", str(conf))
        vrrpkit_cli("cloud", "on", "--name", name)
        vrrpkit_cli("fault", "--name", name, "h2", "loss", "30")
        vrrpkit_cli("partition", "--name", name, "h1", "h2")
        status = json.loads(vrrpkit_cli("status", "--name", name, "--json").stdout)["labs"][0]
        assert status["cloud"] is True
        assert status["faults"] == {"loss": {"h2": 30}, "down": [], "partition": [["h1"], ["h2"]]}
        (proc,) = status["processes"]
        assert proc["kind"] == "keepalived" and proc["alive"]  # survived the CLI that started it
        vrrpkit_cli("heal", "--name", name)
        vrrpkit_cli("fault", "--name", name, "h1", "kill")
        assert wait_until(lambda: not system.pid_alive(proc["pid"], None), 5)
        assert vrrpkit_cli("fault", "--name", name, "h9", "down", check=False).returncode == 2
        vrrpkit_cli("down", "--name", name)
        assert leftovers(name) == []
    finally:
        cleanup_leftovers(name)


@pytest.mark.parametrize("name", ["", "Bad", "9lab", "a-b", "waytoolongname"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(LabError, match="lab name"):
        Lab(name=name)


def test_status_json_shape(lab: Lab) -> None:
    status = lab.status()
    assert set(status) >= {"name", "hosts", "namespaces", "processes", "cloud", "faults", "counters"}
    assert os.path.isdir(status["rundir"])
