"""The BPF assembler and the receive filter's spec and size (what it accepts is fuzzed in
tests/fuzz/test_fuzz_filter.py; that the kernel agrees, in tests/integration)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface

import pytest

from vrrpkit.core.config import InstanceConfig, UnicastPeer, Vip
from vrrpkit.io import bpf, vrrp_filter
from vrrpkit.io.vrrp_filter import Mode, VridRule


def test_labels_resolve_forward_and_long_jumps_go_through_ja() -> None:
    a = bpf.Asm()
    a.op(bpf.LD_B_ABS, 0)
    a.jump(bpf.JEQ_K, 7, "yes", None)
    a.unless_eq(8, "no")
    a.label("yes")
    a.op(bpf.RET_K, 1)
    a.label("no")
    a.op(bpf.RET_K, 0)
    assert a.assemble() == [
        (bpf.LD_B_ABS, 0, 0, 0),
        (bpf.JEQ_K, 2, 0, 7),  # over the two instructions of unless_eq
        (bpf.JEQ_K, 1, 0, 8),  # equal: skip the ja
        (bpf.JA, 0, 0, 1),
        (bpf.RET_K, 0, 0, 1),
        (bpf.RET_K, 0, 0, 0),
    ]


def test_assembler_refuses_what_the_kernel_would() -> None:
    far = bpf.Asm()
    far.jump(bpf.JEQ_K, 1, "end", None)
    for _ in range(300):
        far.op(bpf.LD_IMM, 0)
    far.label("end")
    far.op(bpf.RET_K, 0)
    with pytest.raises(ValueError, match="use ja"):
        far.assemble()
    back = bpf.Asm()
    back.label("top")
    back.ja("top")
    with pytest.raises(ValueError, match="forward"):
        back.assemble()
    missing = bpf.Asm()
    missing.ja("nowhere")
    with pytest.raises(ValueError, match="undefined"):
        missing.assemble()
    assert bpf.u32(bpf.SKF_NET_OFF + 7) == 0xFFF00007


def _cfg(vrid: int, **kw: object) -> InstanceConfig:
    return InstanceConfig(f"VI_{vrid}", "eth0", vrid, version=3, vips=(Vip(IPv4Interface("192.0.2.99/24")),), **kw)  # type: ignore[arg-type]


def test_spec_per_vrid_mode_and_checked_peers() -> None:
    peer = UnicastPeer(IPv4Address("192.0.2.2"))
    spec = vrrp_filter.spec_for(
        4,
        [
            _cfg(1),
            _cfg(2, unicast_peers=(peer,)),
            _cfg(3, unicast_peers=(peer,), check_unicast_src=True),
            _cfg(4, unicast_peers=(UnicastPeer(IPv4Address("192.0.2.3"), min_ttl=250),)),
            _cfg(5),
            _cfg(5, unicast_peers=(peer,)),  # the same VRID in both modes: only common checks
            _cfg(6, mcast_group4=IPv4Address("224.0.0.19")),
        ],
    )
    assert spec.rules == (
        VridRule(1, Mode.MULTICAST),
        VridRule(2, Mode.UNICAST, None),
        VridRule(3, Mode.UNICAST, frozenset({peer.address})),
        VridRule(4, Mode.UNICAST, frozenset({IPv4Address("192.0.2.3")})),  # TTL limits check sources too
        VridRule(5, Mode.ANY),
        VridRule(6, Mode.MULTICAST),
    )
    assert spec.groups == (IPv4Address("224.0.0.18"), IPv4Address("224.0.0.19"))


def test_programs_fit_the_kernel_for_every_vrid_and_many_peers() -> None:
    v6vip = (Vip(IPv6Interface("2001:db8::99/64")),)
    full4 = [_cfg(v) for v in range(1, 256)]
    peer = UnicastPeer(IPv4Address("192.0.2.2"))
    scattered = [_cfg(v) if v % 2 else _cfg(v, unicast_peers=(peer,)) for v in range(1, 256)]
    peers6 = tuple(UnicastPeer(IPv6Address(f"2001:db8::{i:x}")) for i in range(1, 100))
    full6 = [
        InstanceConfig(f"VI_{v}", "eth0", v, version=3, vips=v6vip, unicast_peers=peers6, check_unicast_src=True)
        for v in range(1, 256)
    ]
    for family, configs in ((4, full4), (4, scattered), (6, full6)):
        prog = vrrp_filter.program(vrrp_filter.spec_for(family, configs))
        assert 0 < len(prog) <= bpf.MAX_INSNS
    # the common case verifies every advert's checksum in the kernel
    assert vrrp_filter.checksum_limit(4) == 8 + 4 * 255 + 8
    assert vrrp_filter.checksum_limit(6) >= 8 + 16 * 100
