"""Tracked objects to priority and fault, with keepalived's arithmetic (vrrp_track.c).

Pure functions of an instance's config and the last value each tracker reported, so that the
router, a reload (which keeps the values of trackers it still has) and tests share one rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from vrrpkit.core.config import PRIORITY_OWNER, InstanceConfig, Track, TrackKind

FILE_FAULT = -254

TrackValue = bool | int | None  # script/process ok (None: not looked at yet), interface up, file integer
# Trackers with no value until they first report (a script's first run, a process table's first look).
UNKNOWN_AT_START = frozenset({TrackKind.SCRIPT, TrackKind.PROCESS})


def initial_value(track: Track) -> TrackValue:
    """What a tracker counts as before it reports: a script or process is unknown, an interface up, a file 0."""
    if track.kind in UNKNOWN_AT_START:
        return None
    return True if track.kind is TrackKind.INTERFACE else 0


def file_status(weight: int, reverse: bool, value: int) -> int:
    """keepalived's track_file arithmetic: value x weight, clamped to -254..253."""
    if weight == 0:
        return FILE_FAULT if value else 0
    status = value * weight * (-1 if reverse else 1)
    return max(FILE_FAULT, min(253, status))


def file_fault(track: Track, value: TrackValue) -> bool:
    """A track_file's value holds the instance in FAULT (weight 0 and non-zero, or a weighted -254)."""
    return file_status(track.weight, track.reverse, int(value or 0)) <= FILE_FAULT


def effective_priority(cfg: InstanceConfig, values: Mapping[str, TrackValue]) -> int:
    """Base plus track weights, clamped to 1..254; 255 for the owner (keepalived: it ignores weights)."""
    if cfg.owner:
        return PRIORITY_OWNER
    total = cfg.priority
    for track in cfg.tracks:
        value = values.get(track.name)
        if track.weight == 0 or value is None:
            continue
        if track.kind is TrackKind.FILE:
            total += max(file_status(track.weight, track.reverse, int(value)), FILE_FAULT + 1)
            continue
        sign = -1 if track.reverse else 1
        ok = bool(value)
        if (track.weight > 0 and ok) or (track.weight < 0 and not ok):
            total += track.weight * sign
    return max(1, min(254, total))


def track_fault(cfg: InstanceConfig, values: Mapping[str, TrackValue]) -> str | None:
    """Why a tracked object holds the instance in FAULT (weight 0 and failed, or a file at -254)."""
    for track in cfg.tracks:
        value = values.get(track.name)
        if track.kind is TrackKind.FILE:
            if file_fault(track, value):
                return f"tracked file {track.name} = {value}"
        elif track.weight == 0 and value is not None and bool(value) is track.reverse:
            if track.vip:  # nobody wrote this track: say why it is one
                return f"interface {track.name} failed (a VIP is on it)"
            return f"tracked {track.kind.value} {track.name} {'ok (reverse)' if value else 'failed'}"
    return None


def waiting_for_scripts(cfg: InstanceConfig, values: Mapping[str, TrackValue]) -> bool:
    """A weight-0 script (or process) has not reported yet: keepalived keeps the instance in INIT until it does."""
    return any(t.kind in UNKNOWN_AT_START and t.weight == 0 and values.get(t.name) is None for t in cfg.tracks)
