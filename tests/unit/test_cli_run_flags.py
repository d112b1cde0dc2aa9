"""`vrrpkit run` takes keepalived 2.2's command line: each flag parsed, and the ones that act
without starting a daemon (-v, --signum, -t, -C, -T) as keepalived 2.2.7 does (measured here)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest

from vrrpkit.cli import cmd_run
from vrrpkit.cli import keepalived_flags as ka
from vrrpkit.cli.main import build_parser, main
from vrrpkit.config.host import HostFacts

GOOD = """vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress { 192.0.2.99/24 }
}
"""


def parse(argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *shlex.split(argv)])


def test_every_flag_of_keepalived_help_parses() -> None:
    """The options `keepalived --help` (2.2.7) lists, long and short, as Debian's DAEMON_ARGS may hold them."""
    args = parse("-f /k.conf -P -C -B --all -l -D -D -S 1 -G -u 022 -X -V -I -R -n -d -p /a.pid -r /b.pid -T "
                 "-c /c.pid -a -b /d.pid -x -A /agentx -s ns1 -m -M -e -i host1 --signum=STOP -t /t.log -v")
    assert args.files == ["/k.conf"] and args.log_detail == 2 and args.log_facility == "1"
    assert [args.pid, args.vrrp_pid, args.checkers_pid, args.bfd_pid] == ["/a.pid", "/b.pid", "/c.pid", "/d.pid"]
    assert [args.namespace, args.config_id, args.core_dump_pattern, args.config_test] == ["ns1", "host1", "core",
                                                                                         "/t.log"]  # fmt: skip
    assert all((args.vrrp_only, args.checker_only, args.no_bfd, args.all_children, args.log_console, args.no_syslog,
                args.release_vips, args.dont_release_vrrp, args.dont_release_ipvs, args.dont_respawn, args.dont_fork,
                args.dump_conf, args.genhash, args.address_monitoring, args.snmp, args.core_dump, args.all_config,
                args.print_version))  # fmt: skip
    long = parse("--use-file=/k.conf --vrrp --no_bfd --log-console --log-detail --log-facility=local3 --no-syslog "
                 "--umask=0x12 --release-vips --dont-release-vrrp --dont-release-ipvs --dont-respawn --dont-fork "
                 "--dump-conf --pid=/a --vrrp_pid=/b --checkers_pid=/c --address-monitoring --bfd_pid=/d --snmp "
                 "--snmp-agent-socket=/x --namespace=ns --core-dump --core-dump-pattern=/tmp/core --all-config "
                 "--config-id=h --config-test")  # fmt: skip
    assert long.files == ["/k.conf"] and long.config_test == "" and long.core_dump_pattern == "/tmp/core"
    combined = parse("-nlD -f /k.conf")  # getopt-style clusters, as in many init scripts
    assert combined.dont_fork and combined.log_console and combined.log_detail == 1


def test_no_op_flags_are_documented() -> None:
    args = parse("-P -B --all -R -I -n -X")
    assert all(getattr(args, dest) for dest in ka.NO_OPS)


@pytest.mark.parametrize(("name", "number"), [("STOP", 15), ("RELOAD", 1), ("DATA", 10), ("STATS", 12)])
def test_signum_matches_keepalived(name: str, number: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", f"--signum={name}"]) == 0
    assert capsys.readouterr().out.strip() == str(number)


@pytest.mark.parametrize("name", ["JSON", "STATS_CLEAR", "FOO"])
def test_signum_refuses_what_vrrpkit_does_not_handle(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A number for an unhandled signal would let a script kill the daemon: exit 1, as keepalived for FOO."""
    assert main(["run", "--signum", name]) == 1
    assert capsys.readouterr().out == ""


def test_version_and_refusals(capsys: pytest.CaptureFixture[str]) -> None:
    from vrrpkit import __version__

    assert main(["run", "-v"]) == 0 and capsys.readouterr().out.strip() == f"vrrpkit {__version__}"
    assert main(["run", "-C"]) == 2 and "no health checker" in capsys.readouterr().err
    assert main(["run", "--genhash"]) == 2 and "genhash" in capsys.readouterr().err
    assert ka.warnings(parse("-x -a"))[0].startswith("SNMP")


def test_umask_is_read_like_strtoul() -> None:
    assert (ka.parse_umask("022"), ka.parse_umask("0x12"), ka.parse_umask("18"), ka.parse_umask("0")) == (18, 18, 18, 0)
    for bad in ("abc", "0o22", "01000"):
        with pytest.raises(ValueError):
            ka.parse_umask(bad)


@pytest.fixture
def host_with_eth0(monkeypatch: pytest.MonkeyPatch) -> None:
    from ipaddress import ip_interface

    import vrrpkit.diag.hostfacts as hostfacts

    facts = HostFacts(interfaces={"eth0": (ip_interface("192.0.2.1/24"),)})
    monkeypatch.setattr(hostfacts, "gather", lambda: facts)


def test_config_test_exit_codes_are_keepalived_s(tmp_path: Path, host_with_eth0: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    good = tmp_path / "good.conf"
    good.write_text(GOOD)
    assert main(["run", "-t", "-f", str(good)]) == 0
    bad = tmp_path / "bad.conf"
    bad.write_text(GOOD.replace("priority 100", "priority 100\n    bogus_keyword 1"))
    assert main(["run", "-t", "-f", str(bad)]) == ka.EXIT_CONFIG == 5
    assert "bogus_keyword" in capsys.readouterr().err
    other = tmp_path / "other.conf"
    other.write_text(GOOD.replace("interface eth0", "interface eth9"))
    assert main(["run", "-t", "-f", str(other)]) == 5  # keepalived: "Non-existent interface specified"
    assert main(["run", "-t", "-f", str(tmp_path / "missing.conf")]) == ka.EXIT_MISSING_FILE == 4
    inc = tmp_path / "inc.conf"
    inc.write_text(f"include {tmp_path}/nope.conf\n" + GOOD)
    assert main(["run", "-t", "-f", str(inc)]) == 0  # keepalived: "Config files missing", and 0
    assert main(["run", "-t", "-e", "-f", str(inc)]) == ka.EXIT_MISSING_INCLUDE == 6
    log = tmp_path / "test.log"
    assert main(["run", f"-t{log}", "-f", str(bad)]) == 5
    assert "bogus_keyword" in log.read_text() and "bogus_keyword" not in capsys.readouterr().err


def test_pid_files_hold_our_pid_and_go_away(tmp_path: Path) -> None:
    import os

    paths = [str(tmp_path / "main.pid"), str(tmp_path / "vrrp.pid")]
    with cmd_run._pid_files([*paths, None]):
        assert [Path(p).read_text() for p in paths] == [f"{os.getpid()}\n"] * 2
    assert not any(Path(p).exists() for p in paths)


def test_core_dump_pattern_is_restored(tmp_path: Path) -> None:
    import resource

    pattern = tmp_path / "core_pattern"
    pattern.write_text("|/usr/lib/systemd/systemd-coredump %P\n")
    old_limit = resource.getrlimit(resource.RLIMIT_CORE)
    try:
        with cmd_run._core_dumps(parse("-M /var/tmp/core.%p"), str(pattern)):
            assert pattern.read_text() == "/var/tmp/core.%p"
            assert resource.getrlimit(resource.RLIMIT_CORE)[0] == resource.RLIM_INFINITY
        assert pattern.read_text() == "|/usr/lib/systemd/systemd-coredump %P\n"
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, old_limit)
