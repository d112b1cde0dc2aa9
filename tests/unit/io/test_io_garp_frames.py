"""GARP / NA / probe frames byte by byte, then decoded by scapy as a second opinion."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether

from vrrpkit.io import garp

MAC = bytes.fromhex("020000c0ffee")
VIP4 = IPv4Address("192.0.2.10")
VIP6 = IPv6Address("2001:db8::10")


def test_garp_fields_byte_by_byte() -> None:
    frame = garp.garp_frame(MAC, VIP4)
    assert len(frame) == 42
    assert frame[0:6] == b"\xff" * 6  # Ethernet broadcast
    assert frame[6:12] == MAC  # the interface's real MAC, as keepalived (no vMAC)
    assert frame[12:14] == b"\x08\x06"
    assert struct.unpack("!HHBBH", frame[14:22]) == (1, 0x0800, 6, 4, 1)  # Ethernet/IPv4, request
    assert frame[22:28] == MAC  # sender MAC
    assert frame[28:32] == VIP4.packed  # sender IP = VIP
    assert frame[32:38] == b"\xff" * 6  # target MAC: keepalived memsets 0xff (vrrp_arp.c)
    assert frame[38:42] == VIP4.packed  # target IP = VIP


def test_garp_decoded_by_scapy() -> None:
    pkt = Ether(garp.garp_frame(MAC, VIP4))
    assert pkt.dst == "ff:ff:ff:ff:ff:ff" and pkt.src == "02:00:00:c0:ff:ee"
    arp = pkt[ARP]
    assert arp.op == 1 and arp.hwsrc == "02:00:00:c0:ff:ee" and arp.hwdst == "ff:ff:ff:ff:ff:ff"
    assert arp.psrc == arp.pdst == "192.0.2.10"


def test_unsolicited_na_fields_byte_by_byte() -> None:
    frame = garp.unsolicited_na_frame(MAC, VIP6)
    assert len(frame) == 86
    assert frame[0:6] == bytes.fromhex("333300000001")
    assert frame[6:12] == MAC
    assert frame[12:14] == b"\x86\xdd"
    ver_tc_flow, plen, nxt, hlim = struct.unpack("!IHBB", frame[14:22])
    assert (ver_tc_flow >> 28, plen, nxt, hlim) == (6, 32, 58, 255)
    assert frame[22:38] == VIP6.packed  # keepalived sends from the VIP itself
    assert frame[38:54] == IPv6Address("ff02::1").packed
    assert frame[54] == 136 and frame[55] == 0
    flags = struct.unpack("!I", frame[58:62])[0]
    assert flags == 0x20000000  # Override only: not solicited, not a router (forwarding off)
    assert frame[62:78] == VIP6.packed
    assert frame[78:80] == b"\x02\x01"  # target link-layer address option, 8 bytes
    assert frame[80:86] == MAC
    # the checksum verifies: summing the pseudo-header and the message gives 0
    message = frame[54:]
    assert garp.icmpv6_checksum(VIP6, IPv6Address("ff02::1"), message) == 0


def test_unsolicited_na_router_flag() -> None:
    frame = garp.unsolicited_na_frame(MAC, VIP6, router=True)
    assert struct.unpack("!I", frame[58:62])[0] == 0xA0000000


def test_unsolicited_na_decoded_by_scapy_with_valid_checksum() -> None:
    raw = garp.unsolicited_na_frame(MAC, VIP6)
    pkt = Ether(raw)
    ip6 = pkt[IPv6]
    assert ip6.src == "2001:db8::10" and ip6.dst == "ff02::1" and ip6.hlim == 255
    na = pkt[ICMPv6ND_NA]
    assert (na.R, na.S, na.O) == (0, 0, 1)
    assert na.tgt == "2001:db8::10"
    assert pkt[ICMPv6NDOptDstLLAddr].lladdr == "02:00:00:c0:ff:ee"
    claimed = na.cksum
    del na.cksum
    assert Ether(bytes(pkt))[ICMPv6ND_NA].cksum == claimed  # scapy recomputes the same checksum


def test_arp_probe_is_rfc5227() -> None:
    pkt = Ether(garp.arp_probe_frame(MAC, VIP4))
    arp = pkt[ARP]
    assert (arp.op, arp.psrc, arp.pdst, arp.hwdst) == (1, "0.0.0.0", "192.0.2.10", "00:00:00:00:00:00")
    assert pkt.dst == "ff:ff:ff:ff:ff:ff"


def test_dad_ns_goes_to_solicited_node_group() -> None:
    raw = garp.dad_ns_frame(MAC, VIP6)
    pkt = Ether(raw)
    assert pkt.dst == "33:33:ff:00:00:10"
    assert pkt[IPv6].src == "::" and pkt[IPv6].dst == "ff02::1:ff00:10" and pkt[IPv6].hlim == 255
    assert pkt[ICMPv6ND_NS].tgt == "2001:db8::10"
    assert garp.icmpv6_checksum(IPv6Address("::"), IPv6Address("ff02::1:ff00:10"), raw[54:]) == 0


def test_parse_claim() -> None:
    other = bytes.fromhex("020000000002")
    reply = Ether(src="02:00:00:00:00:02", dst="02:00:00:c0:ff:ee") / ARP(
        op=2, hwsrc="02:00:00:00:00:02", psrc="192.0.2.10", hwdst="02:00:00:c0:ff:ee", pdst="0.0.0.0"
    )
    assert garp.parse_claim(bytes(reply)) == garp.Claim(VIP4, other, "arp-reply")
    assert garp.parse_claim(garp.garp_frame(other, VIP4)) == garp.Claim(VIP4, other, "arp-announce")
    assert garp.parse_claim(garp.arp_probe_frame(other, VIP4)) is None  # a probe claims nothing
    assert garp.parse_claim(garp.unsolicited_na_frame(other, VIP6)) == garp.Claim(VIP6, other, "na")
    assert garp.parse_claim(garp.dad_ns_frame(other, VIP6)) is None
    assert garp.parse_claim(b"\x00" * 10) is None


def test_helpers() -> None:
    assert garp.format_mac(MAC) == "02:00:00:c0:ff:ee"
    assert garp.parse_mac("02:00:00:c0:ff:ee") == MAC
    assert garp.solicited_node(IPv6Address("fe80::1234:5678")) == IPv6Address("ff02::1:ff34:5678")
    with pytest.raises(ValueError):
        garp.garp_frame(b"\x00", VIP4)
    with pytest.raises(ValueError):
        garp.parse_mac("00:11")
