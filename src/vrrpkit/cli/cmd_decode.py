"""`vrrpkit decode`: every field of VRRP messages given in hex, as tcpdump dumps, or in a capture file."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from vrrpkit.cli.diagrender import Progress, fail

EPILOG = """\
Input: -r FILE reads a capture (pcap or pcapng, as `tcpdump -w` or Wireshark write it; - is stdin):
one line per VRRP frame, as tcpdump prints it, and a count of the frames skipped (not VRRP) at the
end. Otherwise hex as pasted from anywhere (spaces, colons and newlines are ignored), as arguments
(several arguments are several packets) or on stdin with `-`; `tcpdump -x/-xx/-X` dumps work,
summary lines and all, one packet per dump. A bare VRRPv3 message has a checksum over a
pseudo-header: give --src and --dst to verify it. --json: one JSON document for one packet; JSON
Lines (one document per frame) for a capture or several packets (docs/json.md). Exit status: 0
every VRRP message valid, 1 one a VRRP router would drop (the reason is shown), 2 not hex, not a
capture, or no VRRP in it.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "decode",
        help="decode VRRP messages: hex, tcpdump dumps, or a pcap/pcapng capture (-r)",
        description="Decode VRRP (v2, v3; IPv4, IPv6): every field, the checksum form that matched, auth, VIPs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("hex", nargs="*", metavar="HEX|-", help="hex bytes, or - to read them from stdin")
    p.add_argument("-r", "--read", metavar="FILE", help="read a pcap or pcapng capture (- for stdin)")
    p.add_argument("--src", metavar="IP", help="IP source, for a bare VRRPv3 message's checksum")
    p.add_argument("--dst", metavar="IP", help="IP destination (default: the VRRP group)")
    p.add_argument("--json", action="store_true", help="JSON (docs/json.md)")
    p.set_defaults(handler=run)


def open_binary(path: str) -> IO[bytes]:
    """``path`` opened for reading bytes; ``-`` is stdin (its bytes, under a text wrapper)."""
    if path == "-":
        return getattr(sys.stdin, "buffer", None) or _text_stdin()
    return open(path, "rb")


def _text_stdin() -> IO[bytes]:
    import io

    return io.BytesIO(sys.stdin.read().encode())


def run(args: argparse.Namespace) -> int:
    from vrrpkit.diag.capture import sniff

    source = args.read
    if source is None and len(args.hex) == 1 and (args.hex[0] == "-" or os.path.isfile(args.hex[0])):
        source = args.hex[0]  # `decode f.pcap`, `decode dump.txt`, `... | decode -`
    elif source is None and not args.hex:
        return fail("decode", "give hex bytes, - (stdin), or -r FILE")
    if source is None:
        return _decode_text(args, args.hex)
    try:
        stream = open_binary(source)
    except OSError as exc:
        return fail("decode", f"{source}: {exc.strerror or exc}")
    with stream:
        is_capture, stream = sniff(stream)
        if is_capture:
            return _decode_capture(args, stream, source)
        if args.read is not None:
            return fail("decode", f"{source}: not a pcap or pcapng file")
        return _decode_text(args, [stream.read().decode("utf-8", "replace")])


def _decode_text(args: argparse.Namespace, texts: list[str]) -> int:
    from ipaddress import ip_address

    from vrrpkit.diag.decode import DecodeError, decode_bytes
    from vrrpkit.diag.hexinput import HexError, split_arguments

    try:
        packets = split_arguments(texts)
        src = ip_address(args.src) if args.src else None
        dst = ip_address(args.dst) if args.dst else None
    except (HexError, ValueError) as exc:
        return fail("decode", str(exc))
    vrrp, bad = 0, 0
    for p in packets:
        try:
            doc = decode_bytes(p.data, src, dst).as_dict()
        except DecodeError as exc:
            if len(packets) == 1:
                return fail("decode", str(exc))
            print(json.dumps({"packet": p.number, "error": "not-vrrp", "error_detail": str(exc)}) if args.json
                  else f"packet {p.number}: {exc}\n")  # fmt: skip
            bad += 1
            continue
        vrrp += 1
        bad += 0 if acceptable(doc) else 1
        if len(packets) == 1:
            print(json.dumps(doc, indent=2) if args.json else render(doc))
        elif args.json:
            print(json.dumps({"packet": p.number, **doc}))
        else:
            print(f"packet {p.number}" + (f"  ({p.summary})" if p.summary else ""))
            print(render(doc) + "\n")
    if vrrp == 0:
        return 2
    return 1 if bad else 0


def acceptable(doc: dict[str, Any]) -> bool:
    """Exit 0 material: valid, or not judged (a cut or fragmented message, an unverifiable checksum)."""
    return bool(doc["valid"] or doc["truncated"] or doc["fragment"] or (doc["error"] is None and doc["vrrp"]))


def _decode_capture(args: argparse.Namespace, stream: IO[bytes], name: str) -> int:
    from vrrpkit.diag.capture import CaptureError, CaptureReader
    from vrrpkit.diag.frames import Tally, decode_frames

    try:
        reader = CaptureReader(stream)
    except CaptureError as exc:
        return fail("decode", f"{name}: {exc}")
    tally = Tally()
    progress = CaptureProgress(reader, name)
    invalid = 0
    for result in decode_frames(progress.frames(), tally):
        if result.decoded is None:
            continue
        doc = result.document()
        invalid += 0 if acceptable(doc) else 1
        progress.clear()
        if args.json:
            print(json.dumps(doc), flush=False)
        else:
            print(frame_line(doc))
    progress.done()
    for note in reader.notes:
        print(f"vrrpkit decode: {name}: {note}", file=sys.stderr)
    print(f"vrrpkit decode: {name}: {tally.text()}", file=sys.stderr)
    if tally.vrrp == 0:
        return 2
    return 1 if invalid else 0


