"""vrrpkit(8) and the bash completion, generated from the argparse definitions.

``python -m vrrpkit.cli.docgen man > vrrpkit.8`` and ``... bash > vrrpkit`` (the Debian package
runs both at build time), so the man page and the completion cannot drift from ``--help``: every
subcommand (and ``lab``'s own subcommands) gets a section, every option its entry. No dependency:
argparse-manpage and shtab do the same from outside, but their Debian 12 versions lag behind.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from vrrpkit import __version__

FILE_METAVARS = {"FILE", "LOG_FILE", "SOCKET", "PATH", "DIR", "OUTPUT", "PCAP"}


@dataclass
class Command:
    """One (sub)command: its words after `vrrpkit`, its parser and the commands below it."""

    words: tuple[str, ...]
    parser: argparse.ArgumentParser
    help: str = ""
    children: list[Command] = field(default_factory=list)

    def walk(self) -> Iterator[Command]:
        yield self
        for child in self.children:
            yield from child.walk()


def command_tree(parser: argparse.ArgumentParser, words: tuple[str, ...] = (), help: str = "") -> Command:
    node = Command(words, parser, help)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                node.children.append(command_tree(sub, (*words, name), helps.get(name, "")))
    return node


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.help != argparse.SUPPRESS and not isinstance(a, argparse._SubParsersAction)]


# --- the man page ------------------------------------------------------------------------------------


def _roff(text: str) -> str:
    """Escape for roff: backslashes, and a leading dot or quote that would read as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.MULTILINE)


