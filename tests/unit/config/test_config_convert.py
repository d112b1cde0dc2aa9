"""convert --to-unicast: only the needed lines change; strict mode's behaviour is kept explicitly."""

from __future__ import annotations

from pathlib import Path

import pytest

from vrrpkit.config import load_string
from vrrpkit.config.convert import ConvertError, parse_peers, to_unicast

SEED = Path(__file__).parent / "data" / "seed.conf"


def test_seed_conversion_keeps_every_other_line() -> None:
    text = SEED.read_text(encoding="utf-8")
    out = to_unicast(text, ["192.168.0.200"], src="192.168.0.204", filename="seed.conf")
    kept = [ln for ln in out.splitlines() if "vrrpkit convert" not in ln]
    original = text.splitlines()
    # every original line is still there, in order (some behind a "# ")
    it = iter(kept)
    for line in original:
        assert any(k == line or (k.lstrip().startswith("# ") and k.replace("# ", "", 1) == line) for k in it), line
    assert "执行定义的脚本" in out and "按需修改" in out
    res = load_string(out, "seed.conf")
    (i,) = res.instances
    assert i.unicast and str(i.unicast_src_ip) == "192.168.0.204" and not i.strict
    assert i.auth_type == 0 and i.accept is False  # what strict mode did, now explicit
    assert res.ok and not {"strict-forbids-unicast", "multicast-may-be-dropped"} & {d.rule for d in res.diagnostics}


def test_strict_lines_are_commented_with_a_reason() -> None:
    out = to_unicast(SEED.read_text(encoding="utf-8"), ["192.168.0.200"], src="192.168.0.204")
    lines = out.splitlines()
    idx = lines.index("   # vrrp_strict")
    assert "keepalived rejects unicast peers in strict mode" in lines[idx - 1]
    assert "    # authentication {" in lines


def test_owner_gets_accept_and_existing_unicast_is_replaced() -> None:
    text = ("global_defs {\n  vrrp_strict\n}\nvrrp_instance A {\n  interface eth0\n  virtual_router_id 5\n"
            "  priority 255\n  unicast_src_ip 10.0.0.1\n  unicast_peer {\n    10.0.0.9\n  }\n"
            "  virtual_ipaddress {\n    10.0.0.100/24\n  }\n}\n")
    out = to_unicast(text, ["10.0.0.2,10.0.0.3", "10.0.0.1"], src=None)
    res = load_string(out, "x")
    (i,) = res.instances
    assert [str(p.address) for p in i.unicast_peers] == ["10.0.0.2", "10.0.0.3"]
    assert i.accept is True and "    # 10.0.0.9" in out


def test_src_from_interface_map_and_ipv6_needs_source() -> None:
    v4 = "vrrp_instance A {\n  interface eth0\n  virtual_router_id 5\n  virtual_ipaddress {\n    10.0.0.100\n  }\n}\n"
    out = to_unicast(v4, ["10.0.0.2"], src={"eth0": "10.0.0.1"})
    assert "unicast_src_ip 10.0.0.1" in out
    v6 = v4.replace("10.0.0.100", "2001:db8::100/64")
    with pytest.raises(ConvertError, match="IPv6 and has no source"):
        to_unicast(v6, ["2001:db8::2"], src={"eth0": "10.0.0.1"})
    assert "unicast_src_ip 2001:db8::1" in to_unicast(v6, ["2001:db8::2"], src={"eth0/6": "2001:db8::1"})


def test_refusals() -> None:
    text = SEED.read_text(encoding="utf-8")
    with pytest.raises(ConvertError, match="no peers"):
        to_unicast(text, [], src="192.168.0.204")
    with pytest.raises(ConvertError, match="no source address"):
        to_unicast(text, ["192.168.0.200"])
    with pytest.raises(ConvertError, match="no IPv4 peer"):
        to_unicast(text, ["192.168.0.204"], src="192.168.0.204")
    with pytest.raises(ValueError, match="not an IP"):
        parse_peers(["10.0.0.1,nope"])


def test_crlf_preserved() -> None:
    text = "vrrp_instance A {\r\n  interface eth0\r\n  virtual_router_id 5\r\n  virtual_ipaddress {\r\n" \
           "    10.0.0.100\r\n  }\r\n}\r\n"
    out = to_unicast(text, ["10.0.0.2"], src="10.0.0.1")
    assert "\n" not in out.replace("\r\n", "")


VMAC = ("vrrp_instance A {\n  interface eth0\n  use_vmac\n  virtual_router_id 5\n  virtual_ipaddress {\n"
        "    10.0.0.100/24\n  }\n}\n")  # fmt: skip


def test_use_vmac_gets_vmac_xmit_base_which_keepalived_requires_with_unicast() -> None:
    out = to_unicast(VMAC, ["10.0.0.2"], src="10.0.0.1")
    lines = out.splitlines()
    assert lines.count("  vmac_xmit_base") == 1
    assert "use_vmac needs vmac_xmit_base" in lines[lines.index("  vmac_xmit_base") - 1]
    already = to_unicast(VMAC.replace("  use_vmac\n", "  use_vmac\n  vmac_xmit_base\n"), ["10.0.0.2"], src="10.0.0.1")
    assert already.count("vmac_xmit_base") == 1  # not written twice


def test_use_ipvlan_is_refused_with_keepalived_words() -> None:
    with pytest.raises(ConvertError, match=r"use_ipvlan: keepalived 2\.2\.7 rejects it"):
        to_unicast(VMAC.replace("use_vmac", "use_ipvlan"), ["10.0.0.2"], src="10.0.0.1")


def test_convert_cli_writes_nothing_when_the_result_has_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vrrpkit.cli.main import main

    src = tmp_path / "in.conf"
    src.write_text(VMAC.replace("  virtual_router_id 5\n", "  virtual_router_id 5\n  priorty 150\n"))
    out = tmp_path / "out.conf"
    rc = main(["convert", "--to-unicast", "-f", str(src), "--peer", "10.0.0.2", "--src", "10.0.0.1", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and not out.exists()
    assert "unknown keyword `priorty`" in err
    assert "1 error(s), 1 of them already in" in err and "nothing written" in err
    src.write_text(VMAC)
    assert (
        main(["convert", "--to-unicast", "-f", str(src), "--peer", "10.0.0.2", "--src", "10.0.0.1", "-o", str(out)])
        == 0
    )
    assert "vmac_xmit_base" in out.read_text()


def test_mcast_dst_ip_is_commented_out_with_unicast() -> None:
    """keepalived -t on a unicast instance with mcast_dst_ip: 'multicast destination specified with
    unicast - ignoring' (found by tests/interop/test_convert_keepalived.py on corpus ok_use_vmac.conf)."""
    out = to_unicast(VMAC.replace("  use_vmac\n", "  mcast_dst_ip 224.0.0.19\n"), ["10.0.0.2"], src="10.0.0.1")
    assert "  # mcast_dst_ip 224.0.0.19" in out.splitlines() and "multicast destination" in out
    assert load_string(out).instances[0].unicast
