"""`vrrpkit investigate` against every cause of the catalogue, recreated in namespaces.

Each test builds the cause with real daemons (keepalived 2.2.7, and `vrrpkit run`), waits until the
symptom is visible in the kernel (`ip addr`: who holds the VIP), runs `vrrpkit investigate --json`
inside the host where the cause can be seen, and checks the verdict, exit status and the concrete fix.
Short VRRPv3 intervals (0.2 s) keep the windows short; VRRPv2 (1 s) only where the cause needs it.

Set VRRPKIT_DIAG_TIMINGS=FILE to append `{"cause", "daemon", "verdict", "seconds"}` lines: the time
to verdict is the wall time of the investigate process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vrrpkit.lab import Lab, wait_until

pytestmark = [pytest.mark.root, pytest.mark.interop]

VIP = "192.0.2.100"
OTHER_VIP = "192.0.2.200"
DAEMONS = ["keepalived", "vrrpkit"]


def conf(
    router: str,
    priority: int,
    *,
    vrid: int = 51,
    vips: tuple[str, ...] = (f"{VIP}/24",),
    version: int = 3,
    advert: str = "0.2",
    password: str | None = None,
    strict: bool = False,
    src: str | None = None,
    peers: tuple[str, ...] = (),
    peer_opts: str = "",
) -> str:
    """A keepalived.conf both daemons read."""
    lines = ["global_defs {", f"    router_id {router}"]
    if strict:
        lines.append("    vrrp_strict")
    lines += ["}", "vrrp_instance VI_1 {", "    state BACKUP", "    interface eth0",
              f"    virtual_router_id {vrid}", f"    priority {priority}", f"    advert_int {advert}",
              f"    version {version}"]  # fmt: skip
    if password is not None:
        lines += ["    authentication {", "        auth_type PASS", f"        auth_pass {password}", "    }"]
    if src:
        lines.append(f"    unicast_src_ip {src}")
        lines += ["    unicast_peer {"] + [f"        {p} {peer_opts}".rstrip() for p in peers] + ["    }"]
    lines += ["    virtual_ipaddress {"] + [f"        {v}" for v in vips] + ["    }", "}"]
    return "\n".join(lines) + "\n"


def start(lab: Lab, daemon: str, host: str, text: str) -> None:
    if daemon == "keepalived":
        lab.run_keepalived(host, text)
    else:
        lab.run_vrrpkit(host, text)


def conf_path(lab: Lab, host: str) -> str:
    proc = [p for p in lab.processes(host) if p.conf_path is not None][-1]
    return str(proc.conf_path)


def settle(lab: Lab, holders: set[str], timeout: float = 10.0, vip: str = VIP) -> None:
    got = wait_until(lambda: lab.vip_holders(vip) == holders or None, timeout)
    assert got, f"expected {sorted(holders)} to hold {vip}, got {sorted(lab.vip_holders(vip))}"
    time.sleep(0.3)  # past the GARP burst of a fresh master


def investigate(lab: Lab, host: str, *args: str, cause: str = "", daemon: str = "") -> tuple[int, dict[str, Any]]:
    argv = lab.vrrpkit_argv("investigate", "-f", conf_path(lab, host), "--json", *args)
    t0 = time.monotonic()
    done = lab.exec(host, argv, check=False, timeout=60)
    took = time.monotonic() - t0
    assert done.returncode in (0, 1), f"investigate failed ({done.returncode}): {done.stderr[-2000:]}"
    doc = json.loads(done.stdout)
    path = os.environ.get("VRRPKIT_DIAG_TIMINGS")
    if path and cause:
        with open(path, "a") as f:
            f.write(json.dumps({"cause": cause, "daemon": daemon, "verdict": doc["verdict"],
                                "confidence": doc["confidence"], "seconds": round(took, 2)}) + "\n")  # fmt: skip
    return done.returncode, doc


def finding(doc: dict[str, Any], code: str) -> dict[str, Any]:
    found = [f for f in doc["findings"] if f["code"] == code]
    assert found, f"no {code} finding in {[f['code'] for f in doc['findings']]}"
    return found[0]


def peers_of(lab: Lab, host: str) -> str:
    return ",".join(str(lab.addr(h)) for h in lab.hosts if h != host)


def nft(lab: Lab, host: str, script: str) -> None:
    lab.exec(host, ["nft", "-f", "-"], input=script)


@pytest.fixture(params=DAEMONS)
def daemon(request: pytest.FixtureRequest) -> str:
    if request.param == "keepalived" and not shutil.which("keepalived", path="/usr/sbin:/usr/bin:/sbin:/bin"):
        pytest.skip("keepalived is not installed")
    return str(request.param)


@pytest.fixture
def lab2(make_lab: Callable[..., Lab]) -> Lab:
    return make_lab(2, ipv6=False)


def test_healthy(lab2: Lab, daemon: str) -> None:
    start(lab2, daemon, "h1", conf("h1", 150))
    start(lab2, daemon, "h2", conf("h2", 100))
    settle(lab2, {"h1"})
    for host in ("h1", "h2"):
        rc, doc = investigate(lab2, host, "--peer", peers_of(lab2, host), cause=f"healthy ({host})", daemon=daemon)
        assert (rc, doc["verdict"]) == (0, "healthy"), doc
        assert doc["confidence"] == "high", doc["basis"]


def test_cloud_drops_multicast_then_unicast_ends_it(lab2: Lab, daemon: str) -> None:
    """The seed: multicast eaten by the network, the VIP on every host; the converted config ends it."""
    lab2.cloud(True)
    start(lab2, daemon, "h1", conf("h1", 150))
    start(lab2, daemon, "h2", conf("h2", 100))
    settle(lab2, {"h1", "h2"})
    rc, doc = investigate(lab2, "h2", "--peer", peers_of(lab2, "h2"), cause="cloud drops multicast", daemon=daemon)
    assert (rc, doc["verdict"], doc["confidence"]) == (1, "multicast-blocked", "high"), doc
    finding(doc, "split-brain")
    fix = finding(doc, "multicast-blocked")["fix"]
    h1, h2 = lab2.addr("h1"), lab2.addr("h2")
    assert f"vrrpkit convert --to-unicast -f {conf_path(lab2, 'h2')} --peer {h1} --src {h2}" in fix
    assert "HaVip" in fix
    # apply the fix on both hosts, exactly as printed (with each host's own peers)
    for host in lab2.hosts:
        path = conf_path(lab2, host)
        argv = lab2.vrrpkit_argv("convert", "--to-unicast", "-f", path, "--peer", peers_of(lab2, host),
                                 "--src", str(lab2.addr(host)), "-o", path + ".unicast")  # fmt: skip
        lab2.exec(host, argv)
        text = Path(path + ".unicast").read_text()
        lab2.fault_kill(host)
        start(lab2, daemon, host, text)
    settle(lab2, {"h1"}, timeout=15)
    for host in ("h1", "h2"):
        rc, doc = investigate(lab2, host, cause=f"cloud, after convert ({host})", daemon=daemon)
        assert (rc, doc["verdict"]) == (0, "healthy"), doc


@pytest.mark.parametrize("direction", ["in", "out"])
def test_firewall_drops_vrrp(lab2: Lab, daemon: str, direction: str) -> None:
    """Inbound: the backup (h2) hears nothing and takes over. Outbound: the master's (h1) adverts never leave."""
    host = "h2" if direction == "in" else "h1"
    hook = "input" if direction == "in" else "output"
    nft(lab2, host, f"table inet filter {{\n chain {hook} {{\n type filter hook {hook} priority 0; policy accept;\n"
                    "  ip protocol 112 counter drop\n }\n}\n")  # fmt: skip
    start(lab2, daemon, "h1", conf("h1", 150))
    start(lab2, daemon, "h2", conf("h2", 100))
    settle(lab2, {"h1", "h2"})
    rc, doc = investigate(lab2, host, "--peer", peers_of(lab2, host), cause=f"nft drops 112 {direction}bound",
                          daemon=daemon)  # fmt: skip
    assert (rc, doc["verdict"], doc["confidence"]) == (1, "firewall-drops-vrrp", "high"), doc
    f = finding(doc, "firewall-drops-vrrp")
    assert f["evidence"]["direction"] == direction
    assert f["evidence"]["rules"][0]["table"] == "filter" and f["evidence"]["rules"][0]["chain"] == hook
    handle = f["evidence"]["rules"][0]["handle"]
    iface = "iifname" if direction == "in" else "oifname"
    assert f["fix"] == f'nft insert rule inet filter {hook} position {handle} {iface} "eth0" meta l4proto 112 accept'
    # The printed fix, verbatim, ends the split brain, even on a minimal image without netbase:
    # /etc/protocols and /etc/services are hidden from it in a private mount namespace.
    hide = "for f in /etc/protocols /etc/services; do [ ! -e $f ] || mount --bind /dev/null $f || exit 1; done"
    lab2.exec(host, ["unshare", "--mount", "sh", "-c", f"{hide}; {f['fix']}"])
    settle(lab2, {"h1"}, timeout=10)


