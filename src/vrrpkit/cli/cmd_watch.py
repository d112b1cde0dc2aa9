"""`vrrpkit watch`: every advert on a link or in a capture as tcpdump shows it, a table per VRID, what is wrong."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from vrrpkit.cli.diagrender import fail, safe
from vrrpkit.cli.options import add_config_option

EPILOG = """\
Live (-i IFACE): taps the interface below the host firewall (our own adverts are marked "Out") with
the VRRP groups joined, so it works whether or not a daemon runs. Offline (-r FILE, - for stdin: a
pcap or pcapng, e.g. `tcpdump -i eth0 -w - | vrrpkit watch -r -`): the same table and flags, on the
capture's own clock. Flags: two masters at once for a VRID (with when each became master), a foreign
sender with other VIPs on our VRID, TTL other than 255, a password, interval or version other than
the config's (-f), bad checksums, no master for longer than Master_Down_Interval, priority-0
handovers. The summary ends with who was master of each VRID when. --json: one JSON object per line
({"type": "advert"|"flag"|"summary"}; the summary has the table, the flags and the timeline).
--report FILE.html draws the summary as one page (a timeline per VRID: who advertised when, with
which priority, the gaps and overlaps; hover a band for its times). Exit status: 0 nothing flagged,
1 something was flagged, 2 usage or environment.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "watch",
        help="show VRRP adverts on a link live or in a capture, per VRID, and flag what is wrong",
        description="Watch the VRRP adverts on one interface, or replay a capture file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-i", "--interface", dest="iface", metavar="IFACE",
                   help="the interface to tap (with -r: the one the capture was taken on, to match -f)")  # fmt: skip
    p.add_argument("-r", "--read", metavar="FILE", help="replay a pcap/pcapng capture instead (- for stdin)")
    add_config_option(p, "keepalived.conf to compare with (password, interval, VIPs, version)", aliases=["--config"])
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--json", action="store_true", help="JSON lines (docs/json.md)")
    p.add_argument("--report", metavar="FILE.html",
                   help="also write the summary as one self-contained page: a timeline per VRID of who advertised "
                   "when, with which priority, and the gaps and overlaps")  # fmt: skip
    p.set_defaults(handler=run)


def _instances(args: argparse.Namespace, iface: str | None) -> list[Any] | str:
    """The configured instances on ``iface`` (all of them when None), or an error message."""
    if not args.files:
        return []
    from vrrpkit.config import load_files
    from vrrpkit.config.files import cannot_read

    try:
        result = load_files(args.files)
    except OSError as exc:
        return cannot_read(exc)
    return [c for c in result.instances if iface is None or c.interface == iface]


def run(args: argparse.Namespace) -> int:
    if args.read is not None:
        return _replay(args)
    if not args.iface:
        return fail("watch", "give -i IFACE (live) or -r FILE (a capture)")
    return _live(args)


def _live(args: argparse.Namespace) -> int:
    import os

    from vrrpkit.diag.sysinfo import read_iface
    from vrrpkit.diag.timeline import Timeline
    from vrrpkit.diag.watch import VridTable, run_watch

    if os.geteuid() != 0:
        return fail("watch", "needs root (packet socket): run it with sudo")
    info = read_iface(args.iface)
    if not info.exists:
        return fail("watch", f"no such interface: {args.iface}")
    instances = _instances(args, args.iface)
    if isinstance(instances, str):
        return fail("watch", instances)
    own: list[Any] = []
    try:
        from vrrpkit.io import netlink

        own = [a.address for a in netlink.addresses(args.iface)]
    except OSError:
        pass
    table = VridTable(instances, own, [info.mac] if info.mac else [])
    timeline = Timeline()
    tty = sys.stdout.isatty() and not args.json
    last_table = time.monotonic()

    def tick() -> None:
        nonlocal last_table
        if tty and time.monotonic() - last_table >= 5.0:
            print(render_table(table.table()), flush=True)
            last_table = time.monotonic()

    try:
        for event in run_watch(args.iface, table, args.duration, tick=tick):
            show_event(args, event.sighting, event.flags + timeline.feed(event.sighting))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        return fail("watch", f"cannot tap {args.iface}: {exc.strerror or exc}")
    timeline.finish(time.time())
    return summary(args, args.iface, table, timeline, None)


