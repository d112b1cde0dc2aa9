"""The kernel filter on each VRRP receive socket: what user space never needs stays in the kernel.

A flood of protocol-112 packets (a looping switch, a misconfigured neighbour, garbage with the
right VRID) must not reach Python one datagram at a time, and must not fill the socket's queue so
that the real master's adverts are dropped in front of it. So every raw socket carries a classic
BPF program, rebuilt whenever the instances on it change, that drops:

* anything but a VRRP advertisement: version 2 or 3, type 1 (v2 over IPv6 is keepalived's own form,
  without authentication data: core/packet.py);
* VRIDs no instance on this (interface, family) runs;
* for a VRID whose instances are all multicast: a TTL / hop limit other than 255, or a unicast
  destination; for a VRID whose instances are all unicast: a multicast destination, and a source
  that is no ``unicast_peer`` when the instances check sources (``check_unicast_src``, TTL limits);
* a length that disagrees with the address count, a v3 advert without addresses (unless an
  instance here has no_virtual_ipaddress), interval 0;
* a bad checksum, in every form the codec accepts (v2; v3 with the IPv4 pseudo-header on the real
  destination, on any configured group, or without one; v3 with the IPv6 pseudo-header), for
  adverts of up to `checksum_limit` bytes (the 4096-instruction budget; longer ones pass unchecked),
  unless an instance here takes any v3 checksum (v3_checksum_as_v2): then user space checks them.

Each rule here is one of the receive rules in `vrrpkit.core` (the router keeps all of them: the
filter is a shield, never the only check), and it must never drop what the router would accept:
tests/fuzz/test_fuzz_filter.py runs the fuzzers' corpus through an interpreter of the program and
through the codec and router, and tests/integration checks the kernel agrees with the interpreter.
What the kernel drops cannot be counted (classic BPF has no counters); see docs/reliability.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address

from vrrpkit.core.config import InstanceConfig, IPAddress
from vrrpkit.io import bpf
from vrrpkit.io.bpf import Asm
from vrrpkit.io.fdsocket import BpfInsn

PROTO_VRRP = 112
# scratch memory words
M_LEN, M_SUM, M_TMP, M_VER = 0, 1, 2, 3
# Instructions the unrolled checksum may take. The kernel charges a filter (after translating it to
# eBPF, which makes it larger) to the socket's option memory: ~3100 classic instructions fit in the
# default 128 KiB, so a filter is built to fit and a smaller one is tried if the kernel says ENOMEM.
CHECKSUM_BUDGET = 2800


class Mode(Enum):
    MULTICAST = "multicast"  # every instance of the VRID here is multicast: TTL 255, group destination
    UNICAST = "unicast"  # every instance is unicast: unicast destination (and peers, when checked)
    ANY = "any"  # both kinds share the VRID: only the checks common to both


@dataclass(frozen=True)
class VridRule:
    vrid: int
    mode: Mode
    peers: frozenset[IPAddress] | None = None  # UNICAST with checked sources: the only ones allowed


@dataclass(frozen=True)
class FilterSpec:
    """What the filter of one (interface, family) socket accepts."""

    family: int
    rules: tuple[VridRule, ...]
    groups: tuple[IPv4Address, ...] = ()  # IPv4 v3 checksum over the group (FRR unicasting)
    check_checksum: bool = True  # False when an instance here takes any v3 checksum (v3_checksum_as_v2)
    allow_empty: bool = False  # an instance here takes v3 adverts without addresses (no_virtual_ipaddress)


def spec_for(family: int, configs: Iterable[InstanceConfig]) -> FilterSpec:
    """The filter spec for the instances that share one socket (same interface and family)."""
    by_vrid: dict[int, list[InstanceConfig]] = {}
    groups: set[IPv4Address] = set()
    check_checksum, allow_empty = True, False
    for cfg in configs:
        by_vrid.setdefault(cfg.vrid, []).append(cfg)
        groups.add(cfg.mcast_group4)
        check_checksum = check_checksum and not cfg.v3_checksum_as_v2
        allow_empty = allow_empty or cfg.no_virtual_ipaddress
    rules = []
    for vrid, cfgs in sorted(by_vrid.items()):
        if all(not c.unicast for c in cfgs):
            rules.append(VridRule(vrid, Mode.MULTICAST))
        elif all(c.unicast for c in cfgs):
            peers = None
            if all(c.checks_unicast_sources for c in cfgs):
                peers = frozenset(p.address for c in cfgs for p in c.unicast_peers)
            rules.append(VridRule(vrid, Mode.UNICAST, peers))
        else:
            rules.append(VridRule(vrid, Mode.ANY))
    return FilterSpec(
        family, tuple(rules), tuple(sorted(groups)) if family == 4 else (), check_checksum, allow_empty
    )


def checksum_limit(family: int, budget: int = CHECKSUM_BUDGET) -> int:
    """The longest advert whose checksum a filter verifies with ``budget`` instructions for it
    (longer ones pass to user space, which checks everything anyway)."""
    step = 4 if family == 4 else 16
    longest = 8 + step * 255 + (8 if family == 4 else 0)
    per_byte = 3 / 2 + 3 / step  # 3 instructions per halfword, 3 more per valid length
    return min(longest, int(budget / per_byte) // 4 * 4)


def program(spec: FilterSpec, budget: int = CHECKSUM_BUDGET) -> list[BpfInsn]:
    """The filter for ``spec``. Many VRID ranges or peers leave less room for the unrolled
    checksum: it then covers shorter adverts, never fewer rules."""
    while True:
        try:
            return _Builder(spec, checksum_limit(spec.family, budget)).build()
        except ProgramTooLong:
            if budget <= 0:
                raise
            budget = max(0, budget - 400)


class ProgramTooLong(ValueError):
    pass


class _Builder:
    def __init__(self, spec: FilterSpec, limit: int) -> None:
        self.spec = spec
        self.v4 = spec.family == 4
        self.limit = limit
        self.a = Asm()

    # --- loads: IPv4 sockets see the IP header (X = its length), IPv6 sockets start at VRRP ---

    def _ihl(self) -> None:
        if self.v4:
            self.a.op(bpf.LDX_MSH, 0)  # X = 4 * (IP[0] & 0xf)

    def _vrrp_byte(self, offset: int) -> None:
        self.a.op(bpf.LD_B_IND if self.v4 else bpf.LD_B_ABS, offset)

    def _vrrp_half(self, offset: int) -> None:
        self.a.op(bpf.LD_H_IND if self.v4 else bpf.LD_H_ABS, offset)

    def _ttl(self) -> None:
        self.a.op(bpf.LD_B_ABS, 8 if self.v4 else bpf.SKF_NET_OFF + 7)

    def _dst_first_byte(self) -> None:
        self.a.op(bpf.LD_B_ABS, 16 if self.v4 else bpf.SKF_NET_OFF + 24)

    def _src_word(self, i: int) -> None:
        self.a.op(bpf.LD_W_ABS, 12 + 4 * i if self.v4 else bpf.SKF_NET_OFF + 8 + 4 * i)

    # --- the program ---------------------------------------------------------------------------

    def build(self) -> list[BpfInsn]:
        a = self.a
        # length of the VRRP message
        if self.v4:
            self._ihl()
            a.op(bpf.LD_H_ABS, 2)  # total length
            a.op(bpf.SUB_X)
        else:
            a.op(bpf.LD_W_LEN)
        a.op(bpf.ST, M_LEN)
        # version and type
        self._vrrp_byte(0)
        a.jump(bpf.JEQ_K, 0x31, "v3", None)
        a.jump(bpf.JEQ_K, 0x21, "v2", None)
        a.ja("drop")
        a.label("v2")
        a.op(bpf.LD_IMM, 2)
        a.op(bpf.ST, M_VER)
        a.ja("vrid")
        a.label("v3")
        a.op(bpf.LD_IMM, 3)
        a.op(bpf.ST, M_VER)
        a.label("vrid")
        self._vrids()
        self._rule_blocks()
        a.label("length")
        self._length()
        if self.spec.check_checksum:
            self._checksum()
        else:  # the codec takes any v3 checksum here: leave every checksum to user space
            a.label("checksum")
        a.label("accept")
        a.op(bpf.RET_K, bpf.ACCEPT_ALL)
        a.label("drop")
        a.op(bpf.RET_K, 0)
        if len(a) > bpf.MAX_INSNS:
            raise ProgramTooLong(f"{len(a)} instructions")
        return a.assemble()

    def _blocks(self) -> dict[tuple[Mode, frozenset[IPAddress] | None], str]:
        names: dict[tuple[Mode, frozenset[IPAddress] | None], str] = {}
        for rule in self.spec.rules:
            names.setdefault((rule.mode, rule.peers), f"rule{len(names)}")
        return names

    def _vrids(self) -> None:
        """Ranges of consecutive VRIDs with the same rule share three instructions."""
        a, names = self.a, self._blocks()
        ranges: list[tuple[int, int, str]] = []
        for rule in self.spec.rules:
            block = names[(rule.mode, rule.peers)]
            if ranges and ranges[-1][1] == rule.vrid - 1 and ranges[-1][2] == block:
                ranges[-1] = (ranges[-1][0], rule.vrid, block)
            else:
                ranges.append((rule.vrid, rule.vrid, block))
        self._ihl()
        self._vrrp_byte(1)
        for n, (lo, hi, block) in enumerate(ranges):
            nxt = f"range{n + 1}"
            a.jump(bpf.JGE_K, lo, None, nxt)
            a.jump(bpf.JGT_K, hi, nxt, None)
            a.ja(block)
            a.label(nxt)
        a.ja("drop")

    def _rule_blocks(self) -> None:
        a = self.a
        for (mode, peers), name in self._blocks().items():
            a.label(name)
            if mode is Mode.MULTICAST:
                self._ttl()
                a.unless_eq(255, "drop")
                self._multicast_dst()
                a.unless_eq(1, "drop")
            elif mode is Mode.UNICAST:
                self._multicast_dst()
                a.if_eq(1, "drop")
                if peers is not None:
                    self._peers(peers, name)
            a.ja("length")

    def _multicast_dst(self) -> None:
        """A = 1 if the destination is multicast, else something else."""
        a = self.a
        self._dst_first_byte()
        if self.v4:
            a.op(bpf.AND_K, 0xF0)
            a.op(bpf.RSH_K, 4)
            a.op(bpf.ADD_K, 1 - 0xE)  # 0xE -> 1 (wraps for the rest, never 1)
        else:
            a.op(bpf.ADD_K, 1 - 0xFF)

    def _peers(self, peers: frozenset[IPAddress], name: str) -> None:
        a = self.a
        words = 1 if self.v4 else 4
        for n, peer in enumerate(sorted(peers, key=lambda p: p.packed)):
            packed = peer.packed
            if len(packed) != 4 * words:
                continue  # a peer of the other family can never be a source here
            miss = f"{name}peer{n + 1}"
            for i in range(words):
                self._src_word(i)
                a.jump(bpf.JEQ_K, int.from_bytes(packed[4 * i : 4 * i + 4], "big"), None, miss)
            a.ja("length")
            a.label(miss)
        a.ja("drop")

    def _length(self) -> None:
        """Length = 8 + count x address size (+ 8 bytes of v2 authentication over IPv4); count >= 1
        for v3; a non-zero interval."""
        a = self.a
        self._ihl()
        self._vrrp_byte(3)  # count
        a.op(bpf.ST, M_TMP)
        a.op(bpf.LD_MEM, M_VER)
        a.jump(bpf.JEQ_K, 2, "v2len", None)
        a.op(bpf.LD_MEM, M_TMP)
        if not self.spec.allow_empty:  # no_virtual_ipaddress: a v3 advert may carry no address
            a.unless_eq(0, "v3len")
            a.ja("drop")
        a.label("v3len")
        a.op(bpf.LD_MEM, M_TMP)
        a.op(bpf.LSH_K, 2 if self.v4 else 4)
        a.op(bpf.ADD_K, 8)
        a.ja("cmplen")
        a.label("v2len")
        a.op(bpf.LD_MEM, M_TMP)
        a.op(bpf.LSH_K, 2 if self.v4 else 4)
        a.op(bpf.ADD_K, 16 if self.v4 else 8)
        a.label("cmplen")
        a.op(bpf.LDX_MEM, M_LEN)
        a.jump(bpf.JEQ_X, 0, None, "drop0")
        # interval: v2 byte 5, v3 the low 12 bits of bytes 4-5
        self._ihl()
        a.op(bpf.LD_MEM, M_VER)
        a.jump(bpf.JEQ_K, 2, "v2int", None)
        self._vrrp_half(4)
        a.op(bpf.AND_K, 0x0FFF)
        a.ja("intcheck")
        a.label("v2int")
        self._vrrp_byte(5)
        a.label("intcheck")
        a.if_eq(0, "drop")
        a.ja("checksum")
        a.label("drop0")
        a.ja("drop")

    def _checksum(self) -> None:
        """Sum the message's halfwords into X, unrolled up to `checksum_limit`; at each valid
        length, if it is the message's, fold and compare with each form the codec accepts."""
        a = self.a
        a.label("checksum")
        base = 0
        if self.v4:
            # IP options move the message; the codec checks those rare packets itself
            self._ihl()
            a.op(bpf.TXA)
            a.unless_eq(20, "accept")
            base = 20
        limit = self.limit
        a.op(bpf.LD_MEM, M_LEN)
        a.if_(bpf.JGT_K, limit, "accept")
        a.op(bpf.LDX_IMM, 0)
        step = 4 if self.v4 else 16
        for offset in range(0, limit, 2):
            a.op(bpf.LD_H_ABS, base + offset)
            a.op(bpf.ADD_X)
            a.op(bpf.TAX)
            length = offset + 2
            if length >= 8 + step and (length - 8) % step == 0:
                a.op(bpf.LD_MEM, M_LEN)
                a.if_eq(length, "summed")
        a.ja("drop")
        a.label("summed")
        a.op(bpf.STX, M_SUM)
        if self.v4:
            a.op(bpf.LD_MEM, M_VER)
            a.unless_eq(3, "nopseudo")  # v2: the message alone
            self._pseudo_sum(dst=None)
            self._fold_and_accept()
            for group in self.spec.groups:
                self._pseudo_sum(dst=group)
                self._fold_and_accept()
            a.label("nopseudo")  # v2, and v3 as RFC 9568 / v3_checksum_as_v2 sends it
            a.op(bpf.LD_MEM, M_SUM)
            self._fold_and_accept()
        else:
            self._pseudo_sum(dst=None)
            self._fold_and_accept()
        a.ja("drop")

    def _pseudo_sum(self, dst: IPv4Address | None) -> None:
        """A = message sum + pseudo-header (source, destination or ``dst``, protocol, length)."""
        a = self.a
        a.op(bpf.LDX_MEM, M_SUM)
        if self.v4:
            halves = [12, 14] + ([16, 18] if dst is None else [])
        else:
            halves = [bpf.SKF_NET_OFF + 8 + 2 * i for i in range(16)]
        for offset in halves:
            a.op(bpf.LD_H_ABS, offset)
            a.op(bpf.ADD_X)
            a.op(bpf.TAX)
        a.op(bpf.TXA)
        if dst is not None:
            value = int(dst)
            a.op(bpf.ADD_K, (value >> 16) + (value & 0xFFFF))
        a.op(bpf.ADD_K, PROTO_VRRP)
        a.op(bpf.TAX)
        a.op(bpf.LD_MEM, M_LEN)
        a.op(bpf.ADD_X)

    def _fold_and_accept(self) -> None:
        """Fold A to 16 bits (twice: RFC 1071's end-around carry) and accept if it is 0xffff."""
        a = self.a
        for _ in range(2):
            a.op(bpf.ST, M_TMP)
            a.op(bpf.RSH_K, 16)
            a.op(bpf.TAX)
            a.op(bpf.LD_MEM, M_TMP)
            a.op(bpf.AND_K, 0xFFFF)
            a.op(bpf.ADD_X)
        a.if_eq(0xFFFF, "accept")
