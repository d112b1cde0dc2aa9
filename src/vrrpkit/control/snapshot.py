"""The daemon's state as one typed record: the contract between the daemon and everyone who reads it.

`vrrpkit status` (over the control socket), the Prometheus collector, SIGUSR1's dump and
`vrrpkit investigate` all read a `Snapshot`. It lives in `control` because it is part of the
control protocol: the daemon builds it, clients decode it with `Snapshot.from_json`, and the JSON
shape (docs/json.md, "status") is what `to_json()` writes. Adding a field here is the one place
that changes what every consumer can see.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class TransitionRecord:
    """One state change, wall-clock time; `reason` is for people, `event` for programs."""

    at: float
    old: str
    new: str
    reason: str
    event: str = ""


@dataclass(frozen=True)
class ScriptStatus:
    ok: bool | None
    last_rc: int | None
    error: str | None = None


@dataclass(frozen=True)
class TrackStatus:
    """One tracked object of an instance: a script or interface is ``ok`` (None until a script has
    run), a track file has a ``value``; ``weight`` is what it does to the priority (0: FAULT)."""

    name: str
    kind: str  # "script" | "interface" | "file"
    weight: int
    ok: bool | None = None
    value: int | None = None


@dataclass(frozen=True)
class InstanceStatus:
    name: str
    vrid: int
    interface: str
    version: int
    state: str
    base_priority: int
    effective_priority: int
    address: str | None
    master: str | None
    master_priority: int | None
    vips: list[str]
    advert_int: float
    master_advert_int: float
    mode: str  # "unicast" | "multicast"
    peers: list[str]
    time_in_state: float
    fault_reason: str | None
    counters: dict[str, Any]
    mismatches: dict[str, int]
    split_brain: list[str]
    split_brain_events: int
    transitions: list[TransitionRecord]  # the last 20, and any older ones of the last hour (bounded)
    sync_group: str | None
    transitions_total: int = 0  # never capped, unlike `transitions`
    vmac: str | None = None  # use_vmac: the virtual-MAC interface carrying the VIPs
    vmac_errors: int = 0  # failed attempts to create it (or its use_vmac_addr siblings)
    tracks: list[TrackStatus] = field(default_factory=list)
    split_brain_since: float | None = None  # wall-clock time the current split brain was first judged

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> InstanceStatus:
        values = _known(cls, doc)
        values["transitions"] = [TransitionRecord(**_known(TransitionRecord, t)) for t in doc.get("transitions", [])]
        values["tracks"] = [TrackStatus(**_known(TrackStatus, t)) for t in doc.get("tracks", [])]
        return cls(**values)


@dataclass(frozen=True)
class SocketStatus:
    """One VRRP receive socket (per interface and family) and what was dropped before any instance
    saw it. The kernel filter's own drops cannot be counted (classic BPF has no counters)."""

    interface: str
    family: int
    received: int = 0
    unknown_vrid: int = 0  # read, but for a VRID no instance on this socket runs
    undecodable: int = 0  # the IP packet did not parse
    queue_overflow: int | None = None  # dropped by the kernel: the receive queue was full (None: unknown)
    kernel_filter: bool = False  # a filter is attached
    lazy: bool = False  # read once per advert interval (every instance on it BACKUP, hearing its master)


@dataclass(frozen=True)
class Snapshot:
    pid: int
    hostname: str
    uptime: float
    reloads: int
    unknown_vrid_packets: int
    scripts: dict[str, ScriptStatus] = field(default_factory=dict)
    instances: list[InstanceStatus] = field(default_factory=list)
    # daemon-wide counts of what can fail quietly: routes, FIFO lines, mails, process scans
    counters: dict[str, int] = field(default_factory=dict)
    sockets: list[SocketStatus] = field(default_factory=list)
    router_id: str | None = None  # global_defs router_id (keepalived's default is the host name)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def to_reply(self) -> dict[str, Any]:
        """`to_json`'s keys with the values as they are (instances still dataclasses): the control
        server encodes them one instance at a time (`control.server.encode_reply`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Snapshot:
        """Read what a daemon sent; unknown keys (a newer daemon) are ignored, missing optional
        ones take their defaults, so `vrrpkit status` works across one version of skew."""
        values = _known(cls, doc)
        values["scripts"] = {n: ScriptStatus(**_known(ScriptStatus, s)) for n, s in doc.get("scripts", {}).items()}
        values["instances"] = [InstanceStatus.from_json(i) for i in doc.get("instances", [])]
        values["sockets"] = [SocketStatus(**_known(SocketStatus, s)) for s in doc.get("sockets", [])]
        return cls(**values)

    def instance(self, name: str) -> InstanceStatus | None:
        return next((i for i in self.instances if i.name == name), None)


def _known(cls: type, doc: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in doc.items() if k in names}
