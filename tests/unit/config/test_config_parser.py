"""keepalived's keywords, defaults and quirks, one behaviour per test."""

from __future__ import annotations

from ipaddress import ip_address, ip_interface
from pathlib import Path

import pytest

from vrrpkit.config import (
    RULES,
    Diagnostic,
    ParseResult,
    load_string,
    parse_checkers,
    parse_globals,
    parse_instance,
    parse_interfaces,
    parse_lvs,
    parse_sync_group,
    parse_top,
    parse_trackers,
)
from vrrpkit.config.keywords import IMPLEMENTED, KNOWN, NEWER, UNSUPPORTED, classify
from vrrpkit.core.config import TrackKind

SEED = Path(__file__).parent / "data" / "seed.conf"
SUB_BLOCKS_OF = {"HTTP_GET": ("url",), "SSL_GET": ("url",), "SMTP_CHECK": ("host",)}


def inst(body: str = "", head: str = "", vip: str = "192.0.2.100/24") -> str:
    vips = f"  virtual_ipaddress {{\n    {vip}\n  }}\n" if vip else ""
    return f"{head}vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 51\n{body}\n{vips}}}\n"


def parse(text: str) -> ParseResult:
    return load_string(text, "k.conf", config_id="h1")


def rules(res: ParseResult) -> set[str]:
    return {d.rule for d in res.diagnostics}


def only(res: ParseResult, rule: str) -> Diagnostic:
    found = [d for d in res.diagnostics if d.rule == rule]
    assert len(found) == 1, res.diagnostics
    return found[0]


def test_minimal_defaults() -> None:
    res = parse(inst())
    (i,) = res.instances
    assert (i.priority, i.state, i.version, i.advert_int_cs, i.preempt, i.auth_type) == (100, "BACKUP", 2, 100, True, 0)
    assert i.vips[0].interface == ip_interface("192.0.2.100/24")
    assert res.ok and res.location("VI_1") == ("k.conf", 1)


def test_master_without_priority_is_owner() -> None:
    (i,) = parse(inst("  state MASTER")).instances
    assert (i.priority, i.state) == (255, "MASTER")


def test_priority_255_without_state_starts_master() -> None:
    (i,) = parse(inst("  priority 255")).instances
    assert i.state == "MASTER"


def test_state_is_case_sensitive() -> None:
    res = parse(inst("  state master"))
    d = only(res, "state-unknown")
    assert (d.line, d.severity) == (4, "warning")
    assert res.instances[0].state == "BACKUP" and res.instances[0].priority == 100


def test_invalid_priority_uses_100_even_for_master() -> None:
    res = parse(inst("  state MASTER\n  priority 0"))
    assert only(res, "out-of-range").line == 5
    assert res.instances[0].priority == 100


def test_vrid_out_of_range_drops_instance() -> None:
    res = load_string(inst().replace("51", "300"), "k.conf")
    assert {"out-of-range", "vrid-missing"} <= rules(res) and res.instances == ()


@pytest.mark.parametrize(("value", "cs", "rounded"), [("1", 100, False), ("0.4", 100, True), ("2.5", 300, True),
                                                      ("2.6", 300, True)])
def test_v2_advert_int_rounds_to_seconds(value: str, cs: int, rounded: bool) -> None:
    res = parse(inst(f"  advert_int {value}"))
    assert res.instances[0].advert_int_cs == cs
    assert ("advert-int-rounded" in rules(res)) is rounded


def test_v3_advert_int_rounds_to_centiseconds() -> None:
    res = parse(inst("  version 3\n  advert_int 0.123"))
    assert res.instances[0].advert_int_cs == 12 and "advert-int-rounded" in rules(res)
    res = parse(inst("  version 3\n  advert_int 41"))
    assert res.instances[0].advert_int_cs == 4095 and "out-of-range" in rules(res)


def test_global_version_and_ipv6_forces_v3() -> None:
    assert parse("global_defs {\n vrrp_version 3\n}\n" + inst()).instances[0].version == 3
    assert parse(inst(vip="2001:db8::1/64")).instances[0].version == 3


