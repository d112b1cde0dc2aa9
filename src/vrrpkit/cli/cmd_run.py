"""`vrrpkit run`: start the daemon in the foreground (systemd Type=notify)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from typing import Any

from vrrpkit.cli.options import add_config_option, add_control_option


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
    p.set_defaults(handler=run)


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} vrrpkit[{os.getpid()}] {record.levelname.lower()}: " + (
            record.getMessage()
        )


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
    result = load_files(files, config_id)
    for diag in result.diagnostics:
        if diag.severity != "info":
            print(str(diag), file=sys.stderr)
    if not result.ok:
        errors = sum(1 for d in result.diagnostics if d.severity == "error")
        print(f"vrrpkit run: configuration has {errors} error(s); not starting", file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print("vrrpkit run: must run as root (raw sockets, addresses, ARP)", file=sys.stderr)
        return 2
    for cfg in result.instances:
        if not netlink.interface_exists(cfg.interface) and not result.globals.dynamic_interfaces:
            print(f"vrrpkit run: ({cfg.name}) interface {cfg.interface} does not exist "
                  f"(dynamic_interfaces in global_defs lets it start in FAULT)", file=sys.stderr)
            return 2
    from vrrpkit.daemon.app import Daemon

    daemon = Daemon(result, files=files, config_id=config_id, control_path=default_path(args.control), metrics=metrics)
    return asyncio.run(daemon.run())
