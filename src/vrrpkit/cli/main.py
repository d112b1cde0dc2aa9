"""`vrrpkit` command line: parse the arguments, call the package that does the work, render its answer.

The protocol, the config checks and the diagnoses live in the other packages. The commands still
wire them together: `check` picks which of several files is this host's, `run` sets up logging and
starts the daemon, `convert` writes its output file, `lab exec` replaces itself with the command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vrrpkit import __version__
from vrrpkit.cli.commands import registrars
from vrrpkit.cli.options import HelpFormatter


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (``only``) just the one command it names, when that is known."""
    parser = argparse.ArgumentParser(
        prog="vrrpkit",
        description="VRRP daemon that reads keepalived.conf, and a doctor for VIPs that end up on every host.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vrrpkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in registrars(only):
        register(sub)
    if only is not None and only not in sub.choices:
        return build_parser()  # not a command (a typo, --help): argparse lists them all
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=next((w for w in words if not w.startswith("-")), None))
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `vrrpkit watch | head`: the reader left; exit quietly as other Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