def test_auth_pass_truncated_to_8_bytes() -> None:
    res = parse(inst("  authentication {\n    auth_type PASS\n    auth_pass 123456789012\n  }"))
    assert res.instances[0].auth_pass == b"12345678"
    assert only(res, "auth-pass-truncated").line == 6


def test_auth_ignored_with_v3() -> None:
    res = parse(inst("  version 3\n  authentication {\n    auth_type PASS\n    auth_pass x\n  }"))
    assert res.instances[0].auth_type == 0 and "auth-ignored-v3" in rules(res)


def test_vip_full_syntax() -> None:
    res = parse(inst(vip="192.0.2.100/24 brd 192.0.2.255 dev eth1 scope link label eth1:9 noprefixroute"))
    v = res.instances[0].vips[0]
    assert (v.brd, v.dev, v.scope, v.label, v.flags) == ("192.0.2.255", "eth1", "link", "eth1:9", ("noprefixroute",))
    assert res.ok


def test_vip_without_prefix_is_host_route() -> None:
    assert str(parse(inst(vip="192.0.2.5")).instances[0].vips[0]) == "192.0.2.5/32"


@pytest.mark.parametrize(("vip", "rule", "kept"), [
    ("192.0.2.300/24", "invalid-address", 0),
    ("192.0.2.1/33", "invalid-address", 1),
    ("192.0.2.1/24 scope bogus", "vip-option", 1),
    ("192.0.2.1/24 label waytoolonglabel0", "vip-option", 0),
    ("192.0.2.1/24 frob", "vip-option", 1),
])
def test_vip_problems(vip: str, rule: str, kept: int) -> None:
    res = parse(inst(vip=vip))
    assert rule in rules(res)
    assert len(res.instances[0].vips) == kept


def test_vip_family_mismatch_dropped() -> None:
    res = parse(inst(vip="192.0.2.1/24\n    2001:db8::1/64"))
    assert only(res, "vip-family-mismatch").line == 7 and len(res.instances[0].vips) == 1


def test_excluded_vips_not_advertised() -> None:
    (i,) = parse(inst("  virtual_ipaddress_excluded {\n    198.51.100.1/24\n  }")).instances
    assert i.advertised_addresses() == (ip_address("192.0.2.100"),) and len(i.excluded_vips) == 1


def test_unicast_peers_with_ttl_and_self() -> None:
    res = parse(inst("  unicast_src_ip 192.0.2.10\n  unicast_peer {\n    192.0.2.11 min_ttl 250 max_ttl 255\n"
                     "    192.0.2.10\n  }"))
    i = res.instances[0]
    assert i.unicast and i.unicast_peers[0].min_ttl == 250 and i.unicast_peers[0].max_ttl == 255
    assert only(res, "unicast-peer-is-self").line == 7
    assert "multicast-may-be-dropped" not in rules(res)


def test_multicast_info_points_to_investigate_and_convert() -> None:
    d = only(parse(inst()), "multicast-may-be-dropped")
    assert d.severity == "info" and "investigate" in d.message and "convert --to-unicast" in d.message


def test_scripts_and_tracks() -> None:
    text = ("global_defs {\n enable_script_security\n script_user root\n}\n"
            'vrrp_script chk {\n  script "/bin/check --x"\n  interval 2.5\n  timeout 1\n  weight -20 reverse\n'
            "  rise 2\n  fall 3\n  user nobody nogroup\n  init_fail\n}\n"
            + inst("  track_script {\n    chk\n    chk2\n  }\n  track_interface {\n    eth1 weight 10\n    eth0\n  }"))
    res = parse(text)
    s = res.scripts["chk"]
    assert (s.script, s.interval_cs, s.timeout_cs, s.weight, s.reverse, s.rise, s.fall, s.user, s.group,
            s.init_fail) == ("/bin/check --x", 250, 100, -20, True, 2, 3, "nobody", "nogroup", True)
    tracks = res.instances[0].tracks
    assert [(t.name, t.kind, t.weight, t.reverse) for t in tracks] == [
        ("chk", TrackKind.SCRIPT, -20, True), ("eth1", TrackKind.INTERFACE, 10, False)]
    assert {"track-script-undefined", "track-own-interface"} <= rules(res)


