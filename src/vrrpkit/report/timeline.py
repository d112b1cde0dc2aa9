"""Lanes of coloured bands on a time axis, drawn as one inline SVG (no script, no external style).

Every picture vrrpkit draws is this one shape: an instance's states over the last hour, each lab
host's ownership of the VIP through the demo, each sender's master periods in a capture. A lane is
one row (an instance, a host, a sender); a band is a stretch of time in one condition; a marker is
a moment (a kill, a priority-0 advert); a span crosses every lane (a demo step, two masters at
once). Each drawn element carries its words in an SVG `<title>`, which browsers show on hover, and
`class`/`data-*` attributes that say what it is, which is what the browser tests read back.

Times are plain floats on any clock (wall time, seconds since the demo began, capture time); the
caller says how to label them. Nothing here escapes twice: labels and titles are text, escaped once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vrrpkit.report.html import COLOURS, esc

LABEL_W = 150  # the lane names column
RIGHT = 16
LANE_H = 26
BAND_H = 18
SPAN_H = 22
AXIS_H = 24
LIGHT = frozenset({"INIT", "unknown"})  # kinds whose colour needs dark text
NICE_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)


@dataclass(frozen=True)
class Band:
    """[start, end) in one condition. `kind` picks the colour (a state name or a COLOURS key) and is
    the element's class; `hatched` draws it striped (not known for sure, or on a dead link)."""

    start: float
    end: float
    kind: str
    title: str
    label: str = ""
    hatched: bool = False


@dataclass(frozen=True)
class Marker:
    at: float
    title: str
    kind: str = "event"


@dataclass(frozen=True)
class Lane:
    label: str
    bands: Sequence[Band] = ()
    markers: Sequence[Marker] = ()
    sublabel: str = ""
    key: str = ""  # data-lane value; the label when empty
    overlays: Sequence[Band] = ()  # washed over the whole lane height (e.g. a split brain over MASTER)


@dataclass(frozen=True)
class Span:
    """A stretch across all lanes: a labelled strip above them and a light wash over them."""

    start: float
    end: float
    label: str
    title: str
    kind: str = "step"
    short: str = ""  # shown when the label does not fit


@dataclass(frozen=True)
class Chart:
    lanes: Sequence[Lane]
    start: float
    end: float
    tick_label: Callable[[float], str]
    spans: Sequence[Span] = ()
    width: int = 960
    title: str = ""
    ident: str = "tl"  # unique per page: prefixes the ids of the SVG's patterns
    origin: float = 0.0  # ticks fall on origin + k x step (e.g. "now" for a "-5 min" axis)


def nice_step(span: float, ticks: int = 8) -> float:
    """A round tick interval giving about `ticks` ticks over `span` seconds."""
    raw = span / max(1, ticks)
    return next((s for s in NICE_STEPS if s >= raw), NICE_STEPS[-1] * math.ceil(raw / NICE_STEPS[-1]))


