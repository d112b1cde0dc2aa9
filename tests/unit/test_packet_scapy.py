"""The codec against an independent implementation: scapy's VRRP (RFC 3768) and VRRPv3 layers.

Both ways, for every family/version/destination kind:
  ours -> scapy: our message inside an IP/IPv6 header is dissected by scapy; every field must match,
                 and scapy, asked to recompute the checksums (``chksum=None``), must produce our bytes
                 exactly (VRRP checksum and, for IPv4, the header built by ``build_ipv4``);
  scapy -> ours: a packet built by scapy from the same fields goes through ``parse_ip`` and
                 ``inspect``, which must return the advert and the checksum form scapy uses.

Scapy quirks found on the way (scapy 2.5/2.6 ``scapy/layers/vrrp.py``), each pinned by a test below:
  1. scapy's IPv4 v3 checksum is keepalived's form (pseudo-header with the real destination), so it
     cannot produce or check FRR's group form or RFC 9568's no-pseudo-header form.
  2. scapy never verifies a checksum when dissecting: a corrupted advert dissects silently.
  3. IPv4 protocol 112 is bound to VRRP (v2) first; its dispatch hook switches to VRRPv3 only when
     the first byte is 0x30..0x39 (version 3, type 0..9) and there are >= 9 bytes. A v3 message
     with type 10..15, or one of 8 bytes, is dissected as v2, fails, and becomes Raw.
  4. Over IPv6 (bound to VRRPv3 only) a message whose first byte is not v3 is handed to the v2
     layer, whose address list is IPv4 (4-byte) addresses; our decoder reads v2 over IPv6 as
     keepalived sends it (16-byte addresses, no auth data), so that message is a length mismatch.
  5. v2 authentication data is two 32-bit integers (auth1, auth2), not 8 bytes.
  6. VRRPv3's 12-bit ``adv`` silently keeps the low 12 bits of a larger value (5000 -> 904); ours
     raises ValueError. scapy also builds a v3 advert with no address (count 0), which RFC 9568
     erratum 8299 makes invalid and which we reject (ValueError / ZERO_COUNT).
  7. VRRPv3 without an IP/IPv6 underlayer leaves the checksum 0 (with a warning) and keeps the
     address list as a raw string.
  8. A count lower than the addresses present makes scapy read the next address as auth data and
     leave the rest as Raw; a higher count makes the whole layer Raw. Ours rejects both.
  9. scapy dissects at most ``conf.max_list_count`` (100) addresses: a valid advert with 101..255
     addresses (keepalived allows 255) becomes Raw unless that limit is raised.
 10. scapy prints IPv6 addresses with inet_ntop, so ``::1:0`` reads ``::0.1.0.0``; compare them
     as addresses, not strings.
"""

from __future__ import annotations

import logging
from collections import Counter
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.config import conf
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.vrrp import VRRP, VRRPv3
from scapy.packet import Raw

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6
from vrrpkit.core.packet import (
    Advertisement,
    ChecksumForm,
    DropReason,
    InvalidPacket,
    build_ipv4,
    decode,
    encode,
    inspect,
    parse_ip,
)

# scapy is the oracle here, and these pins are a newer scapy's behaviour (conf.max_list_count, quirk
# 9, is not in 2.5.0). The floor run (.venv-floor, Debian 12's scapy 2.5.0, which vrrpkit itself
# works with: it uses only scapy.utils' raw pcap readers) has an older oracle, not another vrrpkit.
pytestmark = pytest.mark.skipif(not hasattr(conf, "max_list_count"), reason="scapy 2.5.0: an older oracle")

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)  # quirk 7 warns by design

IPAddr = IPv4Address | IPv6Address
EXAMPLES = 150  # random adverts per kind; each is checked in both directions

# --- strategies -------------------------------------------------------------------------------

ipv4_unicast = st.integers(0x01000000, 0xDFFFFFFF).map(IPv4Address)  # 1.0.0.0 .. 223.255.255.255
ipv4_any = st.integers(0, 2**32 - 1).map(IPv4Address)
ipv6_any = st.integers(0, 2**128 - 1).map(IPv6Address)
link_local6 = st.integers(1, 2**64 - 1).map(lambda n: IPv6Address((0xFE80 << 112) | n))
global6 = st.integers(0, 2**96 - 1).map(lambda n: IPv6Address((0x20010DB8 << 96) | n))
passwords = st.binary(min_size=0, max_size=8).filter(lambda b: not b.endswith(b"\0"))  # see test_packet.py


def _dst(kind: str) -> st.SearchStrategy[IPAddr]:
    return {
        "multicast": st.just(VRRP_GROUP4),
        "unicast": ipv4_unicast,
        "ff02::12": st.just(VRRP_GROUP6),
        "link-local": link_local6,
        "global": global6,
    }[kind]


