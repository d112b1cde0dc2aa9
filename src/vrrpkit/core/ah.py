"""VRRPv2 with `auth_type AH`, as keepalived 2.2.7 puts it on the wire (IPv4 only).

RFC 2338 let VRRPv2 carry an IPsec Authentication Header; RFC 3768 took it out again, but
keepalived still speaks it, and a host that does not is a host whose adverts an AH peer never
hears: both become MASTER. Measured here against keepalived 2.2.7 (captures reproduced byte for
byte in tests/unit/test_ah.py):

* IP protocol 51; TOS 0xc0, DF clear, TTL 255 (or unicast_ttl); the IP id is the sender's own
  16-bit counter (1 at start, one more per advert round, never 0), since the ICV covers it;
* AH: next header 112, length 4, SPI = the sender's IPv4 address, a 32-bit sequence number, and
  an ICV of 12 bytes: HMAC-MD5 keyed with auth_pass (8 bytes at most) over the IP header (TOS,
  flags and fragment offset, checksum zeroed; the TTL too, but only with unicast peers), the AH
  header with the ICV zeroed, and the VRRPv2 message;
* the VRRPv2 message has auth type 2 and 8 zero bytes of authentication data;
* one counter per instance is both the sequence it sends (one more per round, shared by every
  unicast peer of the round) and the replay guard: an advert is taken only if its sequence is
  above the counter, which then becomes that sequence. So a BACKUP follows its master's numbers
  and goes on from them when it takes over.

Pure: the caller (the daemon) keeps one `AhSession` per instance across reloads and asks it to
seal each round of adverts and to open each datagram from the AH socket.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, replace
from ipaddress import IPv4Address

from vrrpkit.core import effects as fx
from vrrpkit.core.config import IPAddress
from vrrpkit.core.packet import PROTO_VRRP, DropReason, build_ipv4

PROTO_AH = 51
AH_LEN = 24  # next header, length, reserved, SPI, sequence, 12-byte ICV
ICV_LEN = 12
IP_LEN = 20  # keepalived's header: no options
SEQ_MAX = 0xFFFFFFFF


def ah_key(auth_pass: bytes) -> bytes:
    """keepalived's key: auth_pass cut to 8 bytes (HMAC pads it with zeros either way)."""
    return auth_pass[:8].ljust(8, b"\0")


def icv(key: bytes, ip_header: bytes, ah_header: bytes, message: bytes, unicast: bool) -> bytes:
    """The 12-byte ICV of one packet, over its headers with the mutable fields zeroed (TOS,
    flags and fragment offset, checksum; keepalived zeroes the TTL only for unicast)."""
    ttl = 0 if unicast else ip_header[8]
    h = ip_header
    fixed = h[:1] + b"\0" + h[2:6] + b"\0\0" + bytes((ttl,)) + h[9:10] + b"\0\0" + h[12:20]
    covered = fixed + ah_header[:12] + bytes(ICV_LEN) + message
    return hmac.new(key, covered, hashlib.md5).digest()[:ICV_LEN]


