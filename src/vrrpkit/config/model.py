"""The parser's output: frozen objects the daemon, the linter and the simulator share.

Instances are the core's `InstanceConfig` (already defaulted the way keepalived defaults them);
what the core does not need (scripts, track files, global settings, source locations) lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Literal

from vrrpkit.config.diagnostics import Diagnostic, Location
from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6, InstanceConfig, Notify, SyncGroupConfig, Vip
from vrrpkit.core.routing import Route, Rule


@dataclass(frozen=True)
class ScriptConfig:
    """A vrrp_script block. Times are centiseconds; weight 0 means FAULT while the script fails."""

    script: str
    interval_cs: int = 100
    timeout_cs: int = 0  # 0: same as interval (keepalived vrrp_scheduler.c)
    weight: int = 0
    reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: str | None = None
    group: str | None = None
    init_fail: bool = False

    @property
    def effective_timeout_cs(self) -> int:
        return self.timeout_cs or self.interval_cs


@dataclass(frozen=True)
class TrackFileConfig:
    """A top-level track_file block: a file holding an integer, multiplied by the weight."""

    path: str
    weight: int = 1
    init_file: int | None = None  # value written at start-up when `init_file` is given
    init_overwrite: bool = False


@dataclass(frozen=True)
class ProcessTrackConfig:
    """A vrrp_track_process block: how many processes must match, and how long to wait for it.

    `params` is None when the line names only the process (match the name alone); with params, or
    with `param_match` and no params, the command line's arguments must match as `param_match`
    says (keepalived: exact unless partial/initial). `full_command` matches the whole first word
    of /proc/PID/cmdline instead of the 15-character process name. Delays are centiseconds.
    """

    process: str
    params: tuple[str, ...] | None = None
    param_match: str = "exact"  # exact, partial, initial
    full_command: bool = False
    quorum: int = 1
    quorum_max: int = 2**32 - 1
    weight: int = 1
    reverse: bool = False
    fork_delay_cs: int = 0
    terminate_delay_cs: int = 0


@dataclass(frozen=True)
class FifoConfig:
    """notify_fifo / vrrp_notify_fifo with its optional `_script` (run with the FIFO path appended)."""

    path: str
    user: str | None = None
    group: str | None = None
    script: str | None = None
    script_user: str | None = None
    script_group: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceExtras:
    """What an instance does besides VRRP: routes and rules while MASTER, FIFO priority lines, mail."""

    virtual_routes: tuple[Route, ...] = ()
    virtual_rules: tuple[Rule, ...] = ()
    notify_priority_changes: bool = False
    smtp_alert: bool = False


@dataclass(frozen=True)
class StaticConfig:
    """static_ipaddress, static_routes and static_rules: installed for as long as the daemon runs."""

    addresses: tuple[Vip, ...] = ()
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class GlobalDefs:
    """global_defs settings that change VRRP behaviour (the rest is reported as unsupported)."""

    router_id: str | None = None
    strict: bool = False
    version: int = 2
    mcast_group4: IPv4Address = VRRP_GROUP4
    mcast_group6: IPv6Address = VRRP_GROUP6
    enable_script_security: bool = False
    script_user: str | None = None
    script_group: str | None = None
    vrrp_startup_delay_cs: int = 0
    vrrp_delay_after_boot_cs: int = 0
    garp_master_delay_cs: int = 500
    garp_master_repeat: int = 5
    garp_master_refresh_cs: int = 0
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_delay_cs: int | None = None
    garp_lower_prio_repeat: int | None = None
    garp_interval_cs: int = 0
    gna_interval_cs: int = 0
    min_garp: bool = False
    skip_check_adv_addr: bool = False
    check_unicast_src: bool = False
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    down_timer_adverts: int = 3
    owner_ignore_adverts: bool = False
    # notify FIFOs: both get every line (keepalived writes to each that is open)
    notify_fifo: FifoConfig | None = None
    vrrp_notify_fifo: FifoConfig | None = None
    vrrp_notify_priority_changes: bool = False
    fifo_write_vrrp_states_on_reload: bool = False
    # e-mail alerts
    notification_email: tuple[str, ...] = ()
    notification_email_from: str | None = None  # None: keepalived@<hostname>
    smtp_server: tuple[str, int] | None = None
    smtp_connect_timeout: int = 30
    smtp_helo_name: str | None = None  # None: the host name
    smtp_alert: bool | None = None
    smtp_alert_vrrp: bool | None = None
    no_email_faults: bool = False
    vmac_prefix: str = "vrrp"
    default_interface: str = "eth0"  # where a static address without `dev` goes (keepalived's default)
    nftables_table: str = "vrrpkit"  # nftables TABLE: the no_accept/VMAC tables' name
    nftables_priority: int = -1
    nftables_counters: bool = False
    vmac_addr_prefix: str | None = None  # None: vmac_prefix
    garp_extra_if_s: int = 0
    garp_extra_if_all: bool = False
    v3_checksum_as_v2: bool = False
    log_unknown_vrids: bool = False
    disable_local_igmp: bool = False  # net.ipv4.igmp_link_local_mcast_reports=0 instead of nft IGMP rules
    dynamic_interfaces: bool = False  # start instances whose interface does not exist yet (FAULT until it does)
    # the VRRP sockets' SO_RCVBUF when no instance gives kernel_rx_buf_size: "mtu" or "advert" times
    # the multiplier, or a fixed size per instance (vrrp_rx_bufs_policy); None: the kernel's default
    rx_bufs_policy: str | None = None
    rx_bufs_size: int = 0
    rx_bufs_multiplier: int = 3


@dataclass(frozen=True)
class GarpGroup:
    """A garp_group: GARP/NA pacing shared by these interfaces (microseconds; None: the global value)."""

    interfaces: tuple[str, ...]
    garp_interval_us: int | None = None
    gna_interval_us: int | None = None


@dataclass(frozen=True)
class InterfaceSettings:
    """The top-level blocks about interfaces (linkbeat_interfaces, interface_up_down_delays, garp_group)."""

    linkbeat: dict[str, str] = field(default_factory=dict)  # ifname -> MII/ETHTOOL/IOCTL ("" = default)
    linkbeat_all: bool = False  # top-level linkbeat_use_polling: every interface an instance uses
    delays_us: dict[str, tuple[int, int]] = field(default_factory=dict)  # ifname -> (down, up) debounce
    garp_groups: tuple[GarpGroup, ...] = ()

    def garp_group_of(self, ifname: str) -> GarpGroup | None:
        return next((g for g in self.garp_groups if ifname in g.interfaces), None)


@dataclass(frozen=True, slots=True)
class InstanceSource:
    """Where an instance and its parts were written, for diagnostics about it after parsing."""

    file: str
    line: int
    column: int = 1
    end_line: int | None = None  # the line of the closing brace
    keywords: dict[str, Location] = field(default_factory=dict)  # first occurrence of each keyword
    items: dict[str, Location] = field(default_factory=dict)  # "vip:ADDR", "peer:ADDR", "track:NAME" lines

    def item(self, key: str, fallback: str) -> Location:
        return self.items.get(key) or self.at(fallback)

    def loc_line(self) -> Location:
        return Location(self.file, self.line, self.column)

    def at(self, keyword: str) -> Location:
        return self.keywords.get(keyword, Location(self.file, self.line, self.column))


@dataclass(frozen=True)
class ScriptUse:
    """One command the configuration makes keepalived run (see `ParseResult.script_uses`)."""

    kind: Literal["vrrp_script", "notify"]
    owner_kind: Literal["vrrp_script", "instance", "group", "fifo"]
    owner: str  # the vrrp_script, instance or sync group name; fifo: notify_fifo or vrrp_notify_fifo
    event: str  # notify: "master", "backup", ..., "notify"; vrrp_script: ""
    command: str
    user: tuple[str, ...]  # USER [GROUP] given for this command; empty: the default script user
    loc: Location | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.owner_kind, self.owner, self.event)


@dataclass(frozen=True)
class ParseResult:
    instances: tuple[InstanceConfig, ...] = ()
    sync_groups: tuple[SyncGroupConfig, ...] = ()
    scripts: dict[str, ScriptConfig] = field(default_factory=dict)
    track_files: dict[str, TrackFileConfig] = field(default_factory=dict)
    globals: GlobalDefs = field(default_factory=GlobalDefs)
    diagnostics: tuple[Diagnostic, ...] = ()
    sources: dict[str, InstanceSource] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # every file read, the top one first
    script_locs: dict[str, Location] = field(default_factory=dict)  # vrrp_script NAME lines
    notify_locs: dict[tuple[str, str, str], Location] = field(default_factory=dict)  # (kind, owner, event)
    config_id: str | None = None
    interfaces: InterfaceSettings = field(default_factory=InterfaceSettings)
    track_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # track_group NAME -> instances
    # interfaces named by linkbeat_interfaces, interface_up_down_delays and garp_group: (block, name, where)
    interface_refs: tuple[tuple[str, str, Location], ...] = ()
    stopped_at: Location | None = None  # keepalived stops reading the file here and exits (no instance runs)
    track_processes: dict[str, ProcessTrackConfig] = field(default_factory=dict)
    extras: dict[str, InstanceExtras] = field(default_factory=dict)  # by instance name
    group_smtp_alert: dict[str, bool] = field(default_factory=dict)  # by sync group name
    static: StaticConfig = field(default_factory=StaticConfig)
    fifo_locs: dict[str, Location] = field(default_factory=dict)  # keyword -> the line naming its FIFO
    static_locs: dict[str, Location] = field(default_factory=dict)  # "route:ROUTE" / "rule:PRIORITY" lines

    def extras_of(self, instance: str) -> InstanceExtras:
        return self.extras.get(instance) or InstanceExtras()

    @property
    def ok(self) -> bool:
        """No error diagnostics (warnings and infos are allowed)."""
        return not any(d.severity == "error" for d in self.diagnostics)

    def location(self, instance_name: str) -> tuple[str, int]:
        """(file, line) of the `vrrp_instance NAME` line."""
        src = self.sources[instance_name]
        return src.file, src.line

    def instance(self, name: str) -> InstanceConfig:
        for inst in self.instances:
            if inst.name == name:
                return inst
        raise KeyError(name)

    def script_uses(self) -> list[ScriptUse]:
        """Every command keepalived would run for this configuration, with its user and line: each
        vrrp_script, the notify commands of each instance and sync group (the first of a repeated
        keyword, as keepalived keeps the first), and the notify FIFOs' `_script`s."""
        uses: list[ScriptUse] = []
        for name, sc in self.scripts.items():
            user: tuple[str, ...] = () if not sc.user else (sc.user, sc.group) if sc.group else (sc.user,)
            uses.append(ScriptUse("vrrp_script", "vrrp_script", name, "", sc.script, user, self.script_locs.get(name)))
        owners: list[tuple[Literal["instance", "group"], str, tuple[Notify, ...]]] = [
            ("instance", i.name, i.notify) for i in self.instances
        ]
        owners += [("group", g.name, g.notify) for g in self.sync_groups]
        for kind, owner, notify in owners:
            seen: set[str] = set()
            for event, command, words in notify:
                if event not in seen:
                    seen.add(event)
                    loc = self.notify_locs.get((kind, owner, event))
                    uses.append(ScriptUse("notify", kind, owner, event, command, words, loc))
        for key in ("notify_fifo", "vrrp_notify_fifo"):
            fifo: FifoConfig | None = getattr(self.globals, key)
            if fifo is not None and fifo.script:
                words = () if not fifo.script_user else tuple(w for w in (fifo.script_user, fifo.script_group) if w)
                loc = self.fifo_locs.get(f"{key}_script") or self.fifo_locs.get(key)
                uses.append(ScriptUse("notify", "fifo", key, "", fifo.script, words, loc))
        return uses

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")
