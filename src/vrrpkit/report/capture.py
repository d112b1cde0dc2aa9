"""`vrrpkit watch -r CAPTURE --report`: who advertised each VRID when, drawn from watch's summary.

The summary (docs/json.md, "watch") carries a timeline per VRID: each sender's runs of adverts
(master periods, with their priorities), priority-0 handovers, gaps longer than Master_Down_Interval
with no master, and overlaps where two masters advertised at once. This page gives each VRID a chart
with a lane per sender and a lane for what went wrong (gaps, overlaps), on the capture's own clock,
then the per-VRID table and the flags. It reads the document defensively: any key may be missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from vrrpkit.report.html import Cell, esc, items, num, page, table
from vrrpkit.report.timeline import Band, Chart, Lane, Marker, svg

Doc = Mapping[str, Any]


def stamp(t: float) -> str:
    """The capture's clock as tcpdump prints it (the capturing host's time of day)."""
    moment = datetime.fromtimestamp(t)
    return moment.strftime("%H:%M:%S") + f".{moment.microsecond // 1000:03d}"


def capture_page(summary: Doc, source: str) -> str:
    timeline: Doc = summary.get("timeline") or {}
    start, end = timeline.get("start"), timeline.get("end")
    vrids: list[Doc] = list(timeline.get("vrids", []))
    flags: list[Doc] = list(summary.get("flags", []))
    span = f"{stamp(start)} to {stamp(end)} ({end - start:.1f} s)" if start is not None and end is not None else ""
    header = f"<h1>Capture {esc(source)}</h1>\n<span>{esc(span)}</span>"
    body = []
    bad = [f for f in flags if f.get("severity") in ("error", "warning")]
    for f in bad:
        kind = "split-brain" if f.get("code") == "split-brain" else "fault"
        body.append(f'<div class="banner {kind}" data-code="{esc(f.get("code", ""))}">{esc(f.get("code", ""))}: '
                    f"{esc(f.get('message', ''))}</div>")  # fmt: skip
    if not vrids:
        body.append("<p>No VRRP advertisement in this capture.</p>")
    for n, vrid in enumerate(vrids):
        family = "IPv6" if vrid.get("family") == 6 else "IPv4"
        body.append(f"<h2>VRID {esc(vrid.get('vrid'))} on {esc(vrid.get('interface') or '-')} ({family})</h2>")
        if start is not None and end is not None:
            body.append(svg(vrid_chart(vrid, float(start), float(end), ident=f"v{n}")))
    if vrids:
        body.append(
            '<p class="legend"><span class="state MASTER">advertising as master</span> '
            '<span class="state" style="background:#c92a2a">two masters</span> '
            '<span class="state" style="background:#f08c00">no master</span> <span class="muted">hover a band '
            "for when, how many adverts, which priority; a marker is a priority-0 advert (a master giving "
            "up)</span></p>"
        )
    rows: list[Doc] = list(summary.get("table", []))
    if rows:
        body += ["<h2>Senders</h2>", sender_table(rows)]
    if flags:
        body.append("<h2>Flags</h2>")
        body.append(table(("flag", "severity", "message"), [
            (f"<b>{esc(f.get('code', ''))}</b>", esc(f.get("severity", "")), esc(f.get("message", "")))
            for f in flags], cls="flags"))  # fmt: skip
    tally = summary.get("capture")
    footer = "written by vrrpkit watch -r --report"
    if isinstance(tally, Mapping):
        footer += f" · {esc(tally.get('frames', '?'))} frames, {esc(tally.get('vrrp', '?'))} VRRP"
    return page(f"vrrpkit watch: {source}", "\n".join(body), header=header, footer=footer)


def vrid_chart(vrid: Doc, start: float, end: float, ident: str) -> Chart:
    masters: list[Doc] = list(vrid.get("masters", []))
    releases: list[Doc] = list(vrid.get("releases", []))
    senders = sorted({str(r.get("src")) for r in masters + releases}, key=_address_key)
    lanes = []
    for src in senders:
        bands = [
            Band(float(r["from"]), max(float(r["to"]), float(r["from"]) + float(r.get("interval") or 1.0)), "MASTER",
                 f"{src} advertised as master from {stamp(float(r['from']))} to {stamp(float(r['to']))} "
                 f"({float(r.get('seconds', 0)):.1f} s, {r.get('adverts', '?')} adverts, priority "
                 f"{_priorities(r)}), then {_ended(r)}", f"priority {_priorities(r)}")
            for r in masters if str(r.get("src")) == src
        ]  # fmt: skip
        markers = [
            Marker(float(h["time"]), f"{stamp(float(h['time']))}: {src} sent priority 0 (stopping, or leaving "
                   f"MASTER; master since {stamp(float(h.get('master_since', h['time'])))})", "priority-0")
            for h in vrid.get("handovers", []) if str(h.get("src")) == src
        ]  # fmt: skip
        lanes.append(Lane(src, bands, markers, key=src))
    trouble = [
        Band(float(g["from"]), float(g["to"]), "gap", f"no master advertised for {float(g.get('seconds', 0)):.2f} s "
             f"(Master_Down_Interval {float(g.get('master_down_interval', 0)):.2f} s), {stamp(float(g['from']))} to "
             f"{stamp(float(g['to']))}" + (f"; then {g['next_master']}" if g.get("next_master") else ""),
             "no master", hatched=True)
        for g in vrid.get("gaps", [])
    ] + [
        Band(float(o["from"]), float(o["to"]), "split", f"two masters for {float(o.get('seconds', 0)):.2f} s, "
             f"{stamp(float(o['from']))} to {stamp(float(o['to']))}: " + ", ".join(
                 f"{m.get('src')} (priority {m.get('priority')}, master since {stamp(float(m['became_master']))})"
                 for m in o.get("masters", [])), "two masters")
        for o in vrid.get("overlaps", [])
    ]  # fmt: skip
    lanes.append(Lane("gaps, overlaps", trouble, key="trouble"))

    def tick(t: float) -> str:
        return f"+{round(t - start, 3):g} s"

    return Chart(lanes, start, end, tick, title=f"VRID {vrid.get('vrid')}: who advertised when", ident=ident,
                 width=1200, origin=start)  # fmt: skip


def sender_table(rows: Sequence[Doc]) -> str:
    out: list[Sequence[str | Cell]] = []
    for row in rows:
        for s in row.get("senders", []):
            out.append((
                f"{esc(row.get('vrid'))} {esc(row.get('instance') or '')}",
                esc(s.get("src", "")) + (' <span class="muted">(this host)</span>' if s.get("ours") else ""),
                esc(s.get("mac", "")),
                num(s.get("adverts", 0)),
                num(s.get("priority", "")),
                num(f"{s.get('interval', '')} s"),
                esc(f"v{s.get('version', '?')} {s.get('mode', '')}"),
                items([str(v) for v in s.get("vips", [])]),
            ))  # fmt: skip
    return table(("VRID", "sender", "MAC", "adverts", "priority", "interval", "version", "VIPs"), out, cls="senders")


def _priorities(run: Doc) -> str:
    seen = [str(p.get("priority")) for p in run.get("priorities", [])]
    return " -> ".join(seen) if len(seen) > 1 else str(run.get("priority", "?"))


def _ended(run: Doc) -> str:
    endings = {"priority-0": "sent priority 0", "silence": "fell silent"}
    return endings.get(str(run.get("ended_by")), "still advertising")


def _address_key(src: str) -> tuple[int, str]:
    parts = src.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return (0, ".".join(f"{int(p):03d}" for p in parts))
    return (1, src)