def _replay(args: argparse.Namespace) -> int:
    from vrrpkit.cli.cmd_decode import CaptureProgress, open_binary
    from vrrpkit.diag.capture import CaptureError, CaptureReader
    from vrrpkit.diag.frames import Tally, decode_frames
    from vrrpkit.diag.timeline import Timeline
    from vrrpkit.diag.watch import VridTable, run_replay

    instances = _instances(args, args.iface)
    if isinstance(instances, str):
        return fail("watch", instances)
    ifaces = sorted({c.interface for c in instances})
    iface = args.iface or (ifaces[0] if len(ifaces) == 1 else "capture")
    instances = [c for c in instances if c.interface == iface]
    try:
        stream = open_binary(args.read)
        reader = CaptureReader(stream)
    except (OSError, CaptureError) as exc:
        return fail("watch", f"{args.read}: {getattr(exc, 'strerror', None) or exc}")
    table = VridTable(instances)
    timeline = Timeline()
    tally = Tally()
    progress = CaptureProgress(reader, args.read)

    def sightings() -> Iterator[tuple[Any, float]]:
        for result in decode_frames(progress.frames(), tally):
            if result.decoded is not None:
                yield result.decoded.sighting, result.frame.time

    with stream:
        for event in run_replay(sightings(), table, iface):
            progress.clear()
            show_event(args, event.sighting, event.flags + timeline.feed(event.sighting))
    progress.done()
    timeline.finish(tally.last_time)
    for note in reader.notes:
        print(f"vrrpkit watch: {args.read}: {note}", file=sys.stderr)
    print(f"vrrpkit watch: {args.read}: {tally.text()}", file=sys.stderr)
    return summary(args, iface, table, timeline, tally.as_dict())


def show_event(args: argparse.Namespace, s: Any, flags: list[Any]) -> None:
    from vrrpkit.diag.decode import describe, tcpdump_line

    if args.json:
        doc = {"type": "advert", "time": round(s.time, 6), "interface": s.ifname,
               "direction": "out" if s.outgoing else "in", "mac": s.mac, **describe(s),
               "flags": [f.code for f in flags]}  # fmt: skip
        print(json.dumps(doc), flush=True)
        for f in flags:
            print(json.dumps({"type": "flag", **f.as_dict()}), flush=True)
    else:
        print(f"{stamp(s.time)} {'Out' if s.outgoing else 'In '} {safe(s.mac)} {safe(tcpdump_line(s))}", flush=True)
        for f in flags:
            print(f"  !! {safe(f.code)}: {safe(flag_text(f))}", flush=True)


def summary(args: argparse.Namespace, iface: str, table: Any, timeline: Any, capture: dict[str, Any] | None) -> int:
    from vrrpkit.diag.findings import Severity
    from vrrpkit.diag.watch import MAX_FLAGS

    end = timeline.end if capture is not None and timeline.end is not None else None
    rows = table.table(end)
    flags = table.flags + timeline.flags
    doc = {"type": "summary", "interface": iface, "table": rows, "flags": [f.as_dict() for f in flags],
           "timeline": timeline.as_dict()}  # fmt: skip
    if capture is not None:
        doc["capture"] = capture
    if args.report and not write_report(args, doc, iface):
        return 2
    if args.json:
        print(json.dumps(doc))
    else:
        print(render_table(rows))
        for line in render_timeline(timeline.as_dict()):
            print(line)
        for f in flags:
            print(f"flag: {safe(f.code)}: {safe(flag_text(f))}")
        if table.flags_dropped:
            print(f"flag: {table.flags_dropped} more flags not kept (more than {MAX_FLAGS})")
    return 1 if any(f.severity is not Severity.INFO for f in flags) else 0


