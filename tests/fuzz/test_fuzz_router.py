"""Fuzz running routers: whatever datagram arrives, ``datagram_received`` never raises, and every
datagram is either accepted (``stats.advert_rcvd`` + 1) or dropped with exactly one PacketDropped
effect and counted in ``stats.dropped`` -- except the three drops the router leaves uncounted on
purpose, as keepalived does: its own advert, another VRID's advert (not an error: that instance's
business) and anything arriving while it is not running (INIT/FAULT).

Routers: v2 multicast with PASS auth, v2 unicast, v3 IPv4 multicast/unicast (checked source and
TTL window), v3 IPv6 multicast/unicast, nopreempt with preempt_delay, a strict owner; each driven
from BACKUP and from MASTER. Datagrams: adverts built from mostly-right fields (VRID, version,
auth, interval, VIPs, source, destination, TTL) with one or more wrong, half of them then mutated
(bit flips, truncation, extension, random bytes 0..100, field edits behind a re-sealed checksum).
Time advances and timers fire between datagrams, the link flaps and the router restarts now and
then, and its own adverts are fed back to it, so the state machine moves while it is fuzzed.

Case budget: 45% of ``VRRPKIT_FUZZ_CASES`` (default 100000, shared with test_fuzz_decode.py),
split evenly over the 15 router/state pairs; seeded (``VRRPKIT_FUZZ_SEED`` to change it), so every
run feeds the same datagrams.
"""

from __future__ import annotations

import os
import random
import struct
import time
from collections import Counter
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vrrpkit.core import effects as fx
from vrrpkit.core.config import InstanceConfig, UnicastPeer, Vip
from vrrpkit.core.packet import Advertisement, DropReason, checksum, decode, encode
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State

TOTAL_CASES = int(os.environ.get("VRRPKIT_FUZZ_CASES", "100000"))
SEED = int(os.environ.get("VRRPKIT_FUZZ_SEED", "0x52545254"), 0)  # "RTRT"; another seed explores further
RESET_EVERY = 400  # datagrams before the router is rebuilt in its target state
AWAY_LIMIT = 5  # datagrams seen in another state before the router is rebuilt in its target state
UNCOUNTED = frozenset({DropReason.OWN_ADVERT, DropReason.WRONG_VRID, DropReason.WRONG_GROUP, DropReason.NOT_RUNNING})

IPAddr = IPv4Address | IPv6Address
A4 = [IPv4Address(f"192.0.2.{i}") for i in range(1, 6)]
A6 = [IPv6Address(f"fe80::{i}") for i in range(1, 6)]
VIPS4 = (Vip(IPv4Interface("192.0.2.99/24")), Vip(IPv4Interface("192.0.2.98/24")))
VIPS6 = (Vip(IPv6Interface("fe80::99/64")), Vip(IPv6Interface("2001:db8::99/64")))


@dataclass(frozen=True)
class Scenario:
    name: str
    config: InstanceConfig
    address: IPAddr
    others: tuple[IPAddr, ...]  # other routers on the LAN (the peers when unicast)


def _peers(addrs: list[IPv4Address] | list[IPv6Address], **ttl: int) -> tuple[UnicastPeer, ...]:
    return tuple(UnicastPeer(a, **ttl) for a in addrs)


