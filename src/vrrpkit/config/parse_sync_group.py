"""vrrp_sync_group: instances that change state together, with their notify scripts and trackers.

Members are recorded by name; whether they exist, and what a member's tracker weights become, is
decided by `semantics` once every instance is read (a group may come before its instances).
Adding a keyword is an entry in `KEYWORDS` and its name in `keywords.IMPLEMENTED["vrrp_sync_group"]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vrrpkit.config.diagnostics import Location
from vrrpkit.config.keywords import NOTIFY_EVENTS
from vrrpkit.config.lexer import Stmt
from vrrpkit.config.parse_items import notify_line, track_ref
from vrrpkit.config.parser import Parser, bind
from vrrpkit.config.written import Written, WrittenGroup
from vrrpkit.core.config import TrackKind


@dataclass
class GroupBlock:
    """What a sync-group keyword's handler works on: the parser, the file (scripts are noted file-wide), the group."""

    p: Parser
    written: Written
    grp: WrittenGroup


GroupHandler = Callable[[GroupBlock, Stmt], None]


def _group(b: GroupBlock, s: Stmt) -> None:
    """`group { NAME... }`: any number of names per line."""
    for item in b.p.values(s):
        for w in item.words:
            b.grp.members.append((w.text, Location(item.file, item.line, w.column)))


def _notify(b: GroupBlock, s: Stmt) -> None:
    if len(s.words) < 2:
        b.p.arg(s)
        return
    if not b.p.first_wins(b.grp.notify_lines, s, f"{s.keyword} (a script for this event)"):
        return
    b.grp.notify.append(notify_line(s, NOTIFY_EVENTS[s.keyword]))
    b.written.note_script(s.loc)


def _tracks(kind: TrackKind, limit: int) -> GroupHandler:
    def handle(b: GroupBlock, s: Stmt) -> None:
        for item in b.p.values(s):
            b.grp.tracks.append(track_ref(b.p, item, kind, limit))

    return handle


def _tracking_weight(b: GroupBlock, s: Stmt) -> None:
    b.grp.tracking_weight = True


def _global_tracking(b: GroupBlock, s: Stmt) -> None:
    """Deprecated: keepalived treats it as sync_group_tracking_weight and says so."""
    b.p.err(s.loc, "deprecated-keyword",
            f"({b.grp.name}) global_tracking is deprecated. Use track_interface/script/file on the sync group")
    b.grp.tracking_weight = True


def _notify_priority_changes(b: GroupBlock, s: Stmt) -> None:
    b.grp.notify_priority_changes = b.p.bool_arg(s)


def _smtp_alert(b: GroupBlock, s: Stmt) -> None:
    b.grp.smtp_alert = b.p.bool_arg(s)


KEYWORDS: dict[str, GroupHandler] = {
    "group": _group,
    **{k: _notify for k in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")},
    "track_interface": _tracks(TrackKind.INTERFACE, 253),
    "track_script": _tracks(TrackKind.SCRIPT, 253),
    "track_file": _tracks(TrackKind.FILE, 254),
    "track_process": _tracks(TrackKind.PROCESS, 254),
    "sync_group_tracking_weight": _tracking_weight,
    "global_tracking": _global_tracking,
    "notify_priority_changes": _notify_priority_changes,
    "smtp_alert": _smtp_alert,
}


def parse_vrrp_sync_group(p: Parser, written: Written, st: Stmt) -> None:
    grp = WrittenGroup(p.named(st), st.loc)
    p.block("vrrp_sync_group", bind(KEYWORDS, GroupBlock(p, written, grp)), 1, st)
    written.groups.append(grp)
