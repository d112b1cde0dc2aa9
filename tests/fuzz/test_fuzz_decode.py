"""Fuzz the codec: whatever arrives, ``decode``/``inspect``/``parse_ip`` raise InvalidPacket and nothing else.

Volume comes from plain seeded ``random.Random`` loops (deterministic, cheap); a smaller hypothesis
set shrinks any failure to a minimal datagram. The case budget is shared with test_fuzz_router.py:
``VRRPKIT_FUZZ_CASES`` (default 100000) datagrams in all, 55% of them here; ``VRRPKIT_FUZZ_SEED``
changes the seed. Every datagram is either accepted (and then must satisfy the round-trip
invariants below) or rejected with one of the codec's own reasons.

Inputs: valid adverts of every kind (v2 with/without PASS, v3 IPv4 multicast/unicast in all three
checksum forms, v3 IPv6 multicast/unicast) mutated by bit flips, byte writes, truncations,
extensions, insertions, deletions, splices, and field edits with the checksum re-sealed (so that
the checks behind the checksum are reached); plus random bytes of length 0..100; with the right
source/destination, random ones, and ones of the other family.
"""

from __future__ import annotations

import os
import random
import struct
import time
from collections import Counter
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6
from vrrpkit.core.packet import (
    Advertisement,
    ChecksumForm,
    DropReason,
    Inspection,
    InvalidPacket,
    build_ipv4,
    checksum,
    decode,
    encode,
    inspect,
    parse_ip,
)

TOTAL_CASES = int(os.environ.get("VRRPKIT_FUZZ_CASES", "100000"))
MESSAGE_CASES = TOTAL_CASES * 40 // 100
IP_CASES = TOTAL_CASES * 15 // 100
SEED = int(os.environ.get("VRRPKIT_FUZZ_SEED", "0x56525250"), 0)  # "VRRP"; another seed explores further

IPAddr = IPv4Address | IPv6Address
CODEC_REASONS = frozenset(
    {
        DropReason.TOO_SHORT,
        DropReason.BAD_VERSION,
        DropReason.BAD_TYPE,
        DropReason.BAD_CHECKSUM,
        DropReason.LENGTH_MISMATCH,
        DropReason.ZERO_INTERVAL,
        DropReason.ZERO_COUNT,
        DropReason.BAD_AUTH_TYPE,
        DropReason.FAMILY_MISMATCH,
    }
)
S4, U4, OTHER4 = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2"), IPv4Address("198.51.100.9")
S6, U6, G6 = IPv6Address("fe80::1"), IPv6Address("fe80::2"), IPv6Address("2001:db8::7")


# --- corpus -----------------------------------------------------------------------------------


def _pseudo(src: IPAddr, dst: IPAddr, length: int) -> bytes:
    if isinstance(src, IPv6Address):
        return src.packed + dst.packed + struct.pack("!I3xB", length, 112)
    return src.packed + dst.packed + struct.pack("!xBH", 112, length)


def reseal(msg: bytes, src: IPAddr, dst: IPAddr, form: str) -> bytes:
    """Rewrite the checksum of a (mutated) message: "v2"/"none" message only, "pseudo" real dst,
    "group" the IPv4 group as FRR does."""
    if len(msg) < 8:
        return msg
    body = msg[:6] + b"\0\0" + msg[8:]
    if form == "pseudo":
        prefix = _pseudo(src, dst, len(body))
    elif form == "group" and isinstance(src, IPv4Address):
        prefix = _pseudo(src, VRRP_GROUP4, len(body))
    else:
        prefix = b""
    return body[:6] + struct.pack("!H", checksum(prefix + body)) + body[8:]


