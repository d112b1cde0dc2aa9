"""`vrrpkit run`: start the daemon in the foreground (systemd Type=notify)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vrrpkit.cli.options import add_config_option, add_control_option

if TYPE_CHECKING:
    from vrrpkit.config.model import ParseResult


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run the VRRP daemon from a keepalived.conf",
        description="Run the VRRP daemon in the foreground. Logs go to stderr. "
        "SIGTERM/SIGINT: release VIPs (priority 0) and exit; SIGHUP: reload; SIGUSR1: dump state to the log.",
    )
    add_config_option(p, "keepalived.conf (default /etc/keepalived/keepalived.conf)", aliases=["--config"])
    p.add_argument("--config-id", help="id for @id line conditionals (default: hostname up to the first dot)")
    add_control_option(p)
    p.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus metrics, e.g. 127.0.0.1:9650")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--keep-capabilities", action="store_true",
                   help="keep every capability, as keepalived does (default: keep only what VRRP needs; "
                   "root scripts then have only those too; docs/security.md)")  # fmt: skip
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse to start on any configuration error (exit 1); by default run starts whenever keepalived "
        "2.2.7 would, with its fallbacks (an unknown keyword ignored, an invalid priority 100, an invalid VIP "
        "skipped), after logging every diagnostic",
    )
    p.set_defaults(handler=run)


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} vrrpkit[{os.getpid()}] {record.levelname.lower()}: " + (
            record.getMessage()
        )


def startable(result: ParseResult, *, strict: bool, interface_exists: Callable[[str], bool]) -> bool:
    """Log every diagnostic, then decide like keepalived 2.2.7 (`config.startup`): start with its
    fallbacks unless it would refuse the file too, or `strict` refuses any error."""
    from vrrpkit.config.startup import refusals

    log = logging.getLogger("vrrpkit")
    for diag in result.diagnostics:
        if diag.rule != "lvs-checker-only":  # the daemon says that one itself, once it has started
            {"error": log.error, "warning": log.warning}.get(diag.severity, log.info)("%s", diag)
    errors = len(result.errors)
    if strict and errors:
        log.error("configuration has %d error(s); not starting (--strict)", errors)
        return False
    refused = refusals(result, interface_exists)
    for why in refused:
        log.error("%s", why)
    if refused:
        log.error("keepalived 2.2.7 would not run this configuration either; not starting")
        return False
    if not result.instances:
        log.error("no vrrp_instance in the configuration, nothing to run; not starting")
        return False
    if errors:
        log.warning(
            "configuration has %d error(s); starting with keepalived's fallbacks, as keepalived does "
            "(--strict refuses)",
            errors,
        )
    return True


def run(args: argparse.Namespace) -> int:
    from vrrpkit.config import load_files
    from vrrpkit.control import default_path
    from vrrpkit.io import netlink

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KeyValueFormatter())
    root = logging.getLogger("vrrpkit")
    root.handlers[:] = [handler]
    root.setLevel(args.log_level.upper())
    root.propagate = False

    files = args.files or ["/etc/keepalived/keepalived.conf"]
    config_id = args.config_id or socket.gethostname().split(".")[0]
    metrics = None
    if args.metrics:
        host, _, port = args.metrics.rpartition(":")
        if not port.isdigit():
            print(f"vrrpkit run: --metrics wants HOST:PORT, got {args.metrics!r}", file=sys.stderr)
            return 2
        metrics = (host or "127.0.0.1", int(port))
    for path in files:
        if not os.path.exists(path):
            print(f"vrrpkit run: config file {path} not found", file=sys.stderr)
            return 2
    try:
        result = load_files(files, config_id)
    except OSError as exc:  # e.g. a config file keepalived would skip: a FIFO, an executable
        print(f"vrrpkit run: cannot read the configuration: {exc}", file=sys.stderr)
        return 2
    if os.geteuid() == 0 and not args.keep_capabilities:  # before the first netlink call starts a thread
        problem = _drop_capabilities(metrics)
        if problem is not None:
            print(f"vrrpkit run: cannot drop capabilities ({problem}); use --keep-capabilities", file=sys.stderr)
            return 2
    if not startable(result, strict=args.strict, interface_exists=netlink.interface_exists):
        return 1
    if os.geteuid() != 0:
        print("vrrpkit run: must run as root (raw sockets, addresses, ARP)", file=sys.stderr)
        return 2
    from vrrpkit.daemon.app import Daemon

    daemon = Daemon(result, files=files, config_id=config_id, control_path=default_path(args.control), metrics=metrics)
    return asyncio.run(daemon.run())


def _drop_capabilities(metrics: tuple[str, int] | None) -> str | None:
    """Before any thread or socket exists (every later thread and child inherits the result):
    keep what the daemon needs from here on (io.caps.DAEMON_KEEPS), and the right to bind a
    privileged metrics port when one is asked for."""
    from vrrpkit.io import caps

    keep = caps.DAEMON_KEEPS | ({caps.CAP_NET_BIND_SERVICE} if metrics is not None and metrics[1] < 1024 else set())
    try:
        caps.drop_all_but(frozenset(keep))
    except OSError as exc:
        return str(exc)
    return None