def test_vrid_collision(make_lab: Callable[..., Lab], daemon: str) -> None:
    """A third host runs another cluster's instance with the same VRID and other VIPs."""
    lab = make_lab(3, ipv6=False)
    start(lab, daemon, "h1", conf("h1", 150))
    start(lab, daemon, "h2", conf("h2", 100))
    start(lab, daemon, "h3", conf("h3", 200, vips=(f"{OTHER_VIP}/24",)))
    settle(lab, {"h3"}, vip=OTHER_VIP)
    time.sleep(1.0)
    rc, doc = investigate(lab, "h2", "--peer", str(lab.addr("h1")), cause="VRID collision", daemon=daemon)
    assert (rc, doc["verdict"], doc["confidence"]) == (1, "vrid-collision", "high"), doc
    f = finding(doc, "vrid-collision")
    assert f["evidence"]["src"] == str(lab.addr("h3")) and f["evidence"]["their_vips"] == [OTHER_VIP]
    assert "`virtual_router_id 1`" in f["fix"]


def test_auth_mismatch(lab2: Lab, daemon: str) -> None:
    """With keepalived, its own counters (SIGUSR2's stats file, read around the window) back the wire."""
    start(lab2, daemon, "h1", conf("h1", 150, version=2, advert="1", password="secret1"))
    start(lab2, daemon, "h2", conf("h2", 100, version=2, advert="1", password="secret2"))
    settle(lab2, {"h1", "h2"}, timeout=10)
    extra = ["--signal-keepalived"] if daemon == "keepalived" else []
    rc, doc = investigate(lab2, "h2", "--peer", peers_of(lab2, "h2"), *extra, cause="auth mismatch", daemon=daemon)
    assert (rc, doc["verdict"]) == (1, "auth-mismatch"), doc
    f = finding(doc, "auth-mismatch")
    # the peer's password is on the wire anyway (shown, escaped); this host's own is never printed
    assert '"secret1"' in f["message"] and "secret2" not in f["message"]
    assert "the configured password (7 characters, not shown)" in f["message"]
    if daemon == "keepalived":
        ka = f["evidence"]["keepalived"]  # in the window, or (when h1 held its adverts back) since start
        assert ka["keepalived_counter"] == "auth_failure" and ka["count"] >= 1, ka
        (state,) = doc["keepalived"]["instances"]
        assert (state["name"], state["state"], state["src_ip"]) == ("VI_1", "MASTER", str(lab2.addr("h2")))


