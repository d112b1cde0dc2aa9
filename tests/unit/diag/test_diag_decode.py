"""`decode`: hex in every pasted shape, every layer, every field, tcpdump's line; and the io helpers
the taps and probes are built from (BPF program, ICMP and IGMP messages)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from vrrpkit.core.packet import Advertisement, build_ipv4, encode
from vrrpkit.diag import decode as d
from vrrpkit.diag import probe_wire as pw
from vrrpkit.io import icmp, igmp, tap

SRC, GROUP = IPv4Address("192.168.0.200"), IPv4Address("224.0.0.18")
# The seed's advert (tcpdump: "vrid 51, prio 152, authtype simple, intvl 1s, length 20").
SEED = encode(Advertisement(2, 51, 152, (IPv4Address("192.168.0.99"),), 1.0, 1, b"1111"), SRC, GROUP)
SEED_IP = build_ipv4(SRC, GROUP, SEED)
SEED_ETH = bytes.fromhex("01005e000012" "005056aabbcc" "0800") + SEED_IP
V3 = encode(Advertisement(3, 51, 100, (IPv4Address("192.0.2.100"),), 0.2), IPv4Address("192.0.2.1"), GROUP)


def test_seed_advert_reads_as_tcpdump_prints_it() -> None:
    doc = d.decode_bytes(SEED_IP).as_dict()
    assert doc["tcpdump"] == (
        "IP 192.168.0.200 > 224.0.0.18: VRRPv2, Advertisement, vrid 51, prio 152, authtype simple, intvl 1s, "
        'length 20, addrs: 192.168.0.99 auth "1111"'
    )
    v = doc["vrrp"]
    assert (v["vrid"], v["priority"], v["auth_name"], v["password"], v["interval"]) == (51, 152, "simple", "1111", 1.0)
    assert (v["checksum_form"], doc["valid"], doc["ip"]["header_checksum_ok"]) == ("v2", True, True)


@pytest.mark.parametrize(
    "text",
    [
        SEED_IP.hex(),
        " ".join(SEED_IP.hex()[i : i + 4] for i in range(0, len(SEED_IP.hex()), 4)),
        ":".join(f"{b:02x}" for b in SEED_IP),
        "0x" + SEED_IP.hex().upper(),
        # tcpdump -x
        "\t0x0000:  45c0 0028 0000 0000 ff70 1923 c0a8 00c8\n\t0x0010:  e000 0012 2133 9801 0101 225c c0a8 0063\n"
        "\t0x0020:  3131 3131 0000 0000\n",
    ],
)
def test_hex_as_people_paste_it(text: str) -> None:
    assert d.parse_hex(text) == SEED_IP


@pytest.mark.parametrize("text", ["", "zz", "abc"])
def test_bad_hex(text: str) -> None:
    with pytest.raises(d.DecodeError):
        d.parse_hex(text)


def test_ethernet_frame() -> None:
    dec = d.decode_bytes(SEED_ETH)
    assert dec.layer == "ethernet"
    assert dec.as_dict()["ethernet"] == {"dst": "01:00:5e:00:00:12", "src": "00:50:56:aa:bb:cc", "type": "0x0800"}


def test_ttl_shown_only_when_not_255_and_warned() -> None:
    packet = build_ipv4(SRC, GROUP, SEED, ttl=64)
    doc = d.decode_bytes(packet).as_dict()
    assert ", Advertisement, (ttl 64), vrid 51" in doc["tcpdump"]
    assert any("TTL 64" in w for w in doc["warnings"])


def test_bad_checksum_still_shows_every_field() -> None:
    broken = SEED[:6] + b"\x00\x00" + SEED[8:]
    doc = d.decode_bytes(build_ipv4(SRC, GROUP, broken)).as_dict()
    assert (doc["valid"], doc["error"]) == (False, "bad-checksum")
    assert doc["vrrp"]["vrid"] == 51 and doc["vrrp"]["addresses"] == ["192.168.0.99"]
    assert doc["tcpdump"].endswith("(bad vrrp cksum 0)")


def test_bare_v3_message_needs_addresses_for_its_checksum() -> None:
    unverified = d.decode_bytes(V3).as_dict()
    assert (unverified["error"], unverified["vrrp"]["checksum_form"]) == (None, None)
    assert any("not verified" in w for w in unverified["warnings"])
    verified = d.decode_bytes(V3, src=IPv4Address("192.0.2.1")).as_dict()
    assert (verified["valid"], verified["vrrp"]["checksum_form"]) == (True, "ipv4-pseudo-header")
    wrong = d.decode_bytes(V3, src=IPv4Address("192.0.2.9")).as_dict()
    assert wrong["error"] == "bad-checksum"
    assert verified["tcpdump"].startswith("IP 192.0.2.1 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 100, "
                                          "intvl 20cs, length 12")  # fmt: skip


def test_ipv6_packet() -> None:
    src, dst = IPv6Address("fe80::1"), IPv6Address("ff02::12")
    msg = encode(Advertisement(3, 7, 200, (IPv6Address("fe80::100"),), 1.0), src, dst)
    header = bytes.fromhex("60000000") + len(msg).to_bytes(2, "big") + bytes([112, 255]) + src.packed + dst.packed
    doc = d.decode_bytes(header + msg).as_dict()
    assert doc["tcpdump"].startswith("IP6 fe80::1 > ff02::12: VRRPv3, Advertisement, vrid 7, prio 200")
    assert doc["vrrp"]["checksum_form"] == "ipv6-pseudo-header"


def test_probe_packets_are_recognised() -> None:
    probe = pw.ProbeMessage(pw.Kind.REQUEST, pw.Path.VRRP_UNICAST, 1, 3, 0, vrid=254)
    doc = d.decode_bytes(build_ipv4(SRC, IPv4Address("192.0.2.2"), pw.encode_vrrp(probe))).as_dict()
    assert doc["probe"]["path"] == "vrrp-unicast" and doc["probe"]["seq"] == 3
    assert "vrrpkit probe v2 request vrrp-unicast seq 3" in doc["tcpdump"]


def test_not_vrrp() -> None:
    udp = bytes.fromhex("4500001c00000000401100000a0000010a000002") + bytes(8)
    with pytest.raises(d.DecodeError):
        d.decode_bytes(udp)
    with pytest.raises(d.DecodeError):
        d.decode_bytes(b"\x10\x20")


def test_sight_ip_skips_other_protocols_and_keeps_truncated_vrrp() -> None:
    assert d.sight_ip(bytes.fromhex("4500001c00000000401100000a0000010a000002") + bytes(8)) is None
    short = build_ipv4(SRC, GROUP, SEED[:4])
    s = d.sight_ip(short)
    assert s is not None and s.raw is None and s.error == "too-short"


def test_keepalived_s_auth_type_ah_is_read_past_its_ah_header() -> None:
    """keepalived 2.2.7's AH advert (captured here; tests/unit/test_ah.py): the VRRPv2 message inside,
    the SPI and sequence shown, the ICV not checked (that needs the password). The live tap takes
    protocol 51 by default, and an AH packet carrying something else is not VRRP."""
    packet = bytes.fromhex("45c0004000010000ff3317eec00002c9e000001270040000c00002c900000002552bafdc36c0bf99285417b4"
                           "21339601020183cfc00002fa0000000000000000")  # fmt: skip
    s = d.sight_ip(packet)
    assert s is not None and s.valid and s.ah == (0xC00002C9, 2) and s.raw is not None and s.raw.vrid == 51
    assert "authtype ah" in d.tcpdump_line(s)
    assert d.describe(s)["ip"]["ah"] == {"spi": "192.0.2.201", "seq": 2, "icv_checked": False}
    assert d.sight_ip(packet[:20] + b"\x06" + packet[21:]) is None  # AH over TCP: not VRRP
    defaults = tap.PacketTap.__init__.__defaults__
    assert defaults is not None and 51 in defaults[0]
    assert _run_bpf(tap.bpf_program(defaults[0], ()), 0x0800, packet) > 0


# --- io helpers ---------------------------------------------------------------------------------


def _run_bpf(prog: list[tuple[int, int, int, int]], proto: int, packet: bytes) -> int:
    """A tiny classic-BPF interpreter for the instructions bpf_program emits."""
    pc, acc = 0, 0
    for _ in range(64):
        code, jt, jf, k = prog[pc]
        if code == 0x28:
            acc = proto if k == 0xFFFFF000 else int.from_bytes(packet[k : k + 2], "big")
        elif code == 0x30:
            acc = packet[k]
        elif code == 0x15:
            pc += jt if acc == k else jf
        elif code == 0x06:
            return k
        pc += 1
    raise AssertionError("BPF program does not terminate")


@pytest.mark.parametrize(
    ("proto", "packet", "accepted"),
    [
        (0x0800, SEED_IP, True),
        (0x0800, bytes.fromhex("4500001c00000000400200000a0000010a000002"), True),  # IGMP
        (0x0800, bytes.fromhex("4500001c00000000401100000a0000010a000002"), False),  # UDP
        (0x86DD, bytes(6) + bytes([112]) + bytes(33), True),
        (0x86DD, bytes(6) + bytes([58]) + bytes(33), False),
        (0x0806, bytes(28), False),
    ],
)
def test_tap_bpf_keeps_vrrp_and_igmp_only(proto: int, packet: bytes, accepted: bool) -> None:
    prog = tap.bpf_program((112, 2), (112,))
    assert (_run_bpf(prog, proto, packet) > 0) is accepted
    assert _run_bpf(tap.bpf_program((112,), ()), 0x86DD, bytes(6) + bytes([112]) + bytes(33)) == 0


def test_packet_mreq_layout() -> None:
    mreq = tap.packet_mreq(2, tap.VRRP_MAC4)
    assert len(mreq) == 16 and mreq[8:14] == bytes.fromhex("01005e000012")


def test_igmpv3_group_query_bytes() -> None:
    q = igmp.igmpv3_query(IPv4Address("224.0.0.18"))
    assert q[0] == 0x11 and q[1] == 10 and q[4:8] == bytes([224, 0, 0, 18]) and len(q) == 12
    assert icmp._checksum(q) == 0


def test_icmp_echo_and_protocol_unreachable() -> None:
    req = icmp.echo_request(4, 0x1234, 1)
    assert req[0] == 8 and icmp._checksum(req) == 0
    reply = bytes.fromhex("4500001c000000004001000000000000") + bytes(4) + bytes([0, 0, 0, 0, 0x12, 0x34, 0, 1])
    assert icmp.parse_icmp(4, reply, IPv4Address("192.0.2.2")) == ("echo-reply", (0x1234, 1))
    quoted = build_ipv4(IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2"), bytes(48))[:28]
    error = bytes.fromhex("4500003800000000400100000a0000020a000001") + bytes([3, 2, 0, 0, 0, 0, 0, 0]) + quoted
    parsed = icmp.parse_icmp(4, error, IPv4Address("192.0.2.2"))
    assert isinstance(parsed, icmp.IcmpError) and parsed.protocol_unreachable
    assert (parsed.quoted_protocol, str(parsed.quoted_dst)) == (112, "192.0.2.2")


def test_mldv2_query_and_reports_for_the_vrrp_group() -> None:
    group = IPv6Address("ff02::12")
    query = igmp.mldv2_query(group)
    assert (query[0], int.from_bytes(query[4:6], "big"), IPv6Address(query[8:24])) == (130, 1000, group)
    record = bytes([4, 0, 0, 0]) + group.packed  # CHANGE_TO_EXCLUDE, no sources: "I listen to ff02::12"
    icmp6 = bytes([143, 0, 0, 0, 0, 0, 0, 1]) + record
    hbh = bytes([58, 0, 5, 2, 0, 0, 1, 0])
    src, dst = IPv6Address("fe80::1"), IPv6Address("ff02::16")
    header = bytes.fromhex("60000000") + (len(hbh) + len(icmp6)).to_bytes(2, "big") + bytes([0, 1])
    assert igmp.mld_report_groups(header + src.packed + dst.packed + hbh + icmp6) == {group}
    v1 = bytes([131, 0, 0, 0, 0, 0, 0, 0]) + group.packed
    header1 = bytes.fromhex("60000000") + (len(hbh) + len(v1)).to_bytes(2, "big") + bytes([0, 1])
    assert igmp.mld_report_groups(header1 + src.packed + dst.packed + hbh + v1) == {group}
    assert igmp.mld_report_groups(header + src.packed + dst.packed + hbh + bytes([128]) + icmp6[1:]) == set()
