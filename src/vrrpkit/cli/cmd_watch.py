"""`vrrpkit watch`: every advert on a link as tcpdump shows it, a table per VRID, and what is wrong."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from vrrpkit.cli.diagrender import fail
from vrrpkit.cli.options import add_config_option

EPILOG = """\
Taps the interface below the host firewall (our own adverts are marked "Out") with the VRRP groups
joined, so it works whether or not a daemon runs. Flags: two masters at once for a VRID, a foreign
sender with other VIPs on our VRID, TTL other than 255, a password, interval or version other than
the config's (-f), bad checksums. --json: one JSON object per line ({"type": "advert"|"flag"|
"summary"}). Exit status: 0 nothing flagged, 1 something was flagged, 2 usage or environment.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "watch",
        help="show VRRP adverts on a link live, per VRID, and flag what is wrong",
        description="Watch the VRRP adverts on one interface.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-i", "--interface", dest="iface", required=True, metavar="IFACE")
    add_config_option(p, "keepalived.conf to compare with (password, interval, VIPs, version)", aliases=["--config"])
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--json", action="store_true", help="JSON lines (docs/json.md)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os

    from vrrpkit.diag.decode import describe, tcpdump_line
    from vrrpkit.diag.sysinfo import read_iface
    from vrrpkit.diag.watch import VridTable, run_watch

    if os.geteuid() != 0:
        return fail("watch", "needs root (packet socket): run it with sudo")
    info = read_iface(args.iface)
    if not info.exists:
        return fail("watch", f"no such interface: {args.iface}")
    instances: list[Any] = []
    if args.files:
        from vrrpkit.config import load_files
        from vrrpkit.config.files import cannot_read

        try:
            result = load_files(args.files)
        except OSError as exc:
            return fail("watch", cannot_read(exc))
        instances = [c for c in result.instances if c.interface == args.iface]
    own: list[Any] = []
    try:
        from vrrpkit.io import netlink

        own = [a.address for a in netlink.addresses(args.iface)]
    except OSError:
        pass
    table = VridTable(instances, own, [info.mac] if info.mac else [])
    tty = sys.stdout.isatty() and not args.json
    last_table = time.monotonic()

    def tick() -> None:
        nonlocal last_table
        if tty and time.monotonic() - last_table >= 5.0:
            print(render_table(table.table()), flush=True)
            last_table = time.monotonic()

    try:
        for event in run_watch(args.iface, table, args.duration, tick=tick):
            s = event.sighting
            if args.json:
                doc = {"type": "advert", "time": round(s.time, 6), "interface": s.ifname,
                       "direction": "out" if s.outgoing else "in", "mac": s.mac, **describe(s),
                       "flags": [f.code for f in event.flags]}  # fmt: skip
                print(json.dumps(doc), flush=True)
                for f in event.flags:
                    print(json.dumps({"type": "flag", **f.as_dict()}), flush=True)
            else:
                stamp = time.strftime("%H:%M:%S", time.localtime(s.time)) + f".{int(s.time % 1 * 1e6):06d}"
                print(f"{stamp} {'Out' if s.outgoing else 'In '} {s.mac} {tcpdump_line(s)}", flush=True)
                for f in event.flags:
                    print(f"  !! {f.code}: {f.message}", flush=True)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        return fail("watch", f"cannot tap {args.iface}: {exc.strerror or exc}")
    rows = table.table()
    if args.json:
        print(json.dumps({"type": "summary", "interface": args.iface, "table": rows,
                          "flags": [f.as_dict() for f in table.flags]}))  # fmt: skip
    else:
        print(render_table(rows))
        for f in table.flags:
            print(f"flag: {f.code}: {f.message}")
    return 1 if table.flags else 0


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
                f"{row['vrid']:>4}  {row['interface']:<8} {s['src']:<26} {s['mac']:<17} {s['priority']:>4} "
                f"{s['interval']:>6g} {','.join(map(str, s['ttl'])):<7} {s['adverts']:>5}  {s['auth'] or '-':<7} "
                f"{','.join(s['vips']) or '-':<24} {role}"
            )
        if len(masters) > 1:
            out.append(f"{'':>4}  !! {len(masters)} masters for VRID {row['vrid']}: {', '.join(sorted(masters))}")
    return "\n".join(out)
