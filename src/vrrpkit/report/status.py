"""The daemon's status page: the `Snapshot` as one HTML page an on-call person reads first.

Who holds the VIP now, since when, who held it before and why it moved: a row per instance, a
banner when this host sees a split brain or a FAULT, and each instance's states over the last hour
as a timeline whose bands say on hover which transition began them and why. The timeline is drawn
from the transitions the snapshot already carries (recorded once per state change, never per
advert), so nobody looking costs the daemon nothing, and looking costs one rendering.
"""

from __future__ import annotations

from collections.abc import Sequence

from vrrpkit.control.snapshot import InstanceStatus, Snapshot, TrackStatus, TransitionRecord
from vrrpkit.report.html import Cell, clock, duration, esc, items, num, page, state_badge, table
from vrrpkit.report.timeline import Band, Chart, Lane, svg

WINDOW = 3600.0  # the timeline shows at most the last hour
MIN_WINDOW = 60.0  # and at least a minute, so a fresh daemon's first seconds are not a blur
REFRESH = 5  # seconds between the page's own reloads


def status_page(snap: Snapshot, now: float, *, refresh: int = REFRESH) -> str:
    """The page for `snap`, taken at wall-clock `now`."""
    states = _state_counts(snap.instances)
    name = snap.router_id or snap.hostname
    host = f" <small>(host {esc(snap.hostname)})</small>" if name != snap.hostname else ""
    header = (
        f"<h1>vrrpkit on {esc(name)}{host}</h1>\n"
        f"<span>{esc(states)}</span>\n"
        f"<span>updated {esc(clock(now))}, every {refresh} s</span>"
    )
    body = [_banners(snap, now)]
    body.append("<h2>Instances</h2>")
    body.append(instance_table(snap.instances, now) if snap.instances else "<p>No vrrp_instance is configured.</p>")
    if snap.instances:
        start = window_start(snap, now)
        body.append(f"<h2>Last {esc(duration(now - start))}</h2>")
        body.append(svg(state_chart(snap.instances, start, now)))
        body.append(_legend())
        body.append("<h2>Transitions</h2>")
        body.append(transition_table(snap.instances, start))
    if snap.scripts:
        body.append("<h2>Scripts</h2>")
        body.append(
            table(
                ("script", "status", "last exit", "error"),
                [
                    (
                        esc(name),
                        _ok(s.ok),
                        num("-" if s.last_rc is None else s.last_rc),
                        esc(s.error or ""),
                    )
                    for name, s in sorted(snap.scripts.items())
                ],
                cls="scripts",
            )
        )
    counted = {k: v for k, v in sorted(snap.counters.items()) if v}
    if counted:
        body.append("<h2>Daemon</h2>")
        body.append(table(("what", "count"), [
            (f'<span class="bad">{esc(k)}</span>' if _is_failure(k) else esc(k), num(v)) for k, v in counted.items()
        ], cls="daemon-counters"))  # fmt: skip
    footer = (
        f"pid {snap.pid} · up {esc(duration(snap.uptime))} · {snap.reloads} reload(s) · "
        f"{snap.unknown_vrid_packets} advert(s) for VRIDs not configured here · "
        '<a href="status.json">status.json</a> · <a href="metrics">metrics</a> · read-only'
    )
    return page(f"vrrpkit {name}: {states}", "\n".join(body), refresh=refresh, header=header, footer=footer)


def _state_counts(instances: Sequence[InstanceStatus]) -> str:
    counts: dict[str, int] = {}
    for inst in instances:
        counts[inst.state] = counts.get(inst.state, 0) + 1
    order = ["MASTER", "BACKUP", "FAULT", "INIT"]
    ranked = sorted(counts, key=lambda s: (order.index(s) if s in order else len(order), s))
    return ", ".join(f"{counts[s]} {s}" for s in ranked) or "no instances"


