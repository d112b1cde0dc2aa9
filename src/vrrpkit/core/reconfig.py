"""What a reload changes in one virtual router: keepalived's identity rule and a field-by-field diff.

keepalived 2.2.7 carries an instance's state over a reload when the new file has an instance with
the same identity (vrrp_exist: VRID, address family, interface, unicast or multicast, for unicast
the source address, for multicast whether use_vmac and use_vmac_addr are on), whatever its name;
everything else (priority, VIPs, tracking, advert_int, even the VRRP version, a VMAC's name or MAC)
is applied to the running instance. Measured side by side in the lab
(tests/interop/test_reload_matrix.py): a rename, a version change or a priority change keeps
MASTER; a switch between multicast and unicast stops the instance and starts it anew.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from vrrpkit.core.config import InstanceConfig, IPAddress, Vip

Identity = tuple[str, int, int, bool, IPAddress | None, bool, bool]


def identity(cfg: InstanceConfig) -> Identity:
    """(interface, family, VRID, unicast, unicast source, use_vmac, use_vmac_addr): what must not
    change for state to carry over. keepalived 2.2.7 (vrrp_exist) compares use_vmac and use_vmac_addr
    for multicast instances only; a VMAC's name, MAC or vmac_xmit_base is changed in place (measured:
    'Deleting old VMAC interface vrrp.51', 'Success creating VMAC interface vk51', 'setting VIPs',
    still MASTER; a new MAC: 'Update old VMAC interface vk51 due to wrong MAC/mode')."""
    unicast_src = cfg.unicast_src_ip if cfg.unicast else None
    vmac, vmac_addr = (False, False) if cfg.unicast else (cfg.vmac is not None, bool(cfg.vmac_addr_links))
    return (cfg.interface, cfg.family, cfg.vrid, cfg.unicast, unicast_src, vmac, vmac_addr)


# Fields whose change alters the advert a master sends (its priority is handled by the election).
_ADVERT_FIELDS = ("version", "advert_int_cs", "vips", "auth_type", "auth_pass", "unicast_peers", "mcast_group4",
                  "mcast_group6", "mcast_src_ip", "vmac", "vmac_xmit_base")  # fmt: skip


@dataclass(frozen=True)
class ConfigDiff:
    """The difference between a running instance's config and its reloaded one."""

    fields: tuple[str, ...]  # the InstanceConfig fields that differ, in declaration order
    vips_added: tuple[Vip, ...]  # virtual and excluded addresses new in the file (or with new options)
    vips_removed: tuple[Vip, ...]  # gone from the file (or with old options)
    vips_moved: tuple[Vip, ...] = ()  # kept, but on another (or a remade) interface: a VMAC changed

    @property
    def advert_changed(self) -> bool:
        """A master must tell the LAN at once (keepalived sends an advert right after a reload)."""
        return any(f in _ADVERT_FIELDS for f in self.fields)

    def describe(self, old: InstanceConfig, new: InstanceConfig) -> str:
        """For the reload's log line: `priority 150 -> 120, +1 VIP, -1 VIP`."""
        parts = []
        for name in self.fields:
            if name in ("vips", "excluded_vips"):
                continue
            before, after = getattr(old, name), getattr(new, name)
            if isinstance(before, int | str | bool) and isinstance(after, int | str | bool):
                parts.append(f"{name} {before} -> {after}")
            else:
                parts.append(name)
        if self.vips_added:
            parts.append("+" + ",".join(map(str, self.vips_added)))
        if self.vips_removed:
            parts.append("-" + ",".join(map(str, self.vips_removed)))
        if self.vips_moved:
            parts.append("moved " + ",".join(f"{v} to {new.device_of(v)}" for v in self.vips_moved))
        return ", ".join(parts) or "nothing"


def diff(old: InstanceConfig, new: InstanceConfig) -> ConfigDiff:
    changed = tuple(f.name for f in dataclasses.fields(InstanceConfig) if getattr(old, f.name) != getattr(new, f.name))
    before, after = old.vips + old.excluded_vips, new.vips + new.excluded_vips
    added = tuple(v for v in after if v not in before)
    removed = tuple(v for v in before if v not in after)
    remade = {link.name for link in new.vmac_links if link not in old.vmac_links}  # new, or a new MAC
    moved = tuple(
        v for v in after
        if v in before and (new.device_of(v) != old.device_of(v) or new.device_of(v) in remade)
    )  # fmt: skip
    return ConfigDiff(changed, added, removed, moved)
