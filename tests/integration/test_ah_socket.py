"""io/ah_socket.py between two lab namespaces: the kernel takes the filter's decisions (io/ah_filter.py)
on real packets, as the interpreter does (tests/unit/io/test_io_ah_filter.py), and a sealed packet
arrives whole, for its session to open."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from vrrpkit.lab import Lab

pytestmark = pytest.mark.root

RECEIVER = """
import json, select, sys, time
from vrrpkit.io.ah_socket import AhSocket4
from vrrpkit.io.vrrp_filter import FilterSpec, Mode, VridRule
sock = AhSocket4("eth0")
sock.set_filter(FilterSpec(4, (VridRule(51, Mode.MULTICAST),)))
print("READY", flush=True)
got, end = [], time.monotonic() + 3.0
while time.monotonic() < end:
    if select.select([sock.fileno()], [], [], 0.1)[0]:
        good, bad = sock.drain()
        got += [d.payload.hex() for d in good]
print(json.dumps(got), flush=True)
"""

SENDER = """
import socket, sys
from ipaddress import IPv4Address
from vrrpkit.core.ah import ah_key, seal
from vrrpkit.core.packet import AUTH_AH, Advertisement, encode
src, group = IPv4Address(sys.argv[1]), IPv4Address("224.0.0.18")
def packet(vrid=51, ttl=255, spi=None):
    message = encode(Advertisement(2, vrid, 150, (IPv4Address("192.0.2.250"),), 1.0, auth_type=AUTH_AH), src, group)
    raw = seal(ah_key(b"secret12"), message, src, group, ttl, 1, 1, False)
    return raw if spi is None else raw[:24] + spi.packed + raw[28:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 51)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
for raw in (packet(ttl=64), packet(spi=IPv4Address("192.0.2.9")), packet(vrid=52), packet()):
    s.sendto(raw, ("224.0.0.18", 0))
"""


def test_the_kernel_keeps_only_what_could_be_keepalived_s_ah_advert(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(2)
    h1 = lab.addr("h1")
    proc = lab.popen("h2", [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read() if proc.stderr else ""
        time.sleep(0.2)
        lab.exec("h1", [sys.executable, "-c", SENDER, str(h1)], timeout=15)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    got = [bytes.fromhex(p) for p in json.loads(out.strip().splitlines()[-1])]
    assert len(got) == 1, (got, err)  # TTL 64, a forged SPI and VRID 52 stayed in the kernel
    message, header = got[0][:-44], got[0][-44:-24]
    assert message[1] == 51 and message[4] == 2 and header[9] == 51 and header[8] == 255