def _banners(snap: Snapshot, now: float) -> str:
    out = []
    split = [inst for inst in snap.instances if inst.split_brain]
    for n, inst in enumerate(split):
        since = f" since {clock(inst.split_brain_since)}" if inst.split_brain_since else ""
        vip = inst.vips[0] if inst.vips else "its VIP"
        advice = (
            "<br><small>Adverts are not getting through between these hosts (a network that drops multicast, "
            "or a firewall): run <code>vrrpkit investigate</code> here.</small>"
            if n == len(split) - 1
            else ""
        )
        out.append(
            f'<div class="banner split-brain" data-instance="{esc(inst.name)}">SPLIT BRAIN{esc(since)}: '
            f"{esc(inst.name)} is MASTER here and {esc(', '.join(inst.split_brain))} also answer(s) for "
            f"{esc(vip)}.{advice}</div>"
        )
    for inst in snap.instances:
        if inst.state == "FAULT":
            why = inst.fault_reason or "no reason recorded"
            out.append(
                f'<div class="banner fault" data-instance="{esc(inst.name)}">FAULT: {esc(inst.name)} for '
                f"{esc(duration(inst.time_in_state))}: {esc(why)}</div>"
            )
    return "\n".join(out)


def instance_table(instances: Sequence[InstanceStatus], now: float) -> str:
    head = ("instance", "interface, VRID", "state", "priority", "VIPs", "master (seen from here)", "tracking",
            "adverts in / out", "errors", "split brain")  # fmt: skip
    rows: list[Sequence[str | Cell]] = []
    for i in instances:
        version = f"v{i.version}" + (" unicast" if i.mode == "unicast" else "")
        rows.append(
            (
                _name(i),
                f"{esc(i.interface)}<br>VRID {i.vrid} <span class=\"muted\">{esc(version)}</span>",
                f"{state_badge(i.state)}<br><span class=\"muted\">for {esc(duration(i.time_in_state))}</span>",
                _priority(i),
                items(i.vips),
                _master(i),
                _tracking(i),
                num(f"{i.counters.get('advert_rcvd', 0)} / {i.counters.get('advert_sent', 0)}"),
                _errors(i),
                _split(i),
            )
        )
    return table(head, rows, cls="instances", row_ids=[f"instance-{i.name}" for i in instances])


def _name(i: InstanceStatus) -> str:
    group = f'<br><span class="muted">group {esc(i.sync_group)}</span>' if i.sync_group else ""
    return f"<b>{esc(i.name)}</b>{group}"


def _priority(i: InstanceStatus) -> Cell:
    text = f"{i.effective_priority}"
    if i.effective_priority != i.base_priority:
        text += f' <span class="muted">(configured {i.base_priority})</span>'
    return Cell(text, "num")


def _master(i: InstanceStatus) -> str:
    if i.state == "MASTER":
        return f"this host ({esc(i.address or '?')})"
    if i.master:
        prio = f", priority {i.master_priority}" if i.master_priority is not None else ""
        return f"{esc(i.master)}{esc(prio)}"
    return '<span class="muted">none heard</span>'


def _tracking(i: InstanceStatus) -> str:
    lines = []
    if i.fault_reason:
        lines.append(f'<span class="bad">fault: {esc(i.fault_reason)}</span>')
    lines += [_track(t) for t in i.tracks]
    if i.peers:
        lines.append("peers " + esc(", ".join(i.peers)))
    return "<br>".join(lines) if lines else '<span class="muted">-</span>'


def _track(t: TrackStatus) -> str:
    """One tracked object: what it is, whether it is fine, and what that does to the priority."""
    effect = "FAULT when failed" if t.weight == 0 else f"weight {t.weight:+d}"
    if t.kind == "file":
        status = f"value {t.value}" if t.value is not None else '<span class="muted">unread</span>'
    elif t.ok is None:
        status = '<span class="muted">not run yet</span>'
    else:
        up, down = ("up", "down") if t.kind == "interface" else ("ok", "failed")
        status = f'<span class="ok">{up}</span>' if t.ok else f'<span class="bad">{down}</span>'
    return f'{esc(t.kind)} {esc(t.name)}: {status} <span class="muted">({esc(effect)})</span>'


def _errors(i: InstanceStatus) -> str:
    dropped = i.counters.get("dropped", {})
    found = [(k, v) for k, v in sorted(dropped.items()) if v] + [(k, v) for k, v in sorted(i.mismatches.items()) if v]
    if not found:
        return '<span class="muted">none</span>'
    return "<br>".join(f'<span class="bad">{esc(k)}</span> {v}' for k, v in found)


def _split(i: InstanceStatus) -> str:
    if i.split_brain:
        return '<span class="bad">YES</span>, also answering:<br>' + "<br>".join(esc(m) for m in i.split_brain)
    events = f" ({i.split_brain_events} before)" if i.split_brain_events else ""
    return f'<span class="ok">no</span>{esc(events)}'


