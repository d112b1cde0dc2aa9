"""What the file said: the parser's output and `semantics.complete`'s input.

The parser records each block as written, with the Location of every part a later diagnostic may
point at; it applies no default and resolves no reference. Everything keepalived decides after
reading (defaults, strict mode, rounding, tracker weights, sync-group rules) is `semantics`' job.
The split is what lets a keyword be added to the parser without touching the completion rules, and
lets `semantics` depend on these records instead of on the parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vrrpkit.config.diagnostics import Location
from vrrpkit.config.model import ProcessTrackConfig, ScriptConfig, TrackFileConfig
from vrrpkit.core.config import IPAddress, IPInterface, TrackKind, UnicastPeer, Vip
from vrrpkit.core.routing import Route, Rule

RULE_START_PRIORITY = 16384  # keepalived numbers rules without a preference down from here (measured, 2.2.7)

#: A notify line: (event, command, the USER [GROUP] words after it, where it was written).
NotifyLine = tuple[str, str, tuple[str, ...], Location]


@dataclass
class TrackRef:
    """One line of a track_interface/track_script/track_file block.

    `weight` and `reverse` are None when the line does not give them: the definition the name refers
    to (a vrrp_script, a track_file) supplies them once `semantics` resolves the reference.
    """

    name: str
    kind: TrackKind
    weight: int | None
    reverse: bool | None
    loc: Location


@dataclass
class WrittenVmac:
    """`use_vmac [name] [MAC]` or `use_ipvlan [name] [ADDRESS] [mode]` as written."""

    loc: Location
    kind: str = "macvlan"  # or "ipvlan"
    name: str | None = None
    mac: bytes | None = None  # 6 octets, or 5 (keepalived then appends the VRID)
    ipvlan_mode: str = "bridge"
    ipvlan_address: IPInterface | None = None


@dataclass
class WrittenInstance:
    """A vrrp_instance as written. None means "not given": keepalived's default depends on other keywords."""

    name: str
    loc: Location
    keywords: dict[str, Location] = field(default_factory=dict)  # first line of each keyword
    end_line: int | None = None  # the closing brace; None if the block is never closed
    state: str | None = None
    interface: str | None = None
    vrid: int | None = None
    vrid_given: bool = False  # given but invalid reads differently from missing
    priority: int | None = None
    advert_int: float | None = None
    version: int | None = None
    auth_type: str | None = None
    auth_pass: bytes = b""
    vips: list[tuple[Vip, Location]] = field(default_factory=list)
    excluded: list[tuple[Vip, Location]] = field(default_factory=list)
    unicast_src: IPAddress | None = None
    peers: list[tuple[UnicastPeer, Location]] = field(default_factory=list)
    mcast_src: IPAddress | None = None
    tracks: list[TrackRef] = field(default_factory=list)
    nopreempt: bool = False
    preempt_delay: float | None = None
    notify: list[NotifyLine] = field(default_factory=list)
    virtual_routes: list[tuple[Route, Location]] = field(default_factory=list)
    virtual_rules: list[tuple[Rule, Location]] = field(default_factory=list)
    notify_priority_changes: bool | None = None
    smtp_alert: bool | None = None
    notify_lines: dict[str, Location] = field(default_factory=dict)  # first line of each notify keyword
    strict: bool | None = None
    accept: bool | None = None
    # Per-instance overrides of a global_defs setting, keyed by the InstanceConfig field they set.
    bools: dict[str, bool] = field(default_factory=dict)
    ints: dict[str, int] = field(default_factory=dict)
    timers_cs: dict[str, int] = field(default_factory=dict)
    vmac: WrittenVmac | None = None
    garp_extra_if: tuple[int, bool] | None = None  # (seconds, all)
    mcast_dst: IPAddress | None = None
    mcast_dst_family: int | None = None  # set even when the group is refused: keepalived takes the family first
    unicast_keyword: Location | None = None  # the first keyword that asks for unicast (keepalived's flag)
    old_checksum: str | None = None  # "always" or "never"
    vip_vmac: set[str] = field(default_factory=set)  # addresses whose line says `use_vmac`