def test_weight_zero_is_reported_as_fault_tracker() -> None:
    res = parse("global_defs {\n enable_script_security\n}\n"
                'vrrp_script chk {\n  script "/bin/true"\n}\n' + inst("  track_script {\n    chk\n  }"))
    assert only(res, "weight-zero-means-fault").severity == "info"


def test_track_file_block() -> None:
    res = parse("track_file tf {\n  file /run/prio\n  weight 5\n  init_file 3 overwrite\n}\n"
                + inst("  track_file {\n    tf weight -2\n  }"))
    assert res.track_files["tf"].path == "/run/prio" and res.track_files["tf"].init_file == 3
    (t,) = res.instances[0].tracks
    assert (t.kind, t.weight) == (TrackKind.FILE, -2)


def test_sync_group_members_lose_weights() -> None:
    text = ("global_defs {\n enable_script_security\n}\n"
            'vrrp_script chk {\n  script "/bin/true"\n  weight 10\n}\n'
            + inst("  track_script {\n    chk\n  }")
            + inst().replace("VI_1", "VI_2").replace(" 51", " 52").replace("100/", "101/")
            + "vrrp_sync_group G {\n  group {\n    VI_1 VI_2\n    VI_9\n  }\n}\n")
    res = parse(text)
    assert res.sync_groups[0].members == ("VI_1", "VI_2")
    assert res.instance("VI_1").tracks[0].weight == 0 and res.instance("VI_1").sync_group == "G"
    assert {"sync-group-unknown-instance", "sync-group-ignores-weights"} <= rules(res)


def test_sync_group_tracking_weight_keeps_weights() -> None:
    text = ('global_defs {\n enable_script_security\n}\nvrrp_script chk {\n  script "/bin/true"\n  weight 10\n}\n'
            + inst("  track_script {\n    chk\n  }")
            + "vrrp_sync_group G {\n  group {\n    VI_1\n  }\n  sync_group_tracking_weight\n}\n")
    assert parse(text).instance("VI_1").tracks[0].weight == 10


def test_nopreempt_and_preempt_delay_need_backup() -> None:
    res = parse(inst("  state MASTER\n  priority 100\n  nopreempt\n  preempt_delay 5"))
    i = res.instances[0]
    assert i.preempt and i.preempt_delay_cs == 0
    assert {"nopreempt-needs-backup", "preempt-delay-needs-backup"} <= rules(res)
    assert parse(inst("  preempt_delay 5")).instances[0].preempt_delay_cs == 500


def test_unknown_and_unsupported_keywords() -> None:
    res = parse(inst("  nopreemt\n  vrf vrf0") + "virtual_server 10.0.0.1 80 {\n  protocol TCP\n"
                "  lb_algo rr\n  lb_kind NAT\n  real_server 10.0.0.2 80 {\n    weight 1\n  }\n}\n")
    assert only(res, "unknown-keyword").line == 4
    unsupported = [d for d in res.diagnostics if d.rule == "unsupported-keyword"]
    assert [d.line for d in unsupported] == [5]
    assert all("not supported, ignored" in d.message for d in unsupported)
    # The load balancer is linted, not run: one note, on the first virtual_server, says who runs it.
    assert only(res, "lvs-checker-only").line == 10


def test_misspelt_block_is_read_like_keepalived() -> None:
    """keepalived does not know `trak_script`, so its braces close the instance early."""
    res = parse(inst("  trak_script {\n    chk\n  }"))
    assert [(d.line, d.rule) for d in res.diagnostics if d.severity == "error"][:3] == [
        (4, "unknown-keyword"), (4, "syntax"), (5, "unknown-keyword")]


def test_missing_and_extra_braces() -> None:
    assert "syntax" in rules(parse(inst()[:-2]))
    res = parse(inst() + "}\n")
    assert only(res, "syntax").line == 9


def test_missing_interface_and_vips() -> None:
    res = parse("vrrp_instance VI_1 {\n  virtual_router_id 5\n}\n")
    assert {"interface-missing", "no-vips"} <= rules(res)
    res = parse("vrrp_instance VI_1 {\n  virtual_router_id 5\n  unicast_src_ip 192.0.2.1\n"
                "  unicast_peer {\n    192.0.2.2\n  }\n  virtual_ipaddress {\n    192.0.2.9\n  }\n}\n")
    assert only(res, "interface-missing").severity == "warning"