@st.composite
def cases(draw: st.DrawFn, version: int, dst_kind: str) -> tuple[Advertisement, IPAddr, IPAddr]:
    family = 6 if dst_kind in ("ff02::12", "link-local", "global") else 4
    addrs = ipv4_any if family == 4 else ipv6_any
    if version == 2:
        auth_type = draw(st.sampled_from([0, 1]))
        auth_data = draw(passwords) if auth_type else b""
        interval = float(draw(st.integers(1, 255)))
        count = (0, 20)
    else:
        auth_type, auth_data = 0, b""
        interval = draw(st.integers(1, 4095)) / 100
        count = (1, 20)
    adv = Advertisement(
        version=version,
        vrid=draw(st.integers(1, 255)),
        priority=draw(st.integers(0, 255)),
        addresses=tuple(draw(st.lists(addrs, min_size=count[0], max_size=count[1]))),
        interval=interval,
        auth_type=auth_type,
        auth_data=auth_data,
    )
    src = draw(ipv4_unicast if family == 4 else st.one_of(link_local6, global6))
    return adv, src, draw(_dst(dst_kind))


# --- the two directions -----------------------------------------------------------------------


def _wrap(src: IPAddr, dst: IPAddr, message: bytes) -> bytes:
    if isinstance(src, IPv4Address):
        return build_ipv4(src, dst, message)  # type: ignore[arg-type]
    return bytes(IPv6(src=str(src), dst=str(dst), nh=112, hlim=255) / Raw(message))


def ours_to_scapy(adv: Advertisement, src: IPAddr, dst: IPAddr) -> None:
    message = encode(adv, src, dst)
    wire = _wrap(src, dst, message)
    pkt = IP(wire) if src.version == 4 else IPv6(wire)
    layer_cls = VRRP if adv.version == 2 else VRRPv3
    assert pkt.haslayer(layer_cls), pkt.summary()
    layer = pkt[layer_cls]
    assert (layer.version, layer.type, layer.vrid, layer.priority) == (adv.version, 1, adv.vrid, adv.priority)
    assert layer.ipcount == len(adv.addresses)
    assert [ip_address(a) for a in layer.addrlist] == list(adv.addresses)  # quirk 10: compare parsed
    assert layer.chksum == int.from_bytes(message[6:8], "big")
    if adv.version == 2:
        assert (layer.authtype, layer.adv) == (adv.auth_type, int(adv.interval))
        padded = adv.auth_data.ljust(8, b"\0")
        assert (layer.auth1, layer.auth2) == (int.from_bytes(padded[:4], "big"), int.from_bytes(padded[4:], "big"))
    else:
        assert (layer.res, layer.adv) == (0, adv.interval_cs)
    assert not pkt.haslayer(Raw)  # nothing left over: scapy agrees on the length
    # scapy recomputes every checksum (VRRP, and the IPv4 header) and must land on our bytes
    del layer.chksum
    if src.version == 4:
        del pkt[IP].chksum
    assert bytes(pkt) == wire


def scapy_to_ours(adv: Advertisement, src: IPAddr, dst: IPAddr) -> None:
    addrlist = [str(a) for a in adv.addresses]
    if adv.version == 2:
        padded = adv.auth_data.ljust(8, b"\0")
        vrrp = VRRP(
            vrid=adv.vrid,
            priority=adv.priority,
            authtype=adv.auth_type,
            adv=int(adv.interval),
            addrlist=addrlist,
            auth1=int.from_bytes(padded[:4], "big"),
            auth2=int.from_bytes(padded[4:], "big"),
        )
    else:
        vrrp = VRRPv3(vrid=adv.vrid, priority=adv.priority, adv=adv.interval_cs, addrlist=addrlist)
    if src.version == 4:
        wire = bytes(IP(src=str(src), dst=str(dst), ttl=255, tos=0xC0) / vrrp)
    else:
        wire = bytes(IPv6(src=str(src), dst=str(dst), hlim=255) / vrrp)
    ip = parse_ip(wire)
    assert (ip.src, ip.dst, ip.ttl, ip.protocol) == (src, dst, 255, 112)
    insp = inspect(ip.payload, ip.src, ip.dst)
    assert insp.advert == adv
    expected = {2: ChecksumForm.V2, 4: ChecksumForm.IPV4_PSEUDO, 6: ChecksumForm.IPV6_PSEUDO}
    assert insp.checksum_form is expected[2 if adv.version == 2 else src.version]
    assert ip.payload == encode(adv, src, dst)  # and byte for byte what we would have sent


