"""The kernel filter never drops what the daemon would accept: the fuzzers' datagrams, as whole IP
packets, through the BPF program (in `cbpf`, the kernel's semantics) and through real routers.

A filter that drops a valid advert is a bug that no amount of flood resistance pays for, so the
oracle is the user-space path itself: a datagram a router accepts (``datagram_received`` returns the
advert) must pass the filter built for that router's socket. The other direction is measured, not
required: the filter may let through what the router then drops (it is a shield, not the only
check), and the tally printed with -s shows how much of the garbage it stops in the kernel.

Datagrams: test_fuzz_router's (mostly right fields, one or more wrong, half mutated) for each of its
routers, alone on a socket and all of a family together; and test_fuzz_decode's corpus (every kind
of advert, every checksum form, random VRIDs) mutated, against a socket where even VRIDs are
multicast, odd ones unicast (source-checked when VRID % 4 == 1), VRIDs above 200 not configured,
with TTLs and destinations varied. Case budget: 10% of ``VRRPKIT_FUZZ_CASES`` (default 100000).
"""

from __future__ import annotations

import os
import random
import struct
import time
from collections import Counter
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface

import cbpf
import pytest
from test_fuzz_decode import CORPUS, mutate
from test_fuzz_router import SCENARIOS, Scenario, make_datagram, new_router

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6, InstanceConfig, UnicastPeer, Vip
from vrrpkit.core.packet import build_ipv4
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State
from vrrpkit.io import vrrp_filter

TOTAL_CASES = int(os.environ.get("VRRPKIT_FUZZ_CASES", "100000"))
CASES = TOTAL_CASES * 10 // 100
SEED = int(os.environ.get("VRRPKIT_FUZZ_SEED", "0x42504646"), 0)  # "BPFF"

IPAddr = IPv4Address | IPv6Address


def ip_packet(data: bytes, src: IPAddr, dst: IPAddr, ttl: int) -> tuple[bytes, bytes]:
    """(what the raw socket's filter sees, the bytes from the network header): IPv4 sockets see the
    IP header, IPv6 sockets start at the VRRP message."""
    if isinstance(src, IPv4Address):
        assert isinstance(dst, IPv4Address)
        packet = build_ipv4(src, dst, data, ttl=ttl)
        return packet, packet
    header = struct.pack("!IHBB", 0x60000000, len(data), 112, ttl) + src.packed + dst.packed
    return data, header + data


def verdict(program: list[tuple[int, int, int, int]], data: bytes, src: IPAddr, dst: IPAddr, ttl: int) -> bool:
    seen, net = ip_packet(data, src, dst, ttl)
    return cbpf.run(program, seen, net) != 0


def tally(name: str, outcomes: Counter[str], started: float) -> None:
    took = time.perf_counter() - started
    print(f"\n{name}: {sum(outcomes.values())} in {took:.2f}s {dict(sorted(outcomes.items()))}")


def _outcome(accepted: bool, passed: bool) -> str:
    assert passed or not accepted
    return ("accepted" if accepted else "router-drops") + ("" if passed else "+kernel-drops")


# --- test_fuzz_router's routers and datagrams ---------------------------------------------------


def _routers_for(scenarios: list[Scenario]) -> list[tuple[Scenario, VirtualRouter]]:
    out = []
    for sc in scenarios:
        target = State.MASTER if sc.config.owner else State.BACKUP
        router, _ = new_router(sc, target, 1000.0)
        out.append((sc, router))
    return out


