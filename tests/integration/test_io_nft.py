"""no_accept: the nftables table drops traffic to a master's VIPs while neighbour discovery still works."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vrrpkit.lab import Lab

pytestmark = pytest.mark.root

HELPER = str(Path(__file__).with_name("io_helper.py"))
VIP4, VIP6 = "192.0.2.70", "2001:db8::70"


def run_json(lab: Lab, host: str, *args: str) -> Any:
    done = lab.exec(host, [sys.executable, HELPER, *args], timeout=20)
    return json.loads(done.stdout.strip().splitlines()[-1])


def tables(lab: Lab, host: str) -> str:
    return lab.exec(host, ["nft", "list", "tables"]).stdout


def test_no_accept_drops_and_removal_restores(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(2)
    run_json(lab, "h1", "vip", "add", f"{VIP4}/32")
    run_json(lab, "h1", "vip", "add", f"{VIP6}/128")
    assert lab.ping("h2", VIP4, count=2) == 2 and lab.ping("h2", VIP6, count=2) == 2

    run_json(lab, "h1", "nft", "setup")
    run_json(lab, "h1", "nft", "setup")  # a leftover table is replaced, not an error
    assert "table inet vrrpkit" in tables(lab, "h1")
    run_json(lab, "h1", "nft", "add-async", VIP4, VIP6)  # the daemon's (non-blocking) path
    lab.exec("h2", ["ip", "-6", "neigh", "flush", "dev", "eth0"])
    assert lab.ping("h2", VIP4, count=3) == 0
    assert lab.ping("h2", VIP6, count=3) == 0
    # neighbour discovery was accepted before the drop: h2 resolved the VIP to h1's MAC
    neigh = json.loads(lab.exec("h2", ["ip", "-j", "-6", "neigh", "show", VIP6]).stdout)
    assert neigh and neigh[0].get("lladdr") == lab.mac("h1"), neigh
    assert lab.ping("h2", "h1", count=2) == 2  # the host's own address is untouched

    run_json(lab, "h1", "nft", "remove", VIP4, VIP6)
    run_json(lab, "h1", "nft", "remove", VIP4, VIP6)  # idempotent
    assert lab.ping("h2", VIP4, count=2) == 2 and lab.ping("h2", VIP6, count=2) == 2

    run_json(lab, "h1", "nft", "add", VIP4)
    assert lab.ping("h2", VIP4, count=2) == 0
    run_json(lab, "h1", "nft", "teardown")
    run_json(lab, "h1", "nft", "teardown")  # idempotent
    assert "vrrpkit" not in tables(lab, "h1")
    assert lab.ping("h2", VIP4, count=2) == 2
