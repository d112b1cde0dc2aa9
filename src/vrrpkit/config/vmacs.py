"""Which virtual-MAC interfaces an instance needs, with keepalived's names and MAC addresses.

keepalived 2.2.7, measured here: `use_vmac` makes a private macvlan `vrrp.VRID` on the instance's
interface with MAC 00:00:5e:00:01:VRID (00:00:5e:00:02:VRID for IPv6); `use_vmac_addr` (or a VIP's
own `use_vmac`) adds one per other (interface, family) a VIP or eVIP lives on: `vrrp1.51`, `vrrp2.51`
... in configuration order for other interfaces, and `vrrp6.51` for the other family on the
instance's own interface. `vmac_prefix` / `vmac_addr_prefix` replace the `vrrp` part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vrrpkit.config.diagnostics import Location, Reporter
from vrrpkit.config.model import GlobalDefs
from vrrpkit.config.written import WrittenInstance
from vrrpkit.core.config import Vip, VmacLink, rfc_vmac


@dataclass(frozen=True)
class VmacPlan:
    own: VmacLink | None
    addr_links: tuple[VmacLink, ...]
    xmit_base: bool


def plan_vmacs(
    r: Reporter, raw: WrittenInstance, g: GlobalDefs, interface: str, family: int, vips: list[Vip],
    excluded: list[Vip], unicast: bool, strict: bool, taken: dict[str, str],
) -> VmacPlan:
    """The VMAC links of one instance; `taken` (name -> instance) catches two instances on one name."""
    xmit_base = raw.bools.get("vmac_xmit_base", False)
    end = Location(raw.loc.file, raw.end_line or raw.loc.line)
    wv = raw.vmac
    if wv is None:
        if xmit_base:
            r.add(raw.keywords["vmac_xmit_base"], "vmac-ignored",
                  f"({raw.name}) vmac_xmit_base without use_vmac does nothing", "info")
        own = None
    elif not interface:
        r.add(wv.loc, "vmac-ignored", f"({raw.name}): Cannot use VMAC/ipvlan with unicast and no interface - "
                                      f"clearing use_vmac")
        own = None
    else:
        name = wv.name
        if name is not None and name in taken and taken[name] != raw.name:
            r.add(wv.loc, "vmac-ignored",
                  f"({raw.name}) VRRP instance {taken[name]} is already using {name} - ignoring name")
            name = None
        if name is None:
            name = f"{g.vmac_prefix}.{raw.vrid}"
        taken.setdefault(name, raw.name)
        fam: Literal[4, 6] = 6 if family == 6 else 4
        if wv.kind == "ipvlan":
            if fam == 4 and wv.ipvlan_address is None:
                r.add(wv.loc, "vmac-ignored", f"({raw.name}) IPv4 ipvlan requires a source ip address to be "
                                              f"configured. setting instance to fault state")
            address = wv.ipvlan_address
            if address is not None and address.version != fam:
                r.add(wv.loc, "vip-family-mismatch",
                      f"({raw.name}) ipvlan address[{address}] MUST match vrrp instance family !!! Skipping...")
                address = None
            mode: Literal["bridge", "private", "vepa"] = (
                "private" if wv.ipvlan_mode == "private" else "vepa" if wv.ipvlan_mode == "vepa" else "bridge"
            )
            own = VmacLink(name, interface, fam, b"", "ipvlan", mode, address)
        else:
            mac = rfc_vmac(raw.vrid or 0, fam)
            if wv.mac is not None:
                mac = wv.mac if len(wv.mac) == 6 else wv.mac + bytes((raw.vrid or 0,))
                if strict:
                    r.add(wv.loc, "strict-resets-option",
                          "strict mode: the VMAC uses the RFC 5798 virtual MAC; the configured MAC is ignored")
                    mac = rfc_vmac(raw.vrid or 0, fam)
            own = VmacLink(name, interface, fam, mac)
        if xmit_base and strict:
            r.add(raw.keywords.get("vmac_xmit_base", wv.loc), "strict-resets-option",
                  f"({raw.name}) xmit_base is incompatible with strict mode - resetting")
            xmit_base = False
        if unicast and not xmit_base:
            r.add(end, "vmac-unicast-xmit-base",
                  f"({raw.name}) unicast with use_vmac requires vmac_xmit_base - setting")
            xmit_base = True
    links = _addr_links(raw, g, interface, family, own, [*vips, *excluded])
    return VmacPlan(own, links, xmit_base and own is not None)


def _addr_links(
    raw: WrittenInstance, g: GlobalDefs, interface: str, family: int, own: VmacLink | None, vips: list[Vip]
) -> tuple[VmacLink, ...]:
    """use_vmac_addr, or `use_vmac` on a VIP line: a VMAC for each other (interface, family)."""
    every = raw.bools.get("use_vmac_addr", False)
    prefix = g.vmac_addr_prefix or g.vmac_prefix
    mac_for = {family: own.mac} if own is not None and own.kind == "macvlan" else {}
    links: list[VmacLink] = []
    counter = 0
    for vip in vips:
        if not (every or "use_vmac" in vip.flags):
            continue
        base = vip.dev or interface
        fam: Literal[4, 6] = 6 if vip.interface.version == 6 else 4
        if not base or (base == interface and fam == family) or any(
            link.base == base and link.family == fam for link in links
        ):
            continue
        if base == interface:
            name = f"{prefix}{fam}.{raw.vrid}"
        else:
            counter += 1
            name = f"{prefix}{counter}.{raw.vrid}"
        links.append(VmacLink(name, base, fam, mac_for.get(fam, rfc_vmac(raw.vrid or 0, fam))))
    return tuple(links)
