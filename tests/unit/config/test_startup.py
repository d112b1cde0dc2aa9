"""When `vrrpkit run` starts: whenever keepalived 2.2.7 would, with its fallbacks (config.startup, and
the run command's decision). The files are the ones keepalived itself was run on in
tests/interop/test_run_fallbacks.py; here only the decision is checked, without root or a host."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vrrpkit.cli.cmd_run import startable
from vrrpkit.config import load_files, load_string
from vrrpkit.config.startup import interfaces_named, refusals

STARTUP = Path(__file__).parents[2] / "interop" / "startup"


def eth0_only(name: str) -> bool:
    return name == "eth0"


def test_fallbacks_file_has_errors_but_keepalived_runs_it() -> None:
    result = load_files([str(STARTUP / "fallbacks.conf")], "x")
    assert not result.ok
    assert refusals(result, eth0_only) == []
    by_vrid = {c.vrid: c for c in result.instances}
    assert by_vrid[61].priority == 100  # `priorty 150` ignored
    assert by_vrid[62].priority == 100 and by_vrid[64].priority == 100  # 300 and 0: keepalived's default
    assert [str(v) for v in by_vrid[63].vips] == ["192.0.2.163/24"]  # the invalid one skipped
    assert by_vrid[64].advert_int_cs == 100


@pytest.mark.parametrize("conf", sorted(STARTUP.glob("refuse_*.conf")), ids=lambda p: p.stem)
def test_every_file_keepalived_refuses_is_refused(conf: Path) -> None:
    why = refusals(load_files([str(conf)], "x"), eth0_only)
    assert why and all(line.startswith(str(conf)) for line in why), why


def test_host_checks_are_skipped_offline() -> None:
    result = load_files([str(STARTUP / "refuse_track_interface_missing.conf")], "x")
    assert refusals(result) == []
    (cfg,) = result.instances
    assert interfaces_named(cfg) == ["eth0", "eth9"]


def test_vrrpv2_without_vip_runs_but_v3_does_not() -> None:
    v2 = load_string("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n}\n")
    assert refusals(v2, eth0_only) == []
    v3 = load_string("vrrp_instance A {\n interface eth0\n virtual_router_id 5\n version 3\n}\n")
    assert "VRRPv3 requires" in refusals(v3, eth0_only)[0]


def test_run_starts_with_fallbacks_logs_every_diagnostic_and_strict_refuses(caplog: pytest.LogCaptureFixture) -> None:
    result = load_files([str(STARTUP / "fallbacks.conf")], "x")
    with caplog.at_level(logging.INFO, logger="vrrpkit"):
        assert startable(result, strict=False, interface_exists=eth0_only)
    logged = caplog.text
    assert all(str(d) in logged for d in result.diagnostics if d.rule != "lvs-checker-only")
    assert f"configuration has {len(result.errors)} error(s); starting with keepalived's fallbacks" in logged
    caplog.clear()
    assert not startable(result, strict=True, interface_exists=eth0_only)
    assert caplog.records[-1].getMessage().endswith("not starting (--strict)")


def test_run_refuses_what_keepalived_refuses_and_an_empty_file() -> None:
    refused = load_files([str(STARTUP / "refuse_vrid_duplicate.conf")], "x")
    assert not startable(refused, strict=False, interface_exists=eth0_only)
    empty = load_string("global_defs {\n router_id x\n}\n")
    assert refusals(empty, eth0_only) == []  # keepalived idles on it; a reload may empty the file
    assert not startable(empty, strict=False, interface_exists=eth0_only)  # but run has nothing to run
    clean = load_string(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n 192.0.2.9\n }\n}\n"
    )
    assert startable(clean, strict=True, interface_exists=eth0_only)


def test_dynamic_interfaces_lets_missing_interfaces_start() -> None:
    """keepalived 2.2.7 -t, measured: a missing instance interface, track_interface or VIP dev is
    'Non-existent interface specified in configuration' (exit 5), but nothing with dynamic_interfaces."""
    body = "vrrp_instance A {\n interface eth9\n virtual_router_id 5\n track_interface {\n  eth8\n }\n}\n"
    assert refusals(load_string(body), eth0_only)
    assert refusals(load_string("global_defs {\n dynamic_interfaces\n}\n" + body), eth0_only) == []
