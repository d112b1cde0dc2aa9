"""`vrrpkit convert --to-unicast`: rewrite a keepalived.conf for networks that drop multicast."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vrrpkit.cli.options import add_config_option, add_peer_option, peers_from_args
from vrrpkit.config import load_string
from vrrpkit.config.convert import ConvertError, SrcSpec, new_errors, to_unicast
from vrrpkit.config.files import FileLoader, cannot_read, default_config_id

EPILOG = """\
Only the lines that must change are touched: unicast_src_ip and unicast_peer are added to every
vrrp_instance; vrrp_strict / strict_mode are commented out (keepalived rejects unicast in strict mode)
and what strict mode did is kept: the authentication blocks it ignored are commented out, and
accept/no_accept is written out; use_vmac instances get vmac_xmit_base, which keepalived requires
with unicast. The source address is --src, else the address of the instance's interface on this
host. The result is checked before it is written: if it has any error (often one the input already
had: fix it first with `vrrpkit check`), nothing is written.
Exit status: 0 converted, 1 the result has check errors (nothing written), 2 cannot convert.
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "convert",
        help="rewrite a keepalived.conf to unicast (the fix when the network drops multicast)",
        description="Rewrite a keepalived.conf from multicast to unicast, keeping every comment and line.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--to-unicast", action="store_true", required=True, help="convert multicast instances to unicast")
    add_config_option(p, "the keepalived.conf to convert", dest="file", repeatable=False, required=True)
    add_peer_option(p)
    p.add_argument("--src", metavar="IP", help="this host's source address (default: the interface's address)")
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    p.add_argument("--config-id", metavar="ID", help="config id for @ID lines (default: host name)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        peers = peers_from_args(args.peers)
    except ValueError as exc:
        print(f"vrrpkit convert: --peer: {exc}", file=sys.stderr)
        return 2
    if not peers:
        print("vrrpkit convert: no peers: name the other hosts with --peer IP (repeatable or comma-separated)",
              file=sys.stderr)
        return 2
    try:
        text = FileLoader().read(args.file)
    except OSError as exc:
        print(f"vrrpkit convert: {cannot_read(exc)}", file=sys.stderr)
        return 2
    src: SrcSpec = args.src
    if src is None:
        try:
            from vrrpkit.diag.hostfacts import gather, primary_sources

            src = primary_sources(gather())
        except OSError:
            src = None
    config_id = args.config_id if args.config_id is not None else default_config_id()
    try:
        out = to_unicast(text, peers, src=src, filename=args.file, config_id=config_id)
    except (ConvertError, ValueError) as exc:
        print(f"vrrpkit convert: {exc}", file=sys.stderr)
        return 2
    before = load_string(text, filename=args.file, config_id=config_id, loader=FileLoader())
    after = load_string(out, filename=args.file, config_id=config_id, loader=FileLoader())
    errors, inherited = new_errors(before, after)
    if errors:
        for d in errors:
            print(f"{d} (in the converted text)", file=sys.stderr)
        print(f"vrrpkit convert: the converted file would have {len(errors)} error(s), {inherited} of them already "
              f"in {args.file} (fix them first: vrrpkit check -f {args.file}); nothing written", file=sys.stderr)
        return 1
    if args.output:
        with open(args.output, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(out)
    else:
        sys.stdout.write(out)
    return 0
