"""The shared CLI options: one spelling everywhere, and every older spelling still parsed the same."""

from __future__ import annotations

import argparse
from ipaddress import ip_address
from pathlib import Path

import pytest

from vrrpkit.cli.main import build_parser
from vrrpkit.cli.options import peers_from_args


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def subcommand_help(*names: str) -> str:
    parser = build_parser()
    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser.format_help()


@pytest.mark.parametrize("command", [["run"], ["investigate"], ["watch", "-i", "eth0"]])
@pytest.mark.parametrize("spelling", ["-f", "--file", "--config"])
def test_config_file_spellings_on_commands_that_had_config(command: list[str], spelling: str) -> None:
    args = parse(*command, spelling, "a.conf", spelling, "b.conf")
    assert args.files == ["a.conf", "b.conf"]


@pytest.mark.parametrize("spelling", ["-f", "--file"])
def test_config_file_spellings_on_check_and_convert(spelling: str) -> None:
    assert parse("check", spelling, "a.conf", spelling, "b.conf").files == ["a.conf", "b.conf"]
    assert parse("convert", "--to-unicast", spelling, "a.conf", "--peer", "192.0.2.1").file == "a.conf"


@pytest.mark.parametrize("spelling", ["-f", "--file", "--conf"])
def test_lab_run_config_spellings(spelling: str) -> None:
    args = parse("lab", "run", "h1", "vrrpkit", spelling, "x.conf")
    assert args.conf == Path("x.conf")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("run",), "-f FILE, --file FILE, --config FILE"),
        (("investigate",), "-f FILE, --file FILE, --config FILE"),
        (("watch",), "-f FILE, --file FILE, --config FILE"),
        (("check",), "-f FILE, --file FILE"),
        (("convert",), "-f FILE, --file FILE"),
        (("lab", "run"), "-f FILE, --file FILE, --conf FILE"),
    ],
)
def test_help_lists_every_config_spelling(names: tuple[str, ...], expected: str) -> None:
    assert expected in subcommand_help(*names)


@pytest.mark.parametrize("command", [["convert", "--to-unicast", "-f", "a.conf"], ["investigate"], ["probe"]])
def test_peer_and_peers_accumulate(command: list[str]) -> None:
    args = parse(*command, "--peer", "192.0.2.1", "--peers", "192.0.2.2, 2001:db8::3")
    assert peers_from_args(args.peers) == [ip_address("192.0.2.1"), ip_address("192.0.2.2"), ip_address("2001:db8::3")]
    assert "--peer IP[,IP...], --peers IP[,IP...]" in subcommand_help(command[0])


def test_peer_is_required_by_probe_only() -> None:
    assert parse("investigate").peers is None and peers_from_args(None) == []
    with pytest.raises(SystemExit):
        parse("probe")


@pytest.mark.parametrize("command", ["run", "status", "investigate"])
def test_control_option(command: str) -> None:
    assert parse(command, "--control", "/tmp/x.sock").control == "/tmp/x.sock"
    assert parse(command).control is None  # control.default_path then applies $VRRPKIT_CONTROL
    assert "$VRRPKIT_CONTROL" in subcommand_help(command)
