"""The four commands' exit codes and one-line errors, without privileges or a network."""

from __future__ import annotations

import json

import pytest

from vrrpkit.cli.main import main

SEED_IP = "45c0002800000000ff701923c0a800c8e0000012213398010101225cc0a800633131313100000000"


def test_decode_valid_invalid_and_garbage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", SEED_IP]) == 0
    assert "VRRPv2, Advertisement, vrid 51, prio 152" in capsys.readouterr().out
    broken = SEED_IP[:60] + "0000" + SEED_IP[64:]  # the VRRP checksum
    assert main(["decode", broken, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"] == "bad-checksum"
    assert main(["decode", "nothex"]) == 2
    assert capsys.readouterr().err.startswith("vrrpkit decode: ")


def test_decode_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(SEED_IP + "\n"))
    assert main(["decode", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vrrp"]["password"] == "1111"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["investigate", "-i", "eth0"], "needs root"),
        (["watch", "-i", "eth0"], "needs root"),
        (["probe", "--peer", "192.0.2.1"], "needs root"),
        (["probe", "--peer", "192.0.2.x"], "not an IP address"),
        (["investigate", "--peer", "nope"], "not an IP address"),
        (["investigate", "--duration", "0"], "--duration"),
    ],
)
def test_usage_and_environment_errors_exit_2_with_one_line(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith(f"vrrpkit {argv[0]}: ")


def test_watch_rendering_escapes_every_field() -> None:
    from vrrpkit.cli.cmd_watch import render_table
    from vrrpkit.cli.diagrender import safe

    assert safe("a\x1b[2Jb\nc\u2028") == "a\\x1b[2Jb\\nc\\u2028"
    row = {"interface": "eth0\x1b]0;x\x07", "vrid": 51, "masters": [], "senders_evicted": 7, "senders": [
        {"src": "192.0.2.2", "mac": "02:00:00:00:00:02", "priority": 100, "interval": 1.0, "ttl": [255],
         "adverts": 3, "auth": "simple\x1b[31m", "vips": ["192.0.2.100"], "ours": False}]}  # fmt: skip
    text = render_table([row])
    assert "\x1b" not in text and "\x07" not in text and "7 more senders not kept" in text
