"""`vrrpkit run`: start the daemon in the foreground (systemd Type=notify), with keepalived's flags."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from vrrpkit.cli import keepalived_flags as ka
from vrrpkit.cli.options import HelpFormatter, add_config_option, add_control_option

if TYPE_CHECKING:
    from vrrpkit.config.model import ParseResult

NETNS_MARK = "VRRPKIT_IN_NETNS"  # set when `-s NAME` re-ran us inside the namespace
CORE_PATTERN = "/proc/sys/kernel/core_pattern"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run the VRRP daemon from a keepalived.conf",
        description="Run the VRRP daemon in the foreground. Logs go to journald (with INSTANCE=, VRID=, "
        "STATE= fields) when run by systemd, else to stderr. SIGTERM/SIGINT: release VIPs (priority 0) and "
        "exit; SIGHUP: reload; SIGUSR1: dump state to the log; SIGUSR2: dump counters to the log. "
        "keepalived's command line (-n -l -D -S -p ...) is accepted, so Debian's DAEMON_ARGS work unchanged.",
        formatter_class=HelpFormatter,
    )
    add_config_option(p, "keepalived.conf (default /etc/keepalived/keepalived.conf)", aliases=["--config"])
    p.add_argument("--config-id", help="id for @id line conditionals (default: hostname up to the first dot)")
    add_control_option(p)
    p.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus metrics, e.g. 127.0.0.1:9650")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                   help="the lowest level logged (default info; -DD is debug)")
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
    ka.add_keepalived_flags(p)
    p.set_defaults(handler=run)


def _err(message: str) -> None:
    print(f"vrrpkit run: {message}", file=sys.stderr)


def startable(result: ParseResult, *, strict: bool, interface_exists: Callable[[str], bool]) -> bool:
    """Log every diagnostic, then decide like keepalived 2.2.7 (`config.startup`): start with its
    fallbacks unless it would refuse the file too, or `strict` refuses any error."""
    import logging

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
    # The daemon never speaks TLS, but asyncio imports ssl (and with it libssl and libcrypto, ~4 MB
    # of RSS) when it can: a None entry makes that import fail the way asyncio expects on a Python
    # built without ssl. Only in this process, only before asyncio is first imported, and only when
    # nothing that imports ssl unconditionally will run from the start (prometheus_client's
    # exposition does: the HTTP endpoint, --metrics, keeps ssl). Code that needs it later removes
    # the entry first (io.netlink before importing pyroute2 for routes).
    if "asyncio" not in sys.modules and not args.metrics:
        sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]
    from vrrpkit import __version__

    if args.print_version:
        print(f"vrrpkit {__version__}")
        return 0
    if args.signum is not None:
        number, why = ka.signum(args.signum)
        if number is None:
            print(why, file=sys.stderr)
            return 1
        print(number)
        return 0
    refused = ka.refusal(args)
    if refused is not None:
        _err(refused)
        return 2
    if args.config_test is not None:
        return config_test(args)
    if args.namespace and os.environ.get(NETNS_MARK) != args.namespace:
        return _enter_namespace(args.namespace)
    if args.umask is not None:
        try:
            os.umask(ka.parse_umask(args.umask))
        except ValueError as exc:
            _err(str(exc))
            return 2
    try:
        log_opts = _log_options(args)
    except ValueError as exc:
        _err(str(exc))
        return 2
    return _run_daemon(args, log_opts)


def _log_options(args: argparse.Namespace) -> Any:
    from vrrpkit.daemon.logsetup import DEFAULT_FACILITY, LogOptions, parse_facility

    facility = parse_facility(args.log_facility) if args.log_facility is not None else DEFAULT_FACILITY
    return LogOptions(console=args.log_console, syslog=not args.no_syslog, facility=facility,
                      detail=args.log_detail, level=args.log_level)  # fmt: skip


def _enter_namespace(name: str) -> int:
    """keepalived -s NAME: run inside network namespace NAME. `ip netns exec` also gives the
    namespace its own /sys (interface lookups read /sys/class/net), so we run again through it."""
    import shutil

    ip = shutil.which("ip")
    if ip is None:
        _err("-s/--namespace needs the ip command (iproute2)")
        return 2
    if not os.path.exists(f"/run/netns/{name}"):
        _err(f"-s {name}: no such network namespace (/run/netns/{name})")
        return 2
    env = {**os.environ, NETNS_MARK: name}
    argv = [ip, "netns", "exec", name, sys.executable, "-m", "vrrpkit", *sys.argv[1:]]
    os.execve(ip, argv, env)
    return 2  # not reached


def _load(args: argparse.Namespace, files: list[str], config_id: str) -> Any:
    """The configuration, or an exit code with the reason already printed."""
    from vrrpkit.config import load_files
    from vrrpkit.config.files import cannot_read

    try:
        return load_files(files, config_id)
    except OSError as exc:
        _err(cannot_read(exc))
        return 2


def _missing_includes(result: Any) -> list[Any]:
    return [d for d in result.diagnostics if d.rule == "include-missing"]


def config_test(args: argparse.Namespace) -> int:
    """`vrrpkit run -t [LOG_FILE] -f FILE`: keepalived -t. Parse and check against this host (its
    interfaces, as keepalived's -t does), print the diagnostics to stderr or LOG_FILE, and exit 0,
    or 5 on errors; with -e a missing include is an error (6). A main file that cannot be read is 4
    even without -e (keepalived exits 0 then, which would let ExecStartPre pass on no config)."""
    from vrrpkit.cli.cmd_check import check
    from vrrpkit.config.files import cannot_read, default_config_id

    files = args.files or ["/etc/keepalived/keepalived.conf"]
    config_id = args.config_id or default_config_id()
    with _test_output(args.config_test) as out:
        facts = None
        try:
            from vrrpkit.diag.hostfacts import gather

            facts = gather()
        except OSError as exc:
            print(f"cannot read this host's interfaces ({exc}); checking the file only", file=out)
        try:
            results, diags = check(files, config_id, facts)
        except OSError as exc:
            print(cannot_read(exc), file=out)
            return ka.EXIT_MISSING_FILE
        for d in diags:
            if d.severity != "info":
                print(d, file=out)
        # keepalived -t also fails on an instance whose interface does not exist here
        if any(d.severity == "error" or d.rule in ka.TEST_FATAL_RULES for d in diags):
            return ka.EXIT_CONFIG
        if args.all_config and any(_missing_includes(r) for r in results):
            return ka.EXIT_MISSING_INCLUDE
    return 0


@contextlib.contextmanager
def _test_output(log_file: str) -> Iterator[Any]:
    if not log_file:
        yield sys.stderr
        return
    with open(log_file, "a", encoding="utf-8") as fh:
        yield fh


def _run_daemon(args: argparse.Namespace, log_opts: Any) -> int:
    import logging

    from vrrpkit.config.files import default_config_id
    from vrrpkit.control import default_path
    from vrrpkit.daemon import logsetup
    from vrrpkit.io import netlink

    plan = logsetup.configure(log_opts)
    log = logging.getLogger("vrrpkit")
    for warning in ka.warnings(args):
        log.warning("%s", warning)
    files = args.files or ["/etc/keepalived/keepalived.conf"]
    config_id = args.config_id or default_config_id()
    metrics = None
    if args.metrics:
        host, _, port = args.metrics.rpartition(":")
        if not port.isdigit():
            _err(f"--metrics wants HOST:PORT, got {args.metrics!r}")
            return 2
        metrics = (host or "127.0.0.1", int(port))
    result = _load(args, files, config_id)
    if isinstance(result, int):
        return result
    with contextlib.ExitStack() as held:
        # pid files and core_pattern first: after the capability drop, root may not write them
        held.enter_context(_pid_files([args.pid, args.vrrp_pid]))
        held.enter_context(_core_dumps(args))
        if os.geteuid() == 0 and not args.keep_capabilities:  # before the first netlink call starts a thread
            problem = _drop_capabilities(metrics)
            if problem is not None:
                _err(f"cannot drop capabilities ({problem}); use --keep-capabilities")
                return 2
        if not startable(result, strict=args.strict, interface_exists=netlink.interface_exists):
            return 1
        if args.all_config and _missing_includes(result):
            log.error("-e/--all-config: an included file is missing; not starting")
            return 1
        if os.geteuid() != 0:
            _err("must run as root (raw sockets, addresses, ARP)")
            return 2
        from vrrpkit.daemon.app import Daemon

        daemon = Daemon(
            result,
            files=files,
            config_id=config_id,
            control_path=default_path(args.control),
            metrics=metrics,
            keep_vips=args.dont_release_vrrp,
            dump_config=args.dump_conf,
        )
        log.debug("logging to %s", plan.describe())
        import asyncio

        from vrrpkit.io.eventloop import new_loop

        with asyncio.Runner(loop_factory=new_loop) as runner:
            return runner.run(daemon.run())
    return 2  # not reached


@contextlib.contextmanager
def _pid_files(paths: list[str | None]) -> Iterator[None]:
    """keepalived's -p (main) and -r (VRRP child): vrrpkit is both, so both get its pid."""
    written = []
    try:
        for path in paths:
            if path:
                with open(path, "w", encoding="ascii") as fh:
                    fh.write(f"{os.getpid()}\n")
                written.append(path)
        yield
    finally:
        for path in written:
            with contextlib.suppress(OSError):
                os.unlink(path)


@contextlib.contextmanager
def _core_dumps(args: argparse.Namespace, pattern_file: str = CORE_PATTERN) -> Iterator[None]:
    """-m: no core size limit; -M PATN: also kernel.core_pattern, restored on exit (as keepalived)."""
    import resource

    old_pattern: str | None = None
    if args.core_dump or args.core_dump_pattern is not None:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    if args.core_dump_pattern is not None:
        with open(pattern_file, encoding="utf-8") as fh:
            old_pattern = fh.read()
        with open(pattern_file, "w", encoding="utf-8") as fh:
            fh.write(args.core_dump_pattern)
    try:
        yield
    finally:
        if old_pattern is not None:
            with contextlib.suppress(OSError), open(pattern_file, "w", encoding="utf-8") as fh:
                fh.write(old_pattern)


def _drop_capabilities(metrics: tuple[str, int] | None) -> str | None:
    """Before any thread or socket exists (every later thread and child inherits the result):
    keep what the daemon needs from here on (io.caps.DAEMON_KEEPS), and the right to bind a
    privileged metrics port when one is asked for; of those, only what the process still has (a
    unit's CapabilityBoundingSet may have taken some already: capset cannot give them back)."""
    from vrrpkit.io import caps

    keep = caps.DAEMON_KEEPS | ({caps.CAP_NET_BIND_SERVICE} if metrics is not None and metrics[1] < 1024 else set())
    permitted = caps.current().get("Prm", caps.mask(frozenset(keep)))
    try:
        caps.drop_all_but(frozenset(c for c in keep if permitted >> c & 1))
    except OSError as exc:
        return str(exc)
    return None
