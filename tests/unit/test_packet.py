"""vrrpkit.core.packet: exact wire bytes, round trips, every rejection, checksum forms, IP headers.

The byte vectors are laid out field by field from RFC 3768 section 5.1 (v2) and RFC 5798/9568
section 5.1 (v3); their checksums were computed independently of ``packet.checksum`` (one's
complement sum as ``int % 0xFFFF``, see ``_independent_checksum``) and cross-checked with scapy.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vrrpkit.core import packet
from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6
from vrrpkit.core.packet import (
    Advertisement,
    ChecksumForm,
    DropReason,
    InvalidPacket,
    IPPacket,
    build_ipv4,
    checksum,
    decode,
    encode,
    inspect,
    parse_ip,
)

S4 = IPv4Address("192.0.2.1")
U4 = IPv4Address("192.0.2.2")
S6 = IPv6Address("fe80::1")
U6 = IPv6Address("fe80::2")
G6 = IPv6Address("2001:db8::2")
VIP4 = IPv4Address("192.0.2.99")
VIP6 = IPv6Address("fe80::99")


def ip(text: str) -> IPv4Address | IPv6Address:
    return ip_address(text)


def _independent_checksum(data: bytes) -> int:
    """RFC 1071 without word loops: the one's complement sum of 16-bit words is the value mod 0xFFFF."""
    if len(data) % 2:
        data += b"\0"
    return 0xFFFF - int.from_bytes(data, "big") % 0xFFFF


def pseudo4(src: IPv4Address, dst: IPv4Address, length: int) -> bytes:
    return src.packed + dst.packed + bytes([0, 112]) + length.to_bytes(2, "big")


def pseudo6(src: IPv6Address, dst: IPv6Address, length: int) -> bytes:
    return src.packed + dst.packed + length.to_bytes(4, "big") + bytes([0, 0, 0, 112])


def reseal(msg: bytes, prefix: bytes = b"") -> bytes:
    """Recompute the checksum field of ``msg`` (after a mutation) over ``prefix + msg``."""
    body = msg[:6] + b"\0\0" + msg[8:]
    return body[:6] + struct.pack("!H", _independent_checksum(prefix + body)) + body[8:]


def reseal_v3(msg: bytes, src: IPv4Address | IPv6Address, dst: IPv4Address | IPv6Address) -> bytes:
    pseudo = pseudo4(src, dst, len(msg)) if isinstance(src, IPv4Address) else pseudo6(src, dst, len(msg))
    return reseal(msg, pseudo)


# --- checksum ---------------------------------------------------------------------------------


def test_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (with the carry folded back in).
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2) & 0xFFFF == 0x220D


def test_checksum_odd_length_pads_with_zero_and_verifies_to_zero() -> None:
    assert checksum(b"\x01") == checksum(b"\x01\x00") == 0xFEFF
    assert checksum(b"") == 0xFFFF
    data = bytes(range(1, 40))
    csum = checksum(data + b"\0")
    assert checksum(data + b"\0" + struct.pack("!H", csum)) == 0


@given(st.binary(max_size=200))
@settings(max_examples=300, derandomize=True, database=None)
def test_checksum_matches_independent_computation(data: bytes) -> None:
    ours, theirs = checksum(data), _independent_checksum(data)
    # mod 0xFFFF cannot tell +0 from -0 (0x0000 vs 0xFFFF): a sum of all-zero words.
    assert ours == theirs or {ours, theirs} == {0, 0xFFFF}


# --- exact bytes ------------------------------------------------------------------------------

