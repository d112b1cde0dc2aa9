"""Options several subcommands share, declared once so their spelling, metavar and help cannot drift.

Every command that reads a keepalived.conf takes it as ``-f/--file``. The long spellings some
commands had before (``--config`` on ``run``, ``investigate`` and ``watch``; ``--conf`` on
``lab run``) stay as aliases, so existing unit files, scripts and muscle memory keep working; they
show in ``--help`` next to ``--file``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from vrrpkit.core.config import IPAddress


class HelpFormatter(argparse.HelpFormatter):
    """argparse's own, told the terminal's width: left to find it, argparse imports shutil (and
    with it bz2, lzma and fnmatch, ~0.7 MB) into every process, `vrrpkit run` included, at the
    first add_argument. The width is found as shutil.get_terminal_size finds it."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:  # fmt: skip
        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width)


def terminal_columns() -> int:
    """$COLUMNS, else the width of the terminal on stdout, else 80 (shutil.get_terminal_size's rules)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


CONTROL_HELP = "the vrrpkit daemon's control socket (default $VRRPKIT_CONTROL or /run/vrrpkit/vrrpkit.sock)"


def add_peer_option(
    parser: argparse.ArgumentParser,
    help: str = "another host of the cluster; repeatable, or a comma-separated list",
    required: bool = False,
) -> None:
    """``--peer`` (alias ``--peers``), repeatable, each a comma-separated list: read with ``peers_from_args``."""
    parser.add_argument("--peer", "--peers", dest="peers", action="append", required=required,
                        metavar="IP[,IP...]", help=help)  # fmt: skip


def peers_from_args(values: Sequence[str] | None) -> list[IPAddress]:
    """``--peer A --peer B,C`` -> [A, B, C]; ValueError names the bad address."""
    from vrrpkit.config.convert import parse_peers

    return parse_peers(list(values or []))


def add_config_option(
    parser: argparse.ArgumentParser,
    help: str,
    *,
    aliases: Sequence[str] = (),
    dest: str = "files",
    repeatable: bool = True,
    required: bool = False,
    type: Callable[[str], Any] = str,
) -> None:
    """``-f/--file FILE`` (plus the command's older ``aliases``): a list in ``dest`` when repeatable."""
    parser.add_argument("-f", "--file", *aliases, dest=dest, action="append" if repeatable else "store",
                        required=required, type=type, metavar="FILE", help=help)  # fmt: skip


def add_control_option(parser: argparse.ArgumentParser) -> None:
    """``--control SOCKET``; None when not given, so ``control.default_path`` applies the defaults."""
    parser.add_argument("--control", metavar="SOCKET", help=CONTROL_HELP)
