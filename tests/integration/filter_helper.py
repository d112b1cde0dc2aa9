"""Runs one side of test_io_vrrp_filter.py inside a lab host (``lab.popen(host, [python, filter_helper.py, ...])``).

``recv FAMILY SPEC_JSON SECONDS``: a VrrpSocket on eth0 with the kernel filter for SPEC, joined to
the group; prints READY, then everything it read within SECONDS as one JSON document.
``frames FILE``: sends the Ethernet frames in FILE (one hex string per line) out of eth0 through a
packet socket, a millisecond apart, so the IP layer sees exactly the headers the test wrote.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import time
from ipaddress import ip_address
from typing import Any

from vrrpkit.io.vrrp_filter import FilterSpec, Mode, VridRule
from vrrpkit.io.vrrp_socket import open_vrrp_socket


def spec_from_json(doc: dict[str, Any]) -> FilterSpec:
    def peers(r: dict[str, Any]) -> frozenset[Any] | None:
        return frozenset(ip_address(p) for p in r["peers"]) if r["peers"] is not None else None

    rules = tuple(VridRule(r["vrid"], Mode(r["mode"]), peers(r)) for r in doc["rules"])
    return FilterSpec(doc["family"], rules, tuple(ip_address(g) for g in doc["groups"]))  # type: ignore[misc]


def recv(family: int, spec_json: str, seconds: float) -> None:
    sock = open_vrrp_socket("eth0", family)
    sock.set_filter(spec_from_json(json.loads(spec_json)))
    print("READY", flush=True)
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if select.select([sock], [], [], left)[0]:
            good, bad = sock.drain(1000)
            got += [{"src": str(d.src), "ttl": d.ttl, "payload": d.payload.hex()} for d in good]
            got += [{"invalid": str(exc)} for exc in bad]
    print(json.dumps({"received": got, "filter_size": sock.filter_size}), flush=True)


def frames(path: str) -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind(("eth0", 0))
    sent = 0
    with open(path) as f:
        for line in f:
            if line.strip():
                sock.send(bytes.fromhex(line.strip()))
                sent += 1
                time.sleep(0.001)
    print(json.dumps({"sent": sent}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
    else:
        frames(sys.argv[2])