def _invocation(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"\\fI{_roff(action.metavar if isinstance(action.metavar, str) else action.dest)}\\fR"
    names = ", ".join(f"\\fB{_roff(o)}\\fR" for o in action.option_strings)
    if action.nargs == 0:
        return names
    metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    if action.nargs == "?":
        return f"{names} [\\fI{_roff(metavar)}\\fR]"
    return f"{names} \\fI{_roff(metavar)}\\fR"


def _usage(cmd: Command) -> str:
    usage = cmd.parser.format_usage().strip()
    return re.sub(r"^usage:\s*", "", usage)


def _describe_options(cmd: Command) -> list[str]:
    out: list[str] = []
    groups = [g for g in cmd.parser._action_groups if g._group_actions]
    for group in groups:
        actions = [a for a in group._group_actions if a in _options(cmd.parser) and not _is_help(a)]
        if not actions:
            continue
        if group.title not in ("options", "optional arguments", "positional arguments"):
            about = f": {_roff(group.description)}" if group.description else ""
            out.append(f".PP\n\\fI{_roff(group.title or '')}\\fR{about}")
        for action in actions:
            text = action.help or ""
            if "%(default)" in text:
                text = text.replace("%(default)s", str(action.default))
            out.append(f".TP\n{_invocation(action)}\n{_roff(text)}")
    return out


def _is_help(action: argparse.Action) -> bool:
    return isinstance(action, argparse._HelpAction)


def manpage(parser: argparse.ArgumentParser, date: str | None = None) -> str:
    """vrrpkit(8) in roff (man(7) macros)."""
    tree = command_tree(parser)
    date = date or datetime.date.today().isoformat()
    lines = [
        f'.TH VRRPKIT 8 "{date}" "vrrpkit {__version__}" "System Administration"',
        ".SH NAME",
        "vrrpkit \\- VRRP daemon that reads keepalived.conf, and a doctor for VIPs on every host",
        ".SH SYNOPSIS",
        f".B vrrpkit\n{_roff(_usage(tree).removeprefix('vrrpkit').strip())}",
        ".SH DESCRIPTION",
        _roff(
            "vrrpkit speaks VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) with keepalived 2.2 on the wire and reads "
            "keepalived.conf. Besides the daemon (vrrpkit run), it checks configurations, watches and decodes "
            "adverts, probes multicast against unicast between hosts, and finds out why a floating IP ends up on "
            "every host (vrrpkit investigate). Each command below has --help."
        ),
        ".SH OPTIONS",
        *_describe_options(tree),
        ".SH COMMANDS",
    ]
    for cmd in tree.walk():
        if not cmd.words:
            continue
        lines.append(f'.SS "vrrpkit {" ".join(cmd.words)}"')
        lines.append(_roff(cmd.help) if cmd.help else "")
        lines.append(f".PP\n.nf\n{_roff(_usage(cmd))}\n.fi")
        if cmd.parser.description:
            lines.append(f".PP\n{_roff(cmd.parser.description)}")
        lines.extend(_describe_options(cmd))
        if cmd.parser.epilog:
            lines.append(f".PP\n.nf\n{_roff(cmd.parser.epilog.strip())}\n.fi")
    lines += [
        ".SH SIGNALS",
        ".TP\n\\fBSIGTERM\\fR, \\fBSIGINT\\fR\n"
        + _roff("a MASTER sends priority 0, VIPs are removed, notify_stop runs, exit."),
        ".TP\n\\fBSIGHUP\\fR\n"
        + _roff("reload: the new configuration is checked first; unchanged instances keep their state."),
        ".TP\n\\fBSIGUSR1\\fR\n" + _roff("log every instance's state (keepalived's DATA signal)."),
        ".TP\n\\fBSIGUSR2\\fR\n" + _roff("log every instance's counters (keepalived's STATS signal)."),
        ".SH FILES",
        ".TP\n/etc/keepalived/keepalived.conf\n" + _roff("the default configuration (keepalived.conf(5))."),
        ".TP\n/etc/default/vrrpkit\n" + _roff("DAEMON_ARGS for vrrpkit.service: keepalived's flags and vrrpkit's own."),
        ".TP\n/run/vrrpkit/vrrpkit.sock\n" + _roff("the control socket read by vrrpkit status."),
        ".TP\n/usr/share/vrrpkit/\n" + _roff("Prometheus rules and the Grafana dashboard."),
        ".SH EXIT STATUS",
        _roff("0 success; 1 a configuration error or a failing check; 2 a usage error or an environment that "
              "cannot work (not root, a missing interface, a file that cannot be read). vrrpkit run -t exits as "
              "keepalived -t does: 0, or 5 on configuration errors (4 and 6 for a missing file or include)."),
        ".SH SEE ALSO",
        "keepalived(8), keepalived.conf(5), systemd.service(5), journalctl(1)",
    ]
    return "\n".join(line for line in lines if line != "") + "\n"


# --- bash completion ---------------------------------------------------------------------------------


def _takes_file(action: argparse.Action) -> bool:
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    return action.nargs != 0 and (metavar in FILE_METAVARS or action.dest in ("files", "file", "output"))


def bash_completion(parser: argparse.ArgumentParser) -> str:
    """A bash completion for vrrpkit: subcommands at each level, each command's options, files
    after options that take a file, and the choices of options that have them."""
    tree = command_tree(parser)
    cases: list[str] = []
    for cmd in tree.walk():
        key = " ".join(cmd.words)
        options = sorted({o for a in _options(cmd.parser) for o in a.option_strings})
        subs = [c.words[-1] for c in cmd.children]
        file_opts = sorted({o for a in _options(cmd.parser) if _takes_file(a) for o in a.option_strings})
        value_opts = sorted({o for a in _options(cmd.parser) if a.nargs != 0 and not _takes_file(a)
                             for o in a.option_strings})  # fmt: skip
        choices = []
        for a in _options(cmd.parser):
            if a.choices and a.option_strings:
                words = " ".join(str(c) for c in a.choices)
                choices += [f"            {o}) COMPREPLY=($(compgen -W '{words}' -- \"$cur\")); return;;"
                            for o in a.option_strings]  # fmt: skip
        cases.append(
            f'        "{key}")\n'
            f"            subs='{' '.join(subs)}'\n"
            f"            opts='{' '.join(options)}'\n"
            f"            files='{' '.join(file_opts)}'\n"
            f"            values='{' '.join(value_opts)}'\n"
            + (("            case \"$prev\" in\n" + "\n".join(choices) + "\n            esac\n") if choices else "")
            + "            ;;"
        )
    body = "\n".join(cases)
    return f"""# bash completion for vrrpkit (generated by `python -m vrrpkit.cli.docgen bash`; do not edit)
_vrrpkit() {{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${{COMP_WORDS[COMP_CWORD]}}; prev=${{COMP_WORDS[COMP_CWORD-1]}}
        words=("${{COMP_WORDS[@]}}"); cword=$COMP_CWORD
    fi
    # the command path so far: the words that are subcommands, in order
    local path="" i w subs opts files values
    for ((i = 1; i < cword; i++)); do
        w=${{words[i]}}
        [[ $w == -* ]] && continue
        case "$path" in
{_known_paths(tree)}
        esac
    done
    case "$path" in
{body}
        *) return;;
    esac
    if [[ " $files " == *" $prev "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return
    fi
    if [[ " $values " == *" $prev "* ]]; then
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    fi
}}
complete -F _vrrpkit vrrpkit
"""


def _known_paths(tree: Command) -> str:
    """case arms that extend `path` with a word only when it is a subcommand of the current path."""
    arms = []
    for cmd in tree.walk():
        if not cmd.children:
            continue
        key = " ".join(cmd.words)
        subs = "|".join(c.words[-1] for c in cmd.children)
        arms.append(f'            "{key}") case "$w" in {subs}) path="${{path:+$path }}$w";; esac;;')
    return "\n".join(arms)


def main(argv: list[str] | None = None) -> int:
    from vrrpkit.cli.main import build_parser

    args = argv if argv is not None else sys.argv[1:]
    if args == ["man"]:
        sys.stdout.write(manpage(build_parser()))
    elif args == ["bash"]:
        sys.stdout.write(bash_completion(build_parser()))
    else:
        print("usage: python -m vrrpkit.cli.docgen man|bash", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
