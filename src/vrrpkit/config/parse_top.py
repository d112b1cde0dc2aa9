"""The top level of keepalived.conf: statements in, the `Written` model of the whole file out.

Each top-level keyword opens one block, read by its section's module; `include` never reaches
here (the lexer splices included files into the statement stream). A new top-level block is an
entry in `TOP_LEVEL` and its name in `keywords.IMPLEMENTED["top"]`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from vrrpkit.config.diagnostics import Reporter
from vrrpkit.config.lexer import Stmt
from vrrpkit.config.parse_globals import parse_global_defs
from vrrpkit.config.parse_instance import parse_vrrp_instance
from vrrpkit.config.parse_interfaces import (
    parse_garp_group,
    parse_interface_up_down_delays,
    parse_linkbeat_interfaces,
    parse_linkbeat_use_polling,
    parse_track_group,
)
from vrrpkit.config.parse_static import parse_static_ipaddress, parse_static_routes, parse_static_rules
from vrrpkit.config.parse_sync_group import parse_vrrp_sync_group
from vrrpkit.config.parse_trackers import parse_track_file, parse_vrrp_script, parse_vrrp_track_process
from vrrpkit.config.parser import Parser, StopReading
from vrrpkit.config.written import Written

TopHandler = Callable[[Parser, Written, Stmt], None]


def _checker_side(name: str) -> TopHandler:
    """keepalived's checker side (virtual_server, its groups, SSL), read only to be reported on,
    is imported when a file has it: a VRRP-only host's daemon, which keeps the parser for its
    reloads, then never holds that code (~150 KB resident)."""

    def handler(p: Parser, written: Written, st: Stmt) -> None:
        from vrrpkit.config import parse_lvs

        read: TopHandler = getattr(parse_lvs, name)
        read(p, written, st)

    return handler


TOP_LEVEL: dict[str, TopHandler] = {
    "global_defs": parse_global_defs,
    "vrrp_script": parse_vrrp_script,
    "vrrp_instance": parse_vrrp_instance,
    "vrrp_sync_group": parse_vrrp_sync_group,
    "track_file": parse_track_file,
    "vrrp_track_file": parse_track_file,
    "linkbeat_interfaces": parse_linkbeat_interfaces,
    "linkbeat_use_polling": parse_linkbeat_use_polling,
    "interface_up_down_delays": parse_interface_up_down_delays,
    "garp_group": parse_garp_group,
    "track_group": parse_track_group,
    "vrrp_track_process": parse_vrrp_track_process,
    "static_ipaddress": parse_static_ipaddress,
    "static_routes": parse_static_routes,
    "static_rules": parse_static_rules,
    "virtual_server": _checker_side("parse_virtual_server"),
    "virtual_server_group": _checker_side("parse_virtual_server_group"),
    "SSL": _checker_side("parse_ssl"),
}


def parse(stmts: Iterator[Stmt], reporter: Reporter) -> Written:
    """Read every statement; syntax and value diagnostics go to `reporter` as they are found."""
    p = Parser(stmts, reporter)
    written = Written()
    try:
        p.block("top", {kw: partial(fn, p, written) for kw, fn in TOP_LEVEL.items()}, 0, None)
    except StopReading as stop:
        written.stopped_at = stop.where
    return written
