"""keepalived 2.2's daemon flags on `vrrpkit run`, so that units, init scripts and Debian's
/etc/default/keepalived ``DAEMON_ARGS`` work unchanged.

Each flag keeps keepalived's meaning where vrrpkit has the same thing (``-f``, ``-p``, ``-r``, ``-l``,
``-D``, ``-S``, ``-G``, ``-u``, ``-V``, ``-d``, ``-s``, ``-m``, ``-M``, ``-e``, ``-i``, ``-t``,
``-v``, ``--signum``) and is accepted without effect where it concerns keepalived's child processes
or subsystems vrrpkit does not have in the first place (``-P``, ``-B``, ``--all``, ``-R``, ``-I``,
``-n``, ``-c``, ``-b``, ``-X``: see `NO_OPS`). ``-C`` and ``-T`` would run no VRRP at all, so they
are refused; ``-x``/``-A`` (SNMP) and ``-a`` are accepted with a warning saying what to use instead.
"""

from __future__ import annotations

import argparse
import re
import signal

# What each accepted-but-inert flag means in keepalived, and why it changes nothing here.
NO_OPS: dict[str, str] = {
    "vrrp_only": "-P/--vrrp: vrrpkit runs only VRRP",
    "no_bfd": "-B/--no_bfd: vrrpkit has no BFD subsystem",
    "all_children": "--all: vrrpkit has no child processes",
    "dont_respawn": "-R/--dont-respawn: vrrpkit has no child processes to respawn",
    "dont_release_ipvs": "-I/--dont-release-ipvs: vrrpkit manages no IPVS",
    "dont_fork": "-n/--dont-fork: vrrpkit never forks (systemd and the lab run it in the foreground)",
    "release_vips": "-X/--release-vips: vrrpkit always removes the VIPs when an instance leaves MASTER",
}

# keepalived --signum=SIGFUNC; only functions vrrpkit handles (an unhandled signal would kill it).
SIGNUMS: dict[str, int] = {
    "STOP": int(signal.SIGTERM),
    "RELOAD": int(signal.SIGHUP),
    "DATA": int(signal.SIGUSR1),
    "STATS": int(signal.SIGUSR2),
}
UNSUPPORTED_SIGNUMS = {
    "STATS_CLEAR": "vrrpkit's counters are Prometheus counters and are never cleared",
    "JSON": "use `vrrpkit status --json`",
}

# keepalived -t exit codes (measured with keepalived 2.2.7): 5 = configuration errors; with -e, a
# missing configuration file 4 and a missing include 6.
EXIT_CONFIG = 5
EXIT_MISSING_FILE = 4
EXIT_MISSING_INCLUDE = 6
# Warnings for `check` that keepalived -t counts as configuration errors ("Non-existent interface").
TEST_FATAL_RULES = frozenset({"host-interface-missing"})