def svg(chart: Chart) -> str:
    """The chart as an `<svg>` element (markup), sized to its lanes."""
    start, end = chart.start, max(chart.end, chart.start + 1e-3)
    plot_w = chart.width - LABEL_W - RIGHT
    top = SPAN_H if chart.spans else 4
    height = top + LANE_H * len(chart.lanes) + AXIS_H

    def x(t: float) -> float:
        return LABEL_W + (min(max(t, start), end) - start) / (end - start) * plot_w

    hatch = f"{chart.ident}-hatch"
    out = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{chart.width}" height="{height}" '
        f'style="max-width:100%;height:auto" '
        f'viewBox="0 0 {chart.width} {height}" role="img" aria-label="{esc(chart.title or "timeline")}">',
        f"<title>{esc(chart.title or 'timeline')}</title>",
        f'<defs><pattern id="{esc(hatch)}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff" fill-opacity="0.0"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="3" stroke-opacity="0.55"/>'
        "</pattern></defs>",
    ]
    for span in chart.spans:
        x0, x1 = x(span.start), x(span.end)
        out.append(
            f'<g class="span {esc(span.kind)}" data-label="{esc(span.label)}"><title>{esc(span.title)}</title>'
            f'<rect x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1):.1f}" height="{LANE_H * len(chart.lanes)}" '
            f'fill="{_span_fill(span.kind)}" fill-opacity="0.35"/>'
            f'<rect x="{x0:.1f}" y="2" width="{max(x1 - x0, 1):.1f}" height="{SPAN_H - 4}" '
            f'fill="{_span_fill(span.kind)}" stroke="#adb5bd" stroke-width="0.5"/>'
            f'<text x="{x0 + 3:.1f}" y="{SPAN_H - 7}">{esc(_fit(span.label, x1 - x0) or span.short)} </text></g>'
        )
    for n, lane in enumerate(chart.lanes):
        y = top + n * LANE_H
        mid = y + LANE_H / 2
        out.append(f'<g class="lane" data-lane="{esc(lane.key or lane.label)}">')
        if n % 2:
            out.append(f'<rect x="0" y="{y}" width="{chart.width}" height="{LANE_H}" fill="#f1f3f5" opacity="0.5"/>')
        name = _fit(lane.label, LABEL_W - 8)
        label = esc(name)
        if lane.sublabel and len(name) + len(lane.sublabel) + 1 <= (LABEL_W - 14) // 7:
            label += f'<tspan fill="#868e96"> {esc(lane.sublabel)}</tspan>'
        out.append(f'<text x="6" y="{mid + 4:.1f}">{label} </text>')
        for band in lane.bands:
            if band.end <= start or band.start >= end:
                continue
            out.append(_band(band, x, y + (LANE_H - BAND_H) / 2, BAND_H, hatch))
        for band in lane.overlays:
            if band.end > start and band.start < end:
                out.append(_band(band, x, y + 1, LANE_H - 2, hatch, opacity=0.9, overlay=True))
        for marker in lane.markers:
            if start <= marker.at <= end:
                mx = x(marker.at)
                out.append(
                    f'<g class="marker {esc(marker.kind)}"><title>{esc(marker.title)}</title>'
                    f'<line x1="{mx:.1f}" y1="{y + 1}" x2="{mx:.1f}" y2="{y + LANE_H - 1}" stroke="#212529" '
                    f'stroke-width="2"/><path d="M{mx - 5:.1f},{y + 1} L{mx + 5:.1f},{y + 1} L{mx:.1f},{y + 8} Z" '
                    'fill="#212529"/></g>'
                )
        out.append("</g>")
    out.append(_axis(chart, x, top + LANE_H * len(chart.lanes), start, end))
    out.append("</svg>")
    return "".join(out)


def _band(
    band: Band,
    x: Callable[[float], float],
    y: float,
    h: float,
    hatch: str,
    opacity: float = 1.0,
    overlay: bool = False,
) -> str:
    x0, x1 = x(band.start), x(band.end)
    w = max(x1 - x0, 1.5)
    colour = COLOURS.get(band.kind, "#868e96")
    cls = "overlay" if overlay else "band"
    parts = [
        f'<g class="{cls} {esc(band.kind)}" data-state="{esc(band.kind)}" data-start="{band.start!r}" '
        f'data-end="{band.end!r}"><title>{esc(band.title)}</title>',
        f'<rect x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{colour}" fill-opacity="{opacity}"/>',
    ]
    if band.hatched:
        parts.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="url(#{esc(hatch)})"/>')
    if band.label:
        text = _fit(band.label, w)
        if text:
            ink = "#212529" if band.kind in LIGHT else "#fff"
            parts.append(f'<text x="{x0 + 4:.1f}" y="{y + h / 2 + 4:.1f}" style="fill:{ink}">{esc(text)} </text>')
    parts.append("</g>")
    return "".join(parts)


def _axis(chart: Chart, x: Callable[[float], float], y: float, start: float, end: float) -> str:
    step = nice_step(end - start)
    first = chart.origin + math.ceil((start - chart.origin) / step - 1e-9) * step
    out = [
        f'<g class="axis"><line x1="{LABEL_W}" y1="{y + 1}" x2="{chart.width - RIGHT}" y2="{y + 1}" '
        'stroke="#868e96"/>'
    ]
    t = first
    while t <= end + 1e-9:
        tx = x(t)
        out.append(
            f'<line x1="{tx:.1f}" y1="{y + 1}" x2="{tx:.1f}" y2="{y + 5}" stroke="#868e96"/>'
            f'<text x="{tx:.1f}" y="{y + 17}" text-anchor="middle" style="font-size:11px;fill:#495057">'
            f"{esc(chart.tick_label(t))} </text>"
        )
        t += step
    out.append("</g>")
    return "".join(out)


def _span_fill(kind: str) -> str:
    return {"step": "#e7f5ff", "step-alt": "#f3f0ff", "cloud": "#fff4e6", "overlap": "#ffe3e3"}.get(kind, "#f1f3f5")


def _fit(text: str, width: float) -> str:
    """As much of `text` as fits in `width` pixels at about 7 px a character ('' if nothing useful)."""
    room = int((width - 6) / 7)
    if room >= len(text):
        return text
    return text[: room - 1] + "…" if room >= 4 else ""