SCENARIOS = [
    Scenario(
        "v2-multicast-pass",
        InstanceConfig("VI_1", "eth0", 51, version=2, vips=VIPS4, auth_type=1, auth_pass=b"1111"),
        A4[0],
        tuple(A4[1:3]),
    ),
    Scenario(
        "v2-unicast",
        InstanceConfig("VI_1", "eth0", 51, version=2, vips=VIPS4[:1], unicast_peers=_peers(A4[1:3])),
        A4[0],
        tuple(A4[1:3]),
    ),
    Scenario(
        "v3-ipv4-multicast",
        InstanceConfig("VI_1", "eth0", 51, version=3, advert_int_cs=50, vips=VIPS4),
        A4[0],
        tuple(A4[1:3]),
    ),
    Scenario(
        "v3-ipv4-unicast-checked",
        InstanceConfig(
            "VI_1",
            "eth0",
            51,
            version=3,
            vips=VIPS4,
            unicast_src_ip=A4[0],
            unicast_peers=_peers(A4[1:3], min_ttl=250, max_ttl=255),
            check_unicast_src=True,
        ),
        A4[0],
        tuple(A4[1:3]),
    ),
    Scenario(
        "v3-ipv6-multicast",
        InstanceConfig("VI_6", "eth0", 61, version=3, vips=VIPS6),
        A6[0],
        tuple(A6[1:3]),
    ),
    Scenario(
        "v3-ipv6-unicast",
        InstanceConfig("VI_6", "eth0", 61, version=3, vips=VIPS6, unicast_src_ip=A6[0], unicast_peers=_peers(A6[1:3])),
        A6[0],
        tuple(A6[1:3]),
    ),
    Scenario(
        "v3-nopreempt-delay",
        InstanceConfig("VI_1", "eth0", 51, priority=150, version=3, vips=VIPS4, preempt=False, preempt_delay_cs=300),
        A4[0],
        tuple(A4[1:3]),
    ),
    Scenario(
        "v3-strict-owner",
        InstanceConfig("VI_1", "eth0", 51, priority=255, version=3, vips=VIPS4, strict=True),
        A4[0],
        tuple(A4[1:3]),
    ),
]
STATES = (State.BACKUP, State.MASTER)
# every router from BACKUP and from MASTER, except the owner: it starts MASTER and, strict, stays
PAIRS = [
    pytest.param(sc, target, id=f"{sc.name}-{target.value}")
    for sc in SCENARIOS
    for target in STATES
    if not (sc.config.owner and target is State.BACKUP)
]
CASES_PER_PAIR = TOTAL_CASES * 45 // 100 // len(PAIRS)


# --- routers ----------------------------------------------------------------------------------


def new_router(sc: Scenario, target: State, now: float) -> tuple[VirtualRouter, float]:
    """A started router in ``target`` state, and the time it got there."""
    router = VirtualRouter(sc.config, sc.address)
    router.start(now)
    if target is State.MASTER and router.state is State.BACKUP:
        now += router.master_down_interval + 0.001
        router.handle_timer(now)
    assert router.state is target
    list(router.effects())
    return router, now


def _reseal(msg: bytes, prefix: bytes) -> bytes:
    body = msg[:6] + b"\0\0" + msg[8:]
    return body[:6] + struct.pack("!H", checksum(prefix + body)) + body[8:]


def _pseudo(src: IPAddr, dst: IPAddr, length: int) -> bytes:
    if isinstance(src, IPv6Address):
        return src.packed + dst.packed + struct.pack("!I3xB", length, 112)
    return src.packed + dst.packed + struct.pack("!xBH", 112, length)


