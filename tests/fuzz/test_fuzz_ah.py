"""auth_type AH's receive path under mutated packets: `AhSession.open` never raises, and accepts a
packet only if it is keepalived's own, unchanged (anything the ICV covers changed is refused), and
only once; the AH socket's header check refuses what it cannot hand over as a trailer.

Corpus: packets captured from keepalived 2.2.7 here (tests/unit/test_ah.py)."""

from __future__ import annotations

import os
import random
import sys
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
import cbpf
from test_ah import KEEPALIVED

from vrrpkit.core.ah import AhSession, ah_key, icv, trailer
from vrrpkit.core.packet import DropReason, InvalidPacket, decode
from vrrpkit.io import ah_filter
from vrrpkit.io.vrrp_filter import FilterSpec, Mode, VridRule

CASES = int(os.environ.get("VRRPKIT_FUZZ_CASES", "100000")) // 10
SEED = int(os.environ.get("VRRPKIT_FUZZ_SEED", "0x56525250"), 0)


def _mutate(rng: random.Random, packet: bytes) -> bytes:
    data = bytearray(packet)
    kind = rng.randrange(4)
    if kind == 0:  # flip bits
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == 1:  # cut or grow
        data = data[: rng.randrange(len(data))] if rng.random() < 0.5 else data + rng.randbytes(rng.randrange(1, 9))
    elif kind == 2:  # random bytes of a random length
        data = bytearray(rng.randbytes(rng.randrange(0, 90)))
    else:  # overwrite a field-sized run
        i = rng.randrange(len(data))
        data[i : i + 4] = rng.randbytes(4)
    return bytes(data)


def test_fuzz_ah_open() -> None:
    rng = random.Random(SEED)
    corpus = [(p.encode(), u, bytes.fromhex(h)) for p, u, h in KEEPALIVED]
    accepted = 0
    for _ in range(CASES):
        password, unicast, packet = rng.choice(corpus)
        mutated = _mutate(rng, packet)
        session = AhSession(password, unicast)
        src = IPv4Address(packet[12:16])
        opened = session.open(trailer(mutated) if len(mutated) >= 44 else mutated, src)
        assert (opened.message is None) == (opened.reason is not None)
        ttl_only = len(mutated) == len(packet) and all(
            a == b for i, (a, b) in enumerate(zip(mutated, packet, strict=True)) if i not in (1, 6, 7, 10, 11)
            and not (unicast and i == 8)  # unicast: the TTL is not covered
        )
        if opened.message is not None:
            accepted += 1
            assert ttl_only, (mutated.hex(), packet.hex())  # only what the ICV does not cover changed
            assert session.open(trailer(mutated), src).reason is DropReason.REPLAYED
        elif ttl_only:  # a field outside the ICV changed: still keepalived's packet
            raise AssertionError(f"refused {mutated.hex()}: {opened.reason} {opened.detail}")
    assert accepted  # some mutations only touch TOS, flags or the checksum


def test_fuzz_the_ah_filter_never_drops_what_the_session_and_the_codec_take() -> None:
    """io/ah_filter.py is a shield: a packet it drops must be one AhSession.open or the codec refuses
    (or for a VRID, TTL or destination no instance here takes)."""
    rng = random.Random(SEED + 1)
    corpus = [(p.encode(), u, bytes.fromhex(h)) for p, u, h in KEEPALIVED]
    specs = {
        False: FilterSpec(4, (VridRule(51, Mode.MULTICAST),)),
        True: FilterSpec(4, (VridRule(51, Mode.UNICAST, frozenset({IPv4Address("192.0.2.201")})),)),
    }
    programs = {u: ah_filter.program(spec) for u, spec in specs.items()}
    kept = 0
    for n in range(CASES):
        password, unicast, packet = rng.choice(corpus)
        mutated = packet if n % 10 == 0 else _mutate(rng, packet)
        if n % 2 and len(mutated) >= 44:  # sealed again: header edits the ICV covers get through
            mutated = mutated[:32] + icv(ah_key(password), mutated[:20], mutated[20:44], mutated[44:], unicast) + (
                mutated[44:])
        verdict = cbpf.run(programs[unicast], mutated)
        kept += bool(verdict)
        if verdict:
            continue
        if len(mutated) < 45 or mutated[0] != 0x45:
            continue
        src, dst = IPv4Address(mutated[12:16]), IPv4Address(mutated[16:20])
        opened = AhSession(password, unicast).open(trailer(mutated), src)
        if opened.message is None:
            continue
        try:
            adv = decode(opened.message, src, dst)
        except InvalidPacket:
            continue
        takes = adv.vrid == 51 and adv.version == 2 and mutated[0] == 0x45 and (
            dst.is_multicast and mutated[8] == 255 if not unicast else
            not dst.is_multicast and src == IPv4Address("192.0.2.201"))
        assert not takes, f"the filter dropped {mutated.hex()}, which the session and the codec take"
    assert kept  # keepalived's own packets pass
