"""Tracked objects to an effective priority or a fault: keepalived's weight arithmetic, pure.

The router keeps the values its trackers last reported (script ok, interface up, a file's integer);
these functions turn them into the priority it advertises and, for weight-0 trackers and files at
-254, the reason it must be in FAULT (vrrp_track.c).
"""

from __future__ import annotations

from collections.abc import Mapping

from vrrpkit.core.config import PRIORITY_OWNER, InstanceConfig, TrackKind

TrackValue = bool | int | None
FILE_FAULT = -254


def effective_priority(cfg: InstanceConfig, values: Mapping[str, TrackValue]) -> int:
    """Base priority plus track weights, clamped to 1..254; 255 for the owner (weights ignored)."""
    if cfg.owner:
        return PRIORITY_OWNER
    total = cfg.priority
    for track in cfg.tracks:
        value = values[track.name]
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
    """Why a tracker holds the instance in FAULT (weight 0 failed, or a file at -254), or None."""
    for track in cfg.tracks:
        value = values[track.name]
        if track.kind is TrackKind.FILE:
            if file_status(track.weight, track.reverse, int(value or 0)) <= FILE_FAULT:
                return f"tracked file {track.name} = {value}"
        elif track.weight == 0 and value is not None and bool(value) is track.reverse:
            return f"tracked {track.kind.value} {track.name} {'ok (reverse)' if value else 'failed'}"
    return None


def file_status(weight: int, reverse: bool, value: int) -> int:
    """keepalived's track_file arithmetic (vrrp_track.c): value x weight, clamped to -254..253."""
    if weight == 0:
        return FILE_FAULT if value else 0
    status = value * weight * (-1 if reverse else 1)
    return max(FILE_FAULT, min(253, status))
