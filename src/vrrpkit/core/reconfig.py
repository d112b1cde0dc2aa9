"""What a reload changes in one virtual router: keepalived's identity rule and a field-by-field diff.

keepalived 2.2.7 carries an instance's state over a reload when the new file has an instance with
the same identity (vrrp_exist: VRID, address family, interface, unicast or multicast, and for
unicast the source address), whatever its name; everything else (priority, VIPs, tracking,
advert_int, even the VRRP version) is applied to the running instance. Measured side by side in the
lab (tests/interop/test_reload_matrix.py): a rename, a version change or a priority change keeps
MASTER; a switch between multicast and unicast stops the instance and starts it anew.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from vrrpkit.core.config import InstanceConfig, IPAddress, Vip

Identity = tuple[str, int, int, bool, IPAddress | None]


def identity(cfg: InstanceConfig) -> Identity:
    """(interface, family, VRID, unicast, unicast source): what must not change for state to carry over."""
    return (cfg.interface, cfg.family, cfg.vrid, cfg.unicast, cfg.unicast_src_ip if cfg.unicast else None)


# Fields whose change alters the advert a master sends (its priority is handled by the election).
_ADVERT_FIELDS = ("version", "advert_int_cs", "vips", "auth_type", "auth_pass", "unicast_peers", "mcast_group4",
                  "mcast_group6", "mcast_src_ip")  # fmt: skip


@dataclass(frozen=True)
class ConfigDiff:
    """The difference between a running instance's config and its reloaded one."""

    fields: tuple[str, ...]  # the InstanceConfig fields that differ, in declaration order
    vips_added: tuple[Vip, ...]  # virtual and excluded addresses new in the file (or with new options)
    vips_removed: tuple[Vip, ...]  # gone from the file (or with old options)

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
        return ", ".join(parts) or "nothing"


def diff(old: InstanceConfig, new: InstanceConfig) -> ConfigDiff:
    changed = tuple(f.name for f in dataclasses.fields(InstanceConfig) if getattr(old, f.name) != getattr(new, f.name))
    before, after = old.vips + old.excluded_vips, new.vips + new.excluded_vips
    added = tuple(v for v in after if v not in before)
    removed = tuple(v for v in before if v not in after)
    return ConfigDiff(changed, added, removed)
