"""Completing what was written into what keepalived runs, and saying what changed on the way.

This mirrors keepalived's `vrrp_complete_instance` (vrrp.c) and the checks after it: priority and
state defaults, the version an instance really speaks, interval rounding, strict mode (reference
section 2), tracker resolution and sync-group rules, then the checks across instances of one file
(duplicate VRIDs and VIPs, script security). Every fix-up keepalived makes silently or with a log
line becomes a diagnostic here, on the line it is about.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from sys import intern

from vrrpkit.config.auth import authentication
from vrrpkit.config.diagnostics import Location, Reporter
from vrrpkit.config.interface_blocks import InterfaceRef, complete_interfaces, with_static_tracks, with_vip_tracks
from vrrpkit.config.longtail import check_long_tail
from vrrpkit.config.model import (
    FifoConfig,
    GlobalDefs,
    InstanceExtras,
    InstanceSource,
    InterfaceSettings,
    ProcessTrackConfig,
    ScriptConfig,
    StaticConfig,
    TrackFileConfig,
)
from vrrpkit.config.vmacs import plan_vmacs
from vrrpkit.config.written import NotifyLine, TrackRef, Written, WrittenGlobals, WrittenGroup, WrittenInstance
from vrrpkit.core.config import (
    InstanceConfig,
    IPAddress,
    Notify,
    SyncGroupConfig,
    Track,
    TrackKind,
    UnicastPeer,
    Vip,
    apply_strict,
)

MULTICAST_HINT = (
    "this instance sends its adverts by multicast ({group}); clouds (AWS, Azure, GCP, Aliyun...) and "
    "many switches drop multicast, and then every host becomes MASTER and holds the VIP. If that is your "
    "symptom, run `vrrpkit investigate` to confirm, and `vrrpkit convert --to-unicast` to switch"
)
STRICT_ACCEPT_HINT = (
    "strict mode without `accept`: keepalived (and vrrpkit) install a firewall rule that drops every packet "
    "addressed to the VIP on a non-owner (RFC 5798 Accept_Mode), so the VIP answers neither ping nor TCP. "
    "Add `accept` unless that is what you want"
)


@dataclass
class Completed:
    """The configuration keepalived would run; `load_string` adds the diagnostics and files to make a ParseResult."""

    instances: list[InstanceConfig]
    sources: dict[str, InstanceSource]
    groups: list[SyncGroupConfig]
    scripts: dict[str, ScriptConfig]
    track_files: dict[str, TrackFileConfig]
    globals: GlobalDefs
    script_locs: dict[str, Location]
    notify_locs: dict[tuple[str, str, str], Location]
    track_processes: dict[str, ProcessTrackConfig]
    extras: dict[str, InstanceExtras]
    group_smtp_alert: dict[str, bool]
    static: StaticConfig
    fifo_locs: dict[str, Location]
    static_locs: dict[str, Location]
    interfaces: InterfaceSettings
    track_groups: dict[str, tuple[str, ...]]
    interface_refs: tuple[InterfaceRef, ...]


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _global_defs(written: WrittenGlobals) -> GlobalDefs:
    """`vrrp_min_garp` changes two other settings' defaults (an explicit value still wins)."""
    g = {k: v for k, v in written.values.items() if k in GlobalDefs.__dataclass_fields__}
    if g.get("min_garp"):
        g.setdefault("garp_master_repeat", 1)
        g.setdefault("garp_master_delay_cs", 0)
    return GlobalDefs(**g)  # type: ignore[arg-type]