def test_duplicates() -> None:
    two = inst() + inst().replace("VI_1", "VI_2")
    res = parse(two)
    assert {"vrid-duplicate", "vip-duplicate"} <= rules(res)
    other_family = inst() + inst(vip="2001:db8::1/64").replace("VI_1", "VI_6")
    assert "vrid-duplicate" not in rules(parse(other_family))


def test_script_security_warning() -> None:
    res = parse('vrrp_script chk {\n  script "/bin/true"\n}\n' + inst())
    assert only(res, "script-security").line == 2


def test_notify_scripts() -> None:
    res = parse("global_defs {\n enable_script_security\n}\n" + inst('  notify_master "/bin/x master"\n'
                                                                     "  notify /bin/y"))
    assert res.instances[0].notify == (("master", "/bin/x master", ()), ("notify", "/bin/y", ()))


def test_notify_keeps_its_user_and_group_words_and_line() -> None:
    """keepalived runs `notify_master "/x.sh" nobody nogroup` as nobody:nogroup; words after the
    group are ignored, as keepalived ignores them."""
    res = parse("global_defs {\n enable_script_security\n}\n" + inst('  notify_master "/x.sh m" nobody nogroup\n'
                                                                     '  notify_backup "/x.sh b" nobody\n'
                                                                     '  notify_master "/other.sh"\n'
                                                                     '  notify_fault /x.sh nobody nogroup extra'))
    notify = res.instances[0].notify  # the repeated notify_master is not kept (keepalived keeps the first)
    assert notify == (("master", "/x.sh m", ("nobody", "nogroup")), ("backup", "/x.sh b", ("nobody",)),
                      ("fault", "/x.sh", ("nobody", "nogroup")))  # fmt: skip
    uses = [(u.event, u.command, u.user, u.loc.line if u.loc else None) for u in res.script_uses()]
    first = res.notify_locs[("instance", "VI_1", "master")].line
    assert uses == [("master", "/x.sh m", ("nobody", "nogroup"), first), ("backup", "/x.sh b", ("nobody",), first + 1),
                    ("fault", "/x.sh", ("nobody", "nogroup"), first + 3)]  # fmt: skip


def test_globals() -> None:
    res = parse("global_defs {\n  router_id lb1\n  vrrp_garp_master_delay 10\n  vrrp_garp_master_repeat 3\n"
                "  vrrp_mcast_group4 224.0.0.19\n  vrrp_startup_delay 5.5\n  vrrp_skip_check_adv_addr\n"
                "  vrrp_check_unicast_src\n  vrrp_lower_prio_no_advert\n  vrrp_higher_prio_send_advert on\n"
                "  notification_email {\n    root@localhost\n  }\n}\n" + inst())
    g = res.globals
    assert (g.router_id, g.garp_master_delay_cs, g.garp_master_repeat, str(g.mcast_group4),
            g.vrrp_startup_delay_cs) == ("lb1", 1000, 3, "224.0.0.19", 550)
    i = res.instances[0]
    assert i.skip_check_adv_addr and i.check_unicast_src and i.lower_prio_no_advert and i.higher_prio_send_advert
    assert i.garp_master_delay_cs == 1000 and str(i.group) == "224.0.0.19"
    assert g.notification_email == ("root@localhost",)
    assert "unsupported-keyword" not in rules(res)


def test_seed_parses_as_keepalived_does() -> None:
    res = load_string(SEED.read_text(encoding="utf-8"), "seed.conf")
    (i,) = res.instances
    assert (i.name, i.interface, i.vrid, i.priority, i.state, i.strict) == ("VI_1", "eth0", 51, 100, "BACKUP", True)
    assert i.auth_type == 0  # strict mode ignores it, as keepalived logs
    assert str(i.vips[0]) == "192.168.0.99/24" and i.vips[0].label == "eth0:1" and i.vips[0].dev == "eth0"
    assert i.tracks[0].name == "check_web" and i.tracks[0].weight == 2
    assert not i.unicast and res.globals.router_id == "rb02"
    assert {"strict-drops-auth", "strict-no-accept", "multicast-may-be-dropped", "script-security"} == rules(res)
    assert res.ok


