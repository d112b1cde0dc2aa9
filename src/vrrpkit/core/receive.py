"""keepalived's receive rules for one instance: whether an advert that decoded cleanly is for us.

Pure and built from the instance's config (rebuilt when a reload changes it): the router asks
`ReceiveRules.check` before it lets an advert touch its state, and drops and counts what fails.
"""

from __future__ import annotations

from vrrpkit.core.config import InstanceConfig, IPAddress
from vrrpkit.core.packet import Advertisement, DropReason

TTL_REQUIRED = 255


class ReceiveRules:
    def __init__(self, cfg: InstanceConfig) -> None:
        self.cfg = cfg
        self.peers = {p.address: p for p in cfg.unicast_peers}
        # keepalived only insists that a unicast advert comes from a peer when it checks sources or TTLs
        self.ttl_checked_unicast = cfg.check_unicast_src or any(
            p.min_ttl is not None or p.max_ttl is not None for p in cfg.unicast_peers
        )

    def check(
        self, adv: Advertisement, src: IPAddress, dst: IPAddress, ttl: int, own: IPAddress | None
    ) -> tuple[DropReason | None, str]:
        """(None, "") when the advert is ours to act on, else why it is dropped (`own`: our source)."""
        cfg = self.cfg
        if adv.vrid != cfg.vrid:
            return DropReason.WRONG_VRID, f"vrid {adv.vrid}"
        if src == own:
            return DropReason.OWN_ADVERT, ""
        if src.version != cfg.family:
            return DropReason.FAMILY_MISMATCH, f"IPv{src.version} advert for an IPv{cfg.family} instance"
        if cfg.unicast:
            if dst.is_multicast:
                return DropReason.MULTICAST_IN_UNICAST_MODE, f"to {dst}"
            peer = self.peers.get(src)
            if peer is None and self.ttl_checked_unicast:
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
