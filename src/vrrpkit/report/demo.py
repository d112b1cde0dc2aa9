"""`vrrpkit demo --report`: the demo's story as one page, drawn from the demo's JSON result.

The demo already measures everything (docs/json.md, "demo"): which host held the VIP at each look
(`ownership`), what it did to the lab when (`events`), each step's start, length and findings. This
page draws them: the lab, a lane per host showing when it held the VIP (three lanes green at once is
the split brain), the verdict of `vrrpkit investigate`, the lines `convert` wrote, and the measured
times against the protocol's bounds. It reads the result defensively: a failed demo (steps missing,
a lab that never came up) still gets a page that says how far it got.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from vrrpkit.report.html import COLOURS, Cell, esc, num, page, table
from vrrpkit.report.timeline import Band, Chart, Lane, Marker, Span, svg

Doc = Mapping[str, Any]


def demo_page(result: Doc) -> str:
    ok = bool(result.get("ok"))
    steps: list[Doc] = list(result.get("steps", []))
    lab: Doc = result.get("lab") or {}
    verdict = "PASSED" if ok else "FAILED"
    header = (
        "<h1>vrrpkit demo: the VIP on every host</h1>\n"
        f"<span>{esc(verdict)} in {float(result.get('seconds', 0)):.1f} s</span>\n"
        f"<span>daemon: {esc(result.get('daemon', '?'))}</span>"
    )
    body = [
        '<p>The seed incident, replayed on one machine: three hosts run the team\'s keepalived.conf, the switch '
        "starts dropping multicast the way a cloud network does, every host takes the VIP, "
        "<code>vrrpkit investigate</code> says why, <code>vrrpkit convert --to-unicast</code> fixes it, and the "
        "master is then killed to show the failover still works.</p>",
        f'<div class="banner {"passed" if ok else "fault"}" id="result">Demo {esc(verdict)}: '
        f"{sum(1 for s in steps if s.get('ok'))} of {len(steps)} steps ok</div>",
    ]
    if lab.get("hosts"):
        body += ["<h2>The lab</h2>", lab_svg(lab, result.get("events", []))]
        body += ["<h2>Who held the VIP</h2>", svg(ownership_chart(result)), _legend(lab)]
    body += ["<h2>Steps</h2>", _steps_table(steps)]
    by_number = {int(s.get("step", 0)): s for s in steps}
    investigate = by_number.get(3, {}).get("investigate")
    if isinstance(investigate, Mapping):
        body += ["<h2>Diagnosis: <code>vrrpkit investigate</code> on h2</h2>", _verdict(investigate)]
    converted = by_number.get(4, {}).get("converted")
    if converted:
        body += [
            "<h2>The fix: what <code>vrrpkit convert --to-unicast</code> wrote into h1's keepalived.conf</h2>",
            f'<pre class="converted">{esc(chr(10).join(converted))}</pre>',
        ]
    measured = timing_chart(by_number)
    if measured is not None:
        body += ["<h2>Measured against the protocol</h2>", svg(measured), _timing_text(by_number)]
    return page(f"vrrpkit demo: {verdict}", "\n".join(body), header=header,
                footer="written by vrrpkit demo --report; every time is measured, from the demo's own run")  # fmt: skip


# --- the lab --------------------------------------------------------------------------------------


def lab_svg(lab: Doc, events: Sequence[Doc]) -> str:
    """Hosts above, the switch below, a link each; the switch says what it did to multicast."""
    hosts: list[Doc] = list(lab.get("hosts", []))
    box_w, gap, width = 250, 40, 960
    total = len(hosts) * box_w + (len(hosts) - 1) * gap
    left = (width - total) / 2
    out = [
        f'<svg class="lab" xmlns="http://www.w3.org/2000/svg" width="{width}" height="220" viewBox="0 0 {width} 220" '
        'style="max-width:100%;height:auto" role="img" aria-label="the lab: hosts on one switch">',
        "<title>the lab: hosts in network namespaces on one bridge</title>",
    ]
    sw_y = 150
    for n, host in enumerate(hosts):
        x = left + n * (box_w + gap)
        cx = x + box_w / 2
        out.append(
            f'<line x1="{cx:.0f}" y1="92" x2="{cx:.0f}" y2="{sw_y}" stroke="#495057" stroke-width="2"/>'
            f'<text x="{cx + 6:.0f}" y="{(92 + sw_y) / 2 + 4:.0f}">{esc(lab.get("interface", "eth0"))} </text>'
            f'<g class="host" data-host="{esc(host.get("name", ""))}"><title>{esc(host.get("name", ""))}: '
            f'{esc(host.get("address", ""))}, MAC {esc(host.get("mac", ""))}</title>'
            f'<rect x="{x:.0f}" y="10" width="{box_w}" height="82" rx="6" fill="#fff" stroke="#495057"/>'
            f'<text x="{x + 12:.0f}" y="32" style="font-weight:600;font-size:14px">{esc(host.get("name", ""))} '
            f'<tspan style="font-weight:400;fill:#868e96">priority {esc(host.get("priority", "?"))}</tspan> </text>'
            f'<text x="{x + 12:.0f}" y="54">{esc(host.get("address", ""))}/24 </text>'
            f'<text x="{x + 12:.0f}" y="74" style="fill:#868e96">{esc(host.get("mac", ""))} </text></g>'
        )
    cloud = next((e for e in events if e.get("kind") == "cloud"), None)
    note = f"drops multicast from {float(cloud['time']):.1f} s on (like a VPC)" if cloud else "forwards everything"
    out.append(
        f'<g class="switch"><title>the switch: a Linux bridge in its own namespace; nft rules there play the '
        f'cloud</title><rect x="{left:.0f}" y="{sw_y}" width="{total:.0f}" height="50" rx="6" fill="#fff4e6" '
        f'stroke="#e8590c"/><text x="{left + 12:.0f}" y="{sw_y + 21}" style="font-weight:600;font-size:14px">'
        f'switch <tspan style="font-weight:400">(bridge {esc(lab.get("bridge", "?"))} in namespace '
        f'{esc(lab.get("switch", "?"))}) </tspan></text><text x="{left + 12:.0f}" y="{sw_y + 40}">'
        f"{esc(note)}; VIP {esc(lab.get('vip', '?'))} </text></g>"
    )
    out.append("</svg>")
    return "".join(out)


# --- the ownership timeline ------------------------------------------------------------------------


def ownership_chart(result: Doc) -> Chart:
    """A lane per host (green while `ip addr` showed the VIP on it), one for the number of holders
    (red while more than one: the split brain), one for the switch; the steps above them."""
    lab: Doc = result.get("lab") or {}
    hosts = [str(h.get("name")) for h in lab.get("hosts", [])]
    samples = [(float(o["time"]), list(o["holders"])) for o in result.get("ownership", [])]
    events: list[Doc] = list(result.get("events", []))
    steps: list[Doc] = list(result.get("steps", []))
    end = max([float(result.get("seconds", 0)), float(result.get("last_look", 0))]
              + [float(s.get("started", 0)) + float(s.get("seconds", 0)) for s in steps])  # fmt: skip
    vip = str(lab.get("vip", "the VIP"))
    dead = {h: float(e["time"]) for e in events if e.get("kind") == "power-off" for h in e.get("hosts", [])}
    lanes = [_host_lane(h, samples, end, vip, dead.get(h), events) for h in hosts]
    lanes.append(_holders_lane(samples, end, vip, dead))
    cloud = next((float(e["time"]) for e in events if e.get("kind") == "cloud"), None)
    if cloud is not None:
        removed = next((float(s["started"]) for s in steps if s.get("title") == "Lab removed"), end)
        why = "the switch drops IPv4 and IPv6 multicast (but neighbour discovery), like a VPC"
        lanes.append(Lane("switch", [Band(cloud, removed, "gap", why, "drops multicast")], key="switch"))
    spans = [
        Span(float(s.get("started", 0)), float(s.get("started", 0)) + float(s.get("seconds", 0)),
             f"{s.get('step')}. {s.get('short') or s.get('title', '')}", f"step {s.get('step')}: {s.get('title', '')} "
             f"({'ok' if s.get('ok') else 'FAILED'}, {float(s.get('seconds', 0)):.1f} s)",
             "step" if int(s.get("step", 0)) % 2 else "step-alt", short=str(s.get("step", "")))
        for s in steps
    ]  # fmt: skip
    return Chart(lanes, 0.0, end, lambda t: f"{t:.0f} s", spans=spans, title=f"who held {vip}, second by second",
                 ident="own", width=1200)  # fmt: skip


def holding_periods(host: str, samples: Sequence[tuple[float, Sequence[str]]], end: float) -> list[tuple[float, float]]:
    """[from, to) stretches during which `host` was among the holders, from change-only samples."""
    periods: list[tuple[float, float]] = []
    since: float | None = None
    for t, held in samples:
        if host in held and since is None:
            since = t
        elif host not in held and since is not None:
            periods.append((since, t))
            since = None
    if since is not None:
        periods.append((since, end))
    return periods


def _host_lane(host: str, samples: Sequence[tuple[float, Sequence[str]]], end: float, vip: str,
               dead_at: float | None, events: Sequence[Doc]) -> Lane:  # fmt: skip
    bands = []
    for start, stop in holding_periods(host, samples, end):
        cuts = [start, stop] if dead_at is None or not start < dead_at < stop else [start, dead_at, stop]
        for a, b in itertools.pairwise(cuts):
            gone = dead_at is not None and a >= dead_at
            title = (f"{host} holds {vip} from {a:.2f} s to {b:.2f} s"
                     + (" on a dead link: the address stays, nobody reaches it" if gone else ""))  # fmt: skip
            bands.append(Band(a, b, "holds", title, "VIP (dead link)" if gone else "holds VIP", hatched=gone))
    markers = [
        Marker(float(e["time"]), f"{float(e['time']):.2f} s: {e.get('what', '')}", str(e.get("kind", "event")))
        for e in events
        if host in e.get("hosts", []) and e.get("kind") != "cloud"
    ]
    return Lane(host, bands, markers, key=host)


def _holders_lane(samples: Sequence[tuple[float, Sequence[str]]], end: float, vip: str,
                  dead: Mapping[str, float]) -> Lane:  # fmt: skip
    """How many hosts answer for the VIP: a VIP left on a host whose link is down answers nobody."""
    if not samples:
        return Lane("VIP holders", [], key="holders")
    cuts = sorted({t for t, _ in samples} | {t for t in dead.values() if samples[0][0] < t < end} | {end})
    bands: list[Band] = []
    for a, b in itertools.pairwise(cuts):
        all_held = next(held for t, held in reversed(samples) if t <= a)
        held = [h for h in all_held if h not in dead or a < dead[h]]
        names = ", ".join(held)
        if held and len(held) > 1:
            band = Band(a, b, "split", f"SPLIT BRAIN: {names} all hold {vip}", f"split brain: {names}")
        elif held:
            band = Band(a, b, "MASTER", f"one master: {names}", f"one: {names}")
        else:
            band = Band(a, b, "INIT", f"nobody answers for {vip}", "nobody")
        if bands and bands[-1].kind == band.kind and bands[-1].label == band.label:
            band = Band(bands.pop().start, b, band.kind, band.title, band.label)
        bands.append(band)
    timed = [Band(x.start, x.end, x.kind, f"{x.title} ({x.start:.2f} s to {x.end:.2f} s)", x.label) for x in bands]
    return Lane("VIP holders", timed, key="holders")


def _legend(lab: Doc) -> str:
    return (
        f'<p class="legend"><span class="state MASTER">holds the VIP</span> '
        f'<span class="state" style="background:{COLOURS["split"]}">split brain</span> '
        f'<span class="state" style="background:{COLOURS["gap"]}">switch drops multicast</span> '
        '<span class="muted">each host\'s lane is what <code>ip addr</code> showed on it, looked at every 20-50 ms '
        "while a step waited for a change; markers are what the demo did (hover for when); striped: the VIP is "
        "still configured on a host whose link is down, which answers nobody (and so is not counted among the VIP's "
        "holders)</span></p>"
    )


# --- steps, verdict, timings -----------------------------------------------------------------------


def _steps_table(steps: Sequence[Doc]) -> str:
    rows: list[Sequence[str | Cell]] = []
    for s in steps:
        details = [str(d) for d in s.get("details", [])]
        rows.append((
            num(s.get("step", "")),
            esc(s.get("title", "")),
            '<span class="ok">ok</span>' if s.get("ok") else '<span class="bad">FAILED</span>',
            num(f"{float(s.get('seconds', 0)):.1f} s"),
            f"<pre>{esc(chr(10).join(details))}</pre>" if details else '<span class="muted">-</span>',
        ))  # fmt: skip
    return table(("#", "step", "result", "took", "what it showed"), rows, cls="steps",
                 row_ids=[f"step-{s.get('step')}" for s in steps])  # fmt: skip


def _verdict(report: Doc) -> str:
    findings: list[Doc] = [f for f in report.get("findings", []) if f.get("severity") in ("error", "warning")]
    out = [
        f'<p id="verdict">verdict: <b class="bad">{esc(report.get("verdict", "?"))}</b> '
        f'<span class="muted">(confidence {esc(report.get("confidence", "?"))})</span></p>'
    ]
    basis = [str(b) for b in report.get("basis", [])]
    if basis:
        out.append('<ul class="plain">' + "".join(f"<li>{esc(b)}</li>" for b in basis) + "</ul>")
    if findings:
        out.append(table(("finding", "severity", "what it saw"),
                         [(f"<b>{esc(f.get('code', ''))}</b>", esc(f.get("severity", "")), esc(f.get("message", "")))
                          for f in findings], cls="findings"))  # fmt: skip
    fix = next((f.get("fix") for f in report.get("findings", []) if f.get("code") == report.get("verdict")), None)
    if fix:
        out.append(f"<p>the fix it gives:</p><pre>{esc(fix)}</pre>")
    return "\n".join(out)


def timing_chart(by_number: Mapping[int, Doc]) -> Chart | None:
    """Measured times as bars against the protocol's bounds (RFC 3768 Master_Down_Interval)."""
    cloud, fail = by_number.get(2, {}), by_number.get(5, {})
    lanes = []
    if "split_brain_after" in cloud and "master_down_interval" in cloud:
        lanes += [
            Lane("split brain after", [Band(0, float(cloud["split_brain_after"]), "split",
                 f"every host held the VIP {float(cloud['split_brain_after']):.2f} s after the switch dropped "
                 "multicast", f"{float(cloud['split_brain_after']):.2f} s")], key="split-brain-after"),
            Lane("bound", [Band(0, float(cloud["master_down_interval"]), "unknown",
                 "Master_Down_Interval of the slowest backup (plus up to one advert interval since the master's "
                 f"last advert): {float(cloud['master_down_interval']):.3f} s",
                 f"{float(cloud['master_down_interval']):.2f} s + 1 interval")], key="split-brain-bound"),
        ]  # fmt: skip
    if "failover" in fail and "bound" in fail:
        lanes += [
            Lane("failover took", [Band(0, float(fail["failover"]), "MASTER",
                 f"h2 held the VIP {float(fail['failover']):.2f} s after h1 was killed",
                 f"{float(fail['failover']):.2f} s")], key="failover"),
            Lane("bound", [Band(0, float(fail["bound"]), "unknown",
                 f"Master_Down_Interval for h2 (priority 102): {float(fail['bound']):.3f} s after h1's last advert",
                 f"{float(fail['bound']):.2f} s")], key="failover-bound"),
        ]  # fmt: skip
    if not lanes:
        return None
    longest = max(b.end for lane in lanes for b in lane.bands)
    return Chart(lanes, 0.0, longest * 1.15, lambda t: f"{t:g} s", title="measured times and their bounds",
                 ident="timing", width=720)  # fmt: skip


def _timing_text(by_number: Mapping[int, Doc]) -> str:
    lines = []
    cloud, fail = by_number.get(2, {}), by_number.get(5, {})
    if "split_brain_after" in cloud:
        lines.append(f"split brain {float(cloud['split_brain_after']):.2f} s after multicast stopped (bound: "
                     f"Master_Down_Interval {float(cloud.get('master_down_interval', 0)):.3f} s plus up to one "
                     "advert interval)")  # fmt: skip
    if "failover" in fail:
        lines.append(f"failover in {float(fail['failover']):.2f} s (bound: Master_Down_Interval "
                     f"{float(fail.get('bound', 0)):.3f} s = 3 x 1 s + (256 - 102) / 256)")  # fmt: skip
    return '<ul class="plain timing">' + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>"
