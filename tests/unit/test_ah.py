"""auth_type AH as keepalived 2.2.7 sends it (core/ah.py).

The packets below were captured here from keepalived 2.2.7 (Debian's build) in network namespaces,
VRRPv2, VRID 51, advert_int 1, VIP 192.0.2.250, auth_pass `secret12` (one with `abc`), senders
192.0.2.201 and 192.0.2.202: multicast to 224.0.0.18, and unicast to 192.0.2.202 and .203.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, ip_address

import pytest

from vrrpkit.core import effects as fx
from vrrpkit.core.ah import PROTO_AH, AhSession, ah_key, seal, trailer
from vrrpkit.core.packet import AUTH_AH, Advertisement, DropReason, decode, encode

KEEPALIVED = [  # (auth_pass, unicast, packet)
    ("secret12", False, "45c0004000010000ff3317edc00002cae000001270040000c00002ca000000013517eb35752e19ca89b4e5a9"
                        "213364010201b5cfc00002fa0000000000000000"),
    ("secret12", False, "45c0004000010000ff3317eec00002c9e000001270040000c00002c900000002552bafdc36c0bf99285417b4"
                        "21339601020183cfc00002fa0000000000000000"),
    ("secret12", False, "45c0004000020000ff3317edc00002c9e000001270040000c00002c9000000039c2ba43f94480067668bd90a"
                        "21339601020183cfc00002fa0000000000000000"),
    ("abc", False, "45c0004000010000ff3317eec00002c9e000001270040000c00002c900000001d6d7ca4bad24260a1a4d2f50"
                   "21339601020183cfc00002fa0000000000000000"),
    ("secret12", True, "45c0004000010000ff333536c00002c9c00002ca70040000c00002c9000000016c0c4c6aa91e093e3bca6eee"
                       "21339601020183cfc00002fa0000000000000000"),
    ("secret12", True, "45c0004000010000ff333535c00002c9c00002cb70040000c00002c9000000012ba64c2863c66870f51fcecf"
                       "21339601020183cfc00002fa0000000000000000"),
]  # fmt: skip
CASES = [pytest.param(p.encode(), u, bytes.fromhex(h), id=f"{p}-{'unicast' if u else 'multicast'}-{n}")
         for n, (p, u, h) in enumerate(KEEPALIVED)]  # fmt: skip
VIP = IPv4Address("192.0.2.250")


@pytest.mark.parametrize(("password", "unicast", "packet"), CASES)
def test_sealing_makes_keepalived_s_packet_byte_for_byte(password: bytes, unicast: bool, packet: bytes) -> None:
    src, dst = IPv4Address(packet[12:16]), IPv4Address(packet[16:20])
    ident, seq = struct.unpack("!H", packet[4:6])[0], struct.unpack("!I", packet[28:32])[0]
    message = encode(Advertisement(2, 51, packet[46], (VIP,), 1.0, auth_type=AUTH_AH), src, dst)
    assert message == packet[44:]  # auth type 2, eight zero bytes where PASS puts the password
    assert seal(ah_key(password), message, src, dst, 255, ident, seq, unicast) == packet


@pytest.mark.parametrize(("password", "unicast", "packet"), CASES)
def test_opening_keepalived_s_packet_gives_its_message_and_follows_its_sequence(
    password: bytes, unicast: bool, packet: bytes
) -> None:
    session = AhSession(password, unicast)
    opened = session.open(trailer(packet), IPv4Address(packet[12:16]))
    assert opened.reason is None and opened.message == packet[44:]
    assert session.seq == struct.unpack("!I", packet[28:32])[0]
    adv = decode(opened.message, IPv4Address(packet[12:16]), IPv4Address(packet[16:20]))
    assert adv.auth_type == AUTH_AH and adv.auth_data == b"" and adv.vrid == 51


def test_a_wrong_password_a_forged_spi_and_a_replay_are_refused_in_keepalived_s_words() -> None:
    password, unicast, raw = KEEPALIVED[1]
    packet = bytes.fromhex(raw)
    src = IPv4Address(packet[12:16])
    wrong = AhSession(b"secret13", unicast).open(trailer(packet), src)
    assert wrong.reason is DropReason.BAD_ICV and "invalid IPSEC HMAC-MD5 value" in wrong.detail
    ttl_zeroed = AhSession(password.encode(), True).open(trailer(packet), src)  # multicast keeps the TTL in the ICV
    assert ttl_zeroed.reason is DropReason.BAD_ICV
    assert AhSession(password.encode(), unicast).open(trailer(packet), IPv4Address("192.0.2.9")).reason is (
        DropReason.BAD_SPI)  # fmt: skip
    session = AhSession(password.encode(), unicast)
    assert session.open(trailer(packet), src).reason is None
    again = session.open(trailer(packet), src)
    assert again.reason is DropReason.REPLAYED
    assert again.detail == "IPSEC-AH : sequence number 2 already processed. Packet dropped. Local(2)"
    assert session.open(b"\x21\x33", src).reason is DropReason.TOO_SHORT
    changed = packet[:44] + packet[44:45] + b"\x34" + packet[46:]  # another VRID under the same ICV
    assert AhSession(password.encode(), unicast).open(trailer(changed), src).reason is DropReason.BAD_ICV


def test_a_round_has_one_sequence_and_one_ip_id_and_each_peer_its_own_icv() -> None:
    """keepalived: the counter moves once per round (before it), the IP id too (1 first, never
    0); every unicast peer of the round gets the same numbers; a BACKUP that heard its master
    goes on from the master's sequence."""
    src = IPv4Address("192.0.2.201")
    peers = (IPv4Address("192.0.2.202"), IPv4Address("192.0.2.203"))
    message = encode(Advertisement(2, 51, 150, (VIP,), 1.0, auth_type=AUTH_AH), src, peers[0])
    adverts = tuple(fx.SendAdvert("VI_1", "eth0", src, p, message, 150, 255) for p in peers)
    session = AhSession(b"secret12", True)
    first = session.seal_round(adverts)
    assert [bytes.fromhex(h) for _, _, h in KEEPALIVED[4:]] == [a.data for a in first]  # keepalived's first round
    assert all(a.data[9] == PROTO_AH for a in first)
    second = session.seal_round(adverts)
    numbers = [(struct.unpack("!H", a.data[4:6])[0], struct.unpack("!I", a.data[28:32])[0]) for a in second]
    assert numbers == [(2, 2)] * 2
    backup = AhSession(b"secret12", True)
    assert backup.open(trailer(second[0].data), src).reason is None
    taken_over = backup.seal_round(tuple(fx.SendAdvert("VI_1", "eth0", peers[0], src, message, 100, 255)
                                         for _ in (1,)))  # fmt: skip
    assert struct.unpack("!I", taken_over[0].data[28:32])[0] == 3
    session.ident = 0xFFFF
    assert struct.unpack("!H", session.seal_round(adverts)[0].data[4:6])[0] == 1  # skips 0 as it wraps
    with pytest.raises(ValueError, match="IPv4 only"):
        session.seal_round((fx.SendAdvert("VI_1", "eth0", ip_address("fe80::1"), ip_address("ff02::12"),
                                          message, 150, 255),))  # fmt: skip


