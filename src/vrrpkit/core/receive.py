"""keepalived's receive rules for an advert that decoded cleanly: which ones an instance drops, and why.

Pure functions of the instance's configuration and the datagram, kept out of the router so that the
rules read as one list (keepalived's ``vrrp_in_chk`` order) and the router keeps to state changes.
"""

from __future__ import annotations

from vrrpkit.core.config import ChecksumCompat, InstanceConfig, IPAddress, UnicastPeer
from vrrpkit.core.packet import Advertisement, ChecksumForm, DropReason

TTL_REQUIRED = 255


def receive_rule(
    cfg: InstanceConfig,
    own_address: IPAddress | None,
    peers: dict[IPAddress, UnicastPeer],
    ttl_checked: bool,
    adv: Advertisement,
    src: IPAddress,
    dst: IPAddress,
    ttl: int,
) -> tuple[DropReason | None, str]:
    """(reason, detail) when the instance must drop this advert, (None, "") when it takes it."""
    if adv.vrid != cfg.vrid:
        return DropReason.WRONG_VRID, f"vrid {adv.vrid}"
    if src == own_address:
        return DropReason.OWN_ADVERT, ""
    if src.version != cfg.family:
        return DropReason.FAMILY_MISMATCH, f"IPv{src.version} advert for an IPv{cfg.family} instance"
    if cfg.unicast:
        if dst.is_multicast:
            return DropReason.MULTICAST_IN_UNICAST_MODE, f"to {dst}"
        peer = peers.get(src)
        if peer is None and ttl_checked:
            return DropReason.NOT_A_PEER, f"{src} is not a unicast_peer"
        if peer is not None and (
            (peer.min_ttl is not None and ttl < peer.min_ttl) or (peer.max_ttl is not None and ttl > peer.max_ttl)
        ):
            return DropReason.BAD_TTL, f"TTL {ttl} not in [{peer.min_ttl}, {peer.max_ttl}]"
    else:
        if not dst.is_multicast:
            return DropReason.UNICAST_IN_MULTICAST_MODE, f"to {dst}"
        if dst != cfg.group:
            # keepalived has one socket per group (mcast_dst_ip), so another group's adverts
            # never reach this instance; here one socket may have joined several
            return DropReason.WRONG_GROUP, f"to {dst}, mine {cfg.group}"
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


def checksum_rule(cfg: InstanceConfig, form: ChecksumForm, dst: IPAddress) -> tuple[DropReason | None, bool]:
    """(drop reason, switch to old unicast checksums) for the checksum form a v3 IPv4 advert used.

    keepalived accepts the pre-1.3.6 unicast form (pseudo-header to 224.0.0.18) and from then on
    sends it too, unless `old_unicast_checksum never`, which refuses it.
    """
    if form is not ChecksumForm.IPV4_PSEUDO_GROUP or dst.is_multicast or not cfg.unicast:
        return None, False
    if cfg.old_unicast_checksum is ChecksumCompat.NEVER:
        return DropReason.BAD_CHECKSUM, False
    return None, cfg.old_unicast_checksum is ChecksumCompat.AUTO
