"""`vrrpkit check` and `vrrpkit convert` as a user runs them (offline: no host needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vrrpkit.cli.main import main

SEED = Path(__file__).parent / "data" / "seed.conf"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_check_seed_text(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["check", "-f", str(SEED), "--offline"], capsys)
    assert rc == 0
    assert f"{SEED}:20:5: warning: strict mode ignores the authentication block" in out
    assert "[strict-no-accept]" in out and "[multicast-may-be-dropped]" in out
    assert "0 error(s)" in err


def test_check_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(["check", "-f", str(SEED), "--offline", "--json"], capsys)
    doc = json.loads(out)
    assert rc == 0 and doc["ok"] is True
    assert set(doc["diagnostics"][0]) == {"file", "line", "column", "severity", "rule", "message"}
    (inst,) = doc["instances"]
    assert inst == {"file": str(SEED), "name": "VI_1", "vrid": 51, "interface": "eth0", "version": 2,
                    "priority": 100, "state": "BACKUP", "mode": "multicast", "peers": [],
                    "vips": ["192.168.0.99/24"]}


def test_check_exit_1_on_error_and_2_on_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SEED.read_text(encoding="utf-8").replace("#    unicast_src_ip", "  unicast_src_ip") \
        .replace("#    unicast_peer {", "  unicast_peer {").replace("#        192.168.0.200", "  192.168.0.200") \
        .replace("#    }", "  }")
    bad = tmp_path / "bad.conf"
    bad.write_text(text, encoding="utf-8")
    rc, out, _ = run(["check", "-f", str(bad), "--offline"], capsys)
    assert rc == 1 and "[strict-forbids-unicast]" in out
    rc, _, err = run(["check", "-f", str(tmp_path / "missing.conf"), "--offline"], capsys)
    assert rc == 2 and f"cannot read {tmp_path / 'missing.conf'}: No such file or directory" in err
    with pytest.raises(SystemExit) as exc:
        main(["check"])
    assert exc.value.code == 2


def test_check_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def conf(src: str, peer: str, prio: int) -> Path:
        p = tmp_path / f"{src}.conf"
        p.write_text(f"vrrp_instance V {{\n interface eth0\n virtual_router_id 9\n priority {prio}\n"
                     f" unicast_src_ip {src}\n unicast_peer {{\n  {peer}\n }}\n virtual_ipaddress {{\n"
                     f"  10.0.0.100/24\n }}\n}}\n")
        return p

    a, b = conf("10.0.0.1", "10.0.0.2", 100), conf("10.0.0.2", "10.0.0.1", 100)
    rc, out, _ = run(["check", "-f", str(a), "-f", str(b), "--offline", "--json"], capsys)
    doc = json.loads(out)
    assert rc == 0 and [d["rule"] for d in doc["diagnostics"]] == ["cluster-priority-tie"]
    assert doc["diagnostics"][0]["file"] == str(b) and len(doc["instances"]) == 2


def test_convert_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "out.conf"
    rc, _, err = run(["convert", "--to-unicast", "-f", str(SEED), "--peers", "192.168.0.200",
                      "--src", "192.168.0.204", "-o", str(out_file)], capsys)
    assert rc == 0, err
    assert "unicast_peer {" in out_file.read_text(encoding="utf-8")
    rc, _, err = run(["convert", "--to-unicast", "-f", str(SEED), "--src", "192.168.0.204"], capsys)
    assert rc == 2 and "--peer" in err


@pytest.mark.parametrize("command", [["check", "--offline", "-f"], ["convert", "--to-unicast", "--peer", "192.0.2.2",
                                                                     "--src", "192.0.2.1", "-f"]])
def test_cannot_read_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    """Not "cannot read X: X": the reason (missing, a directory, permission) is in the message."""
    rc, _, err = run([*command, str(tmp_path / "missing.conf")], capsys)
    assert rc == 2 and err.rstrip().endswith(f"cannot read {tmp_path / 'missing.conf'}: No such file or directory")
    rc, _, err = run([*command, str(tmp_path)], capsys)  # keepalived's own words for what it skips
    assert rc == 2 and err.rstrip().endswith(f"Configuration file '{tmp_path}' is a directory - skipping")


def test_an_unreadable_include_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "loop.conf").symlink_to(tmp_path / "loop.conf")  # exists, cannot be opened
    main_conf = tmp_path / "keepalived.conf"
    main_conf.write_text(f"include {tmp_path}/loop.conf\ninclude {tmp_path}/nope.conf\n", encoding="utf-8")
    _, out, _ = run(["check", "--offline", "-f", str(main_conf)], capsys)
    assert f"include {tmp_path}/loop.conf: cannot read {tmp_path}/loop.conf: Too many levels of symbolic links" in out
    assert f"include {tmp_path}/nope.conf: no file matched" in out
