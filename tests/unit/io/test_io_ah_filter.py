"""io/ah_filter.py, run by the classic-BPF interpreter (tests/fuzz/cbpf.py, the kernel's stand-in;
tests/integration/test_ah_socket.py asks the kernel itself): keepalived's AH adverts pass, what
could never be one stays in the kernel."""

from __future__ import annotations

import sys
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fuzz"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cbpf
from test_ah import KEEPALIVED

from vrrpkit.io import ah_filter
from vrrpkit.io.vrrp_filter import FilterSpec, Mode, VridRule

MULTICAST = bytes.fromhex(KEEPALIVED[1][2])  # 192.0.2.201 -> 224.0.0.18, VRID 51
UNICAST = bytes.fromhex(KEEPALIVED[4][2])  # 192.0.2.201 -> 192.0.2.202


def passes(spec: FilterSpec, packet: bytes) -> bool:
    return cbpf.run(ah_filter.program(spec), packet) > 0


def edit(packet: bytes, at: int, value: bytes) -> bytes:
    return packet[:at] + value + packet[at + len(value) :]


def test_keepalived_s_ah_adverts_pass_and_what_could_never_be_one_is_dropped() -> None:
    spec = FilterSpec(4, (VridRule(51, Mode.MULTICAST),))
    assert passes(spec, MULTICAST)
    assert not passes(spec, edit(MULTICAST, 8, b"\x40"))  # TTL 64
    assert not passes(spec, edit(MULTICAST, 24, IPv4Address("192.0.2.9").packed))  # SPI is not the source
    assert not passes(spec, edit(MULTICAST, 20, b"\x06"))  # AH over something else
    assert not passes(spec, edit(MULTICAST, 45, b"\x34"))  # VRID 52: no instance here
    assert not passes(spec, edit(MULTICAST, 44, b"\x31"))  # VRRPv3 (AH is v2 only)
    assert not passes(spec, edit(MULTICAST, 0, b"\x46"))  # IP options
    assert not passes(spec, MULTICAST[:40])  # cut inside AH: a load past the end drops
    assert not passes(spec, UNICAST)  # a unicast destination for a multicast VRID
    assert passes(FilterSpec(4, (VridRule(51, Mode.ANY), VridRule(52, Mode.ANY))), edit(MULTICAST, 45, b"\x34"))


def test_unicast_vrids_take_unicast_from_their_peers_only() -> None:
    peers = FilterSpec(4, (VridRule(51, Mode.UNICAST, frozenset({IPv4Address("192.0.2.201")})),))
    assert passes(peers, UNICAST) and not passes(peers, MULTICAST)
    assert passes(FilterSpec(4, (VridRule(51, Mode.UNICAST),)), edit(UNICAST, 8, b"\x40"))  # no TTL rule
    stranger = FilterSpec(4, (VridRule(51, Mode.UNICAST, frozenset({IPv4Address("192.0.2.7")})),))
    assert not passes(stranger, UNICAST)


def test_every_vrid_fits_in_one_program() -> None:
    """log_unknown_vrids gives the filter a rule for each of the 255 VRIDs: every jump must reach."""
    every = FilterSpec(4, tuple(VridRule(v, Mode.MULTICAST) for v in range(1, 256)))
    program = ah_filter.program(every)
    assert cbpf.run(program, MULTICAST) > 0 and cbpf.run(program, edit(MULTICAST, 8, b"\x40")) == 0
    assert cbpf.run(program, edit(MULTICAST, 24, IPv4Address("192.0.2.9").packed)) == 0