def _is_failure(counter: str) -> bool:
    return any(word in counter for word in ("failed", "dropped", "refused"))


def _ok(ok: bool | None) -> str:
    if ok is None:
        return '<span class="muted">not run yet</span>'
    return '<span class="ok">ok</span>' if ok else '<span class="bad">failed</span>'


# --- the timeline -----------------------------------------------------------------------------------


def window_start(snap: Snapshot, now: float) -> float:
    """The last hour, or since the daemon started when that is shorter (but at least a minute)."""
    started = now - snap.uptime
    return min(max(now - WINDOW, started), now - MIN_WINDOW)


def state_bands(inst: InstanceStatus, start: float, now: float) -> list[Band]:
    """The instance's states between `start` and `now`, from its transitions.

    Before its first recorded transition the instance was in that transition's old state; if older
    transitions were dropped (more than the snapshot keeps), that stretch is drawn hatched, since
    other states may have come and gone in it. Before an instance's very first transition (out of
    INIT at start) nothing is drawn: it was not running.
    """
    records = sorted(inst.transitions, key=lambda t: t.at)
    bands: list[Band] = []
    if not records:
        return [Band(start, now, inst.state, f"{inst.state} for {duration(inst.time_in_state)}", inst.state)]
    first = records[0]
    complete = inst.transitions_total <= len(records)
    if first.at > start and not (complete and first.old == "INIT"):
        title = f"{first.old} until {clock(first.at)}"
        if not complete:
            title += " (older transitions not kept: other states may have come between)"
        bands.append(Band(start, first.at, first.old, title, first.old, hatched=not complete))
    for n, rec in enumerate(records):
        until = records[n + 1].at if n + 1 < len(records) else now
        if until <= start:
            continue
        bands.append(Band(rec.at, until, rec.new, _band_title(rec, until, now), rec.new))
    return bands


def _band_title(rec: TransitionRecord, until: float, now: float) -> str:
    why = rec.reason or rec.event or "no reason recorded"
    if rec.event and rec.reason and rec.event != rec.reason:
        why = f"{rec.reason} ({rec.event})"
    end = "now" if until >= now else clock(until, ms=True)
    began = f"{rec.old} -> {rec.new} at {clock(rec.at, ms=True)}: {why}."
    return f"{began} {rec.new} until {end} ({duration(until - rec.at)})"


def state_chart(instances: Sequence[InstanceStatus], start: float, now: float) -> Chart:
    lanes = []
    for inst in instances:
        overlays = []
        if inst.split_brain and inst.split_brain_since is not None:
            since = inst.split_brain_since
            who = ", ".join(inst.split_brain)
            title = f"{inst.name}: split brain since {clock(since)}: {who} also answer(s) for the VIP"
            overlays.append(Band(since, now, "split", title, "SPLIT BRAIN", hatched=True))
        bands = state_bands(inst, start, now)
        lanes.append(Lane(inst.name, bands, sublabel=f"vrid {inst.vrid}", key=inst.name, overlays=overlays))
    span = now - start

    def tick(t: float) -> str:
        ago = now - t
        if ago < 0.5:
            return "now"
        return f"-{ago:.0f} s" if span <= 120 else f"-{ago / 60:.0f} min"

    return Chart(lanes, start, now, tick, title="instance states over time", ident="states", width=1200,
                 origin=now)  # fmt: skip


def _legend() -> str:
    return (
        '<p class="legend"><span class="state MASTER">MASTER</span> <span class="state BACKUP">BACKUP</span> '
        '<span class="state FAULT">FAULT</span> <span class="state INIT">INIT</span> '
        '<span class="muted">hover a band for the transition that began it and why; striped: not known for '
        "sure</span></p>"
    )


def transition_table(instances: Sequence[InstanceStatus], start: float) -> str:
    recs = sorted(((t, i.name) for i in instances for t in i.transitions if t.at >= start), key=lambda x: -x[0].at)
    if not recs:
        return '<p class="muted">No transition in this window.</p>'
    rows = []
    for t, name in recs:
        why = esc(t.reason)
        if t.event and t.event != t.reason:
            why += f' <span class="muted">({esc(t.event)})</span>'
        rows.append((esc(clock(t.at, ms=True)), esc(name), state_badge(t.old), state_badge(t.new), why))
    return table(("time", "instance", "from", "to", "why"), rows, cls="transitions")