def test_ipv6_listeners_answer_the_mld_query(make_lab: Callable[..., Lab]) -> None:
    """An IPv6 instance: the peer's MLD report for ff02::12 is the multicast evidence (as IGMP is for IPv4)."""
    lab = make_lab(2, ipv6=True)
    v6 = ("fe80::100/64", "2001:db8::100/64")
    lab.run_keepalived("h1", conf("h1", 150, vips=v6))
    lab.run_keepalived("h2", conf("h2", 100, vips=v6))
    settle(lab, {"h1"}, vip="2001:db8::100")
    rc, doc = investigate(lab, "h2", cause="IPv6 healthy (MLD)", daemon="keepalived")
    assert (rc, doc["verdict"]) == (0, "healthy"), doc
    works = finding(doc, "multicast-works")
    reporter = works["evidence"]["reporters"].get(lab.mac("h1"))
    assert reporter is not None and reporter.startswith("fe80::"), works


def test_no_daemon_and_no_configuration_is_not_healthy(lab2: Lab) -> None:
    """A host of the link that runs no VRRP daemon and has no keepalived.conf has nothing to call healthy."""
    lab2.run_keepalived("h1", conf("h1", 150))
    settle(lab2, {"h1"})
    done = lab2.exec("h2", lab2.vrrpkit_argv("investigate", "-i", "eth0", "--json", "--passive"), check=False,
                     timeout=30)  # fmt: skip
    doc = json.loads(done.stdout)
    assert (done.returncode, doc["verdict"]) == (1, "no-vrrp-here"), doc
    f = finding(doc, "no-vrrp-here")
    assert "VRID 51 on eth0" in f["message"] and "-f FILE" in f["fix"]