def make_datagram(rng: random.Random, sc: Scenario, router: VirtualRouter) -> tuple[bytes, IPAddr, IPAddr, int]:
    cfg = router.config
    v6 = cfg.family == 6
    pool = A6 if v6 else A4
    roll = rng.random()
    if roll < 0.75:
        src: IPAddr = rng.choice(sc.others)
    elif roll < 0.85:
        src = rng.choice(pool[3:])  # on the LAN but not a peer
    elif roll < 0.92:
        src = sc.address  # ourselves
    else:
        src = rng.choice(A4 if v6 else A6)  # other family
    same = isinstance(src, IPv6Address) == v6
    group = cfg.group if same else (A4[0] if v6 else IPv6Address("ff02::12"))
    roll = rng.random()
    if roll < 0.8:
        dst: IPAddr = sc.address if cfg.unicast and same else group
    elif roll < 0.9:
        dst = group if cfg.unicast else (sc.address if same else src)  # the wrong mode
    else:
        dst = rng.choice((IPv4Address("224.0.0.1"), IPv6Address("ff02::1"), IPv4Address(rng.getrandbits(32))))
    ttl = 255 if rng.random() < 0.85 else rng.choice((0, 1, 64, 249, 250, 254, rng.randrange(256)))

    def pick(right: object, *wrong: object) -> object:
        return right if rng.random() < 0.88 else rng.choice(wrong)

    version = pick(cfg.version, 2, 3, 1, 4)
    mine = router.priority
    vips = cfg.advertised_addresses()
    adv = Advertisement(
        version=version,  # type: ignore[arg-type]
        vrid=pick(cfg.vrid, 1, 52, 255, 0),  # type: ignore[arg-type]
        priority=min(255, rng.choice((0, 1, 50, mine - 1, mine, mine + 1, 254, 255, rng.randrange(256)))),
        addresses=pick(vips, vips[:1], vips[::-1], (), (src,), vips + vips[:1]),  # type: ignore[arg-type]
        interval=pick(cfg.advert_int_cs / 100, 1.0, 2.0, 0.5, 0.01, 40.95, 255.0),  # type: ignore[arg-type]
        auth_type=pick(cfg.auth_type if version == 2 else 0, 0, 1, 2),  # type: ignore[arg-type]
        auth_data=pick(cfg.auth_pass if version == 2 and cfg.auth_type else b"", b"", b"1112", b"x" * 8),  # type: ignore[arg-type]
    )
    try:
        data = encode(adv, src, dst)
    except ValueError:  # a combination that cannot be sent: send the right fields instead, or noise
        right = Advertisement(
            cfg.version, cfg.vrid, adv.priority, vips, cfg.advert_int_cs / 100, cfg.auth_type, cfg.auth_pass
        )
        same_family = src.version == dst.version == cfg.family
        data = encode(right, src, dst) if same_family and rng.random() < 0.75 else rng.randbytes(rng.randrange(101))
    if version == 3 and isinstance(src, IPv4Address) and isinstance(dst, IPv4Address) and rng.random() < 0.2:
        data = _reseal(data, rng.choice((b"", _pseudo(src, cfg.mcast_group4, len(data)))))  # FRR / RFC 9568
    roll = rng.random()
    if roll < 0.35:
        buf = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 4))):
            if buf:
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        data = bytes(buf)
    elif roll < 0.42:
        data = data[: rng.randrange(len(data) + 1)]
    elif roll < 0.47:
        data += rng.randbytes(rng.choice((1, 4, 8, 16)))
    elif roll < 0.52:
        data = rng.randbytes(rng.randrange(101))
    elif roll < 0.62 and len(data) >= 8:
        # a field edit behind a valid checksum reaches the checks after the checksum
        buf = bytearray(data)
        offset = rng.randrange(8)
        buf[offset] = rng.choice((0, 1, 2, 3, 255, rng.randrange(256)))
        prefix = _pseudo(src, dst, len(buf)) if buf[0] >> 4 == 3 and src.version == dst.version else b""
        data = _reseal(bytes(buf), prefix)
    return data, src, dst, ttl


# --- the oracle -------------------------------------------------------------------------------


def deliver(router: VirtualRouter, data: bytes, src: IPAddr, dst: IPAddr, ttl: int, now: float) -> str:
    """Feed one datagram and check the accounting; return the outcome for the tally."""
    stats = router.stats
    rcvd, dropped = stats.advert_rcvd, sum(stats.dropped.values())
    result = router.datagram_received(data, src, dst, ttl, now)
    effects = list(router.effects())
    drops = [e for e in effects if isinstance(e, fx.PacketDropped)]
    check_sent(router, effects)
    if result is None:
        assert len(drops) == 1, effects
        reason = drops[0].reason
        assert stats.advert_rcvd == rcvd
        assert sum(stats.dropped.values()) == dropped + (reason not in UNCOUNTED), (reason, stats.dropped)
        return reason.value
    assert stats.advert_rcvd == rcvd + 1
    assert sum(stats.dropped.values()) == dropped
    assert [d.reason for d in drops] in ([], [DropReason.OWNER_IGNORES])
    return "accepted" if not drops else "accepted:owner-ignores"


def check_sent(router: VirtualRouter, effects: list[fx.Effect]) -> None:
    """Whatever the router sends in reaction must itself be a valid advert for its destination."""
    for e in effects:
        if isinstance(e, fx.SendAdvert):
            adv = decode(e.data, e.src, e.dst, router.config.mcast_group4)
            assert (adv.vrid, adv.priority, adv.version) == (router.config.vrid, e.priority, router.config.version)