class CaptureProgress:
    """Progress through a capture on stderr when it is a terminal: the share of the file read (or
    the frames read, from a pipe), redrawn every 4096 frames."""

    def __init__(self, reader: Any, name: str) -> None:
        self.reader = reader
        self.name = name
        self.bar = Progress()
        self.size: int | None = None
        try:
            self.size = os.fstat(reader.stream.fileno()).st_size or None
        except (OSError, ValueError, AttributeError):
            self.size = None

    def frames(self) -> Iterator[Any]:
        for frame in self.reader:
            if self.bar.enabled and frame.number % 4096 == 0:
                pos = self.reader.position()
                fraction = pos / self.size if pos is not None and self.size else 0.0
                self.bar(f"reading {os.path.basename(self.name)}: {frame.number} frames", fraction)
            yield frame

    def clear(self) -> None:
        self.bar.done()

    def done(self) -> None:
        self.bar.done()


def frame_line(doc: dict[str, Any]) -> str:
    """``   12  12:00:01.250000 vlan 10 IP 192.0.2.1 > 224.0.0.18: VRRPv3, ...`` (tcpdump -# style)."""
    t = doc["time"]
    stamp = time.strftime("%H:%M:%S", time.localtime(t)) + f".{round(t % 1 * 1e6) % 1000000:06d}"
    tags = "".join(f"vlan {v['vid']} " for v in doc.get("vlan") or [])
    extra = ""
    if doc["truncated"] and "[|vrrp]" not in doc["tcpdump"]:
        extra = " [|vrrp]"
    return f"{doc['frame']:>5}  {stamp} {tags}{doc['tcpdump']}{extra}"


def render(doc: dict[str, Any]) -> str:
    lines = [doc["tcpdump"]]
    eth = doc.get("ethernet")
    if eth:
        tags = "".join(f", vlan {v['vid']} ({v['kind']})" for v in doc.get("vlan") or [])
        lines.append(f"  {doc['layer']:<9} {eth['src']} > {eth['dst'] or '-'}{tags}, type {eth['type']}")
    ip = doc["ip"]
    hdr = ""
    if ip.get("header_checksum_ok") is not None:
        hdr = ", header checksum " + ("ok" if ip["header_checksum_ok"] else "BAD")
    lines.append(f"  ip        v{ip['version']} {ip['src']} > {ip['dst']}, ttl {ip['ttl']}, tos 0x{ip['tos']:02x}{hdr}")
    if ip.get("ah"):
        ah = ip["ah"]
        lines.append(f"  ah        spi {ah['spi']}, seq {ah['seq']} (keepalived's auth_type AH; the ICV needs "
                     "the password: not checked)")  # fmt: skip
    v = doc["vrrp"]
    if v:
        lines += _vrrp_lines(doc, v)
    probe = doc.get("probe")
    if probe:
        lines.append(f"  probe     vrrpkit probe v{probe['format_version']} {probe['kind']} {probe['path']} "
                     f"session {probe['session']} seq {probe['seq']} ttl-seen {probe['ttl_seen']}")  # fmt: skip
    if doc["valid"]:
        lines.append("  verdict   valid: a VRRP router accepts it (before its own receive rules: VRID, TTL, auth)")
    elif doc["truncated"] or doc["fragment"]:
        lines.append("  verdict   unknown: " + ("the capture cut the message short" if doc["truncated"]
                                                else "an IP fragment (the message is not whole)"))  # fmt: skip
    elif doc["error"]:
        detail = f" ({doc['error_detail']})" if doc.get("error_detail") else ""
        lines.append(f"  verdict   invalid: {doc['error']}{detail}")
    for w in doc["warnings"]:
        lines.append(f"  warning   {w}")
    return "\n".join(lines)


def _shown(value: Any) -> str:
    return "?" if value is None else str(value)


def _vrrp_lines(doc: dict[str, Any], v: dict[str, Any]) -> list[str]:
    lines = [f"  vrrp      version {v['version']}, type {_shown(v['type'])} ({_shown(v['type_name'])}), "
             f"vrid {_shown(v['vrid'])}, priority {_shown(v['priority'])}"
             + (f" ({v['priority_meaning']})" if v["priority_meaning"] else "") + f", count {_shown(v['count'])}"]
    interval = (f"interval {v['interval']:g} s ({v['interval_raw']} {v['interval_unit']})" if v["interval"] is not None
                else "interval ?")  # fmt: skip
    if v["version"] == 2:
        auth = f"auth {_shown(v['auth_name'])} ({_shown(v['auth_type'])})"
        if v.get("password") is not None:
            auth += f' password "{v["password"]}"'
        lines.append(f"            {auth}, {interval}")
    else:
        lines.append(f"            reserved {_shown(v.get('reserved'))}, {interval}")
    if v["checksum_ok"] is None:
        form = "not verified" + (" (truncated)" if doc["truncated"] else " (fragment)" if doc["fragment"] else "")
    elif v["checksum_ok"]:
        form = f"{v['checksum_form']}, accepted by {', '.join(v['accepted_by'])}"
    else:
        form = "bad: no known form matches"
    lines.append(f"            checksum {_shown(v['checksum'])} ({form}), length {v['length']}"
                 + (f", {v['captured']} captured" if v["captured"] != v["length"] else ""))  # fmt: skip
    lines.append(f"            addresses {', '.join(v['addresses']) or '-'}")
    return lines