def test_interval_mismatch(lab2: Lab, daemon: str) -> None:
    start(lab2, daemon, "h1", conf("h1", 150, version=2, advert="1"))
    start(lab2, daemon, "h2", conf("h2", 100, version=2, advert="2"))
    settle(lab2, {"h1", "h2"}, timeout=12)
    rc, doc = investigate(lab2, "h2", "--peer", peers_of(lab2, "h2"), cause="interval mismatch", daemon=daemon)
    assert (rc, doc["verdict"]) == (1, "interval-mismatch"), doc
    f = finding(doc, "interval-mismatch")
    assert (f["evidence"]["theirs"], f["evidence"]["ours"]) == (1.0, 2.0)


def test_ttl_not_255(lab2: Lab, daemon: str) -> None:
    """A switch rule rewrites the TTL of protocol 112 (what a routed or NATed path does)."""
    script = ("table bridge vkdiagttl {\n chain ttl64 {\n type filter hook forward priority -10; policy accept;\n"
              "  ip protocol 112 ip ttl set 64\n }\n}\n")  # fmt: skip
    subprocess.run(["ip", "netns", "exec", lab2.switch_netns, "nft", "-f", "-"], input=script, text=True, check=True)
    start(lab2, daemon, "h1", conf("h1", 150))
    start(lab2, daemon, "h2", conf("h2", 100))
    settle(lab2, {"h1", "h2"})
    rc, doc = investigate(lab2, "h2", "--peer", peers_of(lab2, "h2"), cause="TTL 64 on the path", daemon=daemon)
    assert (rc, doc["verdict"]) == (1, "ttl-not-255"), doc
    assert finding(doc, "ttl-not-255")["evidence"]["ttl"] == 64


def test_strict_mode_blocks_vip(lab2: Lab, daemon: str) -> None:
    start(lab2, daemon, "h1", conf("h1", 150, strict=True))
    start(lab2, daemon, "h2", conf("h2", 100, strict=True))
    settle(lab2, {"h1"})
    assert lab2.ping("h2", VIP, count=2, timeout=0.5) == 0  # the symptom: the VIP does not answer
    rc, doc = investigate(lab2, "h1", "--peer", peers_of(lab2, "h1"), cause="strict mode VIP", daemon=daemon)
    assert (rc, doc["verdict"]) == (1, "strict-mode-blocks-vip"), doc
    f = finding(doc, "strict-mode-blocks-vip")
    assert f["evidence"]["vip"] == VIP and "`accept`" in f["fix"]


def test_peer_down(lab2: Lab, daemon: str) -> None:
    start(lab2, daemon, "h1", conf("h1", 150))
    start(lab2, daemon, "h2", conf("h2", 100))
    settle(lab2, {"h1"})
    lab2.link("h2", up=False)
    rc, doc = investigate(lab2, "h1", "--peer", peers_of(lab2, "h1"), cause="peer host down", daemon=daemon)
    assert (rc, doc["verdict"]) == (1, "peer-down"), doc
    assert finding(doc, "peer-down")["evidence"]["peer"]["address"] == str(lab2.addr("h2"))


def test_peer_daemon_down(lab2: Lab, daemon: str) -> None:
    """The peer host is up, its daemon is not: ICMP answers, protocol 112 is unreachable there."""
    start(lab2, daemon, "h1", conf("h1", 150))
    start(lab2, daemon, "h2", conf("h2", 100))
    settle(lab2, {"h1"})
    lab2.fault_kill("h2")
    time.sleep(0.5)
    rc, doc = investigate(lab2, "h1", "--peer", peers_of(lab2, "h1"), cause="peer daemon down", daemon=daemon)
    assert (rc, doc["verdict"], doc["confidence"]) == (1, "peer-down", "high"), doc
    assert "protocol unreachable" in finding(doc, "peer-down")["message"]
