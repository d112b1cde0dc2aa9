"""The receive rules of one virtual router, as a pure function of the datagram, remembered.

What the codec (`vrrpkit.core.packet.inspect`) and keepalived's receive rules make of a datagram
depends only on its bytes, its IP source, destination and TTL, the instance's configuration and our
own address: never on the router's state. A master resends identical bytes every interval and a
flood repeats one packet, so `Judge.verdict` remembers the verdict per datagram (bounded) and
replays it; the router then does what depends on its state. Sans-I/O, like all of core.
"""

from __future__ import annotations

from dataclasses import dataclass

from vrrpkit.core import effects as fx
from vrrpkit.core.config import PRIORITY_STOP, VRRP_GROUP4, InstanceConfig, IPAddress
from vrrpkit.core.packet import Advertisement, DropReason, InvalidPacket, inspect

TTL_REQUIRED = 255
VERDICTS = 32  # distinct datagrams whose verdict a router remembers (then it starts afresh)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the codec and the receive rules made of one datagram (state plays no part in it)."""

    advert: Advertisement | None
    drop: fx.PacketDropped | None = None  # the effect to emit for every copy, when dropped
    counted: bool = True  # whether the drop goes into stats (own adverts and other VRIDs do not)
    interval: fx.Mismatch | None = None  # VRRPv3 interval mismatch, reported
    addresses: fx.Mismatch | None = None  # address-list mismatch, reported (unless skipped)


class Judge:
    def __init__(self, config: InstanceConfig, address: IPAddress | None) -> None:
        self.config = config
        self.name = config.name
        self.address = address
        self._peers = {p.address: p for p in config.unicast_peers}
        self._checked = config.checks_unicast_sources
        self._vip_set = frozenset(config.advertised_addresses())
        self._verdicts: dict[bytes, tuple[IPAddress, IPAddress, int, Verdict]] = {}

    def set_address(self, address: IPAddress | None) -> None:
        self.address = address
        self._verdicts.clear()

    def verdict(self, data: bytes, src: IPAddress, dst: IPAddress, ttl: int) -> Verdict:
        known = self._verdicts.get(data)
        if (
            known is not None
            and (known[0] is src or known[0] == src)
            and (known[1] is dst or known[1] == dst)
            and known[2] == ttl
        ):
            return known[3]
        verdict = self._judge(data, src, dst, ttl)
        if len(self._verdicts) >= VERDICTS:
            self._verdicts.clear()
        self._verdicts[data] = (src, dst, ttl, verdict)
        return verdict

    def _judge(self, data: bytes, src: IPAddress, dst: IPAddress, ttl: int) -> Verdict:
        """The codec, the receive rules and the mismatch checks: a pure function of the datagram,
        the config and our address, so its result can be replayed for identical datagrams."""
        try:
            insp = inspect(data, src, dst, self.config.mcast_group4 if src.version == 4 else VRRP_GROUP4)
        except InvalidPacket as exc:
            return Verdict(None, fx.PacketDropped(self.name, exc.reason, src, exc.detail))
        adv = insp.advert
        reason, detail = self._receive_rule(adv, src, dst, ttl)
        if reason is not None:
            counted = reason not in (DropReason.OWN_ADVERT, DropReason.WRONG_VRID)
            return Verdict(None, fx.PacketDropped(self.name, reason, src, detail), counted)
        interval, addresses = self._mismatches(adv, src)
        ignore = None
        if self.config.owner and self.config.owner_ignore_adverts:
            ignore = fx.PacketDropped(self.name, DropReason.OWNER_IGNORES, src, "address owner ignores adverts")
        return Verdict(adv, ignore, False, interval, addresses)

    def _receive_rule(
        self, adv: Advertisement, src: IPAddress, dst: IPAddress, ttl: int
    ) -> tuple[DropReason | None, str]:
        cfg = self.config
        if adv.vrid != cfg.vrid:
            return DropReason.WRONG_VRID, f"vrid {adv.vrid}"
        if src == self.address:
            return DropReason.OWN_ADVERT, ""
        if src.version != cfg.family:
            return DropReason.FAMILY_MISMATCH, f"IPv{src.version} advert for an IPv{cfg.family} instance"
        if cfg.unicast:
            if dst.is_multicast:
                return DropReason.MULTICAST_IN_UNICAST_MODE, f"to {dst}"
            peer = self._peers.get(src)
            if peer is None and self._checked:
                return DropReason.NOT_A_PEER, f"{src} is not a unicast_peer"
            if peer is not None and (
                (peer.min_ttl is not None and ttl < peer.min_ttl) or (peer.max_ttl is not None and ttl > peer.max_ttl)
            ):
                return DropReason.BAD_TTL, f"TTL {ttl} not in [{peer.min_ttl}, {peer.max_ttl}]"
        else:
            if not dst.is_multicast:
                return DropReason.UNICAST_IN_MULTICAST_MODE, f"to {dst}"
            if ttl != TTL_REQUIRED:
                return DropReason.BAD_TTL, f"TTL {ttl}, expected 255"
        if adv.version != cfg.version:
            return DropReason.VERSION_MISMATCH, f"VRRPv{adv.version}, configured v{cfg.version}"
        if cfg.version == 2:
            if adv.auth_type != cfg.auth_type:
                return DropReason.AUTH_TYPE_MISMATCH, f"auth type {adv.auth_type}, expected {cfg.auth_type}"
            if cfg.auth_type and adv.auth_data != cfg.auth_pass.rstrip(b"\0"):
                return DropReason.BAD_PASSWORD, "password differs"
            if adv.interval_cs != cfg.advert_int_cs:
                return DropReason.INTERVAL_MISMATCH, f"interval {adv.interval:g}s, mine {cfg.advert_int_cs // 100}s"
        return None, ""

    def _mismatches(self, adv: Advertisement, src: IPAddress) -> tuple[fx.Mismatch | None, fx.Mismatch | None]:
        """What keepalived only logs: a v3 interval that differs, an address list that differs
        (never checked on a priority-0 advert; `skip_check_adv_addr` is applied by the caller)."""
        cfg = self.config
        interval = addresses = None
        if cfg.version == 3 and adv.interval_cs != cfg.advert_int_cs:
            detail = f"{adv.interval:g}s, mine {cfg.advert_int_cs / 100:g}s"
            interval = fx.Mismatch(self.name, fx.MismatchKind.INTERVAL, src, detail)
        if adv.priority != PRIORITY_STOP and (
            frozenset(adv.addresses) != self._vip_set or len(adv.addresses) != len(self._vip_set)
        ):
            got = ",".join(map(str, adv.addresses)) or "none"
            addresses = fx.Mismatch(self.name, fx.MismatchKind.ADDRESS_LIST, src, f"advertised {got}")
        return interval, addresses

