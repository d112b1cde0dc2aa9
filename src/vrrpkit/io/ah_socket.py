"""The raw IPv4 protocol-51 socket of auth_type AH instances (keepalived opens one too: an AH
advert is an AH packet, which a protocol-112 socket never sees, and a protocol-112 advert never
reaches an AH instance).

What differs from `VrrpSocket4`: each advert leaves as the whole packet core/ah.py sealed (its IP
id and TTL are under the ICV, so nothing here may rebuild the header); no packet repeats (a new
sequence number each time), so nothing is cached or sent as a prepared burst; each datagram is
handed over as its VRRP message followed by the IP and AH headers (`core.ah.trailer`), for the
instance's AH session to open. Its kernel filter is io/ah_filter.py's; no lazy reading: every AH
advert must be opened as it comes, for its sequence number.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address

from vrrpkit.core.ah import AH_LEN, IP_LEN, trailer
from vrrpkit.core.effects import SendAdvert
from vrrpkit.core.packet import DropReason, InvalidPacket
from vrrpkit.io import ah_filter, consts, vrrp_filter
from vrrpkit.io.fdsocket import attach_bpf
from vrrpkit.io.vrrp_socket import Datagram, VrrpSocket4


class AhSocket4(VrrpSocket4):
    protocol = consts.IPPROTO_AH

    def send(
        self, data: bytes, dst: IPv4Address | None = None, src: IPv4Address | None = None, ttl: int = 255
    ) -> OSError | None:
        """``data``: the whole sealed packet (core.ah.AhSession.seal_round), sent as it is."""
        try:
            self.sock.sendto(data, (str(self.group if dst is None else dst), 0))
        except OSError as exc:
            self.stats.count_send_error(exc)
            return exc
        self.stats.sent += 1
        return None

    def send_many(self, adverts: Sequence[SendAdvert]) -> list[OSError | None]:
        return [self._send_one(a) for a in adverts]

    def set_filter(self, spec: vrrp_filter.FilterSpec) -> None:
        """io/ah_filter.py's program for the AH instances here (the kernel swaps it atomically)."""
        if spec == self.filter:
            return
        program = ah_filter.program(spec)
        attach_bpf(self.sock, program)
        self.filter, self.filter_size = spec, len(program)

    def open_wake(self) -> int | None:
        return None

    def _known(self, packet: bytes) -> Datagram:
        if len(packet) < IP_LEN + AH_LEN or packet[0] != 0x45:  # keepalived's header has no options
            self.stats.bad_ip_headers += 1
            raise InvalidPacket(DropReason.BAD_IP_HEADER, f"AH packet of {len(packet)} bytes, IP options or not v4")
        if packet[9] != consts.IPPROTO_AH:  # cannot happen on a proto-51 socket; be explicit
            self.stats.bad_ip_headers += 1
            raise InvalidPacket(DropReason.NOT_VRRP, f"IP protocol {packet[9]}")
        total = int.from_bytes(packet[2:4], "big")
        if total != len(packet):
            self.stats.bad_ip_headers += 1
            raise InvalidPacket(DropReason.BAD_IP_HEADER, f"total length {total} of {len(packet)} bytes")
        return Datagram(IPv4Address(packet[12:16]), IPv4Address(packet[16:20]), packet[8], trailer(packet), self.ifname)
