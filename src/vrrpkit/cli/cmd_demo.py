"""`vrrpkit demo`: the seed incident, replayed, diagnosed and fixed in network namespaces."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="replay the multicast split brain in a lab, diagnose it, fix it, fail over",
        description="Builds three hosts in network namespaces with the seed's keepalived.conf, makes the "
        "switch drop multicast like a VPC (every host takes the VIP), runs `vrrpkit investigate`, applies "
        "`vrrpkit convert --to-unicast`, reloads, and kills the master. Needs root. About a minute.",
    )
    p.add_argument("--keep", action="store_true", help="leave the lab up at the end (remove: vrrpkit lab down)")
    p.add_argument("--with-keepalived", action="store_true", help="keepalived as the daemon, vrrpkit as the doctor")
    p.add_argument("--name", default="demo", help="lab name (default demo)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of the narration")
    p.add_argument(
        "--report",
        metavar="FILE.html",
        help="also write the story as one self-contained page: the lab, who held the VIP when, the verdict, "
        "the fix, the measured times (written whether the demo passes or not)",
    )
    p.set_defaults(handler=demo)


def demo(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("vrrpkit demo: must run as root (network namespaces)", file=sys.stderr)
        return 2
    from vrrpkit.lab import LabError
    from vrrpkit.lab.demo import Demo

    runner = Demo(keep=args.keep, with_keepalived=args.with_keepalived, name=args.name, quiet=args.json, out=sys.stdout)
    try:
        ok = runner.run()
    except LabError as exc:
        print(f"vrrpkit demo: {exc}", file=sys.stderr)
        return 2
    result = runner.result()
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.report:
        from vrrpkit.report.demo import demo_page

        try:
            with open(args.report, "w", encoding="utf-8") as fh:
                fh.write(demo_page(result))
        except OSError as exc:
            print(f"vrrpkit demo: cannot write {args.report}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        if not args.json:
            print(f"Report: {args.report}")
    return 0 if ok else 1