def test_seed_with_unicast_uncommented_is_an_error() -> None:
    text = SEED.read_text(encoding="utf-8")
    for line in ("#    unicast_src_ip", "#    unicast_peer {", "#        192.168.0.200", "#    }"):
        text = text.replace(line, line[1:].replace("    ", "  ", 1), 1)
    res = load_string(text, "seed.conf")
    d = only(res, "strict-forbids-unicast")
    assert d.severity == "error" and d.line == 26 and not res.ok  # the unicast_peer line


def test_keyword_tables_are_complete() -> None:
    """Every keyword keepalived knows is implemented or listed as unsupported: nothing is silent."""
    for section, known in KNOWN.items():
        for kw in known | NEWER.get(section, frozenset()):
            assert classify(section, kw) in ("implemented", "unsupported"), (section, kw)
        assert not set(UNSUPPORTED[section]) & IMPLEMENTED[section]


def test_every_implemented_keyword_has_a_handler() -> None:
    """IMPLEMENTED and the sections' handler tables name the same keywords.

    A keyword in IMPLEMENTED without a handler would be reported as "not supported" although listed as
    read; a handler missing from IMPLEMENTED would never run (the keyword would be called unknown).
    `include` is the lexer's, in every section.
    """
    tables = {
        "top": parse_top.TOP_LEVEL,
        "global_defs": parse_globals.KEYWORDS,
        "vrrp_script": parse_trackers.SCRIPT_KEYWORDS,
        "track_file": parse_trackers.TRACK_FILE_KEYWORDS,
        "vrrp_track_process": parse_trackers.PROCESS_KEYWORDS,
        "vrrp_instance": parse_instance.KEYWORDS,
        "authentication": parse_instance.AUTH_KEYWORDS,
        "vrrp_sync_group": parse_sync_group.KEYWORDS,
        "garp_group": parse_interfaces.GARP_GROUP_KEYWORDS,
        "track_group": parse_interfaces.TRACK_GROUP_KEYWORDS,
    }
    lvs = {**{s: set(t) for s, t in parse_lvs.SECTIONS.items()},
           **{s: set(t) | set(SUB_BLOCKS_OF.get(s, ())) for s, t in parse_checkers.TABLES.items()}}
    lvs["FILE_CHECK"] |= {"track_file"}
    assert set(tables) | set(lvs) == set(IMPLEMENTED)
    for section, table in tables.items():
        assert set(table) == IMPLEMENTED[section] - {"include"}, section
    for section, words in lvs.items():
        assert words == IMPLEMENTED[section] - {"include"}, section


def test_rules_documented() -> None:
    with pytest.raises(ValueError, match="undocumented"):
        Diagnostic("f", 1, 1, "error", "no-such-rule", "x")
    assert str(Diagnostic("f", 2, 3, "warning", "syntax", "m")) == "f:2:3: warning: m [syntax]"
    assert len(RULES) >= 40


def test_docs_list_every_rule_and_divergence() -> None:
    from vrrpkit.config.divergences import DIVERGENCES

    docs = Path(__file__).parents[3] / "docs"
    check_md = (docs / "check.md").read_text()
    div_md = (docs / "divergences.md").read_text()
    assert all(f"`{rule}`" in check_md for rule in RULES)
    assert all(f"`{d.key}`" in div_md for d in DIVERGENCES)


def test_version_2_on_an_ipv6_instance_is_kept_as_keepalived_keeps_it() -> None:
    """keepalived 2.2.7 sends VRRPv2 over IPv6 when the instance says `version 2` (measured; only the
    global vrrp_version is overridden for IPv6), so a mixed keepalived/vrrpkit pair must too."""
    res = parse(inst("  version 2", vip="2001:db8::1/64"))
    assert res.instances[0].version == 2 and only(res, "v2-over-ipv6").severity == "warning"
    res = parse("global_defs {\n vrrp_version 2\n}\n" + inst(vip="2001:db8::1/64"))
    assert res.instances[0].version == 3 and "v2-over-ipv6" not in rules(res)
