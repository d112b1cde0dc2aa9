"""Addresses someone else adds to or deletes from the interfaces instances use (the route monitor's
RTM_NEWADDR and RTM_DELADDR), handled as keepalived 2.2.7 handles them (measured side by side in
namespaces, 2026-12-02; vrrpkit did none of this before):

* A VIP (or excluded VIP) of a MASTER deleted: the instance resigns ('Entering BACKUP STATE', a
  priority-0 advert) and, still the best, is MASTER again after its Skew_Time with the VIP back;
  an owner at once. Not for a `no_track` VIP. vrrpkit had stayed MASTER without the VIP.
* The interface's source address deleted: FAULT, with two priority-0 adverts from the deleted
  address; back: BACKUP at once. Another address promoted in its place (promote_secondaries): the
  adverts come from it. A pinned source (unicast_src_ip) changes nothing. vrrpkit had gone on
  advertising from the deleted address.

Our own VIPs come and go at every takeover: those events cost a set lookup here, nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from vrrpkit.core.config import InstanceConfig, IPAddress
from vrrpkit.core.state import State
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.ports import Netlink
from vrrpkit.io.routes import AddressCame, AddressGone, Gone

log = logging.getLogger("vrrpkit")


def our_vips(instances: Iterable[Instance]) -> frozenset[str]:
    """Every VIP of these instances (excluded ones too), spelt as the route monitor spells them."""
    return frozenset(str(v.address) for i in instances for v in i.cfg.vips + i.cfg.excluded_vips)


def vips_deleted(
    instances: Iterable[Instance], netlink: Netlink, events: list[Gone], ours: frozenset[str]
) -> list[tuple[str, str]]:
    """(instance, reason) for each MASTER a VIP of which someone else deleted. Our own removals are
    a router that left MASTER, a VIP a reload took out (not in `ours`), or one back on the interface
    (moved to another instance); a deleted interface takes its addresses with it, and its instances
    go to FAULT by the link event instead (its index is gone)."""
    gone = {(e.address, e.index) for e in events if isinstance(e, AddressGone) and e.address in ours}
    if not gone:
        return []
    addresses = {address for address, _ in gone}
    resign = []
    for inst in instances:
        if inst.router.state is not State.MASTER:
            continue
        for vip in inst.cfg.vips + inst.cfg.excluded_vips:
            address = str(vip.address)
            if address not in addresses or "no_track" in vip.flags:
                continue
            dev = inst.cfg.device_of(vip)
            if (address, netlink.interface_index(dev)) in gone and not netlink.has_address(dev, vip.address):
                log.warning("(%s) VIP %s was deleted: resigning MASTER", inst.name, address)
                resign.append((inst.name, f"VIP {address} deleted"))
                break
    return resign


def sources_moved(
    instances: Iterable[Instance],
    netlink: Netlink,
    events: list[Gone],
    ours: frozenset[str],
    source_of: Callable[[InstanceConfig], IPAddress | None],
    now: float,
) -> list[Instance]:
    """Instances whose interface gained or lost an address other than our VIPs look up their
    source address again (`VirtualRouter.address_changed`); returns those whose source changed."""
    indexes = {e.index for e in events if isinstance(e, AddressGone | AddressCame) and e.address not in ours}
    if not indexes:
        return []
    moved = []
    for inst in instances:
        if inst.router.running and netlink.interface_index(inst.cfg.interface) in indexes:
            address, before = source_of(inst.cfg), inst.router.address
            inst.router.address_changed(address, now)
            if inst.router.address != before:
                moved.append(inst)
                if address is not None and before is not None:
                    log.info("(%s) source address %s now on %s", inst.name, address, inst.cfg.interface)
    return moved