def complete(written: Written, reporter: Reporter) -> Completed:
    """Complete every instance and group as keepalived does, reporting each change on `reporter`."""
    g = _global_defs(written.globals)
    r = reporter
    instances: list[InstanceConfig] = []
    sources: dict[str, InstanceSource] = {}
    groups_of: dict[str, str] = {}
    group_of_raw: dict[str, WrittenGroup] = {}
    tracking_weight: dict[str, bool] = {}
    group_tracks: dict[str, list[TrackRef]] = {}

    # Sync groups first: member weights depend on them.
    names = [i.name for i in written.instances]
    groups: list[SyncGroupConfig] = []
    for grp in written.groups:
        members: list[str] = []
        for member, loc in grp.members:
            if member not in names:
                r.add(loc, "sync-group-unknown-instance",
                      f"vrrp_sync_group {grp.name}: no vrrp_instance named {member!r} (keepalived ignores it)")
                continue
            if member in groups_of:
                r.add(loc, "invalid-value", f"{member} is already in sync group {groups_of[member]}")
                continue
            groups_of[member] = grp.name
            group_of_raw[member] = grp
            members.append(member)
            tracking_weight[member] = grp.tracking_weight
            group_tracks[member] = grp.tracks
        if len(members) < 2:
            r.add(grp.loc, "sync-group-single",
                  f"sync group {grp.name} has {len(members)} instance(s): a group only matters with two or more")
        groups.append(SyncGroupConfig(grp.name, tuple(members), _notify(grp.notify)))

    seen_names: set[str] = set()
    vmac_names: dict[str, str] = {}
    for raw in written.instances:
        if raw.name in seen_names:
            r.add(raw.loc, "invalid-value", f"a second vrrp_instance named {raw.name}; names must be unique")
            continue
        seen_names.add(raw.name)
        cfg = _complete_instance(written, r, raw, g, groups_of.get(raw.name), tracking_weight.get(raw.name, False),
                                 group_tracks.get(raw.name, []), vmac_names)
        if cfg is not None:
            instances.append(cfg)
            items: dict[str, Location] = {}
            for vip, vloc in [*raw.vips, *raw.excluded]:
                items.setdefault(f"vip:{vip.address}", vloc)
            for peer, ploc in raw.peers:
                items.setdefault(f"peer:{peer.address}", ploc)
            for ref in raw.tracks:
                items.setdefault(f"track:{ref.name}", ref.loc)
            for route, rloc in raw.virtual_routes:
                items.setdefault(f"route:{route}", rloc)
            for rule, uloc in raw.virtual_rules:
                items.setdefault(f"rule:{rule.priority}", uloc)
            sources[cfg.name] = InstanceSource(raw.loc.file, raw.loc.line, raw.loc.column, raw.end_line,
                                               dict(raw.keywords), items)

    _cross_instance(r, instances, sources)
    # Any script keepalived runs counts, VRRP or checker (misc_path, notify_up, quorum_up...).
    if not g.enable_script_security and written.first_script_loc is not None:
        r.add(written.first_script_loc, "script-security",
              "scripts are configured but enable_script_security is not set: keepalived logs "
              "'SECURITY VIOLATION - scripts are being executed but script_security not enabled' "
              "(keepalived -t fails); add enable_script_security and a script_user to global_defs")

    _fifos_and_mail(r, written.globals, g, instances, written)
    extras = {
        raw.name: _extras(raw, g, group_of_raw.get(raw.name))
        for raw in written.instances
        if any(cfg.name == raw.name for cfg in instances)
    }
    group_mail = {grp.name: _smtp_alert(grp.smtp_alert, g) for grp in written.groups}
    static = StaticConfig(
        addresses=tuple(v if v.dev else _with_dev(v, g.default_interface) for v, _ in written.static_addresses),
        routes=tuple(r for r, _ in written.static_routes),
        rules=tuple(r for r, _ in written.static_rules),
    )
    static_locs = {f"route:{r}": loc for r, loc in written.static_routes}
    static_locs.update({f"rule:{r.priority}": loc for r, loc in written.static_rules})
    static_locs.update({f"address:{v.address}": loc for v, loc in written.static_addresses})
    fifo_locs = {k: loc for k, loc in written.globals.locs.items() if "fifo" in k}
    interfaces, track_groups, refs = complete_interfaces(r, written.interfaces, {i.name for i in instances})
    instances = with_vip_tracks(with_static_tracks(r, written.interfaces, track_groups, instances, g.default_interface))
    return Completed(instances, sources, groups, written.scripts, written.track_files, g, written.script_locs,
                     _notify_locs(written), dict(written.track_processes), extras, group_mail, static, fifo_locs,
                     static_locs, interfaces, track_groups, refs)


def _with_dev(vip: Vip, dev: str) -> Vip:
    from dataclasses import replace

    return replace(vip, dev=dev)