KINDS = [
    pytest.param(2, "multicast", id="v2-ipv4-multicast"),
    pytest.param(2, "unicast", id="v2-ipv4-unicast"),
    pytest.param(3, "multicast", id="v3-ipv4-224.0.0.18"),
    pytest.param(3, "unicast", id="v3-ipv4-unicast"),
    pytest.param(3, "ff02::12", id="v3-ipv6-ff02::12"),
    pytest.param(3, "link-local", id="v3-ipv6-unicast-link-local"),
    pytest.param(3, "global", id="v3-ipv6-unicast-global"),
]


@pytest.mark.parametrize(("version", "dst_kind"), KINDS)
def test_agreement_with_scapy(version: int, dst_kind: str) -> None:
    """150 random adverts per kind (7 kinds, 1050 in all), each checked both ways: scapy dissects
    our bytes with every field equal and recomputes the same checksums; we decode scapy's bytes
    to the same advert. Every one of the 2 x 150 checks per kind must agree."""
    agreed: Counter[str] = Counter()

    @given(cases(version, dst_kind))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    def check(case: tuple[Advertisement, IPAddr, IPAddr]) -> None:
        ours_to_scapy(*case)
        agreed["ours->scapy"] += 1
        scapy_to_ours(*case)
        agreed["scapy->ours"] += 1

    check()
    print(f"\nscapy agreement v{version} {dst_kind}: {dict(agreed)}")
    assert agreed == Counter({"ours->scapy": EXAMPLES, "scapy->ours": EXAMPLES}), agreed


NAMED = [
    (Advertisement(2, 51, 100, (IPv4Address("192.0.2.99"),), 1.0, 1, b"1111"), "192.0.2.1", "224.0.0.18"),
    (Advertisement(2, 1, 255, (), 255.0), "192.0.2.1", "192.0.2.2"),
    (Advertisement(3, 51, 100, (IPv4Address("192.0.2.99"),), 1.0), "192.0.2.1", "224.0.0.18"),
    (Advertisement(3, 51, 100, (IPv4Address("192.0.2.99"),), 40.95), "192.0.2.1", "192.0.2.2"),
    (Advertisement(3, 51, 0, (IPv6Address("fe80::99"), IPv6Address("2001:db8::1")), 0.01), "fe80::1", "ff02::12"),
    (Advertisement(3, 51, 100, (IPv6Address("fe80::99"),), 1.0), "fe80::1", "fe80::2"),
    (Advertisement(3, 51, 100, (IPv6Address("2001:db8::99"),), 1.0), "2001:db8::1", "2001:db8::2"),
    (Advertisement(3, 9, 100, tuple(IPv4Address(0x0A000000 + i) for i in range(255)), 1.0), "10.1.1.1", "224.0.0.18"),
]


@pytest.mark.parametrize(("adv", "src", "dst"), NAMED)
def test_named_agreement(adv: Advertisement, src: str, dst: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conf, "max_list_count", 255)  # quirk 9
    ours_to_scapy(adv, ip_address(src), ip_address(dst))
    scapy_to_ours(adv, ip_address(src), ip_address(dst))


# --- the quirks, pinned -----------------------------------------------------------------------

S4, U4 = IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")
V3 = Advertisement(3, 51, 100, (IPv4Address("192.0.2.99"),), 1.0)


def test_quirk1_scapy_checksum_is_the_real_destination_form() -> None:
    frr_style = bytes(IP(src=str(S4), dst=str(VRRP_GROUP4)) / VRRPv3(vrid=51, adv=100, addrlist=["192.0.2.99"]))[20:]
    unicast = bytes(IP(src=str(S4), dst=str(U4)) / VRRPv3(vrid=51, adv=100, addrlist=["192.0.2.99"]))[20:]
    assert unicast == encode(V3, S4, U4)
    assert inspect(unicast, S4, U4).checksum_form is ChecksumForm.IPV4_PSEUDO
    # FRR puts the group in the pseudo-header when unicasting: only we can tell
    assert inspect(frr_style, S4, U4).checksum_form is ChecksumForm.IPV4_PSEUDO_GROUP


def test_quirk2_scapy_does_not_verify_checksums() -> None:
    message = bytearray(encode(V3, S4, VRRP_GROUP4))
    message[6] ^= 0xFF
    pkt = IP(build_ipv4(S4, VRRP_GROUP4, bytes(message)))
    assert pkt[VRRPv3].vrid == 51  # dissected as if nothing were wrong
    with pytest.raises(InvalidPacket) as exc:
        decode(bytes(message), S4, VRRP_GROUP4)
    assert exc.value.reason is DropReason.BAD_CHECKSUM


def test_quirk3_v3_with_type_10_or_8_bytes_is_not_vrrpv3_for_scapy() -> None:
    message = encode(V3, S4, VRRP_GROUP4)
    type10 = IP(build_ipv4(S4, VRRP_GROUP4, bytes([0x3A]) + message[1:]))
    assert not type10.haslayer(VRRPv3) and type10.haslayer(Raw)
    short = IP(build_ipv4(S4, VRRP_GROUP4, message[:8]))
    assert not short.haslayer(VRRPv3) and short.haslayer(Raw)
    type9 = IP(build_ipv4(S4, VRRP_GROUP4, bytes([0x39]) + message[1:]))
    assert type9[VRRPv3].type == 9  # types 0..9 still reach VRRPv3