def _corpus() -> list[tuple[bytes, IPAddr, IPAddr, str]]:
    """(message, src, dst, checksum form) for every kind of valid advert."""
    rng = random.Random(SEED)
    out: list[tuple[bytes, IPAddr, IPAddr, str]] = []
    for _ in range(40):
        v4 = tuple(IPv4Address(rng.getrandbits(32)) for _ in range(rng.randrange(0, 6)))
        v6 = tuple(IPv6Address(rng.getrandbits(128)) for _ in range(rng.randrange(1, 4)))
        vrid, prio = rng.randrange(1, 256), rng.randrange(256)
        auth = rng.choice([(0, b""), (1, b""), (1, b"pw"), (1, b"12345678")])
        v2 = Advertisement(2, vrid, prio, v4, float(rng.randrange(1, 256)), *auth)
        for dst in (VRRP_GROUP4, U4):
            out.append((encode(v2, S4, dst), S4, dst, "v2"))
        v3 = Advertisement(3, vrid, prio, v4 or (OTHER4,), rng.randrange(1, 4096) / 100)
        for dst, form in ((VRRP_GROUP4, "pseudo"), (U4, "pseudo"), (U4, "group"), (VRRP_GROUP4, "none"), (U4, "none")):
            out.append((reseal(encode(v3, S4, dst), S4, dst, form), S4, dst, form))
        v6adv = Advertisement(3, vrid, prio, v6, rng.randrange(1, 4096) / 100)
        for src, dst in ((S6, VRRP_GROUP6), (S6, U6), (G6, IPv6Address("2001:db8::8"))):
            out.append((encode(v6adv, src, dst), src, dst, "pseudo"))
    return out


CORPUS = _corpus()


# --- mutators ---------------------------------------------------------------------------------

Mutator = Callable[[random.Random, bytes], bytes]


def flip_bits(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 8))):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def write_byte(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    buf = bytearray(data)
    buf[rng.randrange(len(buf))] = rng.choice((0, 0xFF, rng.randrange(256)))
    return bytes(buf)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def extend(rng: random.Random, data: bytes) -> bytes:
    n = rng.choice((1, 2, 4, 8, 16, rng.randrange(1, 40)))
    return data + rng.choice((bytes(n), rng.randbytes(n)))


def insert(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.randrange(1, 5)) + data[at:]


def delete(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randrange(1, 5) :]


def splice(rng: random.Random, data: bytes) -> bytes:
    other = rng.choice(CORPUS)[0]
    return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]


def random_bytes(rng: random.Random, data: bytes) -> bytes:
    return rng.randbytes(rng.randrange(101))


MUTATORS: tuple[Mutator, ...] = (flip_bits, write_byte, truncate, extend, insert, delete, splice, random_bytes)

# byte offset -> plausible and implausible values, for field edits behind a valid checksum
FIELD_VALUES = {
    0: (0x21, 0x31, 0x20, 0x22, 0x30, 0x3F, 0x11, 0x41, 0x01, 0xF1),  # version/type
    1: (0, 1, 255),  # vrid
    2: (0, 1, 100, 254, 255),  # priority
    3: (0, 1, 2, 5, 255),  # count
    4: (0, 1, 2, 3, 0xF0, 0x0F, 0xFF),  # v2 auth type / v3 reserved + interval high bits
    5: (0, 1, 100, 255),  # interval (low byte)
}


def edit_field(rng: random.Random, data: bytes) -> bytes:
    """Change one header field (sometimes two) to a boundary value and fix the checksum up later."""
    buf = bytearray(data.ljust(8, b"\0"))
    for _ in range(rng.choice((1, 1, 2))):
        offset = rng.choice(tuple(FIELD_VALUES))
        buf[offset] = rng.choice(FIELD_VALUES[offset])
    if rng.random() < 0.3:  # make the length agree with the new count, so the next check is reached
        count, version = buf[3], buf[0] >> 4
        per = 16 if rng.random() < 0.3 else 4
        want = 8 + per * count + (8 if version == 2 else 0)
        buf = buf[:want].ljust(want, b"\0")
    return bytes(buf)


def addresses_for(rng: random.Random, src: IPAddr, dst: IPAddr) -> tuple[IPAddr, IPAddr]:
    roll = rng.random()
    if roll < 0.85:
        return src, dst
    if roll < 0.92:  # other family for one side or both
        return rng.choice(((S4, VRRP_GROUP6), (S6, VRRP_GROUP4), (S6, U6), (S4, U4)))
    if isinstance(src, IPv4Address):
        return IPv4Address(rng.getrandbits(32)), IPv4Address(rng.getrandbits(32))
    return IPv6Address(rng.getrandbits(128)), IPv6Address(rng.getrandbits(128))


