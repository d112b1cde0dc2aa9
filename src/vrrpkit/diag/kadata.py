"""keepalived's own account of its instances: the files SIGUSR1 and SIGUSR2 make it write (pure).

Why read them: the wire shows what was sent, keepalived's counters show what it *rejected* and why
(a wrong password, a TTL, an interval, an address list), and its data file shows each instance's
state and when it last changed. That is evidence a listening window can miss (an advert that came
just before the window, a peer silent while we listened), and it is keepalived's own word.

keepalived 2.2.7 writes ``/tmp/keepalived.data`` on SIGUSR1 and ``/tmp/keepalived.stats`` on
SIGUSR2 (``keepalived_<instance>_<netns>.data`` with ``data_use_instance``). It rewrites them on
every signal, so ``investigate`` only signals it when asked (``--signal-keepalived``) and otherwise
reads what is there, with its age. The format is not a stable interface (the man page says so):
the parser takes the ``Name = value`` lines it knows and ignores the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_INSTANCE = re.compile(r"^\s*VRRP Instance\s*[=:]\s*(\S+)\s*$")
_KEY_VALUE = re.compile(r"^\s*([A-Za-z][A-Za-z _/()-]*?)\s*=\s*(.*?)\s*$")
_COUNTER = re.compile(r"^(\s*)([A-Za-z][A-Za-z ]*?):\s*(\d+)?\s*$")


@dataclass
class InstanceState:
    """One vrrp_instance as keepalived reports it; counters are None when no stats file was read."""

    name: str
    state: str = ""  # MASTER, BACKUP, FAULT, INIT
    wantstate: str = ""
    interface: str = ""
    vrid: int | None = None
    priority: int | None = None
    effective_priority: int | None = None
    advert_interval_ms: int | None = None
    last_transition: float | None = None  # epoch seconds
    src_ip: str = ""  # "Using src_ip": tells this host's instances from another's in a shared /tmp
    vips: list[str] = field(default_factory=list)
    counters: dict[str, int] | None = None  # "advert_received", "auth_failure", ... (see STAT_NAMES)
    window: dict[str, int] | None = None  # what the counters did during the listening window (signalled twice)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "wantstate": self.wantstate, "interface": self.interface,
                "vrid": self.vrid, "priority": self.priority, "effective_priority": self.effective_priority,
                "advert_interval_ms": self.advert_interval_ms, "last_transition": self.last_transition,
                "src_ip": self.src_ip, "vips": self.vips, "counters": self.counters,
                "counters_in_window": self.window}  # fmt: skip


# (section, line) in keepalived.stats -> our counter name
STAT_NAMES = {
    ("Advertisements", "Received"): "advert_received",
    ("Advertisements", "Sent"): "advert_sent",
    ("", "Became master"): "became_master",
    ("", "Released master"): "released_master",
    ("Packet Errors", "Length"): "length_errors",
    ("Packet Errors", "TTL"): "ttl_errors",
    ("Packet Errors", "Invalid Type"): "type_errors",
    ("Packet Errors", "Advertisement Interval"): "interval_errors",
    ("Packet Errors", "Address List"): "address_list_errors",
    ("Authentication Errors", "Invalid Type"): "auth_invalid_type",
    ("Authentication Errors", "Type Mismatch"): "auth_type_mismatch",
    ("Authentication Errors", "Failure"): "auth_failure",
    ("Priority Zero", "Received"): "priority0_received",
    ("Priority Zero", "Sent"): "priority0_sent",
}


def parse_data(text: str) -> dict[str, InstanceState]:
    """The ``VRRP Topology`` section of keepalived.data: each instance's state and settings."""
    out: dict[str, InstanceState] = {}
    current: InstanceState | None = None
    in_vips = False
    for line in text.splitlines():
        if line.startswith("------<"):
            current, in_vips = None, False
            continue
        m = re.match(r"^\s*VRRP Instance = (\S+)", line)
        if m:
            current = out.setdefault(m.group(1), InstanceState(m.group(1)))
            in_vips = False
            continue
        if current is None:
            continue
        if re.match(r"^\s*Virtual IP \(\d+\):", line):
            in_vips = True
            continue
        if in_vips:
            vip = re.match(r"^\s+(\S+/\d+|\S+)\s+dev\s", line)
            if vip:
                current.vips.append(vip.group(1).split("/")[0])
                continue
            in_vips = False
        kv = _KEY_VALUE.match(line)
        if kv is None:
            continue
        key, value = kv.group(1), kv.group(2)
        if key == "State":
            current.state = value
        elif key == "Wantstate":
            current.wantstate = value
        elif key == "Interface":
            current.interface = value
        elif key == "Virtual Router ID":
            current.vrid = _int(value)
        elif key == "Priority":
            current.priority = _int(value)
        elif key == "Effective priority":
            current.effective_priority = _int(value)
        elif key == "Advert interval":  # "200 milli-sec" (v3) or "1 sec" (v2)
            parts = value.split()
            number = _float(parts[0]) if parts else None
            if number is not None:
                scale = 1 if len(parts) > 1 and parts[1].startswith("milli") else 1000
                current.advert_interval_ms = round(number * scale)
        elif key == "Using src_ip":
            current.src_ip = value
        elif key == "Last transition":
            current.last_transition = _float(value.split()[0])
    return out


def parse_stats(text: str) -> dict[str, dict[str, int]]:
    """keepalived.stats: per instance, the counters of STAT_NAMES."""
    out: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    section = ""
    for line in text.splitlines():
        m = _INSTANCE.match(line)
        if m:
            current = out.setdefault(m.group(1), {})
            section = ""
            continue
        c = _COUNTER.match(line)
        if current is None or c is None:
            continue
        indent, name, number = len(c.group(1)), c.group(2).strip(), c.group(3)
        if number is None:  # a section heading ("  Advertisements:")
            section = name
            continue
        key = STAT_NAMES.get((section if indent > 2 else "", name)) or STAT_NAMES.get(("", name))
        if key:
            current[key] = int(number)
    return out


def merge(data: dict[str, InstanceState], stats: dict[str, dict[str, int]]) -> list[InstanceState]:
    """One list of instances: the data file's, with the stats file's counters attached."""
    for name, counters in stats.items():
        data.setdefault(name, InstanceState(name)).counters = counters
    return [data[k] for k in sorted(data)]


def delta(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, int] | None:
    """What the counters did between two reads (None when either is missing)."""
    if before is None or after is None:
        return None
    return {k: v - before.get(k, 0) for k, v in after.items()}


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
