"""The kernel runs the receive filter exactly as tests/fuzz/cbpf.py interprets it.

The fuzzers prove the filter (through the interpreter) never drops what a router accepts; this
proves the interpreter is the kernel. h2 sends whole Ethernet frames (valid adverts of every form
and version, for configured and unconfigured VRIDs, to the group and to h1, with TTL 255 and not,
from a listed peer and not, and mutated ones: bit flips, bad checksums, wrong counts and lengths)
to h1, whose VrrpSocket carries the filter; what arrives must be exactly what the interpreter
accepts, IPv4 and IPv6. About 4 s of namespace time.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

import cbpf

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6
from vrrpkit.core.packet import Advertisement, build_ipv4, checksum, encode
from vrrpkit.io import vrrp_filter
from vrrpkit.io.vrrp_filter import FilterSpec, Mode, VridRule
from vrrpkit.lab import Lab

pytestmark = pytest.mark.root

HELPER = str(Path(__file__).with_name("filter_helper.py"))
IPAddr = IPv4Address | IPv6Address


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _spec(family: int, peer: IPAddr) -> FilterSpec:
    rules = [VridRule(v, Mode.MULTICAST) for v in range(1, 13)]
    rules += [VridRule(v, Mode.UNICAST, frozenset({peer})) for v in range(20, 25)]
    rules += [VridRule(v, Mode.UNICAST) for v in range(30, 34)]
    rules.append(VridRule(40, Mode.ANY))
    return FilterSpec(family, tuple(rules), (VRRP_GROUP4,) if family == 4 else ())


def _spec_json(spec: FilterSpec) -> str:
    rules = [
        {"vrid": r.vrid, "mode": r.mode.value, "peers": sorted(map(str, r.peers)) if r.peers is not None else None}
        for r in spec.rules
    ]
    return json.dumps({"family": spec.family, "rules": rules, "groups": [str(g) for g in spec.groups]})


def _reseal(msg: bytes, prefix: bytes) -> bytes:
    body = msg[:6] + b"\0\0" + msg[8:]
    return body[:6] + struct.pack("!H", checksum(prefix + body)) + body[8:]


def _messages(rng: random.Random, family: int, src: IPAddr, dst: IPAddr) -> list[bytes]:
    """Valid adverts of the kinds the codec accepts, then one mutation of each."""
    vrid = rng.choice((1, 5, 12, 20, 22, 30, 33, 40, 99, 0, 255))
    addrs: tuple[IPAddr, ...] = (
        tuple(IPv4Address(rng.getrandbits(32)) for _ in range(rng.randrange(1, 4)))
        if family == 4
        else tuple(IPv6Address(rng.getrandbits(128)) for _ in range(rng.randrange(1, 3)))
    )
    out = []
    if vrid:
        v3 = encode(Advertisement(3, vrid, rng.randrange(256), addrs, rng.choice((1.0, 0.1, 0.01))), src, dst)
        out.append(v3)
        if family == 4:
            out.append(_reseal(v3, b""))  # RFC 9568 / v3_checksum_as_v2
            out.append(_reseal(v3, src.packed + VRRP_GROUP4.packed + struct.pack("!xBH", 112, len(v3))))  # FRR
            out.append(encode(Advertisement(2, vrid, 100, addrs, 1.0, 1, b"pw"), src, dst))
    mutated = []
    for msg in out or [bytes(8)]:
        buf = bytearray(msg)
        roll = rng.random()
        if roll < 0.4:
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif roll < 0.55:
            buf[6:8] = b"\0\0"
        elif roll < 0.7:
            buf[3] = (buf[3] + 1) & 0xFF  # count disagrees with the length
        elif roll < 0.85:
            del buf[-4:]
        else:
            buf[0] = rng.choice((0x11, 0x32, 0x41, 0x21 if family == 6 else 0x30))
        mutated.append(bytes(buf))
    return out + mutated


def _packets(lab: Lab, family: int, seed: int) -> list[tuple[bytes, IPAddr, int, bytes]]:
    """(frame, src, ttl, message) for ~300 distinct packets from h2 to h1."""
    rng = random.Random(seed)
    h2mac = _mac(lab.mac("h2"))
    if family == 4:
        sources: list[IPAddr] = [lab.addr("h2"), IPv4Address("192.0.2.77")]
        group_mac, h1_mac = _mac("01:00:5e:00:00:12"), _mac(lab.mac("h1"))
        dsts: list[tuple[IPAddr, bytes]] = [(VRRP_GROUP4, group_mac), (lab.addr("h1"), h1_mac)]
    else:
        sources = [lab.link_local("h2"), IPv6Address("fe80::77")]
        dsts = [(VRRP_GROUP6, _mac("33:33:00:00:00:12")), (lab.link_local("h1"), _mac(lab.mac("h1")))]
    seen: set[tuple[IPAddr, int, bytes]] = set()
    out = []
    while len(out) < 300:
        src = rng.choice(sources)
        dst, dmac = rng.choice(dsts)
        ttl = rng.choice((255, 255, 255, 254, 64))
        for msg in _messages(rng, family, src, dst):
            if (src, ttl, msg) in seen:
                continue
            seen.add((src, ttl, msg))
            if family == 4:
                ip = build_ipv4(src, dst, msg, ttl=ttl)  # type: ignore[arg-type]
                frame = dmac + h2mac + b"\x08\x00" + ip
            else:
                ip = struct.pack("!IHBB", 0x60000000, len(msg), 112, ttl) + src.packed + dst.packed + msg
                frame = dmac + h2mac + b"\x86\xdd" + ip
            out.append((frame, src, ttl, msg))
    return out


@pytest.mark.parametrize("family", [4, 6])
def test_the_kernel_filters_exactly_as_the_interpreter(make_lab: Any, family: int) -> None:
    lab: Lab = make_lab(2, ipv6=family == 6)
    peer = lab.addr("h2") if family == 4 else lab.link_local("h2")
    spec = _spec(family, peer)
    program = vrrp_filter.program(spec)
    packets = _packets(lab, family, seed=family)
    expected = set()
    for frame, src, ttl, msg in packets:
        ip = frame[14:]
        seen = ip if family == 4 else msg
        if cbpf.run(program, seen, ip) != 0:
            expected.add((str(src), ttl, msg.hex()))
    assert 40 < len(expected) < len(packets) - 40  # both verdicts are well represented
    (lab.workdir / f"frames{family}.txt").write_text("\n".join(f[0].hex() for f in packets))
    recv = lab.popen(
        "h1",
        [sys.executable, HELPER, "recv", str(family), _spec_json(spec), "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert recv.stdout is not None and recv.stdout.readline().strip() == "READY"
        lab.exec("h2", [sys.executable, HELPER, "frames", str(lab.workdir / f"frames{family}.txt")], timeout=30)
        out, _err = recv.communicate(timeout=30)
    finally:
        if recv.poll() is None:
            recv.kill()
            recv.wait()
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["filter_size"] == len(program)
    got = {(d["src"], d["ttl"], d["payload"]) for d in doc["received"] if "payload" in d}
    assert got == expected, {"kernel only": sorted(got - expected)[:5], "interpreter only": sorted(expected - got)[:5]}


def test_ip_address_helper_roundtrip() -> None:
    """The spec survives the trip to the helper (what it attaches is what the test interpreted)."""
    sys.path.insert(0, str(Path(HELPER).parent))
    from filter_helper import spec_from_json

    spec = _spec(4, ip_address("192.0.2.2"))
    assert spec_from_json(json.loads(_spec_json(spec))) == spec