def mutate(rng: random.Random) -> tuple[bytes, IPAddr, IPAddr, str]:
    msg, src, dst, form = rng.choice(CORPUS)
    roll = rng.random()
    if roll < 0.35:
        data = edit_field(rng, msg)
        data = reseal(data, src, dst, rng.choice((form, form, "v2", "pseudo", "group")))
        kind = "field+reseal"
    elif roll < 0.45:
        data = reseal(rng.choice(MUTATORS)(rng, msg), src, dst, form)
        kind = "mutate+reseal"
    else:
        mutator = rng.choice(MUTATORS)
        data = mutator(rng, msg)
        if rng.random() < 0.2:
            data = rng.choice(MUTATORS)(rng, data)
        kind = mutator.__name__
    src, dst = addresses_for(rng, src, dst)
    return data, src, dst, kind


# --- the oracle -------------------------------------------------------------------------------


def check_accepted(insp: Inspection, data: bytes, src: IPAddr, dst: IPAddr) -> None:
    """What an accepted datagram must satisfy: sane fields, and re-encoding gives it back."""
    adv = insp.advert
    assert adv.version in (2, 3) and insp.type == 1 and insp.length == len(data)
    assert 0 <= adv.vrid <= 255 and 0 <= adv.priority <= 255 and insp.count == len(adv.addresses)
    assert all(a.version == src.version for a in adv.addresses)
    assert insp.raw_interval >= 1
    assert adv.interval_cs == (insp.raw_interval * 100 if adv.version == 2 else insp.raw_interval)
    if adv.version == 2 and src.version == 6:  # keepalived's VRRPv2 over IPv6: no auth data
        assert adv.auth_type in (0, 1, 2) and adv.auth_data == b"" == insp.raw_auth_data
        assert insp.checksum_form is ChecksumForm.IPV6_PSEUDO
    elif adv.version == 2:
        assert adv.auth_type in (0, 1, 2) and len(adv.auth_data) <= 8
        assert adv.auth_type == 1 or adv.auth_data == b""  # AH: the password is only the ICV's key
        assert insp.checksum_form is ChecksumForm.V2
    else:
        assert adv.addresses and adv.auth_type == 0 and adv.auth_data == b""
    if adv.vrid == 0:
        # The codec leaves VRID 0 to the router (no instance has it: dropped as wrong-vrid);
        # encode refuses it, so there is nothing to round-trip.
        return
    again = encode(adv, src, dst)
    assert decode(again, src, dst) == adv
    canonical = (
        insp.reserved == 0
        and insp.checksum_form in (ChecksumForm.V2, ChecksumForm.IPV4_PSEUDO, ChecksumForm.IPV6_PSEUDO)
        and (adv.version == 3 or src.version == 6 or insp.raw_auth_data == adv.auth_data.ljust(8, b"\0"))
    )
    if canonical:
        assert again == data


def feed(data: bytes, src: IPAddr, dst: IPAddr) -> str:
    """Decode one datagram both ways; return the outcome ("accepted:<form>" or the drop reason)."""
    try:
        insp = inspect(data, src, dst)
    except InvalidPacket as exc:
        assert exc.reason in CODEC_REASONS, exc
        try:
            decode(data, src, dst)
        except InvalidPacket as again:
            assert again.reason is exc.reason
        else:
            raise AssertionError("decode accepted what inspect refused")
        return exc.reason.value
    assert decode(data, src, dst) == insp.advert
    check_accepted(insp, data, src, dst)
    return f"accepted:{insp.checksum_form.value}"


def _report(name: str, outcomes: Counter[str], started: float) -> None:
    total = sum(outcomes.values())
    print(f"\n{name}: {total} datagrams in {time.perf_counter() - started:.2f}s: {dict(sorted(outcomes.items()))}")


# --- volume -----------------------------------------------------------------------------------


def test_fuzz_messages() -> None:
    """40% of VRRPKIT_FUZZ_CASES (40000 by default) mutated or random VRRP messages into
    inspect() and decode(): only InvalidPacket escapes, with a codec reason; accepted ones round-trip."""
    rng = random.Random(SEED)
    outcomes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    started = time.perf_counter()
    for _ in range(MESSAGE_CASES):
        data, src, dst, kind = mutate(rng)
        kinds[kind] += 1
        outcomes[feed(data, src, dst)] += 1
    _report("messages", outcomes, started)
    assert sum(outcomes.values()) == MESSAGE_CASES
    if MESSAGE_CASES >= 10000:
        # the fuzzer reaches every rejection and every checksum form, not just the checksum check
        assert {r.value for r in CODEC_REASONS} <= set(outcomes), outcomes
        # (UNCHECKED only exists for receivers with v3_checksum_as_v2, which this fuzzer is not)
        forms = {f"accepted:{f.value}" for f in ChecksumForm if f is not ChecksumForm.UNCHECKED}
        assert forms <= set(outcomes), outcomes