def _smtp_alert(value: bool | None, g: GlobalDefs) -> bool:
    """An instance's or group's smtp_alert, else global smtp_alert_vrrp, else global smtp_alert (keepalived)."""
    for v in (value, g.smtp_alert_vrrp, g.smtp_alert):
        if v is not None:
            return v
    return False


def _extras(raw: WrittenInstance, g: GlobalDefs, group: WrittenGroup | None) -> InstanceExtras:
    priority_changes = raw.notify_priority_changes
    if priority_changes is None and group is not None:
        priority_changes = group.notify_priority_changes
    return InstanceExtras(
        virtual_routes=tuple(r for r, _ in raw.virtual_routes),
        virtual_rules=tuple(r for r, _ in raw.virtual_rules),
        notify_priority_changes=bool(priority_changes if priority_changes is not None
                                     else g.vrrp_notify_priority_changes),
        smtp_alert=_smtp_alert(raw.smtp_alert, g),
    )


def _fifos_and_mail(r: Reporter, wg: WrittenGlobals, g: GlobalDefs, instances: list[InstanceConfig],
                    written: Written) -> None:
    """What keepalived would silently not do: a FIFO script without a FIFO, mail with nowhere to go."""
    fifos: dict[str, str] = {}
    for key in ("notify_fifo", "vrrp_notify_fifo"):
        fifo = getattr(g, key)
        if isinstance(fifo, FifoConfig) and not fifo.path:
            r.add(wg.locs.get(key + "_script", wg.locs[key]), "invalid-value",
                  f"{key}_script without {key}: there is no FIFO to pass to it, so keepalived ignores it")
        elif isinstance(fifo, FifoConfig):
            if fifo.path in fifos:
                r.add(wg.locs[key], "invalid-value",
                      f"{key} {fifo.path} is also {fifos[fifo.path]}: keepalived needs the FIFO names to differ "
                      f"(every line would be written twice)")
            fifos[fifo.path] = key
    mailing = [raw.name for raw in written.instances if _smtp_alert(raw.smtp_alert, g)]
    mailing += [grp.name for grp in written.groups if _smtp_alert(grp.smtp_alert, g)]
    if mailing and (not g.notification_email or g.smtp_server is None):
        missing = "notification_email" if not g.notification_email else "smtp_server"
        loc = next((raw.keywords["smtp_alert"] for raw in written.instances if "smtp_alert" in raw.keywords),
                   wg.locs.get("smtp_alert", wg.locs.get("smtp_alert_vrrp", Location("<config>", 1))))
        r.add(loc, "smtp-incomplete",
              f"smtp_alert is on for {', '.join(mailing)} but global_defs has no {missing}: keepalived sends "
              f"no mail, and neither does vrrpkit")


def _notify(lines: list[NotifyLine]) -> tuple[Notify, ...]:
    return tuple((event, command, user) for event, command, user, _loc in lines)


def _notify_locs(written: Written) -> dict[tuple[str, str, str], Location]:
    """(instance|group, name, event) -> the line of the notify keepalived keeps (the first)."""
    locs: dict[tuple[str, str, str], Location] = {}
    owners = [("instance", i.name, i.notify) for i in written.instances] + [("group", g.name, g.notify)
                                                                           for g in written.groups]
    for kind, name, lines in owners:
        for event, _command, _user, loc in lines:
            locs.setdefault((kind, name, event), loc)
    return locs


def _family_of(raw: WrittenInstance) -> int | None:
    """keepalived sets an instance's family from the first address it reads, in file order
    (a VIP, unicast_src_ip, mcast_src_ip or a unicast peer), and measures the rest against it."""
    seen: list[tuple[tuple[str, int, int], int]] = []
    if raw.vips:
        vip, vloc = raw.vips[0]
        seen.append(((vloc.file, vloc.line, vloc.column), vip.interface.version))
    for keyword, addr in (("unicast_src_ip", raw.unicast_src), ("mcast_src_ip", raw.mcast_src)):
        if addr is not None:
            kloc = raw.keywords.get(keyword, raw.loc)
            seen.append(((kloc.file, kloc.line, kloc.column), addr.version))
    if raw.peers:
        peer, ploc = raw.peers[0]
        seen.append(((ploc.file, ploc.line, ploc.column), peer.address.version))
    for keyword, version in (("mcast_dst_ip", raw.mcast_dst_family),
                             ("native_ipv6", 6 if raw.bools.get("native_ipv6") else None)):
        if version is not None:
            kloc = raw.keywords.get(keyword, raw.loc)
            seen.append(((kloc.file, kloc.line, kloc.column), version))
    if not seen:
        return None
    files = {where[0] for where, _ in seen}
    if len(files) > 1:  # across include files the order is the reader's, not the lines': VIPs first
        return seen[0][1]
    return min(seen)[1]