@pytest.mark.parametrize(("sc", "target"), PAIRS)
def test_fuzz_router(sc: Scenario, target: State) -> None:
    """45% of VRRPKIT_FUZZ_CASES / 15 (3000 by default) datagrams per router and starting state."""
    rng = random.Random(f"{SEED}-{sc.name}-{target.value}")
    router, now = new_router(sc, target, 1000.0)
    outcomes: Counter[str] = Counter()
    seen_states: Counter[str] = Counter()
    started = time.perf_counter()
    last_sent: fx.SendAdvert | None = None
    away = 0
    for i in range(CASES_PER_PAIR):
        away = 0 if router.state is target else away + 1
        if (i % RESET_EVERY == 0 and i) or away > AWAY_LIMIT:
            router, now = new_router(sc, target, now + 100.0)
            away = 0
        now += rng.choice((0.0, 0.001, 0.01, 0.1, rng.random()))
        router.handle_timer(now)
        for e in router.effects():
            if isinstance(e, fx.SendAdvert):
                last_sent = e
        roll = rng.random()
        if roll < (0.005 if router.own_fault() is None else 0.05):
            router.link_changed(router.own_fault() is not None, now)  # flap: down, and soon back up
        elif roll < 0.007:
            router.shutdown(now)
            router.start(now)
        list(router.effects())
        seen_states[router.state.value] += 1
        if last_sent is not None and rng.random() < 0.02:
            data, src, dst, ttl = last_sent.data, last_sent.src, last_sent.dst, 255  # our own advert, looped
        else:
            data, src, dst, ttl = make_datagram(rng, sc, router)
        outcomes[deliver(router, data, src, dst, ttl, now)] += 1
    elapsed = time.perf_counter() - started
    print(f"\n{sc.name}/{target.value}: {CASES_PER_PAIR} in {elapsed:.2f}s states={dict(seen_states)} {dict(outcomes)}")
    assert sum(outcomes.values()) == CASES_PER_PAIR
    if CASES_PER_PAIR >= 2000:
        assert outcomes["accepted"] + outcomes["accepted:owner-ignores"] > 0, outcomes
        assert seen_states[target.value] > CASES_PER_PAIR // 2, seen_states  # most cases in target state
        assert len(outcomes) >= 8, outcomes  # reaches the receive rules, not just the codec


# --- shrinking --------------------------------------------------------------------------------


@st.composite
def valid_or_mangled(draw: st.DrawFn, sc: Scenario) -> tuple[bytes, IPAddr, IPAddr, int]:
    src = draw(st.sampled_from((*sc.others, sc.address)))
    dst = sc.address if sc.config.unicast else sc.config.group
    if draw(st.booleans()):
        data = draw(st.binary(max_size=100))
    else:
        cfg = sc.config
        adv = Advertisement(
            cfg.version,
            draw(st.sampled_from((cfg.vrid, cfg.vrid, 7))),
            draw(st.integers(0, 255)),
            cfg.advertised_addresses(),
            cfg.advert_int_cs / 100,
            cfg.auth_type,
            cfg.auth_pass,
        )
        buf = bytearray(encode(adv, src, dst))
        if draw(st.booleans()):  # one byte changed
            buf[draw(st.integers(0, len(buf) - 1))] ^= draw(st.integers(1, 255))
        data = bytes(buf)
    return data, src, dst, draw(st.sampled_from((255, 255, 1)))


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_router_sequences_shrinkable(sc: Scenario) -> None:
    """30 sequences of up to 12 datagrams per router (valid, one byte changed, or random), with
    timers firing in between; hypothesis shrinks a failure to the shortest sequence."""

    @given(
        target=st.sampled_from(STATES),
        steps=st.lists(st.tuples(valid_or_mangled(sc), st.sampled_from((0.0, 0.3, 1.0, 4.0))), max_size=12),
    )
    @settings(max_examples=30, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    def run(target: State, steps: list[tuple[tuple[bytes, IPAddr, IPAddr, int], float]]) -> None:
        if sc.config.owner:
            target = State.MASTER
        router, now = new_router(sc, target, 0.0)
        for (data, src, dst, ttl), dt in steps:
            now += dt
            router.handle_timer(now)
            check_sent(router, list(router.effects()))
            deliver(router, data, src, dst, ttl, now)

    run()