def test_quirk4_v2_over_ipv6_goes_to_the_ipv4_layer() -> None:
    v2 = encode(Advertisement(2, 51, 100, (IPv4Address("192.0.2.99"),), 1.0), S4, VRRP_GROUP4)
    pkt = IPv6(bytes(IPv6(src="fe80::1", dst="ff02::12", nh=112) / Raw(v2)))
    assert type(pkt.payload) is VRRP and pkt[VRRP].addrlist == ["192.0.2.99"]
    with pytest.raises(InvalidPacket) as exc:
        decode(v2, IPv6Address("fe80::1"), VRRP_GROUP6)
    assert exc.value.reason is DropReason.LENGTH_MISMATCH


def test_quirk5_v2_auth_data_is_two_integers() -> None:
    adv = Advertisement(2, 51, 100, (), 1.0, 1, b"abcdefgh")
    layer = IP(build_ipv4(S4, VRRP_GROUP4, encode(adv, S4, VRRP_GROUP4)))[VRRP]
    assert (layer.auth1, layer.auth2) == (0x61626364, 0x65666768)


def test_quirk6_scapy_builds_what_we_reject() -> None:
    masked = bytes(IP(src=str(S4), dst=str(VRRP_GROUP4)) / VRRPv3(adv=5000, addrlist=["192.0.2.99"]))[20:]
    assert masked[4:6] == (5000 & 0xFFF).to_bytes(2, "big")
    with pytest.raises(ValueError):
        encode(Advertisement(3, 1, 100, (IPv4Address("192.0.2.99"),), 50.0), S4, VRRP_GROUP4)
    empty = bytes(IP(src=str(S4), dst=str(VRRP_GROUP4)) / VRRPv3(addrlist=[]))[20:]
    assert len(empty) == 8 and empty[3] == 0
    with pytest.raises(InvalidPacket) as exc:
        decode(empty, S4, VRRP_GROUP4)
    assert exc.value.reason is DropReason.ZERO_COUNT


def test_quirk7_v3_without_ip_layer_has_no_checksum() -> None:
    assert bytes(VRRPv3(vrid=1))[6:8] == b"\0\0"
    standalone = VRRPv3(encode(V3, S4, VRRP_GROUP4))
    assert standalone.addrlist == IPv4Address("192.0.2.99").packed


def test_quirk8_count_mismatch() -> None:
    two = encode(Advertisement(2, 1, 100, (IPv4Address("1.2.3.4"), IPv4Address("1.2.3.5")), 1.0, 1, b"pw"), S4, U4)
    low = IP(build_ipv4(S4, U4, two[:3] + b"\x01" + two[4:]))
    assert low[VRRP].addrlist == ["1.2.3.4"] and low[VRRP].auth1 == int(IPv4Address("1.2.3.5"))
    assert low.haslayer(Raw)
    high = IP(build_ipv4(S4, U4, two[:3] + b"\x05" + two[4:]))
    assert not high.haslayer(VRRP) and high.haslayer(Raw)
    for bad in (two[:3] + b"\x01" + two[4:], two[:3] + b"\x05" + two[4:]):
        with pytest.raises(InvalidPacket) as exc:
            decode(bad, S4, U4)
        assert exc.value.reason is DropReason.LENGTH_MISMATCH


def test_quirk9_at_most_100_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    for count, dissected in ((100, True), (101, False)):
        adv = Advertisement(3, 9, 100, tuple(IPv4Address(0x0A000000 + i) for i in range(count)), 1.0)
        pkt = IP(build_ipv4(S4, VRRP_GROUP4, encode(adv, S4, VRRP_GROUP4)))
        assert bool(pkt.haslayer(VRRPv3)) is dissected
    monkeypatch.setattr(conf, "max_list_count", 255)
    assert len(IP(build_ipv4(S4, VRRP_GROUP4, encode(adv, S4, VRRP_GROUP4)))[VRRPv3].addrlist) == 101


def test_quirk10_ipv4_compatible_text() -> None:
    adv = Advertisement(3, 1, 100, (IPv6Address("::1:0"),), 1.0)
    src = IPv6Address("fe80::1")
    pkt = IPv6(bytes(IPv6(src=str(src), dst="ff02::12", nh=112) / Raw(encode(adv, src, VRRP_GROUP6))))
    assert pkt[VRRPv3].addrlist == ["::0.1.0.0"]
    assert ip_address(pkt[VRRPv3].addrlist[0]) == IPv6Address("::1:0")