# (advert, src, dst, hex of the VRRP message, the checksum form decode reports)
VECTORS = [
    pytest.param(
        Advertisement(2, 51, 100, (VIP4,), 1.0, auth_type=1, auth_data=b"1111"),
        S4,
        VRRP_GROUP4,
        # ver2|type1  vrid 51  prio 100  count 1  auth PASS  adv 1 s  cksum  192.0.2.99  "1111" + 4 NUL
        "21" "33" "64" "01" "01" "01" "5504" "c0000263" "3131313100000000",
        ChecksumForm.V2,
        id="v2-pass-auth",
    ),
    pytest.param(
        Advertisement(2, 1, 255, (ip("10.0.0.1"), ip("10.0.0.2")), 3.0),
        ip("10.0.0.254"),
        VRRP_GROUP4,
        "21" "01" "ff" "02" "00" "03" "cbf5" "0a000001" "0a000002" "0000000000000000",
        ChecksumForm.V2,
        id="v2-owner-two-vips-no-auth",
    ),
    pytest.param(
        Advertisement(3, 51, 100, (VIP4,), 1.0),
        S4,
        VRRP_GROUP4,
        # ver3|type1  vrid  prio  count  rsvd(4)|max_adver_int(12)=100 cs  cksum  192.0.2.99
        "31" "33" "64" "01" "0064" "0573" "c0000263",
        ChecksumForm.IPV4_PSEUDO,
        id="v3-ipv4-multicast",
    ),
    pytest.param(
        Advertisement(3, 51, 100, (VIP4,), 1.0),
        S4,
        U4,
        # same message, the pseudo-header now holds the unicast destination (keepalived >= 1.3.6)
        "31" "33" "64" "01" "0064" "2383" "c0000263",
        ChecksumForm.IPV4_PSEUDO,
        id="v3-ipv4-unicast",
    ),
    pytest.param(
        Advertisement(3, 7, 0, (ip("198.51.100.7"),), 40.95),
        ip("198.51.100.1"),
        VRRP_GROUP4,
        "31" "07" "00" "01" "0fff" "89f9" "c6336407",
        ChecksumForm.IPV4_PSEUDO,
        id="v3-ipv4-priority0-max-interval",
    ),
    pytest.param(
        Advertisement(3, 51, 100, (VIP6, ip("2001:db8::1")), 1.0),
        S6,
        VRRP_GROUP6,
        "31" "33" "64" "02" "0064" "3f63" "fe800000000000000000000000000099" "20010db8000000000000000000000001",
        ChecksumForm.IPV6_PSEUDO,
        id="v3-ipv6-multicast",
    ),
    pytest.param(
        Advertisement(3, 200, 150, (ip("2001:db8::99"),), 0.5),
        S6,
        U6,
        "31" "c8" "96" "01" "0032" "0c25" "20010db8000000000000000000000099",
        ChecksumForm.IPV6_PSEUDO,
        id="v3-ipv6-unicast",
    ),
]


@pytest.mark.parametrize(("adv", "src", "dst", "wire", "form"), VECTORS)
def test_exact_bytes(adv: Advertisement, src, dst, wire: str, form: ChecksumForm) -> None:
    data = encode(adv, src, dst)
    assert data.hex() == wire
    assert decode(bytes.fromhex(wire), src, dst) == adv
    insp = inspect(bytes.fromhex(wire), src, dst)
    assert insp.checksum_form is form
    assert insp.checksum == int(wire[12:16], 16)
    assert insp.length == len(data)
    assert insp.type == 1
    assert insp.count == len(adv.addresses)
    assert insp.reserved == 0
    assert insp.raw_interval == (int(adv.interval) if adv.version == 2 else adv.interval_cs)
    assert insp.raw_auth_data == (adv.auth_data.ljust(8, b"\0") if adv.version == 2 else b"")


@pytest.mark.parametrize(("adv", "src", "dst", "wire", "form"), VECTORS)
def test_vector_checksums_are_independent(adv: Advertisement, src, dst, wire: str, form: ChecksumForm) -> None:
    msg = bytes.fromhex(wire)
    if form is ChecksumForm.V2:
        assert reseal(msg) == msg
    else:
        assert reseal_v3(msg, src, dst) == msg


def test_interval_cs_rounds() -> None:
    assert Advertisement(3, 1, 1, (VIP4,), 0.29).interval_cs == 29  # 0.29 * 100 = 28.999999999999996
    assert Advertisement(2, 1, 1, (), 3).interval_cs == 300


def test_v2_auth_data_padding_and_none() -> None:
    adv = Advertisement(2, 9, 100, (VIP4,), 2.0, auth_type=1, auth_data=b"secret!!")  # exactly 8 bytes
    data = encode(adv, S4, VRRP_GROUP4)
    assert data[-8:] == b"secret!!"
    assert decode(data, S4, VRRP_GROUP4) == adv
    # PASS with an empty password is 8 NUL bytes on the wire and comes back empty
    empty = Advertisement(2, 9, 100, (VIP4,), 2.0, auth_type=1)
    assert encode(empty, S4, VRRP_GROUP4)[-8:] == bytes(8)
    assert decode(encode(empty, S4, VRRP_GROUP4), S4, VRRP_GROUP4) == empty
    # With auth type 0 any auth-data bytes on the wire are ignored (RFC 3768 5.3.6 / keepalived)
    none = encode(Advertisement(2, 9, 100, (VIP4,), 2.0), S4, VRRP_GROUP4)
    junk = reseal(none[:-8] + b"garbage!")
    got = inspect(junk, S4, VRRP_GROUP4)
    assert got.advert.auth_data == b""
    assert got.raw_auth_data == b"garbage!"


def test_v2_password_with_trailing_nul_does_not_round_trip() -> None:
    """Documented limit of the API: auth_data comes back without its zero padding, so a password
    that itself ends in NUL loses it. keepalived's auth_pass is a C string and cannot end in NUL;
    the router compares against ``auth_pass.rstrip(b"\\0")`` for the same reason."""
    adv = Advertisement(2, 9, 100, (VIP4,), 2.0, auth_type=1, auth_data=b"ab\0")
    assert decode(encode(adv, S4, VRRP_GROUP4), S4, VRRP_GROUP4).auth_data == b"ab"
    inner = Advertisement(2, 9, 100, (VIP4,), 2.0, auth_type=1, auth_data=b"a\0b")
    assert decode(encode(inner, S4, VRRP_GROUP4), S4, VRRP_GROUP4) == inner


