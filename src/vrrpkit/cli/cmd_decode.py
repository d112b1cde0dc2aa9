"""`vrrpkit decode`: every field of one VRRP message, IP packet or Ethernet frame given in hex."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from vrrpkit.cli.diagrender import fail

EPILOG = """\
Input: hex as pasted from anywhere (spaces, colons and newlines are ignored; tcpdump -x / -xx dumps
work, their offsets are dropped), as arguments or on stdin with `-`. A bare VRRPv3 message has a
checksum over a pseudo-header: give --src and --dst to verify it. Exit status: 0 a valid VRRP
message, 1 decoded but a VRRP router would drop it (the reason is shown), 2 not hex or no VRRP in it.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "decode",
        help="decode one VRRP message, IP packet or Ethernet frame given in hex",
        description="Decode VRRP (v2, v3; IPv4, IPv6): every field, the checksum form that matched, auth, VIPs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("hex", nargs="+", metavar="HEX|-", help="hex bytes, or - to read them from stdin")
    p.add_argument("--src", metavar="IP", help="IP source, for a bare VRRPv3 message's checksum")
    p.add_argument("--dst", metavar="IP", help="IP destination (default: the VRRP group)")
    p.add_argument("--json", action="store_true", help="print one JSON document (docs/json.md)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vrrpkit.diag.decode import DecodeError, decode_text

    text = sys.stdin.read() if args.hex == ["-"] else " ".join(args.hex)
    try:
        decoded = decode_text(text, args.src, args.dst)
    except DecodeError as exc:
        return fail("decode", str(exc))
    doc = decoded.as_dict()
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(render(doc))
    return 0 if doc["valid"] or (doc["error"] is None and doc["vrrp"] is not None) else 1


def render(doc: dict[str, Any]) -> str:
    lines = [doc["tcpdump"]]
    eth = doc.get("ethernet")
    if eth:
        lines.append(f"  ethernet  {eth['src']} > {eth['dst']}, type {eth['type']}")
    ip = doc["ip"]
    hdr = ""
    if ip.get("header_checksum_ok") is not None:
        hdr = ", header checksum " + ("ok" if ip["header_checksum_ok"] else "BAD")
    lines.append(f"  ip        v{ip['version']} {ip['src']} > {ip['dst']}, ttl {ip['ttl']}, tos 0x{ip['tos']:02x}{hdr}")
    v = doc["vrrp"]
    if v:
        lines.append(f"  vrrp      version {v['version']}, type {v['type']} ({v['type_name']}), vrid {v['vrid']}, "
                     f"priority {v['priority']} ({v['priority_meaning']}), count {v['count']}")  # fmt: skip
        interval = f"interval {v['interval']:g} s ({v['interval_raw']} {v['interval_unit']})"
        if v["version"] == 2:
            auth = f"auth {v['auth_name']} ({v['auth_type']})"
            if v.get("password") is not None:
                auth += f' password "{v["password"]}"'
            lines.append(f"            {auth}, {interval}")
        else:
            lines.append(f"            reserved {v['reserved']}, {interval}")
        form = v["checksum_form"] or ("not verified" if doc["error"] is None else "no form matches")
        lines.append(f"            checksum {v['checksum']} ({form}), length {v['length']}")
        lines.append(f"            addresses {', '.join(v['addresses']) or '-'}")
    probe = doc.get("probe")
    if probe:
        lines.append(f"  probe     vrrpkit probe v{probe['format_version']} {probe['kind']} {probe['path']} "
                     f"session {probe['session']} seq {probe['seq']} ttl-seen {probe['ttl_seen']}")  # fmt: skip
    if doc["valid"]:
        lines.append("  verdict   valid: a VRRP router accepts it (before its own receive rules: VRID, TTL, auth)")
    elif doc["error"]:
        detail = f" ({doc['error_detail']})" if doc.get("error_detail") else ""
        lines.append(f"  verdict   invalid: {doc['error']}{detail}")
    for w in doc["warnings"]:
        lines.append(f"  warning   {w}")
    return "\n".join(lines)
