"""The status page in a real browser, on a real cluster: two `vrrpkit run` hosts serving `/` on their
`--metrics` address, headless Chromium inside a lab host reading the page, the DOM it built checked.

One lab for the whole story (namespace time is the expensive part): h1 is MASTER and its page says so
with an SVG timeline; a client reading a byte a second does not delay h1's adverts (h2 would take
over if it did); SIGTERM on h1 and h2's page shows its BACKUP -> MASTER; h1 back, the cloud rule on,
and both pages show the split-brain banner. `/metrics` is what Prometheus expects throughout.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

import pytest
from dom import Node, parse

from vrrpkit.lab import Lab, wait_until
from vrrpkit.lab.browser import dump_dom

pytestmark = pytest.mark.root

VIP = "192.0.2.99"
PORT = 9650
ADVERT = 0.2  # VRRPv3 centiseconds: a stalled loop shows within Master_Down_Interval (0.6 s + skew)

CONF = """\
global_defs {{
    vrrp_version 3
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int {advert}
    virtual_ipaddress {{
        {vip}/24
    }}
}}
"""

# A GET from inside a lab host; prints status, content type and body (what curl would).
FETCH = textwrap.dedent("""\
    import sys, urllib.request
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        sys.stdout.write(f"{r.status} {r.headers['Content-Type']}\\n")
        sys.stdout.write(r.read().decode())
""")

# A client that reads one byte a second with a tiny receive buffer, for `seconds`; prints how much it got.
SLOW = textwrap.dedent("""\
    import socket, sys, time
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    got, end = 0, time.monotonic() + float(sys.argv[3])
    while time.monotonic() < end:
        b = s.recv(1)
        if not b:
            break
        got += 1
        time.sleep(1)
    print(got)
""")


def url(lab: Lab, host: str, path: str = "/") -> str:
    return f"http://{lab.addr(host)}:{PORT}{path}"


def fetch(lab: Lab, src: str, host: str, path: str = "/") -> tuple[str, str]:
    """(status line, body) of a GET from `src` to `host`'s HTTP address."""
    done = lab.exec(src, [sys.executable, "-c", FETCH, url(lab, host, path)], timeout=20)
    head, _, body = done.stdout.partition("\n")
    return head, body


def browse(lab: Lab, src: str, host: str) -> Node:
    return parse(dump_dom(lab.netns(src), url(lab, host)))


def start(lab: Lab, host: str, priority: int) -> None:
    conf = CONF.format(priority=priority, advert=ADVERT, vip=VIP)
    proc = lab.run_vrrpkit(host, conf, ["--metrics", f"{lab.addr(host)}:{PORT}"])
    assert wait_until(lambda: _serving(lab, host), 15), proc.log()[-2000:]


def _serving(lab: Lab, host: str) -> bool:
    try:
        return fetch(lab, host, host, "/status.json")[0].startswith("200")
    except subprocess.CalledProcessError:
        return False


def row(dom: Node, name: str = "VI_1") -> str:
    return dom.find("tr", id=f"instance-{name}").text()


def holds(lab: Lab, expected: set[str], timeout: float = 15) -> None:
    assert wait_until(lambda: lab.vip_holders(VIP) == expected, timeout), lab.vip_holders(VIP)


def test_status_pages_in_chromium_through_master_failover_and_split_brain(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(2)
    start(lab, "h1", 150)
    start(lab, "h2", 100)
    holds(lab, {"h1"})

    # h1's page, read by Chromium inside h1
    dom = browse(lab, "h1", "h1")
    text = row(dom)
    assert "VI_1" in text and "MASTER" in text and f"{VIP}/24" in text and "this host (192.0.2.1)" in text
    svg = dom.find("svg", "timeline")
    lane = svg.find("g", "lane", data_lane="VI_1")
    assert lane.find_all("g", "band", data_state="MASTER")
    assert "BACKUP -> MASTER" in lane.find("g", "band", data_state="MASTER").title()
    assert not dom.find_all("div", "banner")
    assert "192.0.2.1, priority 150" in row(browse(lab, "h2", "h2"))  # h2 names the master it hears

    head, metrics = fetch(lab, "h1", "h1", "/metrics")
    check_metrics(head, metrics, state="MASTER")

    # a client reading one byte a second: h1's adverts keep coming (else h2 would take over)
    cap = lab.start_capture("h2")
    slow = lab.popen("h2", [sys.executable, "-c", SLOW, str(lab.addr("h1")), str(PORT), "6"],
                     stdout=subprocess.PIPE, text=True)  # fmt: skip
    during = []
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        during.append(lab.vip_holders(VIP))
        assert fetch(lab, "h2", "h1", "/status.json")[0].startswith("200")  # others are served meanwhile
        time.sleep(0.3)
    out, _ = slow.communicate(timeout=15)
    frames = cap.frames()
    assert int(out.strip() or 0) >= 1  # it was really reading, slowly
    assert all(h == {"h1"} for h in during), during
    h1_mac = bytes.fromhex(lab.mac("h1").replace(":", ""))
    sent = sorted(f.time for f in frames if f.data[6:12] == h1_mac)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    down_interval = 3 * ADVERT + (256 - 100) * ADVERT / 256  # h2's: what it would take over after
    assert len(sent) >= 20 and max(gaps) < down_interval, max(gaps)
    h2_json = fetch(lab, "h2", "h2", "/status.json")[1]
    assert '"state": "BACKUP"' in h2_json and '"new": "MASTER"' not in h2_json

    # SIGTERM on h1: h2's page shows its BACKUP -> MASTER
    next(p for p in lab.processes("h1", alive_only=True)).stop()
    holds(lab, {"h2"})
    dom = browse(lab, "h2", "h2")
    assert "MASTER" in row(dom)
    moved = [r.text() for r in dom.find("table", "transitions").find_all("tr")[1:]]
    assert any("BACKUP" in r and "MASTER" in r and r.index("BACKUP") < r.index("MASTER") for r in moved), moved
    bands = dom.find("svg", "timeline").find("g", "lane", data_lane="VI_1").find_all("g", "band")
    assert [b.attrs["data-state"] for b in bands][-2:] == ["BACKUP", "MASTER"]
    assert "BACKUP -> MASTER" in bands[-1].title()
    check_metrics(*fetch(lab, "h2", "h2", "/metrics"), state="MASTER")

    # h1 back, then the cloud drops multicast: both masters, both pages say split brain
    start(lab, "h1", 150)
    holds(lab, {"h1"})
    lab.cloud(True)
    holds(lab, {"h1", "h2"})
    for host in ("h1", "h2"):
        assert wait_until(lambda h=host: "banner split-brain" in fetch(lab, h, h)[1], 20), host  # type: ignore[misc]
        dom = browse(lab, host, host)
        banner = dom.find("div", "banner split-brain", data_instance="VI_1").text()
        assert "SPLIT BRAIN" in banner and VIP in banner
        assert dom.find("svg", "timeline").find_all("g", "overlay split")
        assert "YES" in row(dom)


def check_metrics(head: str, body: str, state: str) -> None:
    """What Prometheus scrapes is unchanged by the pages: its content type, and families it parses."""
    from prometheus_client import CONTENT_TYPE_LATEST
    from prometheus_client.parser import text_string_to_metric_families

    assert head == f"200 {CONTENT_TYPE_LATEST}"
    families: dict[str, Any] = {f.name: f for f in text_string_to_metric_families(body)}
    assert "vrrpkit_instance_state" in families and "vrrpkit_adverts_sent" in families
    states = {s.labels["state"]: s.value for s in families["vrrpkit_instance_state"].samples}
    assert states[state] == 1.0