def test_v2_with_no_addresses_is_valid() -> None:
    adv = Advertisement(2, 5, 100, (), 1.0)
    data = encode(adv, S4, VRRP_GROUP4)
    assert len(data) == 16
    assert decode(data, S4, VRRP_GROUP4) == adv


def test_255_addresses_fit() -> None:
    addrs = tuple(IPv4Address(0x0A000000 + i) for i in range(255))
    for version in (2, 3):
        adv = Advertisement(version, 5, 100, addrs, 1.0)
        data = encode(adv, S4, VRRP_GROUP4)
        assert data[3] == 255
        assert decode(data, S4, VRRP_GROUP4) == adv


# --- round trips ------------------------------------------------------------------------------

ipv4s = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
ipv6s = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
passwords = st.binary(max_size=8).filter(lambda b: not b.endswith(b"\0"))


@st.composite
def v2_cases(draw: st.DrawFn) -> tuple[Advertisement, IPv4Address, IPv4Address]:
    auth_type = draw(st.sampled_from([0, 1]))
    adv = Advertisement(
        version=2,
        vrid=draw(st.integers(1, 255)),
        priority=draw(st.integers(0, 255)),
        addresses=tuple(draw(st.lists(ipv4s, max_size=20))),
        interval=float(draw(st.integers(1, 255))),
        auth_type=auth_type,
        auth_data=draw(passwords) if auth_type else b"",
    )
    return adv, draw(ipv4s), draw(st.one_of(st.just(VRRP_GROUP4), ipv4s))


@st.composite
def v3_cases(draw: st.DrawFn, family: int) -> tuple[Advertisement, IPv4Address | IPv6Address, IPv4Address]:
    addrs = ipv4s if family == 4 else ipv6s
    group = VRRP_GROUP4 if family == 4 else VRRP_GROUP6
    adv = Advertisement(
        version=3,
        vrid=draw(st.integers(1, 255)),
        priority=draw(st.integers(0, 255)),
        addresses=tuple(draw(st.lists(addrs, min_size=1, max_size=20))),
        interval=draw(st.integers(1, 4095)) / 100,
    )
    return adv, draw(addrs), draw(st.one_of(st.just(group), addrs))