def add_keepalived_flags(p: argparse.ArgumentParser) -> None:
    """keepalived's command line, as printed by ``keepalived --help`` (2.2.7), on `vrrpkit run`."""
    g = p.add_argument_group(
        "keepalived's flags",
        "keepalived 2.2's command line works unchanged (e.g. Debian's DAEMON_ARGS). Flags about "
        "keepalived's child processes are accepted and do nothing.",
    )
    g.add_argument("-l", "--log-console", action="store_true",
                   help="log to stderr too (the default, except when stderr is the journal)")
    g.add_argument("-D", "--log-detail", action="count", default=0,
                   help="detailed log messages (twice: debug records too)")
    g.add_argument("-S", "--log-facility", metavar="FACILITY",
                   help="syslog facility: 0-7 (local0-7), local0-7, user or daemon (default)")
    g.add_argument("-G", "--no-syslog", action="store_true",
                   help="log neither to journald nor to syslog (stderr only)")
    g.add_argument("-u", "--umask", metavar="MASK", help="umask for created files (numeric, e.g. 022 or 0x12)")
    g.add_argument("-V", "--dont-release-vrrp", action="store_true",
                   help="leave the VIPs in place when the daemon stops (it still sends priority 0)")
    g.add_argument("-d", "--dump-conf", action="store_true", help="log the configuration after start")
    g.add_argument("-p", "--pid", metavar="FILE", help="write the daemon's pid to FILE")
    g.add_argument("-r", "--vrrp_pid", metavar="FILE",
                   help="write the pid of the VRRP process to FILE (vrrpkit's own: it is the VRRP process)")
    g.add_argument("-s", "--namespace", metavar="NAME", help="run in network namespace NAME (ip netns)")
    g.add_argument("-m", "--core-dump", action="store_true", help="allow a core dump if vrrpkit crashes")
    g.add_argument("-M", "--core-dump-pattern", metavar="PATN", nargs="?", const="core",
                   help="also set kernel.core_pattern to PATN while running (default 'core'); implies -m; "
                   "restored at exit only with --keep-capabilities")
    g.add_argument("-e", "--all-config", action="store_true", help="a missing include file is an error")
    g.add_argument("-i", dest="config_id", metavar="ID", help="same as --config-id")
    g.add_argument("-t", "--config-test", nargs="?", const="", default=None, metavar="LOG_FILE",
                   help="check the configuration as keepalived -t does (to LOG_FILE or stderr) and exit: "
                   "0 ok, 5 errors; 4/6 a missing file/include with -e")
    g.add_argument("-v", "--version", dest="print_version", action="store_true", help="print the version and exit")
    g.add_argument("--signum", metavar="SIGFUNC",
                   help="print the signal number for STOP, RELOAD, DATA or STATS and exit")
    g.add_argument("-x", "--snmp", action="store_true", help="not supported (a warning): use --metrics")
    g.add_argument("-A", "--snmp-agent-socket", metavar="FILE", help="not supported (a warning): use --metrics")
    g.add_argument("-a", "--address-monitoring", action="store_true", help="accepted; vrrpkit logs only its own VIPs")
    g.add_argument("-C", "--check", dest="checker_only", action="store_true",
                   help="refused: vrrpkit has no health checker")
    g.add_argument("-T", "--genhash", action="store_true", help="refused: use keepalived's genhash")
    g.add_argument("-c", "--checkers_pid", metavar="FILE", help="accepted; there is no checker process")
    g.add_argument("-b", "--bfd_pid", metavar="FILE", help="accepted; there is no BFD process")
    g.add_argument("-P", "--vrrp", dest="vrrp_only", action="store_true", help="accepted (VRRP is all vrrpkit runs)")
    g.add_argument("-B", "--no_bfd", dest="no_bfd", action="store_true", help="accepted (no BFD)")
    g.add_argument("--all", dest="all_children", action="store_true", help="accepted (no child processes)")
    g.add_argument("-R", "--dont-respawn", action="store_true", help="accepted (no child processes)")
    g.add_argument("-I", "--dont-release-ipvs", action="store_true", help="accepted (no IPVS)")
    g.add_argument("-n", "--dont-fork", action="store_true", help="accepted (vrrpkit never forks)")
    g.add_argument("-X", "--release-vips", action="store_true",
                   help="accepted (vrrpkit always removes VIPs on leaving MASTER)")
    # keepalived's long name for -f; -f/--file itself is declared by the command
    p.add_argument("--use-file", dest="files", action="append", metavar="FILE", help=argparse.SUPPRESS)


def parse_umask(text: str) -> int:
    """C strtoul(text, NULL, 0): 022 is octal, 0x12 hex, 18 decimal. ValueError if not a mask."""
    t = text.strip().lower()
    if re.fullmatch(r"0x[0-9a-f]+", t):
        value = int(t, 16)
    elif re.fullmatch(r"0[0-7]*", t):
        value = int(t, 8)
    elif re.fullmatch(r"[1-9][0-9]*", t):
        value = int(t, 10)
    else:
        raise ValueError(f"umask {text!r} is not a number")
    if value > 0o777:
        raise ValueError(f"umask {text!r} out of range")
    return value


def signum(name: str) -> tuple[int | None, str]:
    """(signal number, '') for a function vrrpkit handles, else (None, why)."""
    key = name.strip().upper()
    if key in SIGNUMS:
        return SIGNUMS[key], ""
    if key in UNSUPPORTED_SIGNUMS:
        return None, f"vrrpkit does not handle {key}: {UNSUPPORTED_SIGNUMS[key]}"
    return None, f"Unknown sigfunc {name}"


def refusal(args: argparse.Namespace) -> str | None:
    """Flags that would make vrrpkit run something other than VRRP: the reason, else None."""
    if getattr(args, "checker_only", False):
        return "-C/--check runs only keepalived's health checker, and vrrpkit has no health checker (it runs VRRP only)"
    if getattr(args, "genhash", False):
        return "-T/--genhash is keepalived's genhash utility; run `genhash` from the keepalived package"
    return None


def warnings(args: argparse.Namespace) -> list[str]:
    """What a flag asked for that vrrpkit does not do, said once at start."""
    out = []
    if getattr(args, "snmp", False) or getattr(args, "snmp_agent_socket", None):
        out.append("SNMP (-x/-A) is not supported: use --metrics HOST:PORT (Prometheus)")
    if getattr(args, "address_monitoring", False):
        out.append("-a/--address-monitoring: vrrpkit logs only the addresses it adds and removes")
    return out