@dataclass
class WrittenGroup:
    """A vrrp_sync_group as written; members are names, checked against the instances by `semantics`."""

    name: str
    loc: Location
    members: list[tuple[str, Location]] = field(default_factory=list)
    notify: list[NotifyLine] = field(default_factory=list)
    notify_lines: dict[str, Location] = field(default_factory=dict)  # first line of each notify keyword
    tracks: list[TrackRef] = field(default_factory=list)
    tracking_weight: bool = False
    notify_priority_changes: bool | None = None
    smtp_alert: bool | None = None


@dataclass
class WrittenGarpGroup:
    """A top-level garp_group block: GARP/NA pacing for one interface or a set sharing a switch."""

    loc: Location
    garp_interval_us: int | None = None
    gna_interval_us: int | None = None
    interfaces: list[tuple[str, Location]] = field(default_factory=list)
    single: bool = False  # `interface` (rather than `interfaces { }`) was used


@dataclass
class WrittenInterfaces:
    """The top-level blocks about interfaces: linkbeat polling, up/down debouncing, GARP pacing."""

    linkbeat: dict[str, tuple[str, Location]] = field(default_factory=dict)  # ifname -> (type, where)
    linkbeat_all: bool = False  # top-level `linkbeat_use_polling`
    delays_us: dict[str, tuple[int, int, Location]] = field(default_factory=dict)  # down, up
    garp_groups: list[WrittenGarpGroup] = field(default_factory=list)
    track_groups: dict[str, tuple[list[tuple[str, Location]], Location]] = field(default_factory=dict)
    # static address/route/rule with `track_group G`: (what, G, its interface or None, tracked, where G is)
    static_tracks: list[tuple[str, str, str | None, bool, Location]] = field(default_factory=list)


@dataclass
class WrittenGlobals:
    """global_defs as written: the settings the file gives, keyed by their `GlobalDefs` field name.

    Keyed by field name rather than mirrored field by field so that a new global keyword is one
    entry in `parse_globals` plus its `GlobalDefs` field, not a third copy here.
    """

    values: dict[str, object] = field(default_factory=dict)
    locs: dict[str, Location] = field(default_factory=dict)

    def set(self, key: str, value: object, loc: Location) -> None:
        self.values[key] = value
        self.locs[key] = loc


@dataclass
class Written:
    """One configuration file (with its includes) as written, in file order."""

    globals: WrittenGlobals = field(default_factory=WrittenGlobals)
    interfaces: WrittenInterfaces = field(default_factory=WrittenInterfaces)
    instances: list[WrittenInstance] = field(default_factory=list)
    groups: list[WrittenGroup] = field(default_factory=list)
    # vrrp_script and track_file blocks need no completion: the parser builds their final form.
    scripts: dict[str, ScriptConfig] = field(default_factory=dict)
    script_locs: dict[str, Location] = field(default_factory=dict)  # the `vrrp_script NAME` lines
    track_files: dict[str, TrackFileConfig] = field(default_factory=dict)
    track_processes: dict[str, ProcessTrackConfig] = field(default_factory=dict)
    static_addresses: list[tuple[Vip, Location]] = field(default_factory=list)
    static_routes: list[tuple[Route, Location]] = field(default_factory=list)
    static_rules: list[tuple[Rule, Location]] = field(default_factory=list)
    # keepalived's next_rule_priority_ipv4/6: rules without a preference, counted down in file order
    next_rule_priority: dict[int, int] = field(
        default_factory=lambda: {4: RULE_START_PRIORITY, 6: RULE_START_PRIORITY}
    )
    # The first line that makes keepalived run a script (a `script` or a notify): where the
    # script-security diagnostic points, as keepalived's complaint is about the file, not one line.
    first_script_loc: Location | None = None
    # Where keepalived stopped reading the file (a missing parameter it cannot do without): keepalived
    # exits there, so nothing is completed and no instance runs.
    stopped_at: Location | None = None
    lvs_loc: Location | None = None  # the first load-balancer block (virtual_server, its group, SSL)

    def note_script(self, loc: Location) -> None:
        if self.first_script_loc is None:
            self.first_script_loc = loc
