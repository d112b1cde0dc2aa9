"""`vrrpkit lab ...`: build, inspect, break and remove a network-namespace lab from the shell.

Each invocation is a separate process, so every subcommand re-attaches to the lab through its state
file (`Lab.attach`); only `up` creates one. Parsing and rendering live here, the work in vrrpkit.lab.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vrrpkit.cli.options import add_config_option

if TYPE_CHECKING:
    from vrrpkit.lab import Lab

DEFAULT_NAME = "vklab"
FAULTS = ("loss", "down", "up", "kill", "stop", "cont")


def register(subparsers: Any) -> None:
    """Add `lab` and its subcommands to the top-level parser."""
    # --name is accepted before or after the subcommand: `lab --name x exec h1` and `lab exec --name x h1`.
    named = argparse.ArgumentParser(add_help=False)
    named.add_argument("--name", default=argparse.SUPPRESS, help="lab name (default: the only lab that is up)")

    lab = subparsers.add_parser(
        "lab",
        help="network-namespace lab: hosts, a switch, cloud mode and faults",
        description="Hosts are network namespaces NAME-h1..hK on a bridge inside NAME-sw; addresses come from "
        "192.0.2.0/24 and 2001:db8::/64. Nothing touches the root namespace's addresses or routes.",
    )
    lab.add_argument("--name", default=None, help="lab name (default: the only lab that is up)")
    lab.set_defaults(handler=lambda args: _usage(lab))
    sub = lab.add_subparsers(dest="lab_command", metavar="SUBCOMMAND")

    p = sub.add_parser("up", parents=[named], help="create a lab", description="Create a lab and leave it up.")
    p.add_argument("--hosts", type=int, default=3, help="number of hosts (default 3)")
    p.add_argument("--cloud", action="store_true", help="start in cloud mode (multicast dropped)")
    p.add_argument("--no-ipv6", action="store_true", help="IPv4 only (IPv6 disabled in the hosts)")
    p.add_argument("--json", action="store_true", help="print the lab status as JSON")
    p.set_defaults(handler=_up)

    p = sub.add_parser(
        "down",
        parents=[named],
        help="remove a lab (--all: every lab)",
        description="Remove everything a lab made: processes, namespaces, links, nft tables, run directory. "
        "Works after the lab's creator crashed. Without --name, the only lab that is up; with several up, "
        "name one or pass --all.",
    )
    p.add_argument("--all", action="store_true", help="remove every lab on this machine, whoever made it")
    p.set_defaults(handler=_down)

    p = sub.add_parser("status", parents=[named], help="show labs (all without --name)")
    p.add_argument("--json", action="store_true", help='one JSON document: {"labs": [...]}')
    p.set_defaults(handler=_status)

    p = sub.add_parser(
        "exec",
        parents=[named],
        help="run a command inside a host",
        description="Run CMD inside HOST with VRRPKIT_CONTROL set to that host's control socket. "
        "Example: vrrpkit lab exec h1 -- vrrpkit status",
    )
    p.add_argument("host", help="h1..hK")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    p.set_defaults(handler=_exec)

    p = sub.add_parser(
        "run",
        parents=[named],
        help="start a daemon in a host (detached)",
        description="Start vrrpkit or keepalived in HOST with the config FILE (copied into the lab). The daemon "
        "keeps running after this command returns; its log path is printed. "
        "Example: vrrpkit lab run h1 keepalived -f keepalived.conf --args='--log-facility=0'",
    )
    p.add_argument("host", help="h1..hK")
    p.add_argument("daemon", choices=("vrrpkit", "keepalived"))
    add_config_option(p, "keepalived.conf-style configuration", aliases=["--conf"], dest="conf", repeatable=False,
                      required=True, type=Path)
    p.add_argument("--args", dest="extra", default="", help="extra daemon arguments, one shell-quoted string")
    p.set_defaults(handler=_run)

    p = sub.add_parser("cloud", parents=[named], help="switch cloud mode on or off")
    p.add_argument("state", choices=("on", "off"))
    p.set_defaults(handler=_cloud)

    p = sub.add_parser(
        "fault",
        parents=[named],
        help="inject a fault on a host",
        description="loss PCT: drop PCT% of frames from/to the host at the switch (0 removes); down/up: the "
        "host's link; kill/stop/cont: SIGKILL/SIGSTOP/SIGCONT every daemon the lab started on the host.",
    )
    p.add_argument("host", help="h1..hK")
    p.add_argument("fault", choices=FAULTS)
    p.add_argument("pct", nargs="?", type=int, help="loss percentage (loss only)")
    p.set_defaults(handler=_fault)

    p = sub.add_parser(
        "partition",
        parents=[named],
        help="cut the switch between groups of hosts",
        description="Example: vrrpkit lab partition h1 h2,h3 (h1 alone, h2 and h3 together). Replaces any "
        "earlier partition.",
    )
    p.add_argument("groups", nargs="+", metavar="H1,H2")
    p.set_defaults(handler=_partition)

    p = sub.add_parser("heal", parents=[named], help="remove the partition")
    p.set_defaults(handler=_heal)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _fail(message: str) -> int:
    print(f"vrrpkit lab: error: {message}", file=sys.stderr)
    return 2


def _guarded(func: Any) -> Any:
    """Turn LabError (not root, no such lab, a failing ip/nft) into one clear line and exit code 2."""

    def wrapper(args: argparse.Namespace) -> int:
        # vrrpkit.lab is imported when a lab command runs, not when `vrrpkit run` builds its parser
        from vrrpkit.lab import LabError

        try:
            return int(func(args))
        except LabError as exc:
            return _fail(str(exc))

    wrapper.__doc__ = func.__doc__
    return wrapper


def _attach(args: argparse.Namespace) -> Lab:
    """The lab named by --name, else the only lab that is up."""
    from vrrpkit.lab import Lab, LabError, list_labs

    if args.name:
        return Lab.attach(args.name)
    labs = list_labs()
    if len(labs) == 1:
        return Lab.attach(labs[0])
    if not labs:
        raise LabError("no lab is up; start one with `vrrpkit lab up`")
    raise LabError(f"several labs are up ({', '.join(labs)}); choose one with --name")


@_guarded
def _up(args: argparse.Namespace) -> int:
    from vrrpkit.lab import Lab

    lab = Lab(args.name or DEFAULT_NAME, hosts=args.hosts, cloud=args.cloud, ipv6=not args.no_ipv6)
    lab.up()
    if args.json:
        print(json.dumps({"labs": [lab.status()]}, indent=2))
        return 0
    _render(lab.status())
    print(f"\nnext: vrrpkit lab exec --name {lab.name} h1 -- ip addr   |   vrrpkit lab down --name {lab.name}")
    return 0


def labs_to_remove(name: str | None, every: bool, up: list[str]) -> list[str]:
    """`lab down`'s choice: the named lab, every lab with --all, else the only one that is up.

    Never every lab by default: other people's and other tests' labs share the machine.
    """
    from vrrpkit.lab import LabError

    if name and every:
        raise LabError("--name and --all exclude each other")
    if name:
        return [name]
    if every or len(up) <= 1:
        return list(up)
    raise LabError(f"several labs are up ({', '.join(up)}); choose one with --name, or remove them all with --all")


@_guarded
def _down(args: argparse.Namespace) -> int:
    from vrrpkit.lab import cleanup_leftovers, list_labs

    removed: list[str] = []
    for name in labs_to_remove(args.name, args.all, [] if args.name else list_labs()):
        removed += cleanup_leftovers(name)
    print(f"removed: {', '.join(removed)}" if removed else "no lab to remove", file=sys.stderr)
    return 0


@_guarded
def _status(args: argparse.Namespace) -> int:
    from vrrpkit.lab import Lab, LabError, list_labs

    names = [args.name] if args.name else list_labs()
    statuses = []
    for name in names:
        try:
            statuses.append(Lab.attach(name).status())
        except LabError as exc:  # a crashed lab without state: still show that it is there
            statuses.append({"name": name, "phase": "broken", "error": str(exc)})
    if args.json:
        print(json.dumps({"labs": statuses}, indent=2))
        return 0
    if not statuses:
        print("no lab is up")
    for i, status in enumerate(statuses):
        if i:
            print()
        _render(status)
    return 0


def _render(status: dict[str, Any]) -> None:
    if "hosts" not in status:
        print(f"lab {status['name']}: {status.get('phase')} ({status.get('error')}); remove with `vrrpkit lab down`")
        return
    cloud = "on (multicast dropped)" if status["cloud"] else "off"
    print(f"lab {status['name']} ({status['phase']}): switch {status['switch']['netns']}, cloud mode {cloud}")
    rows = [("host", "netns", "ipv4", "ipv6", "mac", "link")]
    for h in status["hosts"]:
        rows.append((h["name"], h["netns"], h["addr"], h["addr6"] or "-", h["mac"], h["link"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for proc in status["processes"]:
        state = "running" if proc["alive"] else "exited"
        print(f"  {proc['host']}: {proc['kind']} pid {proc['pid']} {state}, log {proc['log']}")
    faults = status["faults"]
    parts = [f"loss {h} {p}%" for h, p in sorted(faults["loss"].items())]
    parts += [f"link down {h}" for h in faults["down"]]
    if faults["partition"]:
        parts.append("partition " + " | ".join(",".join(g) for g in faults["partition"]))
    print(f"  faults: {'; '.join(parts) if parts else 'none'}")
    if any(status["counters"].values()):
        counted = ", ".join(f"{k}={v}" for k, v in sorted(status["counters"].items()))
        print(f"  switch drops: {counted}")


@_guarded
def _exec(args: argparse.Namespace) -> int:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        return _fail("exec needs a command: vrrpkit lab exec HOST -- CMD [ARGS...]")
    lab = _attach(args)
    argv = lab.command(args.host, cmd)
    env = lab.env(args.host)
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process: the command gets the terminal, the signals and gives its exit code.
    os.execvpe(argv[0], argv, env)
    return 0  # not reached


@_guarded
def _run(args: argparse.Namespace) -> int:
    lab = _attach(args)
    try:
        conf_text = args.conf.read_text()
    except OSError as exc:
        return _fail(f"cannot read {args.conf}: {exc.strerror}")
    extra = shlex.split(args.extra)
    if args.daemon == "vrrpkit":
        proc = lab.run_vrrpkit(args.host, conf_text, extra_args=extra)
    else:
        proc = lab.run_keepalived(args.host, conf_text, extra_args=extra)
    print(f"{args.host}: {args.daemon} pid {proc.pid}, log {proc.log_path}")
    return 0


@_guarded
def _cloud(args: argparse.Namespace) -> int:
    _attach(args).cloud(args.state == "on")
    return 0


@_guarded
def _fault(args: argparse.Namespace) -> int:
    lab = _attach(args)
    if args.fault == "loss":
        if args.pct is None:
            return _fail("loss needs a percentage: vrrpkit lab fault HOST loss PCT")
        lab.loss(args.host, args.pct)
    elif args.pct is not None:
        return _fail(f"{args.fault} takes no percentage")
    elif args.fault in ("down", "up"):
        lab.link(args.host, up=args.fault == "up")
    else:
        action = {"kill": lab.fault_kill, "stop": lab.fault_stop, "cont": lab.fault_cont}[args.fault]
        if action(args.host) == 0:
            print(f"{args.host}: no running daemon to {args.fault}", file=sys.stderr)
    return 0


@_guarded
def _partition(args: argparse.Namespace) -> int:
    groups = [[h for h in group.split(",") if h] for group in args.groups]
    _attach(args).partition(*groups)
    return 0


@_guarded
def _heal(args: argparse.Namespace) -> int:
    _attach(args).heal()
    return 0