@pytest.mark.parametrize("cases", [v2_cases(), v3_cases(4), v3_cases(6)], ids=["v2", "v3-ipv4", "v3-ipv6"])
def test_round_trip(cases: st.SearchStrategy) -> None:
    """decode(encode(a, s, d), s, d) == a over 200 random adverts per kind (multicast and unicast dst)."""

    @given(cases)
    @settings(max_examples=200, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
    def check(case: tuple[Advertisement, IPv4Address | IPv6Address, IPv4Address | IPv6Address]) -> None:
        adv, src, dst = case
        data = encode(adv, src, dst)
        assert decode(data, src, dst) == adv
        expected = {2: ChecksumForm.V2, 4: ChecksumForm.IPV4_PSEUDO, 6: ChecksumForm.IPV6_PSEUDO}
        form = expected[2 if adv.version == 2 else src.version]
        assert inspect(data, src, dst).checksum_form is form

    check()


def test_round_trip_named_cases() -> None:
    cases = [
        (Advertisement(2, 51, 100, (VIP4,), 1.0, auth_type=1, auth_data=b"1111"), S4, VRRP_GROUP4),
        (Advertisement(2, 51, 100, (VIP4,), 1.0), S4, VRRP_GROUP4),
        (Advertisement(2, 51, 100, (VIP4,), 255.0, 1, b"pw"), S4, U4),  # v2 unicast
        (Advertisement(3, 51, 100, (VIP4,), 0.01), S4, VRRP_GROUP4),
        (Advertisement(3, 51, 100, (VIP4,), 1.0), S4, U4),
        (Advertisement(3, 51, 100, (VIP6,), 1.0), S6, VRRP_GROUP6),
        (Advertisement(3, 51, 100, (VIP6,), 1.0), S6, U6),  # unicast link-local
        (Advertisement(3, 51, 100, (VIP6,), 1.0), G6, IPv6Address("2001:db8::3")),  # unicast global
    ]
    for adv, src, dst in cases:
        assert decode(encode(adv, src, dst), src, dst) == adv


def test_decode_accepts_bytearray_and_memoryview() -> None:
    data = encode(Advertisement(3, 51, 100, (VIP4,), 1.0), S4, VRRP_GROUP4)
    assert decode(bytearray(data), S4, VRRP_GROUP4) == decode(memoryview(data), S4, VRRP_GROUP4)


def test_v3_reserved_bits_are_reported_and_ignored() -> None:
    data = bytearray(encode(Advertisement(3, 51, 100, (VIP4,), 1.0), S4, VRRP_GROUP4))
    data[4] |= 0xA0
    insp = inspect(reseal_v3(bytes(data), S4, VRRP_GROUP4), S4, VRRP_GROUP4)
    assert insp.reserved == 0xA
    assert insp.raw_interval == 100
    assert insp.advert.interval == 1.0


# --- every InvalidPacket reason -------------------------------------------------------------

V2_MSG = encode(Advertisement(2, 51, 100, (VIP4,), 1.0, auth_type=1, auth_data=b"1111"), S4, VRRP_GROUP4)
V3_MSG = encode(Advertisement(3, 51, 100, (VIP4,), 1.0), S4, VRRP_GROUP4)
V3_MSG6 = encode(Advertisement(3, 51, 100, (VIP6,), 1.0), S6, VRRP_GROUP6)


def _set(msg: bytes, offset: int, value: int) -> bytes:
    return msg[:offset] + bytes([value]) + msg[offset + 1 :]


def _v2(msg: bytes) -> bytes:
    return reseal(msg)


def _v3(msg: bytes) -> bytes:
    return reseal_v3(msg, S4, VRRP_GROUP4)


INVALID = [
    pytest.param(b"", S4, VRRP_GROUP4, DropReason.TOO_SHORT, id="empty"),
    pytest.param(V3_MSG[:7], S4, VRRP_GROUP4, DropReason.TOO_SHORT, id="7-bytes"),
    pytest.param(V3_MSG, S4, VRRP_GROUP6, DropReason.FAMILY_MISMATCH, id="src-v4-dst-v6"),
    pytest.param(V3_MSG6, S6, VRRP_GROUP4, DropReason.FAMILY_MISMATCH, id="src-v6-dst-v4"),
    pytest.param(_v3(_set(V3_MSG, 0, 0x41)), S4, VRRP_GROUP4, DropReason.BAD_VERSION, id="version-4"),
    pytest.param(_v2(_set(V2_MSG, 0, 0x11)), S4, VRRP_GROUP4, DropReason.BAD_VERSION, id="version-1"),
    pytest.param(_v3(_set(V3_MSG, 0, 0x01)), S4, VRRP_GROUP4, DropReason.BAD_VERSION, id="version-0"),
    pytest.param(_v3(_set(V3_MSG, 0, 0x32)), S4, VRRP_GROUP4, DropReason.BAD_TYPE, id="v3-type-2"),
    pytest.param(_v2(_set(V2_MSG, 0, 0x20)), S4, VRRP_GROUP4, DropReason.BAD_TYPE, id="v2-type-0"),
    pytest.param(
        reseal_v3(V2_MSG[:8] + bytes(16) + V2_MSG[12:], S6, VRRP_GROUP6), S6, VRRP_GROUP6,
        DropReason.LENGTH_MISMATCH, id="v2-over-ipv6-with-auth-data",
    ),
    pytest.param(
        reseal(V2_MSG[:8] + bytes(16)), S6, VRRP_GROUP6, DropReason.BAD_CHECKSUM, id="v2-over-ipv6-v2-checksum"
    ),
    pytest.param(V3_MSG[:-1], S4, VRRP_GROUP4, DropReason.LENGTH_MISMATCH, id="v3-truncated"),
    pytest.param(V3_MSG + b"\0\0\0\0", S4, VRRP_GROUP4, DropReason.LENGTH_MISMATCH, id="v3-extra-address"),
    pytest.param(V2_MSG[:-8], S4, VRRP_GROUP4, DropReason.LENGTH_MISMATCH, id="v2-no-auth-data"),
    pytest.param(_v2(_set(V2_MSG, 3, 2)), S4, VRRP_GROUP4, DropReason.LENGTH_MISMATCH, id="v2-count-too-high"),
    pytest.param(V3_MSG, S6, VRRP_GROUP6, DropReason.LENGTH_MISMATCH, id="v3-ipv4-body-over-ipv6"),
    pytest.param(_v3(_set(V3_MSG[:8], 3, 0)), S4, VRRP_GROUP4, DropReason.ZERO_COUNT, id="v3-count-0"),
    pytest.param(_v2(_set(V2_MSG, 5, 0)), S4, VRRP_GROUP4, DropReason.ZERO_INTERVAL, id="v2-interval-0"),
    pytest.param(
        _v3(V3_MSG[:4] + b"\xf0\x00" + V3_MSG[6:]), S4, VRRP_GROUP4, DropReason.ZERO_INTERVAL, id="v3-interval-0"
    ),
    pytest.param(_set(V2_MSG, 7, V2_MSG[7] ^ 1), S4, VRRP_GROUP4, DropReason.BAD_CHECKSUM, id="v2-checksum"),
    pytest.param(_set(V3_MSG, 7, V3_MSG[7] ^ 1), S4, VRRP_GROUP4, DropReason.BAD_CHECKSUM, id="v3-ipv4-checksum"),
    pytest.param(V3_MSG, ip("192.0.2.3"), VRRP_GROUP4, DropReason.BAD_CHECKSUM, id="v3-ipv4-other-src"),
    pytest.param(V3_MSG6, U6, VRRP_GROUP6, DropReason.BAD_CHECKSUM, id="v3-ipv6-other-src"),
    pytest.param(reseal(V3_MSG6), S6, VRRP_GROUP6, DropReason.BAD_CHECKSUM, id="v3-ipv6-no-pseudo-header"),
    pytest.param(reseal_v3(V2_MSG, S4, VRRP_GROUP4), S4, VRRP_GROUP4, DropReason.BAD_CHECKSUM, id="v2-pseudo"),
    pytest.param(_v2(_set(V2_MSG, 4, 3)), S4, VRRP_GROUP4, DropReason.BAD_AUTH_TYPE, id="v2-auth-3"),
    pytest.param(_v2(_set(V2_MSG, 4, 255)), S4, VRRP_GROUP4, DropReason.BAD_AUTH_TYPE, id="v2-auth-255"),
]


def test_v2_over_ipv6_is_keepalived_s_form() -> None:
    """keepalived 2.2.7, an IPv6 instance with `version 2` (captured here with tcpdump on a veth in a
    namespace, 2026-11-30): the v2 header, no auth data (24 bytes for one address) and the IPv6
    pseudo-header checksum. We decode it and encode the same bytes, so the two interoperate."""
    src = IPv6Address("fe80::80e3:9cff:fe28:4cbb")
    wire = bytes.fromhex("213364010001e62a20010db8000000000000000000000001")
    insp = inspect(wire, src, VRRP_GROUP6)
    adv = insp.advert
    assert (adv.version, adv.vrid, adv.priority, adv.interval, adv.auth_type) == (2, 51, 100, 1.0, 0)
    assert adv.addresses == (IPv6Address("2001:db8::1"),)
    assert insp.checksum_form is ChecksumForm.IPV6_PSEUDO and insp.raw_auth_data == b""
    assert encode(adv, src, VRRP_GROUP6) == wire
    # auth_type PASS: keepalived sets the type and still sends no password (measured the same way)
    simple = encode(dataclasses.replace(adv, auth_type=1), src, VRRP_GROUP6)
    assert len(simple) == 24 and decode(simple, src, VRRP_GROUP6).auth_type == 1


@pytest.mark.parametrize(("data", "src", "dst", "reason"), INVALID)
def test_invalid(data: bytes, src, dst, reason: DropReason) -> None:
    with pytest.raises(InvalidPacket) as exc:
        decode(data, src, dst)
    assert exc.value.reason is reason
    assert str(exc.value).startswith(reason.value)
    with pytest.raises(InvalidPacket):
        inspect(data, src, dst)


def test_every_codec_reason_is_exercised() -> None:
    codec_reasons = {
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
    assert {p.values[3] for p in INVALID} == codec_reasons


def test_invalid_packet_message() -> None:
    assert str(InvalidPacket(DropReason.ZERO_COUNT)) == "zero-count"
    exc = InvalidPacket(DropReason.TOO_SHORT, "3 bytes")
    assert (str(exc), exc.reason, exc.detail) == ("too-short: 3 bytes", DropReason.TOO_SHORT, "3 bytes")


def test_v2_zero_count_is_fine() -> None:
    """RFC 9568 errata 8299 (count 0 invalid) is about v3; v2 carries 0 addresses legitimately."""
    assert decode(_v2(_set(V2_MSG, 3, 0)[:8] + V2_MSG[-8:]), S4, VRRP_GROUP4).addresses == ()


def test_v2_interval_mismatch_is_not_a_codec_matter() -> None:
    assert decode(_v2(_set(V2_MSG, 5, 255)), S4, VRRP_GROUP4).interval == 255.0


def test_decoder_bug_becomes_invalid_packet(monkeypatch: pytest.MonkeyPatch) -> None:
    """A decoder bug (any other exception) must not escape to the daemon."""

    def broken(*_: object) -> None:
        raise IndexError("boom")

    monkeypatch.setattr(packet, "_inspect", broken)
    with pytest.raises(InvalidPacket) as exc:
        decode(V3_MSG, S4, VRRP_GROUP4)
    assert exc.value.reason is DropReason.TOO_SHORT
    assert "IndexError" in exc.value.detail
    assert isinstance(exc.value.__cause__, IndexError)


# --- checksum forms (v3 over IPv4) ------------------------------------------------------------


def _v3_with_checksum_over(prefix: bytes, dst_msg: bytes = V3_MSG) -> bytes:
    return reseal(dst_msg, prefix)


@pytest.mark.parametrize(
    ("dst", "prefix", "form"),
    [
        # keepalived (and scapy, Ryu): pseudo-header with the real destination
        pytest.param(VRRP_GROUP4, pseudo4(S4, VRRP_GROUP4, 12), ChecksumForm.IPV4_PSEUDO, id="keepalived-multicast"),
        pytest.param(U4, pseudo4(S4, U4, 12), ChecksumForm.IPV4_PSEUDO, id="keepalived-unicast"),
        # FRR: pseudo-header with the group even when the packet goes to a unicast peer
        pytest.param(U4, pseudo4(S4, VRRP_GROUP4, 12), ChecksumForm.IPV4_PSEUDO_GROUP, id="frr-unicast"),
        # RFC 9568, Cisco, Juniper, keepalived v3_checksum_as_v2: message only
        pytest.param(VRRP_GROUP4, b"", ChecksumForm.NONE, id="rfc9568-multicast"),
        pytest.param(U4, b"", ChecksumForm.NONE, id="rfc9568-unicast"),
    ],
)
def test_v3_ipv4_checksum_forms(dst: IPv4Address, prefix: bytes, form: ChecksumForm) -> None:
    data = _v3_with_checksum_over(prefix)
    insp = inspect(data, S4, dst)
    assert insp.checksum_form is form
    assert insp.advert == Advertisement(3, 51, 100, (VIP4,), 1.0)


def test_v3_ipv4_checksum_form_exact_values() -> None:
    # the three checksums of one message (vector v3-ipv4-unicast), computed independently
    assert _v3_with_checksum_over(pseudo4(S4, U4, 12))[6:8].hex() == "2383"
    assert _v3_with_checksum_over(pseudo4(S4, VRRP_GROUP4, 12))[6:8].hex() == "0573"
    assert _v3_with_checksum_over(b"")[6:8].hex() == "a803"


def test_we_send_keepalived_form_only() -> None:
    assert encode(Advertisement(3, 51, 100, (VIP4,), 1.0), S4, U4) == _v3_with_checksum_over(pseudo4(S4, U4, 12))


def test_frr_form_uses_the_configured_group() -> None:
    other_group = IPv4Address("224.0.0.19")
    data = _v3_with_checksum_over(pseudo4(S4, other_group, 12))
    assert inspect(data, S4, U4, group=other_group).checksum_form is ChecksumForm.IPV4_PSEUDO_GROUP
    with pytest.raises(InvalidPacket) as exc:
        inspect(data, S4, U4)
    assert exc.value.reason is DropReason.BAD_CHECKSUM


def test_group_form_is_not_tried_twice_for_multicast() -> None:
    # dst == group: the group form is the real-destination form; a wrong checksum is still wrong
    bad = _set(V3_MSG, 6, V3_MSG[6] ^ 0x80)
    with pytest.raises(InvalidPacket) as exc:
        inspect(bad, S4, VRRP_GROUP4)
    assert exc.value.reason is DropReason.BAD_CHECKSUM
    assert "0x8573" in exc.value.detail


def test_ipv6_checksum_with_link_local_and_global_destinations() -> None:
    adv = Advertisement(3, 51, 100, (VIP6,), 1.0)
    for dst in (VRRP_GROUP6, U6, IPv6Address("2001:db8::3")):
        data = encode(adv, G6, dst)
        assert data == reseal(data, pseudo6(G6, dst, len(data)))
        assert inspect(data, G6, dst).checksum_form is ChecksumForm.IPV6_PSEUDO


# --- every ValueError of encode ---------------------------------------------------------------

A2 = Advertisement(2, 51, 100, (VIP4,), 1.0)
A3 = Advertisement(3, 51, 100, (VIP4,), 1.0)


def _with(adv: Advertisement, **changes: object) -> Advertisement:
    return dataclasses.replace(adv, **changes)  # type: ignore[arg-type]


ENCODE_ERRORS = [
    pytest.param(A3, S4, VRRP_GROUP6, "families differ", id="src-dst-families"),
    pytest.param(_with(A3, version=1), S4, VRRP_GROUP4, "version 1", id="version-1"),
    pytest.param(_with(A3, version=4), S4, VRRP_GROUP4, "version 4", id="version-4"),
    pytest.param(_with(A3, vrid=0), S4, VRRP_GROUP4, "vrid 0", id="vrid-0"),
    pytest.param(_with(A3, vrid=256), S4, VRRP_GROUP4, "vrid 256", id="vrid-256"),
    pytest.param(_with(A3, priority=-1), S4, VRRP_GROUP4, "priority -1", id="priority-neg"),
    pytest.param(_with(A3, priority=256), S4, VRRP_GROUP4, "priority 256", id="priority-256"),
    pytest.param(
        _with(A3, addresses=tuple(IPv4Address(i) for i in range(256))), S4, VRRP_GROUP4, "255", id="256-addresses"
    ),
    pytest.param(_with(A3, addresses=(VIP4, VIP6)), S4, VRRP_GROUP4, "family", id="mixed-vip-family"),
    pytest.param(A3, S6, VRRP_GROUP6, "family", id="ipv4-vip-over-ipv6"),
    pytest.param(_with(A2, addresses=(VIP6,), auth_type=1, auth_data=b"x"), S6, VRRP_GROUP6, "no authentication",
                 id="v2-over-ipv6-password"),
    pytest.param(_with(A2, interval=0.0), S4, VRRP_GROUP4, "whole seconds", id="v2-interval-0"),
    pytest.param(_with(A2, interval=256.0), S4, VRRP_GROUP4, "whole seconds", id="v2-interval-256"),
    pytest.param(_with(A2, interval=1.5), S4, VRRP_GROUP4, "whole seconds", id="v2-interval-fraction"),
    pytest.param(_with(A2, interval=math.nan), S4, VRRP_GROUP4, "whole seconds", id="v2-interval-nan"),
    pytest.param(_with(A2, interval=math.inf), S4, VRRP_GROUP4, "whole seconds", id="v2-interval-inf"),
    pytest.param(_with(A2, auth_type=2, auth_data=b"x"), S4, VRRP_GROUP4, "but for a simple password", id="v2-ah-data"),
    pytest.param(_with(A2, auth_type=-1), S4, VRRP_GROUP4, "auth_type", id="v2-auth-neg"),
    pytest.param(_with(A2, auth_type=1, auth_data=b"123456789"), S4, VRRP_GROUP4, "8 bytes", id="v2-pass-9"),
    pytest.param(_with(A2, auth_data=b"x"), S4, VRRP_GROUP4, "but for a simple password", id="v2-data-without-auth"),
    pytest.param(_with(A3, interval=0.0), S4, VRRP_GROUP4, "0.01..40.95", id="v3-interval-0"),
    pytest.param(_with(A3, interval=0.004), S4, VRRP_GROUP4, "0.01..40.95", id="v3-interval-rounds-to-0"),
    pytest.param(_with(A3, interval=40.96), S4, VRRP_GROUP4, "0.01..40.95", id="v3-interval-40.96"),
    pytest.param(_with(A3, interval=-1.0), S4, VRRP_GROUP4, "0.01..40.95", id="v3-interval-negative"),
    pytest.param(_with(A3, interval=0.015), S4, VRRP_GROUP4, "whole centiseconds", id="v3-interval-fraction"),
    pytest.param(_with(A3, interval=math.nan), S4, VRRP_GROUP4, "0.01..40.95", id="v3-interval-nan"),
    pytest.param(_with(A3, interval=math.inf), S4, VRRP_GROUP4, "0.01..40.95", id="v3-interval-inf"),
    pytest.param(_with(A3, interval=-math.inf), S4, VRRP_GROUP4, "0.01..40.95", id="v3-interval-neg-inf"),
    pytest.param(_with(A3, auth_type=1), S4, VRRP_GROUP4, "no authentication", id="v3-auth-type"),
    pytest.param(_with(A3, auth_data=b"pw"), S4, VRRP_GROUP4, "no authentication", id="v3-auth-data"),
    pytest.param(_with(A3, addresses=()), S4, VRRP_GROUP4, "at least one", id="v3-no-address"),
]


@pytest.mark.parametrize(("adv", "src", "dst", "message"), ENCODE_ERRORS)
def test_encode_rejects(adv: Advertisement, src, dst, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        encode(adv, src, dst)


def test_encode_boundaries_accepted() -> None:
    for adv in (
        _with(A2, vrid=1, priority=0, interval=1),
        _with(A2, vrid=255, priority=255, interval=255.0),
        _with(A3, interval=0.01),
        _with(A3, interval=40.95),
        _with(A3, interval=0.29),  # 28.999999999999996 cs: float noise within tolerance
    ):
        assert decode(encode(adv, S4, VRRP_GROUP4), S4, VRRP_GROUP4) == _with(adv, interval=float(adv.interval))


@given(
    version=st.sampled_from([2, 3, 2, 3, 0, 4]),
    vrid=st.integers(1, 255) | st.integers(-5, 300),
    priority=st.integers(0, 255) | st.integers(-5, 300),
    addresses=st.lists(ipv4s, min_size=1, max_size=3) | st.lists(st.one_of(ipv4s, ipv6s), max_size=3),
    interval=st.integers(1, 255).map(float) | st.floats(allow_nan=True, allow_infinity=True),
    auth_type=st.sampled_from([0, 1]) | st.integers(-2, 300),
    auth_data=st.just(b"") | st.binary(max_size=12),
    family=st.sampled_from([4, 4, 6]),
)
@settings(max_examples=500, derandomize=True, database=None)
def test_encode_raises_only_value_error(
    version: int,
    vrid: int,
    priority: int,
    addresses: list[IPv4Address | IPv6Address],
    interval: float,
    auth_type: int,
    auth_data: bytes,
    family: int,
) -> None:
    """encode is fed by config: any unrepresentable field is a ValueError, never another exception,
    and whatever it accepts decodes back (modulo the documented trailing-NUL password case)."""
    adv = Advertisement(version, vrid, priority, tuple(addresses), interval, auth_type, auth_data)
    src, dst = (S4, VRRP_GROUP4) if family == 4 else (S6, VRRP_GROUP6)
    try:
        data = encode(adv, src, dst)
    except ValueError:
        return
    back = decode(data, src, dst)
    assert back == _with(adv, interval=back.interval, auth_data=adv.auth_data.rstrip(b"\0"))
    assert back.interval_cs == adv.interval_cs


# --- IP headers -------------------------------------------------------------------------------


def test_build_ipv4_exact_header() -> None:
    payload = V3_MSG
    data = build_ipv4(S4, VRRP_GROUP4, payload)
    header = data[:20]
    # ver/ihl  tos  total len  id  flags/frag  ttl  proto  hdr cksum  src  dst (keepalived vrrp_build_ip4)
    assert header.hex() == "45" "c0" "0020" "0000" "0000" "ff" "70" "189a" "c0000201" "e0000012"
    assert checksum(header) == 0
    assert _independent_checksum(header[:10] + b"\0\0" + header[12:]) == 0x189A
    assert data[20:] == payload


def test_build_ipv4_ttl_and_tos() -> None:
    data = build_ipv4(S4, U4, b"x" * 3, ttl=1, tos=0)
    assert (data[1], data[8], len(data), struct.unpack("!H", data[2:4])[0]) == (0, 1, 23, 23)
    assert checksum(data[:20]) == 0


def test_parse_ip_round_trips_build_ipv4() -> None:
    data = build_ipv4(S4, VRRP_GROUP4, V2_MSG)
    assert parse_ip(data) == IPPacket(S4, VRRP_GROUP4, 255, 112, V2_MSG, 0xC0)
    assert decode(parse_ip(data).payload, S4, VRRP_GROUP4).vrid == 51


def test_parse_ip_ipv4_options_and_trailing_padding() -> None:
    base = build_ipv4(S4, U4, V3_MSG, ttl=64)
    # ihl 6: one 4-byte option word (router alert), total length covers it
    with_opt = bytes([0x46]) + base[1:2] + struct.pack("!H", 24 + len(V3_MSG)) + base[4:20] + b"\x94\x04\0\0" + V3_MSG
    got = parse_ip(with_opt + b"\0" * 6)  # Ethernet minimum-frame padding after the datagram
    assert (got.src, got.dst, got.ttl, got.protocol, got.payload) == (S4, U4, 64, 112, V3_MSG)


def _ipv6(src: IPv6Address, dst: IPv6Address, payload: bytes, plen: int | None = None, nh: int = 112) -> bytes:
    plen = len(payload) if plen is None else plen
    return bytes.fromhex("6a345678") + struct.pack("!HBB", plen, nh, 255) + src.packed + dst.packed + payload


def test_parse_ip_ipv6() -> None:
    data = _ipv6(S6, VRRP_GROUP6, V3_MSG6)
    got = parse_ip(data + b"\0\0")
    assert got == IPPacket(S6, VRRP_GROUP6, 255, 112, V3_MSG6, 0xA3)  # traffic class 0xa3 spans bytes 0-1
    assert decode(got.payload, got.src, got.dst) == Advertisement(3, 51, 100, (VIP6,), 1.0)


IP4 = build_ipv4(S4, U4, b"abcd")
BAD_IP = [
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"\x45", "truncated IPv4", id="one-byte"),
    pytest.param(build_ipv4(S4, U4, b"")[:19], "truncated IPv4", id="ipv4-19-bytes"),
    pytest.param(b"\x44" + IP4[1:], "truncated IPv4", id="ihl-4"),
    pytest.param(b"\x4f" + IP4[1:], "truncated IPv4", id="ihl-60-short"),
    pytest.param(IP4[:2] + b"\x00\x13" + IP4[4:], "total length 19 of 24", id="len<ihl"),
    pytest.param(IP4[:-1], "total length 24 of 23", id="ipv4-payload-cut"),
    pytest.param(_ipv6(S6, VRRP_GROUP6, b"")[:39], "truncated IPv6", id="ipv6-39-bytes"),
    pytest.param(_ipv6(S6, VRRP_GROUP6, V3_MSG6)[:-1], "payload length 24 of 23", id="ipv6-payload-cut"),
    pytest.param(b"\x50" + bytes(40), "IP version 5", id="version-5"),
    pytest.param(b"\x00" * 60, "IP version 0", id="version-0"),
]


@pytest.mark.parametrize(("data", "message"), BAD_IP)
def test_parse_ip_rejects(data: bytes, message: str) -> None:
    with pytest.raises(InvalidPacket) as exc:
        parse_ip(data)
    assert exc.value.reason is DropReason.BAD_IP_HEADER
    assert message in exc.value.detail


def test_parse_ip_bug_becomes_invalid_packet(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: bytes) -> None:
        raise struct.error("boom")

    monkeypatch.setattr(packet, "_parse_ip", broken)
    with pytest.raises(InvalidPacket) as exc:
        parse_ip(b"\x45")
    assert exc.value.reason is DropReason.BAD_IP_HEADER
    assert isinstance(exc.value.__cause__, struct.error)