def _complete_instance(
    written: Written, r: Reporter, raw: WrittenInstance, g: GlobalDefs, group: str | None, tracking_weight: bool,
    group_tracks: list[TrackRef], vmac_names: dict[str, str],
) -> InstanceConfig | None:

    def loc(keyword: str) -> Location:
        return raw.keywords.get(keyword, raw.loc)

    if raw.vrid is None:
        msg = "virtual_router_id is invalid" if raw.vrid_given else "virtual_router_id is missing"
        r.add(loc("virtual_router_id"), "vrid-missing",
              f"vrrp_instance {raw.name}: {msg}; keepalived 2.2.7 exits ('the virtual router id must be set'), "
              "and `vrrpkit run` refuses to start too")
        return None

    # Address family: the first VIP decides; addresses of the other family are dropped.
    family = _family_of(raw)
    vips: list[Vip] = []
    for vip, vloc in raw.vips:
        if vip.interface.version != family:
            r.add(vloc, "vip-family-mismatch",
                  f"{vip}: address family must match the instance's (IPv{family}); keepalived ignores it")
            continue
        vips.append(vip)
    excluded = [v for v, _ in raw.excluded]
    peers: list[UnicastPeer] = []
    for peer, ploc in raw.peers:
        if family is not None and peer.address.version != family:
            r.add(ploc, "vip-family-mismatch", f"unicast peer {peer.address} is not IPv{family}; ignored")
            continue
        peers.append(peer)
    is_v6 = family == 6
    end = Location(raw.loc.file, raw.end_line or raw.loc.line)
    tail, unicast_ttl = check_long_tail(r, raw, family, peers, end)
    mcast_dst, fault_no_peer = tail.mcast_dst, tail.fault_no_peer

    # Version: instance, else global; an IPv6 instance speaks v3 unless it says `version 2` itself,
    # where keepalived 2.2.7 sends its own VRRPv2 over IPv6 (measured; core/packet.py): so do we,
    # or a keepalived host and a vrrpkit host with the same file would not hear each other.
    version = raw.version or g.version
    if is_v6 and version == 2:
        if raw.version == 2:
            r.add(loc("version"), "v2-over-ipv6",
                  "version 2 on an IPv6 instance: VRRPv2 over IPv6 is in no RFC; keepalived sends it "
                  "anyway (and so does vrrpkit, to stay compatible), but FRR and routers expect VRRPv3 and "
                  "will not hear it: use version 3 on every host", "warning")
        else:
            version = 3

    strict = raw.strict if raw.strict is not None else g.strict

    # Interface.
    interface = raw.interface
    if interface is None:
        if raw.unicast_src is not None and peers:
            r.add(raw.loc, "interface-missing",
                  f"vrrp_instance {raw.name} has no `interface`: keepalived 2.4 picks it from unicast_src_ip, "
                  f"2.2 and older refuse the instance ('Unknown interface!')", "warning")
        else:
            r.add(raw.loc, "interface-missing",
                  f"vrrp_instance {raw.name} has no `interface` (keepalived: 'Unknown interface!')")
        interface = ""

    # Priority and state defaults (vrrp_complete_instance).
    priority = raw.priority if raw.priority is not None else (255 if raw.state == "MASTER" else 100)
    state = raw.state or ("MASTER" if priority == 255 else "BACKUP")

    auth_type, auth_pass, state = authentication(r, loc, (raw.auth_type, raw.auth_pass), version=version,
                                                 ipv6=is_v6, strict=strict, state=state, priority=priority)

    accept = raw.accept
    preempt = not raw.nopreempt
    preempt_delay_cs = round((raw.preempt_delay or 0) * 100)

    if strict:
        if peers:
            r.add(loc("unicast_peer"), "strict-forbids-unicast",
                  "unicast_peer in strict mode (vrrp_strict / strict_mode): keepalived 2.3+ refuses the config "
                  "('Unicast peers are not supported in strict mode'; 2.2 still accepts it). Remove vrrp_strict "
                  "- `vrrpkit convert --to-unicast` does it and keeps strict mode's behaviour")
        if state == "MASTER" and priority != 255:
            r.add(loc("state"), "strict-state-reset",
                  f"strict mode: state MASTER needs priority 255 (address owner); with priority {priority} "
                  f"keepalived starts this instance as BACKUP")
            state = "BACKUP"
        if preempt_delay_cs:
            r.add(loc("preempt_delay"), "strict-resets-option",
                  "strict mode does not support preempt_delay; keepalived resets it to 0")
            preempt_delay_cs = 0
        if not vips:
            r.add(loc("virtual_ipaddress"), "strict-needs-vips",
                  f"vrrp_instance {raw.name}: strict mode requires at least one virtual address")
        if accept and version == 2:
            r.add(loc("accept"), "accept-v2",
                  "accept mode with VRRPv2 does not comply with RFC 3768; in strict mode keepalived resets it")
            accept = None
        if accept is None and priority != 255 and vips:
            r.add(loc("accept") if "accept" in raw.keywords else raw.loc, "strict-no-accept", STRICT_ACCEPT_HINT)
        if is_v6 and vips and not vips[0].address.is_link_local:
            r.add(raw.vips[0][1], "strict-ipv6-link-local",
                  "strict mode: the first IPv6 virtual address must be link-local (RFC 5798 5.2.9)")
        if raw.bools.get("lower_prio_no_advert") is False:
            r.add(loc("lower_prio_no_advert"), "strict-resets-option", "strict mode cannot clear lower_prio_no_advert")
        if raw.bools.get("higher_prio_send_advert"):
            r.add(loc("higher_prio_send_advert"), "strict-resets-option",
                  "strict mode cannot set higher_prio_send_advert")
        if raw.bools.get("no_virtual_ipaddress"):
            r.add(loc("no_virtual_ipaddress"), "strict-resets-option", "strict mode clears no_virtual_ipaddress")
    elif not vips and not raw.bools.get("no_virtual_ipaddress"):
        r.add(loc("virtual_ipaddress"), "no-vips",
              f"vrrp_instance {raw.name} has no virtual_ipaddress ('No VIP specified; at least one is sensible')")

    # Preemption only works for a BACKUP start.
    if not preempt and state == "MASTER":
        r.add(loc("nopreempt"), "nopreempt-needs-backup",
              "nopreempt only works with `state BACKUP` on every host; keepalived clears it for an initial MASTER "
              "(set state BACKUP and use priorities instead)")
        preempt = True
    if preempt_delay_cs and state == "MASTER":
        r.add(loc("preempt_delay"), "preempt-delay-needs-backup",
              "preempt_delay will not work with initial state MASTER; keepalived clears it")
        preempt_delay_cs = 0
    if preempt_delay_cs and not preempt:
        r.add(loc("preempt_delay"), "preempt-delay-needs-backup",
              "preempt_delay is incompatible with nopreempt; keepalived resets it")
        preempt_delay_cs = 0

    # Advertisement interval.
    advert_cs = 100
    if raw.advert_int is not None:
        if version == 2:
            secs = max(1, _round_half_up(raw.advert_int))
            if secs != raw.advert_int:
                r.add(loc("advert_int"), "advert-int-rounded",
                      f"VRRPv2 advertises whole seconds: advert_int {raw.advert_int:g} becomes {secs}")
            advert_cs = secs * 100
        else:
            cs = max(1, _round_half_up(raw.advert_int * 100))
            if abs(cs - raw.advert_int * 100) > 1e-6:
                r.add(loc("advert_int"), "advert-int-rounded",
                      f"VRRPv3 advertises centiseconds: advert_int {raw.advert_int:g} becomes {cs / 100:g}")
            if cs > 4095:
                r.add(loc("advert_int"), "out-of-range",
                      f"VRRPv3 advert_int {raw.advert_int:g} s is more than 40.95 s; keepalived uses 40.95")
                cs = 4095
            advert_cs = cs

    # Unicast sanity.
    src = raw.unicast_src
    if not raw.peers:
        for kw in ("unicast_src_ip", "check_unicast_src"):
            if kw in raw.keywords:
                r.add(loc(kw), "ignored-value",
                      f"{kw} without unicast_peer: keepalived ignores it and sends multicast ('A unicast keyword "
                      f"has been specified without any unicast peers. Defaulting to multicast.')")
    for peer, ploc in raw.peers:
        if src is not None and peer.address == src:
            r.add(ploc, "unicast-peer-is-self",
                  f"unicast peer {peer.address} is this instance's own unicast_src_ip; list the other hosts only")

    tracks = _tracks(written, r, raw, interface, group, tracking_weight, group_tracks)

    group4, group6 = g.mcast_group4, g.mcast_group6
    if isinstance(mcast_dst, IPv4Address):
        group4 = mcast_dst
    elif isinstance(mcast_dst, IPv6Address):
        group6 = mcast_dst
    if not peers and not fault_no_peer:
        # one string for every instance's hint (they stay in the running daemon's parse result)
        hint = intern(MULTICAST_HINT.format(group=group6 if is_v6 else group4))
        r.add(raw.loc, "multicast-may-be-dropped", hint)
    vmacs = plan_vmacs(r, raw, g, interface, family or 4, vips, excluded, bool(peers) or fault_no_peer, strict,
                       vmac_names)

    b = raw.bools
    ints = raw.ints
    t = raw.timers_cs
    try:
        cfg = InstanceConfig(
            name=raw.name,
            interface=interface,
            vrid=raw.vrid,
            priority=priority,
            state="MASTER" if state == "MASTER" else "BACKUP",
            version=3 if version == 3 else 2,
            advert_int_cs=advert_cs,
            vips=tuple(vips),
            excluded_vips=tuple(excluded),
            auth_type=auth_type,
            auth_pass=auth_pass,
            preempt=preempt,
            preempt_delay_cs=preempt_delay_cs,
            unicast_src_ip=src,
            unicast_peers=tuple(peers),
            mcast_src_ip=raw.mcast_src,
            mcast_group4=group4,
            mcast_group6=group6,
            check_unicast_src=b.get("check_unicast_src", g.check_unicast_src),
            tracks=tuple(tracks),
            strict=strict,
            accept=accept,
            lower_prio_no_advert=b.get("lower_prio_no_advert", g.lower_prio_no_advert),
            higher_prio_send_advert=b.get("higher_prio_send_advert", g.higher_prio_send_advert),
            skip_check_adv_addr=b.get("skip_check_adv_addr", g.skip_check_adv_addr),
            owner_ignore_adverts=b.get("owner_ignore_adverts", g.owner_ignore_adverts),
            down_timer_adverts=ints.get("down_timer_adverts", g.down_timer_adverts),
            garp_master_delay_cs=t.get("garp_master_delay_cs", g.garp_master_delay_cs),
            garp_master_repeat=ints.get("garp_master_repeat", g.garp_master_repeat),
            garp_master_refresh_cs=t.get("garp_master_refresh_cs", g.garp_master_refresh_cs),
            garp_master_refresh_repeat=ints.get("garp_master_refresh_repeat", g.garp_master_refresh_repeat),
            garp_lower_prio_delay_cs=t.get("garp_lower_prio_delay_cs", g.garp_lower_prio_delay_cs),
            garp_lower_prio_repeat=ints.get("garp_lower_prio_repeat", g.garp_lower_prio_repeat),
            notify=_notify(raw.notify),
            sync_group=group,
            vmac=vmacs.own,
            vmac_addr_links=vmacs.addr_links,
            vmac_xmit_base=vmacs.xmit_base,
            unicast_ttl=unicast_ttl,
            **tail.fields(raw, g, family, strict),
        )
    except ValueError as exc:  # the core's own invariants; the diagnostics above should already say why
        r.add(raw.loc, "invalid-value", f"vrrp_instance {raw.name}: {exc}")
        return None
    return apply_strict(cfg)