def write_report(args: argparse.Namespace, doc: dict[str, Any], iface: str) -> bool:
    from vrrpkit.report.capture import capture_page

    source = "standard input" if args.read == "-" else args.read or f"live on {iface}"
    try:
        with open(args.report, "w", encoding="utf-8") as fh:
            fh.write(capture_page(doc, source))
    except OSError as exc:
        fail("watch", f"cannot write {args.report}: {exc.strerror or exc}")
        return False
    return True


def flag_text(f: Any) -> str:
    """A flag's message, with the moments its evidence holds (when each master became master)."""
    masters = f.evidence.get("masters") if isinstance(f.evidence, dict) else None
    if f.code == "split-brain" and masters and all("became_master" in m for m in masters):
        return str(f.message) + " (" + ", ".join(f"{m['src']} master since {stamp(m['became_master'])}"
                                            for m in masters) + ")"  # fmt: skip
    return str(f.message)


def stamp(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{round(t % 1 * 1e6) % 1000000:06d}"


def render_timeline(doc: dict[str, Any]) -> list[str]:
    """Who was master of each VRID when, and the gaps and overlaps between them."""
    out: list[str] = []
    for v in doc["vrids"]:
        out.append(f"VRID {v['vrid']} on {v['interface'] or '-'}: who was master when")
        for m in v["masters"]:
            end = {"priority-0": "sent priority 0", "silence": "fell silent"}.get(m["ended_by"] or "", "still master")
            out.append(f"  {safe(m['src']):<26} master {stamp(m['from'])} .. {stamp(m['to'])} ({m['seconds']:.1f} s, "
                       f"{m['adverts']} adverts, priority {m['priority']}), then {end}")  # fmt: skip
        for o in v["overlaps"]:
            who = ", ".join(f"{x['src']} (master since {stamp(x['became_master'])})" for x in o["masters"])
            out.append(f"  !! two masters {stamp(o['from'])} .. {stamp(o['to'])} ({o['seconds']:.1f} s): {who}")
        for g in v["gaps"]:
            out.append(f"  !! no master {stamp(g['from'])} .. {stamp(g['to'])} ({g['seconds']:.1f} s > "
                       f"Master_Down_Interval {g['master_down_interval']:.2f} s)")  # fmt: skip
    return out


def render_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no VRRP adverts seen"
    out = [f"{'VRID':>4}  {'IF':<8} {'SOURCE':<26} {'MAC':<17} {'PRIO':>4} {'INTVL':>6} {'TTL':<7} {'ADV':>5}  "
           f"{'AUTH':<7} {'VIPS':<24} ROLE"]  # fmt: skip
    for row in rows:
        masters = set(row["masters"])
        for s in row["senders"]:
            role = "master" if s["src"] in masters else ("stopped" if s["priority"] == 0 else "silent")
            if s["ours"]:
                role += " (us)"
            out.append(
                f"{row['vrid']:>4}  {safe(row['interface']):<8} {safe(s['src']):<26} {safe(s['mac']):<17} "
                f"{s['priority']:>4} {s['interval']:>6g} {','.join(map(str, s['ttl'])):<7} {s['adverts']:>5}  "
                f"{safe(s['auth'] or '-'):<7} {safe(','.join(s['vips']) or '-'):<24} {role}"
            )
        if len(masters) > 1:
            out.append(f"{'':>4}  !! {len(masters)} masters for VRID {row['vrid']}: {', '.join(sorted(masters))}")
        if row.get("senders_evicted"):
            out.append(f"{'':>4}  !! {row['senders_evicted']} more senders not kept (spoofed sources?)")
    return "\n".join(out)
