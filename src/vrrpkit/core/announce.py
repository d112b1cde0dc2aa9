"""What a router puts on the wire, as effects: its adverts (bytes, destinations, TTL, checksum form)
and its gratuitous ARPs / unsolicited NAs, each on the interface the addresses live on.

Pure functions of the instance's config, so that the router keeps to timers and state and these
rules (keepalived's vrrp_build_pkt, vrrp_send_link_update, vrrp_send_vmac_update) read in one place.
"""

from __future__ import annotations

from dataclasses import replace

from vrrpkit.core import effects as fx
from vrrpkit.core.config import InstanceConfig, IPAddress, Vip
from vrrpkit.core.packet import AUTH_SIMPLE, Advertisement, ChecksumForm, encode
from vrrpkit.core.receive import TTL_REQUIRED


def destinations(cfg: InstanceConfig) -> tuple[IPAddress, ...]:
    """The unicast peers, or the multicast group."""
    if cfg.unicast:
        return tuple(p.address for p in cfg.unicast_peers)
    return (cfg.group,)


def adverts(cfg: InstanceConfig, src: IPAddress, priority: int, old_checksum: bool) -> tuple[fx.SendAdvert, ...]:
    """One SendAdvert per destination, from `src` on the advert interface (the VMAC unless
    vmac_xmit_base). `old_checksum`: the pre-1.3.6 unicast checksum a peer was seen to use."""
    adv = Advertisement(
        version=cfg.version,
        vrid=cfg.vrid,
        priority=priority,
        addresses=cfg.advertised_addresses(),
        interval=cfg.advert_int_cs / 100,
        auth_type=cfg.auth_type if cfg.version == 2 else 0,
        # AH (type 2): the password is only the ICV's key (core/ah.py); the field stays zero
        auth_data=cfg.auth_pass if cfg.version == 2 and cfg.auth_type == AUTH_SIMPLE and not cfg.is_ipv6 else b"",
    )
    form = ChecksumForm.NONE if cfg.v3_checksum_as_v2 else (ChecksumForm.IPV4_PSEUDO_GROUP if old_checksum else None)
    ttl = cfg.unicast_ttl if cfg.unicast and cfg.unicast_ttl is not None else TTL_REQUIRED
    group, empty, dsts = cfg.mcast_group4, cfg.no_virtual_ipaddress, destinations(cfg)
    return tuple(
        fx.SendAdvert(
            cfg.name, cfg.advert_interface, src, dst,
            encode(adv, src, dst, form=form, group=group, allow_empty=empty), priority, ttl,
            said=dst is dsts[-1],  # keepalived's 'sent 0 priority' is one line, however many peers
        )
        for dst in dsts
    )  # fmt: skip


def goodbyes(priority_zero: tuple[fx.SendAdvert, ...], own: bool) -> tuple[fx.SendAdvert, ...]:
    """A MASTER's priority-0 adverts on entering FAULT, as keepalived 2.2.7 sends them (measured):
    for a fault of its own, twice (its leave_master sends one set, then restore_interface another,
    the only one logged, 'sent 0 priority', once per instance); for a fault its sync group brought,
    once and unlogged (leave_fault). With two, one lost packet no longer costs a backup its whole
    Master_Down (3.6 s at 1 s adverts) instead of Skew_Time."""
    unsaid = tuple(replace(advert, said=False) for advert in priority_zero)
    return unsaid + priority_zero if own else unsaid


def garps(cfg: InstanceConfig, count: int, vips: tuple[Vip, ...] | None = None) -> list[fx.SendGarp]:
    """keepalived announces every VIP and eVIP (or, after a reload, just the new VIPs), each on the
    interface it lives on; nothing when the instance has no VIP."""
    if vips is None:
        vips = cfg.vips + cfg.excluded_vips if cfg.vips else ()
    if count <= 0 or not vips:
        return []
    return [fx.SendGarp(cfg.name, device, on_device, count) for device, on_device in cfg.devices(vips).items()]


def extra_garps(cfg: InstanceConfig) -> list[fx.SendGarp]:
    """garp_extra_if: one GARP/NA on each VMAC (or, with `all`, each) interface that adverts do not
    keep fresh in the switches' MAC tables (vrrp.c vrrp_send_vmac_update)."""
    vmacs = {link.name for link in cfg.vmac_links}
    out = []
    for device, vips in cfg.devices(cfg.vips + cfg.excluded_vips).items():
        if device not in vmacs and not cfg.garp_extra_if_all:
            continue
        if device == cfg.vip_interface and not cfg.vmac_xmit_base:
            continue
        out.append(fx.SendGarp(cfg.name, device, vips[:1], 1))
    return out
