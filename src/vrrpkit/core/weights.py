"""keepalived's arithmetic of track weights: what trackers do to an instance's priority.

Pure functions of the configuration and the trackers' current values, shared by the router (its
effective priority and its own faults) and kept apart from it: the numbers are keepalived's
(vrrp_track.c), measured against it, and have nothing to do with the protocol's timing.
"""

from __future__ import annotations

from collections.abc import Mapping

from vrrpkit.core.config import PRIORITY_OWNER, InstanceConfig, TrackKind

FILE_FAULT = -254
TrackValue = bool | int | None


def file_status(weight: int, reverse: bool, value: int) -> int:
    """keepalived's track_file arithmetic (vrrp_track.c): value x weight, clamped to -254..253."""
    if weight == 0:
        return FILE_FAULT if value else 0
    status = value * weight * (-1 if reverse else 1)
    return max(FILE_FAULT, min(253, status))


def effective_priority(cfg: InstanceConfig, tracks: Mapping[str, TrackValue]) -> int:
    """Base priority plus the weights of the trackers that apply, clamped to 1..254; 255 for the
    address owner (keepalived: the owner ignores weights)."""
    if cfg.owner:
        return PRIORITY_OWNER
    total = cfg.priority
    for track in cfg.tracks:
        value = tracks[track.name]
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