def test_adverts_handed_over_one_by_one_make_keepalived_s_rounds() -> None:
    """The daemon sends each advert as it comes: a destination the round has already had starts
    the next round. And keepalived's MASTER hearing a lower priority goes one past its number."""
    src = IPv4Address("192.0.2.201")
    a, b = IPv4Address("192.0.2.202"), IPv4Address("192.0.2.203")
    message = encode(Advertisement(2, 51, 150, (VIP,), 1.0, auth_type=AUTH_AH), src, a)
    session = AhSession(b"secret12", True)
    sent = [session.seal_next(fx.SendAdvert("VI_1", "eth0", src, dst, message, 150, 255)) for dst in (a, b, a, b, a)]
    assert [struct.unpack("!I", s.data[28:32])[0] for s in sent] == [1, 1, 2, 2, 3]
    assert [bytes.fromhex(h) for _, _, h in KEEPALIVED[4:]] == [s.data for s in sent[:2]]
    session.synced(41)
    assert session.seal_next(sent[0]).data[28:32] == (43).to_bytes(4, "big")  # keepalived: 12 heard, 14 sent


def test_a_number_heard_or_a_new_key_starts_a_round_so_no_number_is_sent_twice() -> None:
    """The review's case: peers [p] reloaded to [q, p]; the BACKUP learns q's 50 and takes over: its
    first advert, to q, must be 51 (50 would be a replay to q)."""
    me, p, q = IPv4Address("192.0.2.201"), IPv4Address("192.0.2.202"), IPv4Address("192.0.2.203")
    message = encode(Advertisement(2, 51, 150, (VIP,), 1.0, auth_type=AUTH_AH), me, p)
    session = AhSession(b"secret12", True)
    session.seal_next(fx.SendAdvert("VI_1", "eth0", me, p, message, 150, 255))
    heard = AhSession(b"secret12", True)
    heard.seq = 49
    from_q = heard.seal_round((fx.SendAdvert("VI_1", "eth0", q, me, message, 100, 255),))[0]
    assert session.open(trailer(from_q.data), q).reason is None and session.seq == 50
    to_q = session.seal_next(fx.SendAdvert("VI_1", "eth0", me, q, message, 150, 255))
    assert struct.unpack("!I", to_q.data[28:32])[0] == 51
    session.configure(b"other", True)
    again = session.seal_next(fx.SendAdvert("VI_1", "eth0", me, p, message, 150, 255))
    assert struct.unpack("!I", again.data[28:32])[0] == 52
    session.synced(60)
    assert struct.unpack("!I", session.seal_next(again).data[28:32])[0] == 62
