"""Completing the top-level blocks about interfaces: linkbeat_interfaces, interface_up_down_delays,
garp_group and track_group, as the daemon runs them and as `check`'s host checks point at them.

Kept apart from `semantics` (which completes instances) because none of these belongs to an
instance: they name interfaces keepalived only looks up when it starts, and a track_group's
instances, which are checked here against the ones the file defines.
"""

from __future__ import annotations

from vrrpkit.config.diagnostics import Location, Reporter
from vrrpkit.config.model import GarpGroup, InterfaceSettings
from vrrpkit.config.written import WrittenInterfaces
from vrrpkit.core.config import InstanceConfig, Track, TrackKind

InterfaceRef = tuple[str, str, Location]  # (block, interface, where keepalived names it)


def complete_interfaces(
    r: Reporter, w: WrittenInterfaces, instances: set[str]
) -> tuple[InterfaceSettings, dict[str, tuple[str, ...]], tuple[InterfaceRef, ...]]:
    """(settings for the daemon, track groups, the interfaces named for host checks)."""
    settings = InterfaceSettings(
        linkbeat={name: kind for name, (kind, _) in w.linkbeat.items()},
        linkbeat_all=w.linkbeat_all,
        delays_us={name: (down, up) for name, (down, up, _) in w.delays_us.items()},
        garp_groups=tuple(
            GarpGroup(tuple(dict.fromkeys(n for n, _ in grp.interfaces)), grp.garp_interval_us, grp.gna_interval_us)
            for grp in w.garp_groups
        ),
    )
    refs = (
        *(("linkbeat interface", name, loc) for name, (_, loc) in w.linkbeat.items()),
        *(("up/down delay", name, loc) for name, (_, _, loc) in w.delays_us.items()),
        *(("garp_group", name, loc) for grp in w.garp_groups for name, loc in grp.interfaces),
    )
    return settings, _track_groups(r, w, instances), refs


def _track_groups(r: Reporter, w: WrittenInterfaces, instances: set[str]) -> dict[str, tuple[str, ...]]:
    """track_group NAME { group { ... } }: names checked against the instances (keepalived logs and skips)."""
    out: dict[str, tuple[str, ...]] = {}
    for name, (members, loc) in w.track_groups.items():
        kept: list[str] = []
        for member, mloc in members:
            if member in instances:
                kept.append(member)
            else:
                r.add(mloc, "sync-group-unknown-instance",
                      f"track_group {name}: no vrrp_instance named {member!r} (keepalived ignores it)", "warning")
        if not members:
            r.add(loc, "sync-group-single", f"track_group {name} has no members: it tracks nothing")
        out[name] = tuple(kept)
    return out


def with_static_tracks(
    r: Reporter, w: WrittenInterfaces, groups: dict[str, tuple[str, ...]], instances: list[InstanceConfig],
    default_interface: str,
) -> list[InstanceConfig]:
    """A static address, route or rule with `track_group G`: every instance of G tracks the item's
    interface with weight 0, as keepalived's static_track_group_init adds it to the interface's
    tracking list: that interface down puts the instances in FAULT. Not with `no_track` (keepalived
    logs 'Static route has both track_group and no_track set - not tracking'), nor for a route
    without an interface or a rule without `iif` (nothing to track)."""
    extra: dict[str, list[str]] = {}
    for what, group, ifname, tracked, loc in w.static_tracks:
        if what == "address":
            ifname = ifname or default_interface
        if not tracked and ifname is not None:  # with an interface, only no_track turns tracking off
            r.add(loc, "option-ignored", f"static {what} has both track_group and no_track set - not tracking",
                  "info")
            continue
        if ifname is None or not tracked:
            continue
        for member in groups.get(group, ()):
            extra.setdefault(member, []).append(ifname)
    out = []
    for cfg in instances:
        names = [n for n in dict.fromkeys(extra.get(cfg.name, ()))
                 if not any(t.kind is TrackKind.INTERFACE and t.name == n for t in cfg.tracks)]
        out.append(cfg.replace(tracks=cfg.tracks + tuple(Track(n, TrackKind.INTERFACE, 0) for n in names))
                   if names else cfg)
    return out


def with_vip_tracks(instances: list[InstanceConfig]) -> list[InstanceConfig]:
    """A VIP or excluded VIP on another interface than the instance's (its `dev`) makes the instance
    track that interface with weight 0, unless the VIP says `no_track`. Measured with keepalived
    2.2.7: that interface down or deleted puts the instance in FAULT (priority 0 sent, its VIPs
    removed), up again BACKUP and a new election. A track_interface that gives it a weight is
    overridden: FAULT, and no 'Changing effective priority' either way. vrrpkit had stayed MASTER
    with the VIP gone."""
    out = []
    for cfg in instances:
        devs = dict.fromkeys(v.dev for v in cfg.vips + cfg.excluded_vips
                             if v.dev is not None and v.dev != cfg.interface and "no_track" not in v.flags)  # fmt: skip
        if not devs:
            out.append(cfg)
            continue
        tracks = [Track(t.name, t.kind, 0, vip=t.weight != 0)
                  if t.kind is TrackKind.INTERFACE and t.name in devs and not t.reverse else t
                  for t in cfg.tracks]  # fmt: skip
        have = {t.name for t in tracks if t.kind is TrackKind.INTERFACE and t.weight == 0 and not t.reverse}
        tracks += [Track(n, TrackKind.INTERFACE, 0, vip=True) for n in devs if n not in have]
        out.append(cfg.replace(tracks=tuple(tracks)))
    return out
