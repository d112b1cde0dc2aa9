"""`vrrpkit probe`: protocol 112 and UDP, multicast and unicast, between hosts (run it on all at once)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from vrrpkit.cli.diagrender import Progress, fail
from vrrpkit.cli.options import add_peer_option, peers_from_args

EPILOG = """\
Start it on every host within a second or two, with the same --peer list (this host's own address
may be in it), like omping. Paths: vrrp-multicast (protocol 112 to 224.0.0.18 / ff02::12, TTL 255:
exactly an advert), vrrp-unicast, udp-multicast (239.255.112.112 / ff12::112 port 50112, TTL 1),
udp-unicast. Each host echoes what it hears on the path it arrived by, so every row measures one
path; it answers hosts of its own subnets and the --peer list only, at a bounded rate, and signs its
replies (--key-file: with a secret all hosts share; otherwise with keys derived per run).
"received" counts echoes of our requests, "heard" counts the peer's own requests. The wire format is
docs/probe.md. Exit status: 0 no loss, 1 a path lost packets, 2 usage or environment.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "probe",
        help="test protocol 112 and UDP, multicast and unicast, between hosts (like omping)",
        description="Probe the paths VRRP needs between this host and its peers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_peer_option(p, "the other hosts (repeatable, comma lists allowed)", required=True)
    p.add_argument("-i", "--interface", dest="iface", default=None, metavar="IFACE",
                   help="interface (default: the one with a route to the first peer)")
    p.add_argument("--vrid", type=int, default=254, help="VRID in the probe header; pick one unused here (254)")
    p.add_argument("--count", type=int, default=10, help="requests per path (10)")
    p.add_argument("--interval", type=float, default=0.2, metavar="S", help="seconds between rounds (0.2)")
    p.add_argument("--wait", type=float, default=2.0, metavar="S",
                   help="keep answering the peers this long after our last request (2)")
    p.add_argument("--key-file", metavar="FILE",
                   help="a secret shared by every host out of band: replies are signed with it, so nobody "
                   "without it can forge one (default: keys derived per run)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON document (docs/json.md)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vrrpkit.diag.probe import ProbeError, ProbeSession, interface_towards

    try:
        peers = peers_from_args(args.peers)
    except ValueError as exc:
        return fail("probe", f"--peer: {exc}")
    if os.geteuid() != 0:
        return fail("probe", "needs root (raw protocol-112 sockets): run it with sudo")
    iface = args.iface or interface_towards(peers[0])
    if iface is None:
        return fail("probe", "no interface: give -i IFACE")
    key = None
    if args.key_file:
        try:
            with open(args.key_file, "rb") as fh:
                key = fh.read(65536)
        except OSError as exc:
            return fail("probe", f"--key-file: {exc.strerror or exc}")
        if not key.strip():
            return fail("probe", "--key-file is empty")
    progress = Progress()
    try:
        session = ProbeSession(iface, peers, args.vrid, args.count, args.interval, args.wait, key=key)
        report = session.run(progress)
    except ProbeError as exc:
        progress.done()
        return fail("probe", str(exc))
    progress.done()
    doc = report.as_dict()
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(render(doc))
    return 1 if report.lossy else 0


def render(doc: dict[str, Any]) -> str:
    lines = [f"probe v{doc['format_version']} on {doc['interface']} from {doc['source']}, VRID {doc['vrid']}, "
             f"{doc['count']} x {doc['interval']:g} s"]  # fmt: skip
    for peer in doc["peers"]:
        tag = "" if peer["listed"] else "  (not in --peer)"
        lines.append(f"{peer['peer']}{tag}")
        for path, s in peer["paths"].items():
            rtt = s["rtt_ms"]
            rtt_text = f"min/avg/max = {rtt['min']}/{rtt['avg']}/{rtt['max']} ms" if rtt else "no reply"
            ttl = ",".join(map(str, s["ttl_at_peer"])) or "-"
            lines.append(f"  {path:<15} xmt/rcv/%loss = {s['sent']}/{s['received']}/{s['loss_pct']:g}%, {rtt_text}, "
                         f"ttl at peer {ttl}, heard {s['heard']}")  # fmt: skip
    auth = "a shared key (--key-file)" if doc["auth"] == "psk" else "keys derived per run"
    lines.append(f"replies signed with {auth}")
    if doc["ignored"]:
        lines.append("not answered: " + ", ".join(f"{n} {why}" for why, n in sorted(doc["ignored"].items())))
    for w in doc["warnings"]:
        lines.append(f"warning: {w}")
    if doc["vrids_in_use"]:
        lines.append(f"VRIDs advertised on this link: {', '.join(map(str, doc['vrids_in_use']))}")
    return "\n".join(lines)
