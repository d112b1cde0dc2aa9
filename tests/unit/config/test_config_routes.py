"""virtual_routes/virtual_rules/static_*, vrrp_track_process, notify FIFOs and mail settings: what keepalived
2.2.7 makes of each line (measured with `keepalived -t` and by running it in a namespace), with the
diagnostic on the word it is about."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

from vrrpkit.config import ParseResult, load_string
from vrrpkit.config.keywords import classify
from vrrpkit.core.config import TrackKind
from vrrpkit.core.routing import RTN_TYPES, RTPROT_KEEPALIVED, NextHop


def parse(text: str) -> ParseResult:
    return load_string(text, "k.conf", config_id="h1")


def inst(body: str, name: str = "VI_1", vrid: int = 51) -> str:
    return (f"vrrp_instance {name} {{\n  interface eth0\n  virtual_router_id {vrid}\n{body}\n"
            f"  virtual_ipaddress {{\n    192.0.2.100/24\n  }}\n}}\n")


def routes(lines: str) -> ParseResult:
    return parse(inst("  virtual_routes {\n" + lines + "\n  }"))


def diags(res: ParseResult, rule: str) -> list[tuple[int, int, str]]:
    return [(d.line, d.column, d.message) for d in res.diagnostics if d.rule == rule]


def test_routes_with_keepalived_syntax() -> None:
    res = routes(
        "    src 192.0.2.100 to 198.51.100.0/26 via 192.0.2.3 dev eth0 metric 5 table 100 scope link\n"
        "    blackhole 198.51.100.64/26\n"
        "    unreachable 198.51.100.128/26 table 100 no_track\n"
        "    198.51.100.192/26 nexthop via 192.0.2.3 dev eth0 weight 1 nexthop via 192.0.2.4 dev eth0 weight 2\n"
        "    inet6 2001:db8:1::/64 via 2001:db8::3 dev eth0 mtu lock 1400 initcwnd 10 protocol 18"
    )
    r = res.extras_of("VI_1").virtual_routes
    assert [str(x.dst) for x in r] == ["198.51.100.0/26", "198.51.100.64/26", "198.51.100.128/26",
                                       "198.51.100.192/26", "2001:db8:1::/64"]
    first = r[0]
    assert (first.src, first.via, first.dev, first.metric, first.table, first.scope, first.protocol, first.track) == (
        ip_address("192.0.2.100"), ip_address("192.0.2.3"), "eth0", 5, 100, 253, RTPROT_KEEPALIVED, True)
    assert r[1].type == RTN_TYPES["blackhole"] and not r[1].track  # no dev: keepalived cannot track it
    assert r[2].type == RTN_TYPES["unreachable"] and not r[2].track
    assert r[3].nexthops == (NextHop(ip_address("192.0.2.3"), "eth0", 1), NextHop(ip_address("192.0.2.4"), "eth0", 2))
    assert r[4].family == 6 and dict(r[4].metrics) == {"mtu": 1400, "initcwnd": 10} and r[4].locked == ("mtu",)
    # keepalived's warning for the untrackable ones, on their lines
    assert [line for line, _, _ in diags(res, "route-option")] == [6, 8]


def test_a_bad_route_is_dropped_with_the_word_it_is_about() -> None:
    res = routes(
        "    198.51.100.0/26 dev eth0 bogus 12\n"
        "    198.51.100.0/26 via 192.0.2.300 dev eth0\n"
        "    dev eth0\n"
        "    198.51.100.1/26 dev eth0\n"
        "    198.51.100.0/26 via 2001:db8::1 dev eth0"
    )
    assert res.extras_of("VI_1").virtual_routes == ()
    found = diags(res, "route-invalid")
    assert [(line, col) for line, col, _ in found] == [(5, 30), (6, 25), (7, 5), (8, 5), (9, 25)]
    assert "invalid prefix 'bogus'" in found[0][2] and "host bits" in found[3][2] and "mix IPv4 and IPv6" in found[4][2]
    assert not res.ok


def test_a_tracked_route_gets_protocol_keepalived_and_no_track_keeps_its_own() -> None:
    res = routes("    198.51.100.0/26 dev eth0 protocol bird\n    198.51.100.64/26 dev eth0 protocol bird no_track")
    a, b = res.extras_of("VI_1").virtual_routes
    assert (a.protocol, b.protocol) == (RTPROT_KEEPALIVED, 12)
    assert len(diags(res, "route-option")) == 1


def test_rules_selectors_actions_and_keepalived_numbering() -> None:
    res = parse(
        "static_rules {\n"
        "  from 198.51.100.0/26 table 100\n"
        "  not to 198.51.100.0/24 iif eth0 oif eth1 fwmark 0x10/0xff tos 16 ipproto udp sport 10-20 dport 30 "
        "uidrange 1000-2000 lookup 101 priority 5\n"
        "  from 198.51.100.0/26 goto 20 priority 11\n"
        "  from 198.51.100.0/26 prohibit priority 12 protocol 12 no_track\n"
        "  inet6 to 2001:db8::/64 suppress_prefixlength 0 table main priority 13\n"
        "}\n" + inst("  virtual_rules {\n    from 198.51.100.128/26 table 100\n  }")
    )
    static = res.static.rules
    assert [r.priority for r in static] == [16384, 5, 11, 12, 13]
    assert res.extras_of("VI_1").virtual_rules[0].priority == 16383  # the count runs through the file
    second = static[1]
    assert (second.invert, second.dst, second.iif, second.oif, second.fwmark, second.fwmask, second.tos,
            second.ip_proto, second.sport, second.dport, second.uid_range, second.table) == (
        True, ip_network("198.51.100.0/24"), "eth0", "eth1", 16, 255, 16, 17, (10, 20), (30, 30), (1000, 2000), 101)
    assert (static[2].action, static[2].goto) == ("goto", 20)
    assert (static[3].action, static[3].protocol, static[3].track) == ("prohibit", 12, False)
    assert static[4].family == 6 and static[4].suppress_prefixlen == 0 and static[4].table == 254
    assert [line for line, _, _ in diags(res, "rule-no-preference")] == [2, 12]


def test_bad_rules_are_dropped() -> None:
    res = parse(
        "static_rules {\n"
        "  from 198.51.100.0/26 priority 8\n"
        "  from 198.51.100.0/26 ip_proto 17 table 100 priority 9\n"
        "  from 198.51.100.0/26 goto 20\n"
        "  from 198.51.100.0/26 goto 20 priority 30\n"
        "  from 198.51.100.0/26 table 0 priority 31\n"
        "  from 198.51.100.0/26 blackhole table 100 priority 32\n"
        "}\n"
    )
    assert res.static.rules == ()
    messages = [m for _, _, m in diags(res, "rule-invalid")]
    assert len(messages) == 6
    assert "no action" in messages[0] and "'ip_proto'" in messages[1] and "without a preference" in messages[2]
    assert ">= goto target" in messages[3] and "table 0" in messages[4] and "one of" in messages[5]


def test_static_addresses_default_to_eth0_as_keepalived_default_interface() -> None:
    res = parse("static_ipaddress {\n  198.51.100.1/32\n  198.51.100.2/32 dev eth1\n}\n")
    assert [(str(v), v.dev) for v in res.static.addresses] == [("198.51.100.1/32", "eth0"), ("198.51.100.2/32", "eth1")]


def test_track_process_block_and_reference() -> None:
    res = parse(
        'vrrp_track_process haproxy {\n  process haproxy\n  weight -60 reverse\n  quorum 2\n  quorum_max 3\n'
        "  delay 0.5\n  fork_delay 1\n}\n"
        'vrrp_track_process web {\n  process "/usr/sbin/nginx" -g "daemon off;"\n  param_match partial\n}\n'
        "vrrp_track_process none {\n  process sshd\n  quorum_max 0\n}\n"
        + inst("  track_process {\n    haproxy\n    web weight 10\n    missing\n  }")
    )
    hp, web, none = (res.track_processes[n] for n in ("haproxy", "web", "none"))
    assert (hp.weight, hp.reverse, hp.quorum, hp.quorum_max, hp.terminate_delay_cs, hp.fork_delay_cs) == (
        -60, True, 2, 3, 50, 100)
    assert (web.params, web.param_match, web.full_command) == (("-g", "daemon off;"), "partial", True)
    assert (none.quorum, none.quorum_max) == (0, 0)
    tracks = res.instance("VI_1").tracks
    assert [(t.name, t.kind, t.weight, t.reverse) for t in tracks] == [
        ("haproxy", TrackKind.PROCESS, -60, True), ("web", TrackKind.PROCESS, 10, False)]
    assert diags(res, "track-process-undefined")[0][0] == 23


def test_process_names_longer_than_the_kernel_keeps_are_flagged() -> None:
    res = parse("vrrp_track_process p {\n  process a-very-long-daemon-name\n}\n")
    assert "15 characters" in diags(res, "invalid-value")[0][2]
    assert "15 characters" not in str(parse("vrrp_track_process p {\n  process x y\n}\n").diagnostics)


def test_fifo_and_mail_globals_and_per_instance_settings() -> None:
    res = parse(
        "global_defs {\n  router_id lb1\n  vrrp_notify_fifo /run/ka.fifo keepalived_script\n"
        "  notify_fifo_script /usr/local/bin/reader\n  notify_fifo /run/all.fifo\n"
        "  vrrp_notify_priority_changes\n  notification_email {\n    ops@example.com\n    oncall@example.com\n  }\n"
        "  notification_email_from vrrp@example.com\n  smtp_server 192.0.2.25 2525\n  smtp_connect_timeout 7\n"
        "  smtp_helo_name lb1.example.com\n  smtp_alert_vrrp\n  no_email_faults\n}\n"
        + inst("  smtp_alert off") + inst("", name="VI_2", vrid=52)
        + "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n  smtp_alert false\n}\n"
    )
    g = res.globals
    assert g.vrrp_notify_fifo is not None and (g.vrrp_notify_fifo.path, g.vrrp_notify_fifo.user) == (
        "/run/ka.fifo", "keepalived_script")
    assert g.notify_fifo is not None and (g.notify_fifo.path, g.notify_fifo.script) == (
        "/run/all.fifo", "/usr/local/bin/reader")
    assert (g.notification_email, g.notification_email_from, g.smtp_server, g.smtp_connect_timeout,
            g.smtp_helo_name, g.no_email_faults) == (("ops@example.com", "oncall@example.com"), "vrrp@example.com",
                                                     ("192.0.2.25", 2525), 7, "lb1.example.com", True)
    assert not res.extras_of("VI_1").smtp_alert and res.extras_of("VI_2").smtp_alert  # smtp_alert_vrrp default
    assert res.group_smtp_alert == {"G": False}
    assert res.extras_of("VI_1").notify_priority_changes  # from vrrp_notify_priority_changes
    assert not {d.rule for d in res.diagnostics} & {"unsupported-keyword", "unknown-keyword"}


def test_mail_without_a_server_and_a_script_without_a_fifo_say_nothing_will_happen() -> None:
    res = parse("global_defs {\n  notify_fifo_script /bin/cat\n  notification_email {\n    a@b\n  }\n}\n"
                + inst("  smtp_alert"))
    assert "no smtp_server" in diags(res, "smtp-incomplete")[0][2]
    assert any("without notify_fifo" in m for _, _, m in diags(res, "invalid-value"))


def test_the_keywords_of_this_issue_are_no_longer_unsupported() -> None:
    for section, kw in [("top", "static_routes"), ("top", "static_rules"), ("top", "static_ipaddress"),
                        ("top", "vrrp_track_process"), ("vrrp_instance", "virtual_routes"),
                        ("vrrp_instance", "virtual_rules"), ("vrrp_instance", "track_process"),
                        ("vrrp_instance", "smtp_alert"), ("vrrp_instance", "notify_priority_changes"),
                        ("vrrp_sync_group", "smtp_alert"), ("vrrp_sync_group", "track_process"),
                        ("global_defs", "notify_fifo"), ("global_defs", "vrrp_notify_fifo_script"),
                        ("global_defs", "smtp_server"), ("global_defs", "notification_email")]:
        assert classify(section, kw) == "implemented", (section, kw)


def test_host_check_finds_a_fifo_that_is_a_file_and_an_unknown_table() -> None:
    from vrrpkit.config.host import HostFacts, host_checks

    res = parse(
        "global_defs {\n  vrrp_notify_fifo /var/log/syslog\n  notify_fifo /run/ok.fifo\n}\n"
        "static_routes {\n  198.51.100.0/26 dev eth0 table vrrp\n  198.51.100.64/26 dev eth0 table nosuch\n}\n"
        + inst("  virtual_rules {\n    from 198.51.100.0/26 table other priority 5\n  }")
    )
    kinds = {"/var/log/syslog": "file", "/run/ok.fifo": "fifo"}
    facts = HostFacts(interfaces={"eth0": ()}, path_kind=kinds.get, rt_tables={"vrrp": 100, "main": 254})
    found = sorted((d.rule, d.line) for d in host_checks(res, facts))
    assert found == [("host-fifo-not-fifo", 2), ("host-table-unknown", 7), ("host-table-unknown", 13)]
    assert not host_checks(res, HostFacts(interfaces={"eth0": ()}))  # unknown facts: nothing checked
