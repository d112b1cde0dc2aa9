"""Top-level blocks about interfaces rather than instances: `linkbeat_interfaces` and
`linkbeat_use_polling` (poll the carrier instead of trusting netlink), `interface_up_down_delays`
(debounce link flaps), `garp_group` (pace GARP/NA per interface or per switch) and `track_group`
(which instances a static address, route or rule fails).

Whether a named interface exists is the host's business (`config.host`), as keepalived only learns it
when it starts; here each line is read and checked the way keepalived's handlers read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vrrpkit.config.diagnostics import Location
from vrrpkit.config.lexer import Stmt
from vrrpkit.config.parse_vmac import valid_ifname
from vrrpkit.config.parser import Parser, bind
from vrrpkit.config.written import Written, WrittenGarpGroup

LINKBEAT_TYPES = ("MII", "ETHTOOL", "IOCTL")
MAX_DELAY_S = 255
MAX_GARP_INTERVAL_S = 86400


def parse_linkbeat_interfaces(p: Parser, written: Written, st: Stmt) -> None:
    """`linkbeat_interfaces { IF [MII|ETHTOOL|IOCTL] ... }`."""
    for item in p.values(st):
        name = item.keyword
        kind = ""
        if len(item.words) > 1:
            word = item.words[1].text
            if word in LINKBEAT_TYPES and len(item.words) == 2:
                kind = word
            else:
                p.err(item.word_loc(1), "invalid-value", f"extra characters {word} in linkbeat interface")
                kind = word if word in LINKBEAT_TYPES else ""
        if not valid_ifname(name):
            p.err(item.loc, "invalid-value", f"invalid interface name {name!r} for linkbeat")
            continue
        written.interfaces.linkbeat[name] = (kind, item.loc)


def parse_linkbeat_use_polling(p: Parser, written: Written, st: Stmt) -> None:
    """Top-level `linkbeat_use_polling`: every interface keepalived watches is polled."""
    written.interfaces.linkbeat_all = True


def _seconds_us(p: Parser, item: Stmt, index: int) -> int | None:
    text = item.words[index].text
    try:
        value = float(text)
    except ValueError:
        p.err(item.word_loc(index), "invalid-value", f"invalid number '{text}'")
        return None
    if not 0 <= value <= MAX_DELAY_S:
        p.err(item.word_loc(index), "out-of-range", f"number '{text}' outside range [0.000000, {MAX_DELAY_S:.6f}]")
        return None
    return round(value * 1_000_000)


def parse_interface_up_down_delays(p: Parser, written: Written, st: Stmt) -> None:
    """`interface_up_down_delays { IF DOWN [UP] ... }`: seconds, microsecond resolution, up = down if omitted."""
    for item in p.values(st):
        if len(item.words) < 2:  # keepalived -t is silent and the line does nothing
            p.err(item.loc, "invalid-value", f"up/down delay for {item.keyword} without a delay - ignored", "warning")
            continue
        if len(item.words) > 3:
            extra = item.words[3].text
            p.err(item.word_loc(3), "invalid-value", f"extra characters {extra} in up/down delay - ignored", "warning")
        down = _seconds_us(p, item, 1)
        up = _seconds_us(p, item, 2) if len(item.words) > 2 else down
        if down is None or up is None:
            continue
        written.interfaces.delays_us[item.keyword] = (down, up, item.loc)


# --- garp_group ---------------------------------------------------------------------------------


@dataclass
class GarpBlock:
    p: Parser
    group: WrittenGarpGroup


def _interval(key: str) -> Callable[[GarpBlock, Stmt], None]:
    def handle(b: GarpBlock, s: Stmt) -> None:
        text = b.p.arg(s)
        if text is None:
            return
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 <= value <= MAX_GARP_INTERVAL_S:
            b.p.err(s.word_loc(1), "invalid-value", f"invalid number '{text}'")
            return
        setattr(b.group, key, round(value * 1_000_000))

    return handle


def _interface(b: GarpBlock, s: Stmt) -> None:
    name = b.p.arg(s)
    if name is None:
        return
    if b.group.interfaces:
        b.p.err(s.loc, "invalid-value", "garp_group: only one of interface or interfaces may be given")
        return
    b.group.interfaces.append((name, s.word_loc(1)))
    b.group.single = True


def _interfaces(b: GarpBlock, s: Stmt) -> None:
    items = b.p.values(s)
    if b.group.single:
        b.p.err(s.loc, "invalid-value", "garp_group: only one of interface or interfaces may be given")
        return
    # keepalived checks the names once the block is read: its complaints name the closing brace
    end = b.p.last_values_end
    for item in items:
        for w in item.words:
            b.group.interfaces.append((w.text, Location(item.file, end or item.line, 1 if end else w.column)))


GARP_GROUP_KEYWORDS: dict[str, Callable[[GarpBlock, Stmt], None]] = {
    "garp_interval": _interval("garp_interval_us"),
    "gna_interval": _interval("gna_interval_us"),
    "interface": _interface,
    "interfaces": _interfaces,
}


def parse_garp_group(p: Parser, written: Written, st: Stmt) -> None:
    group = WrittenGarpGroup(st.loc)
    p.block("garp_group", bind(GARP_GROUP_KEYWORDS, GarpBlock(p, group)), 1, st)
    if group.interfaces:  # keepalived keeps a group without interfaces silently; it paces nothing
        written.interfaces.garp_groups.append(group)


# --- track_group --------------------------------------------------------------------------------


@dataclass
class TrackGroupBlock:
    p: Parser
    members: list[tuple[str, Location]]
    seen: bool = False


def _track_group_members(b: TrackGroupBlock, s: Stmt) -> None:
    if b.seen:
        b.p.err(s.loc, "invalid-value", "track_group: group list already specified")
        b.p.values(s)
        return
    b.seen = True
    for item in b.p.values(s):
        for w in item.words:
            b.members.append((w.text, Location(item.file, item.line, w.column)))


TRACK_GROUP_KEYWORDS: dict[str, Callable[[TrackGroupBlock, Stmt], None]] = {"group": _track_group_members}


def parse_track_group(p: Parser, written: Written, st: Stmt) -> None:
    """`track_group NAME { group { VI_1 VI_2 } }`: the instances a static item with `track_group NAME` fails."""
    name = p.named(st)
    b = TrackGroupBlock(p, [])
    p.block("track_group", bind(TRACK_GROUP_KEYWORDS, b), 1, st)
    if name in written.interfaces.track_groups:
        p.err(st.loc, "invalid-value", f"track_group {name} already defined")
        return
    written.interfaces.track_groups[name] = (b.members, st.loc)
