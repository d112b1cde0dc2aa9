"""VrrpSocket4/6 between two lab namespaces: what arrives (src, dst, TTL), and what tshark says of it."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import pytest

from vrrpkit.core.config import IPAddress
from vrrpkit.core.packet import Advertisement, decode, encode
from vrrpkit.lab import Lab

pytestmark = pytest.mark.root

HELPER = str(Path(__file__).with_name("io_helper.py"))
GROUP4 = IPv4Address("224.0.0.18")
GROUP6 = IPv6Address("ff02::12")


def helper(*args: str) -> list[str]:
    return [sys.executable, HELPER, *args]


def run_json(lab: Lab, host: str, *args: str, timeout: float = 15.0) -> Any:
    done = lab.exec(host, helper(*args), timeout=timeout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def helper_while(lab: Lab, host: str, args: list[str], action: Callable[[subprocess.Popen[str]], None]) -> Any:
    """Start the helper in `host`, run `action` (the sender; it gets the helper's process) once
    the helper is READY, return the JSON document the helper printed last."""
    proc = lab.popen(host, helper(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "READY", proc.stderr.read() if proc.stderr else line
        action(proc)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def receive_while(lab: Lab, host: str, recv_args: list[str], action: Callable[[], None]) -> list[list[dict[str, Any]]]:
    """Open the receiving socket(s) in `host`, run `action` (the sender), return what arrived."""
    return helper_while(lab, host, ["recv", *recv_args], lambda _proc: action())["sockets"]  # type: ignore[no-any-return]


def tshark_verdict(pcap: Path) -> str:
    """tshark's full decode of the VRRP frames (no checksum complaint expected)."""
    tshark = shutil.which("tshark") or "/usr/bin/tshark"
    done = subprocess.run(
        [
            tshark,
            "-r",
            str(pcap),
            "-V",
            "-Y",
            "vrrp",
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "vrrp.v3_checksum_as_in_v2:FALSE",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ipv4_multicast_send_receive_ttl_dst_and_tshark(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(3)
    h1, h2 = lab.addr("h1"), lab.addr("h2")
    adv3 = Advertisement(version=3, vrid=51, priority=150, addresses=(IPv4Address("192.0.2.200"),), interval=1.0)
    adv2 = Advertisement(version=2, vrid=52, priority=100, addresses=(IPv4Address("192.0.2.201"),), interval=1)
    v3 = encode(adv3, h1, GROUP4)
    v2 = encode(adv2, h1, GROUP4)
    cap = lab.start_capture("h2")

    def send() -> None:
        for payload in (v3, v2):
            out = run_json(lab, "h1", "send", "--src", str(h1), "--payload", payload.hex())
            assert out == {"errors": [], "sent": 1, "send_errors": 0}

    # two sockets in h2: a multicast one, and a unicast one that joined nothing. With
    # IP_MULTICAST_ALL left at 1 the unicast socket would see the group too.
    got = receive_while(lab, "h2", ["--socket", "mcast", "--socket", f"ucast:{h2}", "--count", "2"], send)
    frames = cap.frames()
    mcast, ucast = got
    assert ucast == []
    assert [(d["src"], d["dst"], d["ttl"]) for d in mcast] == [(str(h1), str(GROUP4), 255)] * 2
    assert decode(bytes.fromhex(mcast[0]["payload"]), h1, GROUP4) == adv3
    assert decode(bytes.fromhex(mcast[1]["payload"]), h1, GROUP4) == adv2
    # on the wire: keepalived's IPv4 header
    ip_headers = [f.data[14:34] for f in frames if f.data[12:14] == b"\x08\x00"]
    assert len(ip_headers) == 2
    for header in ip_headers:
        assert header[1] == 0xC0  # TOS
        assert header[8] == 255  # TTL
        assert header[9] == 112  # protocol
        assert header[6:8] == b"\x00\x00"  # DF clear, no fragment offset
        assert IPv4Address(header[12:16]) == h1 and IPv4Address(header[16:20]) == GROUP4
    text = tshark_verdict(cap.path)
    assert text.count("Virtual Router Redundancy Protocol") == 2
    assert text.count("[Header checksum status: Good]") == 2, text
    assert text.count("[Checksum Status: Good]") == 2, text  # VRRP checksum of both frames
    assert "Bad" not in text and "incorrect" not in text.lower()
    assert "Time to Live: 255" in text and "Differentiated Services Field: 0xc0" in text


def test_ipv4_unicast_and_send_errors(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(3)
    h1, h2 = lab.addr("h1"), lab.addr("h2")
    adv = Advertisement(version=3, vrid=7, priority=100, addresses=(IPv4Address("192.0.2.207"),), interval=0.1)

    def send() -> None:
        payload = encode(adv, h1, h2).hex()
        out = run_json(lab, "h1", "send", "--unicast", "--src", str(h1), "--dst", str(h2), "--payload", payload)
        assert out["errors"] == []
        # multicast from h3 must not reach a unicast socket
        payload3 = encode(adv, lab.addr("h3"), GROUP4).hex()
        run_json(lab, "h3", "send", "--src", str(lab.addr("h3")), "--payload", payload3)

    (got,) = receive_while(lab, "h2", ["--socket", f"ucast:{h2}", "--count", "2", "--timeout", "2"], send)
    assert [(d["src"], d["dst"], d["ttl"]) for d in got] == [(str(h1), str(h2), 255)]
    assert decode(bytes.fromhex(got[0]["payload"]), h1, h2) == adv  # checksum over the unicast destination
    # a send while the link is down is returned as an error, never raised
    lab.exec("h1", ["ip", "link", "set", "eth0", "down"])
    out = run_json(lab, "h1", "send", "--src", str(h1), "--payload", encode(adv, h1, GROUP4).hex(), "--count", "2")
    lab.exec("h1", ["ip", "link", "set", "eth0", "up"])
    assert out["sent"] == 0 and out["send_errors"] == 2 and len(out["errors"]) == 2


def test_ipv6_multicast_and_unicast(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(2)
    ll1, ll2 = lab.link_local("h1"), lab.link_local("h2")
    adv = Advertisement(version=3, vrid=61, priority=200, addresses=(IPv6Address("fe80::61"),), interval=1.0)
    cap = lab.start_capture("h2")

    def send() -> None:
        payload = encode(adv, ll1, GROUP6).hex()
        out = run_json(lab, "h1", "send", "--family", "6", "--src", str(ll1), "--payload", payload)
        assert out["errors"] == []
        # the core computed the checksum with the pseudo-header; the kernel (IPV6_CHECKSUM) must agree
        # even when we hand it a zeroed checksum field
        zeroed = bytearray(encode(adv, ll1, ll2))
        zeroed[6:8] = b"\0\0"
        out = run_json(
            lab, "h1", "send", "--family", "6", "--unicast", "--src", str(ll1), "--dst", str(ll2),
            "--payload", zeroed.hex(),
        )  # fmt: skip
        assert out["errors"] == []

    got = receive_while(lab, "h2", ["--family", "6", "--socket", "mcast", "--count", "2"], send)
    frames = cap.frames()
    (mcast,) = got
    assert [(d["src"], d["dst"], d["ttl"]) for d in mcast] == [(str(ll1), str(GROUP6), 255), (str(ll1), str(ll2), 255)]
    assert decode(bytes.fromhex(mcast[0]["payload"]), ll1, GROUP6) == adv
    assert decode(bytes.fromhex(mcast[1]["payload"]), ll1, ll2) == adv  # kernel filled in the right checksum
    hop_limits = [f.data[21] for f in frames if f.data[12:14] == b"\x86\xdd" and f.data[20] == 112]
    assert hop_limits == [255, 255]
    text = tshark_verdict(cap.path)
    assert text.count("Virtual Router Redundancy Protocol") == 2
    assert text.count("[Checksum Status: Good]") == 2, text
    assert "Bad" not in text


def test_tcpdump_verbose_decodes_our_advert(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(2)
    h1 = lab.addr("h1")
    adv = Advertisement(version=2, vrid=9, priority=120, addresses=(IPv4Address("192.0.2.209"),), interval=1)
    cap = lab.start_capture("h2")
    run_json(lab, "h1", "send", "--src", str(h1), "--payload", encode(adv, h1, GROUP4).hex())
    path = cap.stop()
    tcpdump = shutil.which("tcpdump") or "/usr/bin/tcpdump"
    done = subprocess.run([tcpdump, "-r", str(path), "-v", "-n"], capture_output=True, text=True, timeout=30)
    line = done.stdout
    assert "VRRPv2, Advertisement, vrid 9, prio 120" in line, line
    assert "ttl 255" in line and "tos 0xc0" in line and "192.0.2.209" in line
    assert "bad" not in line.lower()
    assert ip_address("192.0.2.209")


@pytest.mark.parametrize("family", [4, 6])
def test_a_burst_of_adverts_leaves_in_one_call_and_again_as_prepared(make_lab: Callable[..., Lab], family: int) -> None:
    """send_many (sendmmsg) twice with the same 50 adverts: 100 arrive, each one intact, from the
    source given (IPv6: in each message's IPV6_PKTINFO), the first at its own hop limit."""
    lab = make_lab(2, ipv6=family == 6)
    h1, group = (lab.addr("h1"), GROUP4) if family == 4 else (lab.link_local("h1"), GROUP6)
    sending = ["burst", "--family", str(family), "--src", str(h1), "--count", "50", "--ttl", "64"]

    def send() -> None:
        assert run_json(lab, "h1", *sending) == {"errors": [0, 0], "sent": 100}

    receiving = ["--family", str(family), "--socket", "mcast", "--count", "100", "--timeout", "5"]
    (got,) = receive_while(lab, "h2", receiving, send)
    assert len(got) == 100 and {d["src"] for d in got} == {str(h1)}
    vrids = [decode(bytes.fromhex(d["payload"]), h1, group).vrid for d in got]
    assert sorted(vrids) == sorted(list(range(1, 51)) * 2)
    hops = {decode(bytes.fromhex(d["payload"]), h1, group).vrid: d["ttl"] for d in got}
    assert hops[1] == 64 and set(hops.values()) == {64, 255}


def _lazy_lab(make_lab: Callable[..., Lab], family: int) -> tuple[Lab, IPAddress, IPAddress, tuple[IPAddress, ...]]:
    """A two-host lab, h1's advert source (IPv6: its link-local address), the group and a VIP."""
    lab = make_lab(2)
    if family == 4:
        return lab, lab.addr("h1"), GROUP4, (IPv4Address("192.0.2.200"),)
    return lab, lab.link_local("h1"), GROUP6, (IPv6Address("2001:db8::200"),)


@pytest.mark.parametrize("family", [4, 6])
def test_a_lazy_socket_wakes_only_for_a_goodbye_and_stamps_every_advert(
    make_lab: Callable[..., Lab], family: int
) -> None:
    """While every instance on a socket is BACKUP the daemon waits on its goodbye socket only
    (io/wake.py): adverts queue without waking it, a priority-0 advert wakes it, and then the
    whole queue is there in order, each datagram stamped with its arrival (monotonic clock)."""
    lab, h1, group, vip = _lazy_lab(make_lab, family)
    steady = encode(Advertisement(version=3, vrid=51, priority=150, addresses=vip, interval=0.1), h1, group)
    goodbye = encode(Advertisement(version=3, vrid=51, priority=0, addresses=vip, interval=0.1), h1, group)
    sending = ["send", "--family", str(family), "--src", str(h1)]

    def send(proc: subprocess.Popen[str]) -> None:
        out = run_json(lab, "h1", *sending, "--payload", steady.hex(), "--count", "3", "--gap", "0.2")
        assert out["sent"] == 3
        assert proc.poll() is None  # three adverts and still asleep
        run_json(lab, "h1", *sending, "--payload", goodbye.hex())

    doc = helper_while(lab, "h2", ["lazy", "--family", str(family), "--timeout", "10"], send)
    assert doc["woken"] and doc["goodbyes"] == 1 and doc["bad"] == 0
    got = doc["got"]
    assert [d["priority"] for d in got] == [150, 150, 150, 0]
    stamps = [d["at"] for d in got]
    assert stamps == sorted(stamps) and stamps[-1] <= doc["woke_at"]
    # the three were sent 0.2 s apart and read together: their stamps say so, not the read time
    assert all(0.1 < later - earlier < 1.0 for earlier, later in itertools.pairwise(stamps[:3]))


@pytest.mark.parametrize("family", [4, 6])
def test_known_adverts_are_matched_as_the_kernel_delivers_them(make_lab: Callable[..., Lab], family: int) -> None:
    """io/stamped.py's byte match on what the kernel really delivers (IPv4: every packet its own
    IP id and header checksum; IPv6: the addresses and hop limit in the datagram's name and
    control data, io/stamped6.py): the first advert is parsed and learnt, its copies come back
    only as known, each read with its arrival; a changed advert (another priority) is parsed again."""
    lab, h1, group, vip = _lazy_lab(make_lab, family)
    steady = encode(Advertisement(version=3, vrid=51, priority=150, addresses=vip, interval=0.1), h1, group)
    lower = encode(Advertisement(version=3, vrid=51, priority=140, addresses=vip, interval=0.1), h1, group)
    sending = ["send", "--family", str(family), "--src", str(h1)]

    def send(proc: subprocess.Popen[str]) -> None:
        run_json(lab, "h1", *sending, "--payload", steady.hex(), "--count", "4", "--gap", "0.2")
        run_json(lab, "h1", *sending, "--payload", lower.hex())

    doc = helper_while(lab, "h2", ["known", "--family", str(family), "--count", "5", "--timeout", "10"], send)
    assert doc["parsed"] == [150, 140]
    assert [(k["priority"], k["count"]) for k in doc["known"]] == [(150, 1)] * 3
    arrivals = [k["at"] for k in doc["known"]]
    assert arrivals == sorted(arrivals) and arrivals[-1] <= doc["now"]