def _ipv6_header(src: IPv6Address, dst: IPv6Address, payload: bytes, hlim: int = 255) -> bytes:
    return struct.pack("!IHBB", 0x60000000, len(payload), 112, hlim) + src.packed + dst.packed + payload


def test_fuzz_ip_datagrams() -> None:
    """15% of VRRPKIT_FUZZ_CASES (15000 by default) whole IP datagrams, header included, mutated or
    random, into parse_ip(); what parses as protocol 112 goes on into inspect() and decode()."""
    rng = random.Random(SEED + 1)
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for _ in range(IP_CASES):
        msg, src, dst, _form = rng.choice(CORPUS)
        v4 = isinstance(src, IPv4Address)
        datagram = build_ipv4(src, dst, msg) if v4 else _ipv6_header(src, dst, msg)  # type: ignore[arg-type]
        roll = rng.random()
        if roll < 0.1:
            datagram = rng.randbytes(rng.randrange(101))
        elif roll < 0.3:
            # aim at the header: version/IHL, lengths, protocol
            buf = bytearray(datagram)
            offset = rng.choice((0, 2, 3, 4, 5, 6, 9))
            buf[offset] = rng.randrange(256)
            datagram = bytes(buf)
        elif roll < 0.9:
            datagram = rng.choice(MUTATORS)(rng, datagram)
        try:
            ip = parse_ip(datagram)
        except InvalidPacket as exc:
            assert exc.reason is DropReason.BAD_IP_HEADER, exc
            outcomes["bad-ip-header"] += 1
            continue
        assert ip.src.version == ip.dst.version and 0 <= ip.ttl <= 255 and len(ip.payload) <= len(datagram)
        if ip.protocol != 112:
            outcomes["not-vrrp"] += 1
            continue
        outcomes[feed(ip.payload, ip.src, ip.dst)] += 1
    _report("ip datagrams", outcomes, started)
    assert sum(outcomes.values()) == IP_CASES
    if IP_CASES >= 5000:
        assert {"bad-ip-header", "not-vrrp", "bad-checksum"} <= set(outcomes)
        assert any(k.startswith("accepted:") for k in outcomes)


# --- shrinking --------------------------------------------------------------------------------

addresses = st.sampled_from([(S4, VRRP_GROUP4), (S4, U4), (S6, VRRP_GROUP6), (S6, U6), (S4, VRRP_GROUP6)])
SHRINK = settings(
    max_examples=300, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)


@given(st.binary(max_size=100), addresses)
@SHRINK
def test_random_bytes_shrinkable(data: bytes, pair: tuple[IPAddr, IPAddr]) -> None:
    """300 random datagrams of 0..100 bytes; hypothesis shrinks any escape to a minimal one."""
    feed(data, *pair)
    try:
        ip = parse_ip(data)
    except InvalidPacket as exc:
        assert exc.reason is DropReason.BAD_IP_HEADER
    else:
        feed(ip.payload, ip.src, ip.dst)


@given(
    st.sampled_from(range(len(CORPUS))),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    st.integers(-8, 40),
    st.booleans(),
)
@SHRINK
def test_edited_adverts_shrinkable(index: int, writes: list[tuple[int, int]], resize: int, fix: bool) -> None:
    """300 valid adverts with byte writes, a resize (cut or zero-extend), and optionally a re-sealed
    checksum; hypothesis shrinks any failure to the fewest edits."""
    msg, src, dst, form = CORPUS[index]
    buf = bytearray(msg)
    for offset, value in writes:
        if offset < len(buf):
            buf[offset] = value
    data = bytes(buf[: len(buf) + resize]) if resize < 0 else bytes(buf) + bytes(resize)
    if fix:
        data = reseal(data, src, dst, form)
    feed(data, src, dst)