def seal(key: bytes, message: bytes, src: IPv4Address, dst: IPv4Address, ttl: int, ident: int, seq: int,
         unicast: bool) -> bytes:  # fmt: skip
    """The whole IPv4 packet (header checksum included) keepalived would send for this VRRPv2
    message, to be written as it is (IP_HDRINCL)."""
    ah = struct.pack("!BBHII", PROTO_VRRP, AH_LEN // 4 - 2, 0, int(src), seq)
    unsealed = build_ipv4(src, dst, ah + bytes(ICV_LEN) + message, ttl, protocol=PROTO_AH, ident=ident)
    header = unsealed[:IP_LEN]
    return header + ah + icv(key, header, ah, message, unicast) + message


def _genuine(key: bytes, header: bytes, ah: bytes, message: bytes, unicast: bool) -> bool:
    return hmac.compare_digest(ah[12:], icv(key, header, ah, message, unicast))


def verifies(packet: bytes, auth_pass: bytes, unicast: bool) -> bool:
    """Whether a whole AH packet's ICV is the one ``auth_pass`` makes: for a diagnosis, which knows
    a configuration's password but holds no session (no sequence is judged)."""
    if len(packet) < IP_LEN + AH_LEN:
        return False
    header, ah, message = packet[:IP_LEN], packet[IP_LEN : IP_LEN + AH_LEN], packet[IP_LEN + AH_LEN :]
    return _genuine(ah_key(auth_pass), header, ah, message, unicast)


def trailer(packet: bytes) -> bytes:
    """How the AH socket hands a packet over: its VRRP message first (so that byte 1 is the VRID,
    as for every other datagram), then its IP header and AH header, for `AhSession.open`. None of
    it is judged here."""
    return packet[IP_LEN + AH_LEN :] + packet[: IP_LEN + AH_LEN]


@dataclass(frozen=True)
class Opened:
    """One AH datagram taken apart: the VRRP message, or why it is refused (keepalived's words)."""

    message: bytes | None
    reason: DropReason | None = None
    detail: str = ""


class AhSession:
    """One instance's AH state: its sequence counter (sent and guarded against replay) and the IP
    id of its next round. Kept across reloads, as keepalived keeps it; a new process starts at 0."""

    __slots__ = ("_round", "ident", "key", "seq", "unicast")

    def __init__(self, auth_pass: bytes, unicast: bool) -> None:
        self.key = ah_key(auth_pass)
        self.unicast = unicast
        self.seq = 0
        self.ident = 0
        self._round: set[IPAddress] = set()  # the destinations the current round has sealed for

    def configure(self, auth_pass: bytes, unicast: bool) -> None:
        self.key, self.unicast = ah_key(auth_pass), unicast
        self._round.clear()  # the next advert starts a round: no number is sent twice

    def seal_round(self, adverts: tuple[fx.SendAdvert, ...]) -> tuple[fx.SendAdvert, ...]:
        """One advert round, each advert as its whole AH packet: one sequence number and one IP id
        for the round (every unicast peer gets the same), each packet its own ICV."""
        self._next_round()
        self._round.update(advert.dst for advert in adverts)
        return tuple(self._sealed(advert) for advert in adverts)

    def seal_next(self, advert: fx.SendAdvert) -> fx.SendAdvert:
        """One advert of a round handed over one by one (the daemon sends each as it comes): a
        destination the round already has starts the next round (as does the first)."""
        if not self._round or advert.dst in self._round:
            self._next_round()
        self._round.add(advert.dst)
        return self._sealed(advert)

    def synced(self, seq: int) -> None:
        """keepalived's MASTER hearing a lower priority ('IPSEC-AH : Syncing seq_num - Increment
        seq'): its counter goes one past the rival's, so that its answer is two past it."""
        self.seq = seq + 1 if seq < SEQ_MAX else seq
        self._round.clear()

    def _next_round(self) -> None:
        self.seq = self.seq + 1 if self.seq < SEQ_MAX else 1
        self.ident = self.ident % 0xFFFF + 1
        self._round.clear()

    def _sealed(self, advert: fx.SendAdvert) -> fx.SendAdvert:
        src, dst = advert.src, advert.dst
        if not isinstance(src, IPv4Address) or not isinstance(dst, IPv4Address):
            raise ValueError("AH is IPv4 only")
        packet = seal(self.key, advert.data, src, dst, advert.ttl, self.ident, self.seq, self.unicast)
        return replace(advert, data=packet)

    def open(self, payload: bytes, src: IPAddress) -> Opened:
        """A datagram of the AH socket (`trailer`: the VRRP message, then the IP and AH headers it
        came with): the message, if its ICV, SPI and sequence are right; the counter then moves to
        its sequence (keepalived moves it before the VRRP checks: a message refused later counts)."""
        cut = len(payload) - IP_LEN - AH_LEN
        if cut < 0 or payload[cut] != 0x45:
            return Opened(None, DropReason.TOO_SHORT, f"IPv4 VRRP packet with AH too short - {len(payload)} bytes")
        message, header, ah = payload[:cut], payload[cut : cut + IP_LEN], payload[cut + IP_LEN :]
        if ah[0] != PROTO_VRRP:
            return Opened(None, DropReason.NOT_VRRP, f"AH next header {ah[0]}")
        if not _genuine(self.key, header, ah, message, self.unicast):
            return Opened(None, DropReason.BAD_ICV, "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields "
                          "mutation or bad password !")  # fmt: skip
        spi, seq = struct.unpack("!II", ah[4:12])
        if src.version != 4 or spi != int(src):
            return Opened(None, DropReason.BAD_SPI, f"IPSEC AH : invalid IPSEC SPI value {IPv4Address(spi)} "
                          f"from {src}")  # fmt: skip
        if seq <= self.seq:
            return Opened(None, DropReason.REPLAYED, f"IPSEC-AH : sequence number {seq} already processed. "
                          f"Packet dropped. Local({self.seq})")  # fmt: skip
        self.seq = seq
        self._round.clear()  # what we send next must be above what we heard
        return Opened(message)
