"""`vrrpkit status`: ask a running daemon over its control socket."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from vrrpkit.cli.options import add_control_option
from vrrpkit.control.snapshot import Snapshot


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="show the state of a running vrrpkit daemon")
    add_control_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=status)


def status(args: argparse.Namespace) -> int:
    from vrrpkit.control import ControlError, default_path, request

    path = default_path(args.control)
    try:
        doc = request(path, "status")
    except ControlError as exc:
        print(f"vrrpkit status: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
        return 0
    print(render(Snapshot.from_json(doc)))
    return 0


def render(snap: Snapshot) -> str:
    rows = [("INSTANCE", "VRID", "IF", "STATE", "PRIO", "MASTER", "MODE", "VIPS", "IN STATE", "RX/TX", "DROPS")]
    for i in snap.instances:
        c = i.counters
        rows.append(
            (
                i.name,
                str(i.vrid),
                i.interface,
                i.state + (" (SPLIT BRAIN)" if i.split_brain else ""),
                f"{i.effective_priority}/{i.base_priority}",
                i.master or "-",
                i.mode,
                ",".join(i.vips) or "-",
                f"{i.time_in_state:.1f}s",
                f"{c['advert_rcvd']}/{c['advert_sent']}",
                str(sum(c["dropped"].values())),
            )
        )
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for i in snap.instances:
        for t in i.transitions[-3:]:
            lines.append(f"  {i.name}: {t.old} -> {t.new} ({t.reason})")
        if i.fault_reason:
            lines.append(f"  {i.name}: fault: {i.fault_reason}")
        if i.split_brain:
            lines.append(f"  {i.name}: other hosts answering for the VIP: {', '.join(i.split_brain)}")
    return "\n".join(lines)