def _tracks(
    written: Written, r: Reporter, raw: WrittenInstance, interface: str, group: str | None, tracking_weight: bool,
    group_tracks: list[TrackRef],
) -> list[Track]:
    """Resolve track_* references: weights from the definitions, sync-group rules, own interface."""
    out: list[Track] = []
    names: set[tuple[TrackKind, str]] = set()
    for ref in [*raw.tracks, *group_tracks]:
        if ref.kind is TrackKind.SCRIPT:
            script = written.scripts.get(ref.name)
            if script is None:
                r.add(ref.loc, "track-script-undefined",
                      f"track_script {ref.name}: no vrrp_script of that name; keepalived ignores the tracker")
                continue
            weight = ref.weight if ref.weight is not None else script.weight
            reverse = ref.reverse if ref.reverse is not None else script.reverse
        elif ref.kind is TrackKind.PROCESS:
            proc = written.track_processes.get(ref.name)
            if proc is None:
                r.add(ref.loc, "track-process-undefined",
                      f"track_process {ref.name}: no vrrp_track_process of that name; keepalived ignores the tracker")
                continue
            weight = ref.weight if ref.weight is not None else proc.weight
            reverse = ref.reverse if ref.reverse is not None else proc.reverse
        elif ref.kind is TrackKind.FILE:
            tf = written.track_files.get(ref.name)
            if tf is None:
                r.add(ref.loc, "track-file-undefined",
                      f"track_file {ref.name}: no track_file block of that name; keepalived ignores the tracker")
                continue
            weight = ref.weight if ref.weight is not None else tf.weight
            reverse = bool(ref.reverse)
        else:
            if ref.name == interface:
                r.add(ref.loc, "track-own-interface",
                      f"track_interface {ref.name} is the instance's own interface, which is always tracked; "
                      f"keepalived ignores this line (and keepalived -t fails)")
                continue
            weight = ref.weight if ref.weight is not None else 0
            reverse = bool(ref.reverse)
        if (ref.kind, ref.name) in names:
            continue
        names.add((ref.kind, ref.name))
        if group is not None and weight != 0 and not tracking_weight and ref.kind is not TrackKind.FILE:
            r.add(ref.loc, "sync-group-ignores-weights",
                  f"{raw.name} is in sync group {group}: keepalived ignores the weight of {ref.name} and puts the "
                  f"group in FAULT while it fails (add sync_group_tracking_weight to the group to keep weights)")
            weight = 0
        if weight == 0 and ref.kind is not TrackKind.FILE:
            r.add(ref.loc, "weight-zero-means-fault",
                  f"{ref.kind.value} {ref.name} has weight 0: when it fails the instance goes to FAULT (and gives "
                  f"up the VIP) instead of lowering its priority")
        out.append(Track(ref.name, ref.kind, weight, reverse))
    return out