GROUPS = {
    sc.name: [sc] for sc in SCENARIOS
} | {
    "all-ipv4": [sc for sc in SCENARIOS if sc.config.family == 4],
    "all-ipv6": [sc for sc in SCENARIOS if sc.config.family == 6],
}


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_filter_passes_what_routers_accept(group: str) -> None:
    scenarios = GROUPS[group]
    routers = _routers_for(scenarios)
    family = scenarios[0].config.family
    program = vrrp_filter.program(vrrp_filter.spec_for(family, [r.config for _, r in routers]))
    rng = random.Random(f"{SEED}-{group}")
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    per_group = max(1, CASES // 2 // len(GROUPS))
    now = 1000.0
    for _ in range(per_group):
        sc, router = rng.choice(routers)
        data, src, dst, ttl = make_datagram(rng, sc, router)
        if src.version != family or dst.version != family:
            continue  # another family's packet never reaches this socket
        passed = verdict(program, data, src, dst, ttl)
        # the daemon hands a datagram to every instance of its VRID on the socket
        accepted = False
        for _, r in routers:
            if len(data) > 1 and data[1] == r.config.vrid:
                accepted |= r.datagram_received(data, src, dst, ttl, now) is not None
                list(r.effects())
        now += 0.001
        outcomes[_outcome(accepted, passed)] += 1
    tally(group, outcomes, started)
    if per_group >= 300:
        assert outcomes["accepted"] > 0 and outcomes["router-drops+kernel-drops"] > 0, outcomes


# --- test_fuzz_decode's corpus on a socket of many VRIDs -------------------------------------------

S4, U4 = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")
S6, U6 = IPv6Address("fe80::1"), IPv6Address("fe80::2")
CONFIGURED = range(1, 201)


def _config(family: int, vrid: int, version: int) -> InstanceConfig:
    v6 = family == 6
    vip = Vip(IPv6Interface("2001:db8::99/64")) if v6 else Vip(IPv4Interface("198.51.100.99/24"))
    unicast = vrid % 2 == 1
    return InstanceConfig(
        f"VI_{family}_{vrid}_{version}",
        "eth0",
        vrid,
        version=version,  # type: ignore[arg-type]
        vips=(vip,),
        unicast_src_ip=(U6 if v6 else U4) if unicast else None,
        unicast_peers=(UnicastPeer(S6 if v6 else S4),) if unicast else (),
        check_unicast_src=unicast and vrid % 4 == 1,
    )


@pytest.mark.parametrize("family", [4, 6])
def test_filter_passes_what_the_codec_and_rules_accept(family: int) -> None:
    """One router per (VRID, version) gives the user-space verdict; the socket's filter is built
    from the configs of one version (the filter passes both versions: a mismatch is the router's
    to count)."""
    versions = (2, 3)  # v2 over IPv6: keepalived's `version 2` on an IPv6 instance
    routers: dict[tuple[int, int], VirtualRouter] = {}
    for vrid in CONFIGURED:
        for version in versions:
            cfg = _config(family, vrid, version)
            router = VirtualRouter(cfg, U6 if family == 6 else U4)
            router.start(0.0)
            list(router.effects())
            routers[(vrid, version)] = router
    program = vrrp_filter.program(vrrp_filter.spec_for(family, [routers[(v, 3)].config for v in CONFIGURED]))
    rng = random.Random(f"{SEED}-corpus-{family}")
    pool = [c for c in CORPUS if c[1].version == family]
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    group = VRRP_GROUP4 if family == 4 else VRRP_GROUP6
    own = U4 if family == 4 else U6
    for i in range(CASES // 4):
        if i % 3 == 0:
            data, src, dst, _ = rng.choice(pool)
        else:
            data, src, dst, _ = mutate(rng)
            if src.version != family or dst.version != family:
                continue
        # the datagram as it would arrive: to the group or to us, TTL mostly 255, from a peer or not
        dst = rng.choice((group, group, own, dst))
        src = rng.choice((src, src, S4 if family == 4 else S6))
        ttl = 255 if rng.random() < 0.85 else rng.choice((1, 64, 254))
        passed = verdict(program, data, src, dst, ttl)
        accepted = False
        if len(data) > 1 and data[1] in CONFIGURED:
            for version in versions:
                r = routers[(data[1], version)]
                accepted |= r.datagram_received(data, src, dst, ttl, 1.0) is not None
                list(r.effects())
        outcomes[_outcome(accepted, passed)] += 1
    tally(f"corpus ipv{family}", outcomes, started)
    if CASES // 4 >= 1000:
        assert outcomes["accepted"] > 50, outcomes
        assert outcomes["router-drops+kernel-drops"] > outcomes["router-drops"], outcomes  # it stops most garbage


def test_keepalived_v2_over_ipv6_passes_the_filter() -> None:
    """The advert keepalived 2.2.7 sent for an IPv6 instance with `version 2` (captured here; see
    tests/unit/test_packet.py) reaches an instance configured the same way; with 8 bytes of auth
    data appended (the IPv4 layout) or a v2 checksum it stays in the kernel."""
    src = IPv6Address("fe80::80e3:9cff:fe28:4cbb")
    wire = bytes.fromhex("213364010001e62a20010db8000000000000000000000001")
    cfg = InstanceConfig("VI_6", "eth0", 51, version=2, vips=(Vip(IPv6Interface("2001:db8::1/64")),))
    program = vrrp_filter.program(vrrp_filter.spec_for(6, [cfg]))
    assert verdict(program, wire, src, VRRP_GROUP6, 255)
    router = VirtualRouter(cfg, U6)
    router.start(0.0)
    assert router.datagram_received(wire, src, VRRP_GROUP6, 255, 1.0) is not None
    assert not verdict(program, wire + bytes(8), src, VRRP_GROUP6, 255)
    assert not verdict(program, wire, src, VRRP_GROUP6, 64)


@pytest.mark.parametrize("family", [4, 6])
def test_the_goodbye_filter_passes_every_goodbye_and_nothing_else(family: int) -> None:
    """A lazily read BACKUP socket wakes only through io/wake.py's filter: a priority-0 advert it
    dropped would be a graceful failover delayed until the next scheduled read. Over the corpus and
    its mutations (IPv4 with and without IP options; IPv6, where the filter starts at VRRP):
    passed exactly when VRRP's third byte is 0."""
    from vrrpkit.io.wake import goodbye_program

    program = goodbye_program(family)
    rng = random.Random(SEED)
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for _ in range(CASES // 2):
        data, src, dst, _kind = mutate(rng)
        if src.version != family or dst.version != family or len(data) < 3:
            continue
        if family == 6:
            seen, net = ip_packet(data, src, dst, 255)
        else:
            seen = net = build_ipv4(src, dst, data, ttl=255)  # type: ignore[arg-type]
            if rng.random() < 0.2:  # an IP option (NOP padding): VRRP starts further in
                words = rng.randint(1, 10)
                header = bytes([0x45 + words]) + seen[1:20] + b"\x01" * 4 * words
                seen = net = header + seen[20:]
        woke = cbpf.run(program, seen, net) != 0
        assert woke == (data[2] == 0), (seen.hex(), woke)
        outcomes["goodbye" if woke else "not woken"] += 1
    tally(f"goodbye filter IPv{family}", outcomes, started)
    assert outcomes["goodbye"] and outcomes["not woken"]
