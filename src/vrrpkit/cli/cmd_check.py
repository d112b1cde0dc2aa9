"""`vrrpkit check`: lint keepalived.conf files before they are deployed, one host or a whole cluster."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from vrrpkit.cli.options import add_config_option
from vrrpkit.config import Diagnostic, ParseResult, load_files
from vrrpkit.config.cluster import lint_cluster
from vrrpkit.config.files import cannot_read, default_config_id
from vrrpkit.config.host import HostFacts, host_checks

EPILOG = """\
Diagnostics look like FILE:LINE:COL: severity: message [rule]. Exit status: 0 no errors (warnings are
allowed), 1 at least one error, 2 usage error (e.g. a file that cannot be read).

Several -f files are checked as one cluster (one file per host): same VRID, version, advert_int,
authentication and VIPs everywhere, unicast peer lists that name every other host, no priority ties,
at most one initial MASTER. Host checks (interfaces, source addresses, scripts) run unless --offline;
with several files they apply to the file whose source addresses belong to this host.
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "check",
        help="check keepalived.conf files as keepalived would, and what keepalived cannot see",
        description="Check keepalived.conf files: syntax, keepalived's own complaints, strict-mode traps, "
        "multicast in clouds, and (with several files) consistency across the hosts of a cluster.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(p, "a keepalived.conf; repeat for the other hosts of the cluster", required=True)
    p.add_argument("--config-id", metavar="ID",
                   help="config id for @ID lines (keepalived -i); default: host name up to the first dot")
    p.add_argument("--offline", action="store_true", help="skip the checks against this host's interfaces")
    p.add_argument("--json", action="store_true", help="print one JSON document (see docs/json.md)")
    p.set_defaults(handler=run)


def instance_rows(res: ParseResult) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for inst in res.instances:
        rows.append({
            "file": res.sources[inst.name].file,
            "name": inst.name,
            "vrid": inst.vrid,
            "interface": inst.interface,
            "version": inst.version,
            "priority": inst.priority,
            "state": inst.state,
            "mode": "unicast" if inst.unicast else "multicast",
            "peers": [str(p.address) for p in inst.unicast_peers],
            "vips": [str(v.interface) for v in inst.vips],
        })
    return rows


def _mine(res: ParseResult, facts: HostFacts) -> bool:
    have = facts.addresses()
    return any(a in have for i in res.instances for a in (i.unicast_src_ip, i.mcast_src_ip) if a is not None)


def check(
    paths: list[str], config_id: str | None, facts: HostFacts | None
) -> tuple[list[ParseResult], list[Diagnostic]]:
    """Parse every file, run host and cluster checks; raises OSError for unreadable files."""
    results = [load_files([p], config_id) for p in paths]
    diags: list[Diagnostic] = []
    for res in results:
        diags.extend(res.diagnostics)
        if facts is not None and (len(results) == 1 or _mine(res, facts)):
            diags.extend(host_checks(res, facts))
    if len(results) > 1:
        diags.extend(lint_cluster(results))
    order = {f: i for i, f in enumerate(dict.fromkeys(f for r in results for f in r.files))}
    diags.sort(key=lambda d: (order.get(d.file, len(order)), d.line, d.column))
    return results, diags


def run(args: argparse.Namespace) -> int:
    config_id = args.config_id if args.config_id is not None else default_config_id()
    facts: HostFacts | None = None
    if not args.offline:
        from vrrpkit.diag.hostfacts import gather

        try:
            facts = gather()
        except OSError as exc:
            print(f"vrrpkit check: cannot read this host's interfaces ({exc}); use --offline", file=sys.stderr)
            return 2
    try:
        results, diags = check(args.files, config_id, facts)
    except OSError as exc:
        print(f"vrrpkit check: {cannot_read(exc)}", file=sys.stderr)
        return 2
    ok = not any(d.severity == "error" for d in diags)
    if args.json:
        doc = {
            "ok": ok,
            "diagnostics": [d.as_dict() for d in diags],
            "instances": [row for res in results for row in instance_rows(res)],
        }
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for d in diags:
            print(d)
        counts = {s: sum(d.severity == s for d in diags) for s in ("error", "warning", "info")}
        n = sum(len(r.instances) for r in results)
        print(f"{len(results)} file(s), {n} instance(s): {counts['error']} error(s), {counts['warning']} "
              f"warning(s), {counts['info']} note(s)", file=sys.stderr)
    return 0 if ok else 1
