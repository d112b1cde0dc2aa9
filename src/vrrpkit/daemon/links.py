"""The kernel state instances need besides their VIPs, made at start and undone on stop: VMAC links
(use_vmac, use_vmac_addr, use_ipvlan), the sysctls keepalived sets for them, promote_secondaries and
disable_local_igmp.

What keepalived 2.2.7 does, measured here with /proc/sys before, during and after a run:

* an IPv4 VMAC gets arp_ignore=1, accept_local=1, rp_filter=0, promote_secondaries=1 and
  disable_ipv6=1 (unless IPv6 eVIPs live on it); its base interface arp_ignore=1 and arp_filter=1
  (so the base never answers ARP for the VIPs: only the VMAC, with the virtual MAC, does);
* when net.ipv4.conf.all.rp_filter is set, rp_filter=0 on the VMAC would be overridden, so `all`
  becomes 0 and `default` and every interface but lo get the greater of theirs and `all`'s;
* an IPv6 VMAC gets addr_gen_mode=none (no EUI-64 link-local from the virtual MAC, RFC 5798 7.4)
  and the base interface's link-local, which adverts are sent from;
* promote_secondaries sets the sysctl on the instance's interface (the VMAC when there is one);
  disable_local_igmp sets net.ipv4.igmp_link_local_mcast_reports=0 instead of the nft IGMP rule.

keepalived restores rp_filter, promote_secondaries and igmp_link_local_mcast_reports on stop but
leaves the base's arp_ignore/arp_filter at 1; vrrpkit restores every value it changed (a
divergence, docs/divergences.md). A VMAC left by a crashed run is reused when it is a private
macvlan on the right base with the right MAC, recreated when it is a macvlan that differs, and
refused (never deleted) when the name belongs to another kind of interface.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
from collections.abc import Callable
from ipaddress import IPv6Address, IPv6Interface

from vrrpkit.core.config import InstanceConfig, IPAddress, VmacLink
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.ports import Firewall, Ports

log = logging.getLogger("vrrpkit")

ALL_RP = "net/ipv4/conf/all/rp_filter"
DEFAULT_RP = "net/ipv4/conf/default/rp_filter"
IGMP_REPORTS = "net/ipv4/igmp_link_local_mcast_reports"
ADDR_GEN_MODE_NONE = 1


def conf4(ifname: str, key: str) -> str:
    return f"net/ipv4/conf/{ifname}/{key}"


def conf6(ifname: str, key: str) -> str:
    return f"net/ipv6/conf/{ifname}/{key}"


def eui64_link_local(mac: bytes) -> IPv6Address:
    """fe80::/64 with the modified EUI-64 of `mac` (keepalived's fallback when the base has no link-local)."""
    eui = bytes((mac[0] ^ 0x02, mac[1], mac[2], 0xFF, 0xFE, mac[3], mac[4], mac[5]))
    return IPv6Address(b"\xfe\x80" + b"\0" * 6 + eui)


class LinkManager:
    def __init__(self, ports: Ports, firewall: Callable[[], Firewall]) -> None:
        self.ports = ports
        self.firewall = firewall
        self.links: dict[str, tuple[VmacLink, str]] = {}  # VMAC name -> (link, instance)
        self.saved: dict[str, int] = {}  # sysctl -> the value before we first changed it
        self._users: dict[str, set[str]] = {}  # sysctl we changed -> who needs it (VMACs, instances)
        self._igmp_nft: set[str] = set()  # VMACs whose reports go through the nft tables
        self.disable_local_igmp = False

    # --- sysctls: set once, remember the original, restore when the last user is gone --------------

    def _hold(self, name: str, value: int, user: str, raise_only: bool = False) -> None:
        current = self.ports.sysctl.read(name)
        if current is None:
            raise OSError(errno.ENOENT, f"no sysctl {name}")
        self._users.setdefault(name, set()).add(user)
        target = max(current, value) if raise_only else value
        if current != target:
            self.saved.setdefault(name, current)
            self.ports.sysctl.write(name, target)

    def _drop(self, user: str) -> None:
        for name in [n for n, users in self._users.items() if user in users]:
            users = self._users[name]
            users.discard(user)
            if users:
                continue
            del self._users[name]
            old = self.saved.pop(name, None)
            if old is not None:
                with contextlib.suppress(OSError):  # the interface may be gone, and its sysctls with it
                    self.ports.sysctl.write(name, old)
                    log.info("resetting sysctl %s to %d", name.replace("/", "."), old)

    def configure(self, disable_local_igmp: bool) -> None:
        """disable_local_igmp: no IGMP reports for 224.0.0.0/24 at all (Linux >= 4.3), while we run."""
        if disable_local_igmp and not self.disable_local_igmp:
            with contextlib.suppress(OSError):
                self._hold(IGMP_REPORTS, 0, "disable_local_igmp")
        elif not disable_local_igmp and self.disable_local_igmp:
            self._drop("disable_local_igmp")
        self.disable_local_igmp = disable_local_igmp

    def promote_secondaries(self, cfg: InstanceConfig) -> None:
        """promote_secondaries: removing one VIP must not take the other addresses of its subnet with it."""
        if cfg.promote_secondaries:
            try:
                self._hold(conf4(cfg.vip_interface, "promote_secondaries"), 1, f"promote:{cfg.name}")
            except OSError as exc:
                log.warning("(%s) cannot set promote_secondaries on %s: %s", cfg.name, cfg.vip_interface, exc)

    # --- VMAC links ------------------------------------------------------------------------------

    def name_fallback(self, cfg: InstanceConfig, prefix: str) -> InstanceConfig:
        """keepalived 2.2.7, measured: a VMAC name that belongs to an interface of another kind is not
        used ('already exists and is not a private macvlan; ignoring vmac if_name'); the default
        prefix.VRID is, and when that is taken too, the first free prefixN.VRID (vrrp1.51, ...)."""
        link = cfg.vmac
        if link is None:
            return cfg
        candidates = [link.name, f"{prefix}.{cfg.vrid}", *(f"{prefix}{n}.{cfg.vrid}" for n in range(1, 100))]
        taken = {other.name for other in cfg.vmac_addr_links}
        for name in dict.fromkeys(candidates):
            state = self.ports.vmacs.state(name)
            if name not in taken and (state is None or state.kind == link.kind):
                break
        else:
            return cfg  # nothing free: ensure() will say why
        if name == link.name:
            return cfg
        log.warning("(%s) interface %s already exists and is not %s; ignoring vmac if_name, using %s",
                    cfg.name, link.name, "a private macvlan" if link.kind == "macvlan" else "an l2 ipvlan", name)
        return cfg.replace(vmac=dataclasses.replace(link, name=name))

    def make_for(self, inst: Instance, retry: float) -> bool:
        """Create (or adopt) an instance's VMACs; a failure is logged once, counted and left for a retry."""
        cfg = inst.cfg
        try:
            self.ensure(cfg, cfg.unicast_src_ip or cfg.mcast_src_ip)
        except OSError as exc:
            inst.vmac_errors += 1
            why = exc.strerror or str(exc)
            if why != inst.vmac_error:
                log.error("(%s) Unable to create VMAC interface %s: %s (FAULT until it exists; retrying every %gs)",
                          cfg.name, ", ".join(link.name for link in cfg.vmac_links), why, retry)
            inst.vmac_error = why
            return False
        if inst.vmac_error is not None:
            log.info("(%s) VMAC interface(s) ready", cfg.name)
        inst.vmac_error = None
        return True

    def source_present(self, cfg: InstanceConfig) -> bool:
        """track_src_ip: the configured source is an address of the instance's interface (or its VMAC)."""
        source = cfg.unicast_src_ip or cfg.mcast_src_ip
        if source is None:
            return True
        return any(self.ports.netlink.has_address(n, source) for n in dict.fromkeys((cfg.interface, cfg.vip_interface)))

    def ensure(self, cfg: InstanceConfig, source: IPAddress | None) -> None:
        """Make (or adopt) every VMAC the instance needs; raises OSError naming the one that failed."""
        for link in cfg.vmac_links:
            if link.name not in self.links:
                self._ensure_link(cfg, link, source)

    def _ensure_link(self, cfg: InstanceConfig, link: VmacLink, source: IPAddress | None) -> None:
        vmacs = self.ports.vmacs
        base = vmacs.state(link.base)
        if base is None:
            raise OSError(errno.ENODEV, f"base interface {link.base} of {link.name} does not exist")
        state = vmacs.state(link.name)
        if state is not None and state.kind != link.kind:
            what = "a private macvlan" if link.kind == "macvlan" else "an l2 ipvlan"
            raise OSError(errno.EEXIST, f"interface {link.name} already exists and is not {what}; left alone")
        if state is not None and (state.base_index != base.index or (
                link.kind == "macvlan" and (state.mac != link.mac or state.mode != "private"))):
            log.info("(%s) removing old VMAC interface %s: conflicting interface or MAC", cfg.name, link.name)
            vmacs.delete(link.name, link.kind)
            state = None
        created = state is None
        if created:
            vmacs.create(link)
            log.info("(%s) Success creating VMAC interface %s", cfg.name, link.name)
        else:
            log.info("(%s) using existing VMAC interface %s", cfg.name, link.name)
        self.links[link.name] = (link, cfg.name)
        try:
            self._configure(cfg, link, source, created)
        except BaseException:
            self._remove(link)  # half made: undo it all, the next attempt starts from nothing
            raise

    def _configure(self, cfg: InstanceConfig, link: VmacLink, source: IPAddress | None, created: bool) -> None:
        """keepalived's order: sysctls and addresses while the link is down, then up, then the nft rules."""
        vmacs = self.ports.vmacs
        ipv6_on_it = link.family == 6 or any(
            v.interface.version == 6 and cfg.device_of(v) == link.name for v in cfg.vips + cfg.excluded_vips
        )
        if link.family == 4 and created:
            self._ipv4_parameters(link)
        if not ipv6_on_it:
            self.ports.sysctl.write(conf6(link.name, "disable_ipv6"), 1)
        else:
            self.ports.sysctl.write(conf6(link.name, "addr_gen_mode"), ADDR_GEN_MODE_NONE)
        if link.family == 6:
            vmacs.add_address(link.name, IPv6Interface(f"{self._link_local(link, source)}/64"))
        if link.ipvlan_address is not None:
            vmacs.add_address(link.name, link.ipvlan_address)
        vmacs.set_up(link.name)
        if link.kind == "macvlan" and not (link.family == 4 and self.disable_local_igmp):
            self.firewall().add_vmac(link.name, link.base, link.family)
            self._igmp_nft.add(link.name)

    def _ipv4_parameters(self, link: VmacLink) -> None:
        write = self.ports.sysctl.write
        for key, value in (("arp_ignore", 1), ("accept_local", 1), ("rp_filter", 0), ("promote_secondaries", 1)):
            write(conf4(link.name, key), value)
        for key in ("arp_ignore", "arp_filter"):
            self._hold(conf4(link.base, key), 1, link.name)
        all_rp = self.ports.sysctl.read(ALL_RP) or 0
        if all_rp or ALL_RP in self._users:
            # rp_filter=0 on the VMAC only counts when all.rp_filter is 0: move `all`'s strictness
            # down to default and to each interface instead (keepalived's vrrp_if_config.c)
            floor = all_rp or self.saved.get(ALL_RP, 0)
            for name in self.ports.netlink.interface_names():
                if name != "lo" and name not in self.links:
                    with contextlib.suppress(OSError):
                        self._hold(conf4(name, "rp_filter"), floor, "rp_filter", raise_only=True)
            self._hold(DEFAULT_RP, floor, "rp_filter", raise_only=True)
            self._hold(ALL_RP, 0, "rp_filter")

    def _link_local(self, link: VmacLink, source: IPAddress | None) -> IPv6Address:
        """keepalived: the configured source, else the base interface's link-local, else one from its MAC."""
        if isinstance(source, IPv6Address) and source.is_link_local:
            return source
        own = self.ports.netlink.primary_address(link.base, 6)
        if isinstance(own, IPv6Address) and own.is_link_local:
            return own
        return eui64_link_local(self.ports.vmacs.mac(link.base))

    def release(self, cfg: InstanceConfig, keep: frozenset[str] = frozenset()) -> None:
        """Remove the instance's VMACs (except those in `keep`: the reloaded instance still needs them)."""
        self._drop(f"promote:{cfg.name}")
        for name, (link, owner) in list(self.links.items()):
            if owner == cfg.name and name not in keep:
                self._remove(link)

    def reconfigured(self, old: InstanceConfig, new: InstanceConfig) -> bool:
        """A reload changed an instance in place (maybe renamed it): what it holds follows the new
        name; the links it no longer wants as they are (gone, renamed, a new MAC) are removed, for
        `make_for` to make anew, as keepalived deletes the old VMAC and creates the new one. True when
        the instance's VMACs changed (its VIPs must be set again); `promote_secondaries` follows."""
        was, now = f"promote:{old.name}", f"promote:{new.name}"
        for name, (link, owner) in list(self.links.items()):
            if owner == old.name:
                self.links[name] = (link, new.name)
        for users in self._users.values():
            if was in users:
                users.discard(was)
                users.add(now)
        if not new.promote_secondaries or old.vip_interface != new.vip_interface:
            self._drop(now)
        wanted = set(new.vmac_links)
        for link, owner in list(self.links.values()):
            if owner == new.name and link not in wanted:
                self._remove(link)
        return old.vmac_links != new.vmac_links

    def _remove(self, link: VmacLink) -> None:
        self.links.pop(link.name, None)
        if link.name in self._igmp_nft:
            self._igmp_nft.discard(link.name)
            with contextlib.suppress(Exception):
                self.firewall().remove_vmac(link.name, link.base, link.family)
        try:
            if self.ports.vmacs.delete(link.name, link.kind):
                log.info("Success removing VMAC interface %s", link.name)
        except OSError as exc:
            log.error("Error removing VMAC interface %s: %s", link.name, exc)
        self._drop(link.name)
        if not any(lk.family == 4 and lk.kind == "macvlan" for lk, _ in self.links.values()):
            self._drop("rp_filter")

    def close(self) -> None:
        """Stop: every VMAC removed, every sysctl we changed back to what it was."""
        for link, _ in list(self.links.values()):
            self._remove(link)
        for user in {u for users in self._users.values() for u in users}:
            self._drop(user)