def _cross_instance(r: Reporter, instances: list[InstanceConfig], sources: dict[str, InstanceSource]) -> None:
    """Checks between instances of one configuration: VRIDs and VIPs must be unique."""
    vrids: dict[tuple[str, int, int, IPAddress | None], str] = {}
    vips: dict[IPAddress, str] = {}
    for inst in instances:
        src = sources[inst.name]
        # one VRID per interface and family, unless other multicast groups keep them apart (mcast_dst_ip)
        key = (inst.interface, inst.family, inst.vrid, None if inst.unicast else inst.group)
        if key in vrids:
            r.add(src.at("virtual_router_id"), "vrid-duplicate",
                  f"{vrids[key]} and {inst.name} both use VRID {inst.vrid} with IPv{inst.family} on "
                  f"interface {inst.interface}: their adverts would be taken for each other's")
        else:
            vrids[key] = inst.name
        seen_here: set[IPAddress] = set()
        for vip in (*inst.vips, *inst.excluded_vips):
            where = src.at("virtual_ipaddress")
            if vip.address in seen_here:
                r.add(where, "vip-duplicate", f"{vip.address} is listed twice in {inst.name}")
            elif vip.address in vips:
                r.add(where, "vip-duplicate", f"{vip.address} is a virtual address of both {vips[vip.address]} and "
                                              f"{inst.name}: whichever becomes MASTER last takes it")
            else:
                vips[vip.address] = inst.name
            seen_here.add(vip.address)
