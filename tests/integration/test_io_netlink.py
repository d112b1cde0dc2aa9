"""VIPs through pyroute2 give the same `ip addr` result as keepalived 2.2.7; link events via netlink."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vrrpkit.lab import Lab, wait_until

pytestmark = pytest.mark.root

HELPER = str(Path(__file__).with_name("io_helper.py"))

# keepalived.conf lines and the same VIPs as arguments of io_helper's `vip add`
VIPS: list[tuple[str, list[str]]] = [
    # (Linux refuses a secondary whose scope differs from its primary's: a subnet of its own here)
    ("198.51.100.100/24 brd + dev eth0 scope link label eth0:vip1", ["198.51.100.100/24", "--brd", "+", "--scope",
                                                                     "link", "--label", "eth0:vip1"]),
    ("192.0.2.101 label eth0:x", ["192.0.2.101/32", "--label", "eth0:x"]),
    ("198.51.100.7/32 scope host", ["198.51.100.7/32", "--scope", "host"]),
    ("192.0.2.102/24 brd 192.0.2.99 noprefixroute", ["192.0.2.102/24", "--brd", "192.0.2.99", "--flag",
                                                     "noprefixroute"]),
    ("192.0.2.103/25 brd -", ["192.0.2.103/25", "--brd", "-"]),
]  # fmt: skip
VIPS6: list[tuple[str, list[str]]] = [
    ("2001:db8::100/64", ["2001:db8::100/64"]),
    ("2001:db8::101", ["2001:db8::101/128"]),
    ("2001:db8::102/64 -nodad", ["2001:db8::102/64", "--flag=-nodad"]),
]
ALL = [line.split()[0].split("/")[0] for line, _ in VIPS + VIPS6]


def helper(*args: str) -> list[str]:
    return [sys.executable, HELPER, *args]


def run_json(lab: Lab, host: str, *args: str) -> Any:
    return json.loads(lab.exec(host, helper(*args), timeout=20).stdout.strip().splitlines()[-1])


def vip_entries(lab: Lab, host: str) -> dict[str, dict[str, Any]]:
    """`ip -j addr show dev eth0` entries of our VIPs, keyed by address, without the countdowns."""
    links = json.loads(lab.exec(host, ["ip", "-j", "addr", "show", "dev", "eth0"]).stdout)
    found = {}
    for info in links[0]["addr_info"]:
        if info.get("local") in ALL:
            found[info["local"]] = dict(info)
    return found


def keepalived_conf() -> str:
    v4 = "\n".join(f"        {line}" for line, _ in VIPS)
    v6 = "\n".join(f"        {line}" for line, _ in VIPS6)
    return f"""global_defs {{
    router_id io-test
}}
vrrp_instance VI_IO {{
    state MASTER
    interface eth0
    virtual_router_id 77
    priority 255
    advert_int 1
    virtual_ipaddress {{
{v4}
    }}
    virtual_ipaddress_excluded {{
{v6}
    }}
}}
"""


@pytest.mark.skipif(not shutil.which("keepalived", path="/usr/sbin:/usr/bin:/sbin"), reason="needs keepalived")
def test_add_vip_matches_keepalived_and_is_idempotent(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(1)
    # 1. what keepalived 2.2.7 makes of these lines
    ka = lab.run_keepalived("h1", keepalived_conf())
    try:
        got = wait_until(lambda: len(vip_entries(lab, "h1")) == len(ALL), 15)
        assert got, f"keepalived did not add its VIPs:\n{ka.log()}"
        theirs = vip_entries(lab, "h1")
    finally:
        ka.signal(signal.SIGTERM)
        ka.wait(10)
    assert wait_until(lambda: not vip_entries(lab, "h1"), 10), "keepalived left VIPs behind"

    # 2. ours, added in the same order
    for _, args in VIPS + VIPS6:
        assert run_json(lab, "h1", "vip", "add", *args) == {"changed": True}
    ours = vip_entries(lab, "h1")
    assert ours == theirs, json.dumps({"keepalived": theirs, "vrrpkit": ours}, indent=1)
    # spot checks of what the comparison covered
    assert ours["198.51.100.100"]["broadcast"] == "198.51.100.255" and ours["198.51.100.100"]["scope"] == "link"
    assert ours["198.51.100.100"]["label"] == "eth0:vip1"
    assert ours["192.0.2.103"]["broadcast"] == "192.0.2.0"
    assert ours["198.51.100.7"]["scope"] == "host" and ours["198.51.100.7"]["prefixlen"] == 32
    assert ours["192.0.2.102"].get("noprefixroute") is True
    assert ours["2001:db8::101"]["preferred_life_time"] == 0 and ours["2001:db8::101"].get("nodad") is True
    assert "nodad" not in ours["2001:db8::102"]

    # 3. idempotent: adding again changes nothing, deleting twice is fine
    for _, args in VIPS + VIPS6:
        assert run_json(lab, "h1", "vip", "add", *args) == {"changed": False}
    assert vip_entries(lab, "h1") == ours
    for _, args in VIPS + VIPS6:
        assert run_json(lab, "h1", "vip", "del", *args) == {"changed": True}
        assert run_json(lab, "h1", "vip", "del", *args) == {"changed": False}
    assert vip_entries(lab, "h1") == {}
    assert run_json(lab, "h1", "vip", "del", "192.0.2.99/32", "--iface", "eth0") == {"changed": False}


def test_a_removal_sent_to_a_stale_index_still_removes_the_vip(make_lab: Callable[..., Lab]) -> None:
    """del_vip skips the ifindex lookup (it removes at the index it last saw, as keepalived does),
    add_vip within a second of one: an interface made again, an address already gone and an
    interface gone are each answered right."""
    assert run_json(make_lab(1), "h1", "vip-remade") == {
        "added": True,
        "removed": True,
        "removed_again": False,
        "removed_after_remake": True,
        "left": False,
        "added_after_remake": True,
        "there": True,
        "removed_without_interface": False,
        "new_index": True,
    }


def test_primary_address_and_queries(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(1)
    run_json(lab, "h1", "vip", "add", "192.0.2.150/24")  # a secondary: never the primary
    run_json(lab, "h1", "vip", "add", "198.51.100.9/32")  # a primary of its own, added later
    run_json(lab, "h1", "vip", "add", "198.51.100.10/32", "--scope", "link")  # listed first by the kernel
    info = run_json(lab, "h1", "info", "--has", "192.0.2.150", "--has", "192.0.2.151", "--exclude", "192.0.2.1")
    assert info["primary4"] == info["sync_primary4"] == str(lab.addr("h1"))
    assert info["primary4_excluding"] == "198.51.100.9"  # global scope preferred over the link-scope one
    assert info["primary6"] == str(lab.link_local("h1"))
    assert info["has"] == {"192.0.2.150": True, "192.0.2.151": False}
    assert info["exists"] and info["up"] and not info["missing_exists"]


def test_link_monitor_reports_admin_and_carrier_changes(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(1)
    proc = lab.popen("h1", helper("links", "--count", "5", "--timeout", "15"), stdout=subprocess.PIPE, text=True)
    sw = ["ip", "-n", lab.switch_netns, "link", "set", lab.port("h1")]
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        for argv in ([*sw, "down"], [*sw, "up"]):  # carrier: h1's eth0 stays admin-up
            subprocess.run(argv, check=True, timeout=10)
            time.sleep(0.3)
        lab.exec("h1", ["ip", "link", "set", "eth0", "down"])
        time.sleep(0.3)
        lab.exec("h1", ["ip", "link", "set", "eth0", "up"])
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events = [tuple(e) for e in json.loads(out.strip().splitlines()[-1])["events"]]
    assert events == [("eth0", True), ("eth0", False), ("eth0", True), ("eth0", False), ("eth0", True)]


def test_the_route_monitor_counts_events_the_kernel_dropped_and_reads_on(make_lab: Callable[..., Lab]) -> None:
    """ENOBUFS: 50 addresses added and 49 deleted in one burst against the smallest receive buffer.
    The overrun is counted once (what status and metrics show as route_event_overruns), and the
    next deletion is read as usual."""
    lab = make_lab(1)
    doc = json.loads(lab.exec("h1", helper("overrun", "--count", "50"), timeout=60).stdout.strip().splitlines()[-1])
    assert doc["overruns_in_burst"] >= 1 and doc["overruns"] == doc["overruns_in_burst"], doc
    assert any("192.0.2.149" in gone for gone in doc["after"]), doc


def test_the_link_monitor_counts_events_the_kernel_dropped_and_resyncs(make_lab: Callable[..., Lab]) -> None:
    """ENOBUFS on the link monitor: 60 veth pairs made and deleted in one burst against the
    smallest receive buffer, the watched link set down in the middle. The overrun is counted (what
    status and metrics show as link_event_overruns), the dump it asks for says the watched link is
    down whether or not its own event survived, and the next change is read as usual."""
    lab = make_lab(1)
    out = lab.exec("h1", helper("link-overrun", "--count", "60"), timeout=60).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["first"] == [["wmon", True]], doc
    assert doc["overruns_in_burst"] >= 1 and doc["overruns"] >= doc["overruns_in_burst"], doc
    assert doc["seen"] and doc["seen"][-1] == ["wmon", False], doc
    assert doc["after"] == [["wmon", True]], doc  # the link's deletions may overrun it again: resynced too
