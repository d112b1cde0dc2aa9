"""`vrrpkit investigate`: one verdict, with evidence and the fix, for why a VIP misbehaves."""

from __future__ import annotations

import argparse
import json
from typing import Any

from vrrpkit.cli.diagrender import Progress, fail, finding_lines
from vrrpkit.cli.options import add_config_option, add_control_option, add_peer_option, peers_from_args

EPILOG = """\
Verdicts: healthy, multicast-blocked, split-brain, firewall-drops-vrrp, strict-mode-blocks-vip,
vrid-collision, auth-mismatch, interval-mismatch, ttl-not-255, peer-down, config-error, and more
(docs/json.md). A cause wins over its symptom: split-brain is the verdict only when no cause is
visible from this host. Exit status: 0 healthy, 1 a problem was found, 2 usage or environment
(not root, no such interface, unreadable config).

-r FILE (- for stdin) gives the verdict from a pcap/pcapng capture alone (with -f, compared with that
configuration): split brain (with when each host became master), gaps without a master, bad adverts;
nothing is sent and the host is not examined.

Live, it listens for 3 advert intervals + 2 s (--duration), asks the link who holds each VIP (ARP probes /
DAD solicitations), pings the peers, and unless --passive sends one IGMPv3 query for the VRRP group
and two protocol-112 probes to each peer (see docs/probe.md for what keepalived logs).
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "investigate",
        help="find out why the VIP is on every host (or on none): one verdict, evidence, the fix",
        description="Investigate VRRP on this host: config, interface, firewall, the link, the peers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(p, "keepalived.conf (default /etc/keepalived/keepalived.conf)", aliases=["--config"])
    p.add_argument("-i", "--interface", dest="iface", metavar="IFACE", help="examine only this interface")
    p.add_argument("-r", "--read", metavar="FILE",
                   help="judge a pcap/pcapng capture instead of this host (- for stdin)")
    add_peer_option(p, "the other hosts of the cluster (default: unicast_peer from the config); repeatable")
    p.add_argument("--duration", type=float, metavar="S", help="listening window (default 3 advert intervals + 2 s)")
    p.add_argument("--passive", action="store_true",
                   help="send no IGMP query and no protocol-112 probe (ARP probes and pings still go out)")
    p.add_argument("--signal-keepalived", action="store_true",
                   help="send keepalived SIGUSR1/SIGUSR2 before and after listening, and read the files it writes "
                        "(/tmp/keepalived.data, .stats; it overwrites them) as evidence")
    add_control_option(p)
    p.add_argument("--config-id", help="id for @ID lines (default: host name up to the first dot)")
    p.add_argument("--json", action="store_true", help="print one JSON document (docs/json.md)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vrrpkit.diag.investigate import EnvironmentProblem, Options, investigate

    try:
        peers = peers_from_args(args.peers)
    except ValueError as exc:
        return fail("investigate", f"--peer: {exc}")
    if args.duration is not None and not 0 < args.duration <= 600:
        return fail("investigate", "--duration must be 0..600 seconds")
    if args.read is not None:
        return _from_capture(args)
    opts = Options(args.files, args.iface, peers, args.duration, args.passive, args.control, args.config_id,
                   args.signal_keepalived)
    progress = Progress()
    try:
        report = investigate(opts, progress)
    except EnvironmentProblem as exc:
        progress.done()
        return fail("investigate", str(exc))
    progress.done()
    return _report(args, report)


def _from_capture(args: argparse.Namespace) -> int:
    import os

    from vrrpkit.cli.cmd_decode import open_binary
    from vrrpkit.diag.replay import CaptureProblem, investigate_capture

    for path in args.files or []:
        if not os.path.exists(path):
            return fail("investigate", f"{path}: no such file")
    progress = Progress()
    try:
        size = os.path.getsize(args.read) if args.read != "-" else 0
        with open_binary(args.read) as stream:
            report = investigate_capture(stream, args.read, args.files, args.iface, args.config_id,
                                         lambda pos: progress("reading the capture", pos / size if size else 0.0))
    except (OSError, CaptureProblem) as exc:
        progress.done()
        return fail("investigate", f"{getattr(exc, 'strerror', None) or exc}")
    progress.done()
    return _report(args, report)


def _report(args: argparse.Namespace, report: Any) -> int:
    doc = report.as_dict()
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(render(doc))
    return 1 if report.problem else 0


def render(doc: dict[str, Any]) -> str:
    lines = [f"verdict: {doc['verdict']} (confidence: {doc['confidence']})"]
    for why in doc.get("basis", []):
        lines.append(f"  - {why}")
    lines.append("")
    for f in doc["findings"]:
        lines += finding_lines(f, evidence=f["code"] == doc["verdict"])
    lines.append("")
    capture = doc.get("capture")
    if capture:
        lines.append(f"judged the capture {capture['file']} ({capture['frames']} frames, {capture['vrrp']} VRRP, "
                     f"{capture['duration']:g} s); --json for all evidence")  # fmt: skip
    else:
        lines.append(f"examined {', '.join(doc.get('interfaces', {}))} for {doc.get('window_s', 0):g} s on "
                     f"{doc.get('host', '?')}; --json for all evidence")  # fmt: skip
    return "\n".join(lines)


