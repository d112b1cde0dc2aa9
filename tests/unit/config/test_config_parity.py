"""`check` says what `keepalived -t` 2.2.7 says, on the line it says it: one measured behaviour per test.

Every expectation here was measured with keepalived 2.2.7 in a namespace (the messages quoted are
keepalived's); tests/interop/test_keepalived_check.py runs keepalived itself over the corpus.
"""

from __future__ import annotations

from vrrpkit.config import Diagnostic, DictLoader, ParseResult, load_string
from vrrpkit.config.host import HostFacts, host_checks


def inst(body: str = "", name: str = "VI_1") -> str:
    return (f"vrrp_instance {name} {{\n  interface eth0\n  virtual_router_id 51\n  priority 100\n"
            f"  virtual_ipaddress {{\n    192.0.2.100/24\n  }}\n{body}}}\n")


def parse(text: str) -> ParseResult:
    return load_string(text, "k.conf", config_id="h1", loader=DictLoader({}))


def at(res: ParseResult, rule: str) -> list[tuple[int, str]]:
    return [(d.line, d.severity) for d in res.diagnostics if d.rule == rule]


def lines(res: ParseResult, severity: str = "error") -> list[int]:
    return sorted({d.line for d in res.diagnostics if d.severity == severity})


# --- values and ranges ----------------------------------------------------------------------------


def test_garp_and_gna_interval_zero_are_invalid() -> None:
    """keepalived: "number '0' outside range [0.000001, 4294.967295]", "vrrp_garp_interval '0' is invalid"."""
    res = parse("global_defs {\n  vrrp_garp_interval 0\n  vrrp_gna_interval 0\n}\n" + inst())
    assert at(res, "out-of-range") == [(2, "error"), (3, "error")]
    ok = parse("global_defs {\n  vrrp_garp_interval 0.001\n  vrrp_gna_interval 2\n}\n" + inst())
    assert not at(ok, "out-of-range") and ok.globals.gna_interval_cs == 200


def test_garp_delays_are_whole_seconds_in_2_2_7() -> None:
    """keepalived: "invalid number '1.5'", "vrrp_garp_master_delay '1.5' invalid - ignoring"."""
    res = parse("global_defs {\n  vrrp_garp_master_delay 1.5\n}\n" + inst("  garp_master_refresh 2.5\n"))
    assert lines(res) == [2, 11]


def test_switches_take_no_value() -> None:
    """keepalived 2.2.7 ignores the word after vrrp_strict: `vrrp_strict no` is strict mode."""
    res = parse("global_defs {\n  vrrp_strict no\n  enable_script_security 1\n}\n" + inst())
    assert res.instances[0].strict and res.globals.enable_script_security
    assert at(res, "ignored-value") == [(2, "warning")]
    assert not res.errors


def test_script_timeout_zero_becomes_one() -> None:
    res = parse('vrrp_script chk {\n  script "/bin/true"\n  timeout 0\n}\n' + inst())
    assert at(res, "out-of-range") == [(3, "error")] and res.scripts["chk"].timeout_cs == 100


def test_loopback_interface_is_refused() -> None:
    """keepalived: "(VI_1) cannot use a loopback interface (lo) for vrrp - ignoring", then "Unknown interface!"."""
    res = parse(inst().replace("interface eth0", "interface lo"))
    assert (2, "error") in at(res, "invalid-value") and at(res, "interface-missing") == [(1, "error")]


def test_track_interface_naming_its_own_interface_is_an_error() -> None:
    """keepalived -t exits 5 on it."""
    res = parse(inst("  track_interface {\n    eth0\n  }\n"))
    assert at(res, "track-own-interface") == [(9, "error")]


def test_auth_pass_before_auth_type_is_fine() -> None:
    res = parse(inst("  authentication {\n    auth_pass 1234\n    auth_type PASS\n  }\n"))
    assert res.instances[0].auth_type == 1 and res.instances[0].auth_pass == b"1234"
    assert not [d for d in res.diagnostics if "auth" in d.message]
    ah = parse(inst("  authentication {\n    auth_pass 1234\n    auth_type AH\n  }\n"))
    assert not [d for d in ah.diagnostics if "no auth_type" in d.message]  # it is on the next line


def test_auth_type_ah_is_read_and_keepalived_s_rules_turn_it_off_where_it_turns_it_off() -> None:
    """keepalived 2.2.7 (`keepalived -t`, measured): AH is VRRPv2 over IPv4; without a password,
    with version 3, on IPv6 or in strict mode the block is ignored; state MASTER below priority
    255 starts as BACKUP ('Initial state master is incompatible with AH authentication')."""
    block = "  authentication {\n    auth_type AH\n    auth_pass secret12\n  }\n"
    ah = parse(inst("  version 2\n" + block))
    assert (ah.instances[0].auth_type, ah.instances[0].auth_pass) == (2, b"secret12")
    assert not [d for d in ah.diagnostics if d.severity == "error" or "auth" in d.rule]
    master = parse(inst("  version 2\n  state MASTER\n" + block))
    assert at(master, "ah-initial-master") == [(9, "warning")] and master.instances[0].state == "BACKUP"
    owner = parse(inst("  version 2\n  state MASTER\n" + block).replace("priority 100", "priority 255"))
    assert not at(owner, "ah-initial-master") and owner.instances[0].state == "MASTER"
    nopass = parse(inst("  version 2\n  authentication {\n    auth_type AH\n  }\n"))
    assert at(nopass, "auth-no-password") == [(9, "warning")] and nopass.instances[0].auth_type == 0
    v3 = parse(inst("  version 3\n" + block))
    assert at(v3, "auth-ignored-v3") and v3.instances[0].auth_type == 0
    v6 = parse(inst("  version 2\n" + block).replace("192.0.2.100/24", "2001:db8::100/64"))
    assert at(v6, "ah-ipv6") and v6.instances[0].auth_type == 0
    strict = parse(inst("  version 2\n  strict_mode\n" + block))
    assert at(strict, "strict-drops-auth") and strict.instances[0].auth_type == 0


def test_unicast_keyword_without_peers_is_ignored() -> None:
    res = parse(inst("  unicast_src_ip 192.0.2.10\n"))
    assert at(res, "ignored-value") == [(8, "warning")]


# --- repeated keywords: keepalived keeps the first -------------------------------------------------


def test_three_notify_master_lines_run_the_first() -> None:
    """keepalived: "(VI_1) notify_master script already specified - ignoring /b"."""
    res = parse("global_defs {\n  enable_script_security\n}\n"
                + inst('  notify_master "/a"\n  notify_master "/b"\n  notify_master "/c"\n  notify_backup /d\n'))
    assert res.instances[0].notify == (("master", "/a", ()), ("backup", "/d", ()))
    assert at(res, "repeated-keyword") == [(12, "error"), (13, "error")]


def test_sync_group_notify_first_wins() -> None:
    res = parse("global_defs {\n  enable_script_security\n}\n" + inst() + inst(name="VI_2").replace(" 51", " 52")
                + "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n  notify /a\n  notify /b\n}\n")
    assert res.sync_groups[0].notify == (("notify", "/a", ()),)
    assert at(res, "repeated-keyword") == [(26, "error")]


def test_track_file_keeps_its_first_file() -> None:
    res = parse("track_file f {\n  file /a\n  file /b\n}\n")
    assert res.track_files["f"].path == "/a" and at(res, "repeated-keyword") == [(3, "error")]


# --- where keepalived stops reading ----------------------------------------------------------------


def test_a_missing_parameter_stops_the_file_like_keepalived() -> None:
    """keepalived: "*** Configuration line starting `virtual_router_id` is missing a parameter ..." and exit 2.

    Nothing after that line is read, so nothing after it is reported (no "30 errors after that point")."""
    res = parse("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id\n  prioritx 3\n  bogus\n}\n" + inst())
    assert [(d.line, d.rule) for d in res.diagnostics] == [(3, "syntax")]
    assert "stops reading the file" in res.diagnostics[0].message
    assert res.stopped_at is not None and res.stopped_at.line == 3 and not res.instances


def test_missing_parameters_keepalived_survives_do_not_stop_it() -> None:
    """router_id, script, notify_deleted, track_file's file: keepalived logs (or not) and carries on."""
    res = parse("global_defs {\n  router_id\n}\n" + 'vrrp_script s {\n  script\n  script "/bin/true"\n}\n'
                + "track_file f {\n  file\n  file /x\n}\n" + inst("  notify_deleted\n"))
    assert res.stopped_at is None and len(res.instances) == 1
    assert [d.line for d in res.diagnostics if d.rule == "syntax"] == [2, 5, 9, 19]
    assert not [d for d in res.diagnostics if "stops reading" in d.message]


def test_script_without_script_is_named_on_its_closing_brace() -> None:
    """keepalived: "(k.conf: Line 4) No script set for vrrp_script chk - removing"."""
    res = parse("vrrp_script chk {\n  interval 1\n  weight 2\n}\n" + inst())
    assert (4, "syntax") in [(d.line, d.rule) for d in res.diagnostics]


# --- the file-open check form of scripts -------------------------------------------------------------


def test_file_check_scripts_are_not_programs() -> None:
    """`</dev/tcp/127.0.0.1/80` opens the file (a TCP connect); keepalived -t exits 0 on it."""
    res = parse('vrrp_script web {\n  script "</dev/tcp/127.0.0.1/80"\n}\n' + inst())
    from vrrpkit.diag.hostfacts import script_verdict  # the host's own verdict: a file test is no program

    facts = HostFacts(interfaces={"eth0": ()}, script_check=script_verdict)
    assert not [d for d in host_checks(res, facts) if d.rule.startswith("host-script")]


# --- the load balancer, linted as keepalived reads it -----------------------------------------------

VS = ("virtual_server 10.0.0.1 80 {{\n  protocol TCP\n  lb_algo rr\n  lb_kind NAT\n{vs}"
      "  real_server 10.0.0.2 80 {{\n    weight 1\n{rs}  }}\n}}\n")


def vs(vs_body: str = "", rs_body: str = "") -> ParseResult:
    return parse(VS.format(vs=vs_body, rs=rs_body))


def test_typos_inside_checkers_are_flagged_on_their_line() -> None:
    """keepalived: "Unknown keyword 'nb_get_retry'" (TCP_CHECK has none) and "Unknown keyword 'connetc_port'"."""
    res = vs(rs_body="    TCP_CHECK {\n      nb_get_retry 3\n      connetc_port 80\n      connect_timeout 3\n    }\n")
    assert at(res, "unknown-keyword") == [(8, "error"), (9, "error")]


def test_nb_get_retry_is_only_deprecated_in_http_get() -> None:
    res = vs(rs_body="    HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n"
                     "      nb_get_retry 3\n    }\n")
    assert at(res, "deprecated") == [(12, "warning")] and not res.errors


def test_value_rules_of_the_load_balancer() -> None:
    res = vs("  lb_algo rrr\n  persistence_timeout 0\n  quorum_up /a\n  quorum_up /b\n",
             "    weight -1\n    inhibit_on_failure 1\n    TCP_CHECK {\n      connect_port 0\n"
             "      connect_timeout 0\n      delay_before_retry 0\n    }\n")
    assert lines(res) == [5, 6, 8, 11, 12, 14, 15]


def test_blocks_keepalived_drops_are_named_where_keepalived_names_them() -> None:
    res = vs(rs_body="    HTTP_GET {\n      url {\n        status_code 200\n      }\n    }\n    MISC_CHECK {\n    }\n")
    # url without path: its closing brace; HTTP_GET without a url: its closing brace; MISC_CHECK without misc_path.
    assert at(res, "lvs-dropped") == [(10, "error"), (11, "error"), (13, "error")]
    bare = parse("virtual_server 10.0.0.1 80 {\n}\n")
    assert (1, "error") in at(bare, "lvs-dropped")
    assert [d.line for d in bare.diagnostics if d.rule == "lvs-default"] == [1, 1, 1]


def test_a_misspelt_block_in_a_virtual_server_cascades_like_keepalived() -> None:
    """keepalived 2.2.7 on doc/samples' failover_pool: `backup_real_server` is unknown, so its `}` closes the
    virtual_server, and what follows is read at the top level."""
    res = parse("virtual_server 10.0.1.1 80 {\n  protocol TCP\n  backup_real_server 10.0.10.1 80 {\n"
                "    weight 1\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n}\n")
    assert lines(res) == [1, 3, 5, 8, 9]


def test_virtual_server_group_entries() -> None:
    res = parse("virtual_server_group G {\n  10.0.0.1 80\n  10.0.0.5-9 80\n  fwmark 3\n  10.0.0.300 80\n}\n"
                "virtual_server_group E {\n}\n")
    assert at(res, "invalid-address") == [(5, "error")]
    assert at(res, "lvs-dropped") == [(8, "error")]


def test_the_load_balancer_is_noted_once() -> None:
    res = parse(VS.format(vs="", rs="") + VS.format(vs="", rs="").replace("10.0.0.1", "10.0.0.9") + inst())
    assert at(res, "lvs-checker-only") == [(1, "info")] and len(res.instances) == 1 and not res.errors


# --- the config language's generators and variables --------------------------------------------------


def test_seq_and_lst_expand_as_keepalived_2_2_7() -> None:
    """Measured: `~SEQ(X,1,3) s${X}` gives s1 s2 s3, nested generators run the first outermost."""
    res = parse(inst("  virtual_ipaddress {\n    ~SEQ(N, 101, 103) 192.0.2.${N}/24\n"
                     "    ~LST({A, B}, {1, 2}, {3, 4}) 198.51.100.${A}${B}/24\n"
                     "    ~SEQx(H, 0x9, 0x2, 0xb) 2001:db8::${H}\n  }\n"))
    assert [str(v.address) for v in res.instances[0].vips] == [
        "192.0.2.100", "192.0.2.101", "192.0.2.102", "192.0.2.103", "198.51.100.12", "198.51.100.34"]
    assert [d.line for d in res.diagnostics if d.rule == "vip-family-mismatch"] == [11, 11]


def test_seq_variable_stays_defined_and_a_bad_seq_is_skipped() -> None:
    res = parse("~SEQ(I, 2) $X=VI_${I}\nvrrp_instance $X {\n  interface eth0\n  virtual_router_id 9\n"
                "  virtual_ipaddress {\n    192.0.2.9\n  }\n}\n~SEQ(bad\n~FOO(x) y\n")
    assert [i.name for i in res.instances] == ["VI_2"]
    assert (9, "syntax") in [(d.line, d.rule) for d in res.diagnostics]
    assert (10, "unknown-keyword") in [(d.line, d.rule) for d in res.diagnostics]


def test_random_is_drawn_in_its_range() -> None:
    res = load_string(inst().replace("priority 100", "priority ${_RANDOM 10 20}"), "k.conf", loader=DictLoader({}),
                      rand=lambda lo, hi: hi)
    assert res.instances[0].priority == 20
    assert parse(inst().replace("priority 100", "priority ${_RANDOM 10 20}")).instances[0].priority == 10


def test_env_is_not_a_2_2_7_variable() -> None:
    """2.2.7 reads `${_ENV HOME}` as text: its `}` closes the block (measured: 'Unknown keyword }' after)."""
    res = parse("global_defs {\n  router_id ${_ENV HOST}\n}\n" + inst())
    assert any(d.line == 2 and "_ENV" in d.message for d in res.diagnostics)


def test_hash_and_bang_variables_start_a_comment_in_2_2_7() -> None:
    res = parse("global_defs {\n  router_id a${_HASH}b\n}\n" + inst())
    assert res.globals.router_id == "a"


# --- bad input: every kind of mistake, still located, never a traceback --------------------------

EVERY_MISTAKE = r"""
$DEF=1 \
global_defs {
  router_id
  vrrp_garp_interval 0
  vrrp_strict off
  vrrp_version 7
  vrrp_mcast_group4 10.0.0.1
  unknown_global 1
  script_user
}
vrrp_script {
  interval x
}
vrrp_script chk {
  script "</dev/tcp/127.0.0.1/80"
  weight 300 sideways
  timeout 0
}
track_file tf {
  file
  weight
  init_file 1 bogus
}
vrrp_instance VI_1 {
  state master
  interface lo
  interface eth0.with.a.very.long.name
  virtual_router_id 300
  priority 0
  advert_int -1
  authentication {
    auth_type XYZ
    auth_pass 0123456789
  }
  virtual_ipaddress {
    192.0.2.300/24
    192.0.2.1/99 dev eth9 scope nowhere label toolongtoolongtoolong bogus
    2001:db8::1
  }
  unicast_peer {
    192.0.2.1 min_ttl 999 what
  }
  track_interface {
    eth0 weight 999
  }
  track_script {
    missing_script
  }
  notify_master /a
  notify_master /b
  nopreempt
  preempt_delay 5000
  trak_script {
    x
  }
  ~SEQ(Q, 1
  ~LST(L)
  ${_RANDOM 9 1}
  ${_ENV X}
}
}
vrrp_sync_group G {
  group {
    VI_1
    VI_404
  }
}
virtual_server_group VG {
  300.0.0.1 80
}
virtual_server 10.0.0.1 99999 {
  lb_algo nope
  lb_kind XX
  protocol ICMP
  persistence_granularity 300
  hashed
  sorry_server_inhibit
  real_server 10.0.0.2 80 {
    weight 1.5
    HTTP_GET {
      url {
        digest zz
        status_code 999
      }
      connetc_port 80
      http_protocol 2.0
    }
    UDP_CHECK {
      payload xyz
      min_reply_length 70000
    }
    DNS_CHECK {
      name a..b
      type Q
    }
    FILE_CHECK {
      track_file nope
      weight x
    }
  }
  real_server 2001:db8::2 80 {
  }
}
SSL {
  ca
  key /k
  key /k2
}
include /nonexistent/*.conf
vrrp_instance VI_9 {
  interface eth0
  virtual_router_id
  this line is never read
}
"""


def test_every_kind_of_mistake_is_located_and_never_a_traceback() -> None:
    res = parse(EVERY_MISTAKE)
    diags: list[Diagnostic] = list(res.diagnostics)
    assert len(diags) >= 60
    assert all(d.file == "k.conf" and d.line >= 1 and d.column >= 1 for d in diags)
    # keepalived stops at the virtual_router_id without a value: the line after it is never read.
    stop = EVERY_MISTAKE.splitlines().index("  virtual_router_id") + 1
    assert res.stopped_at is not None and res.stopped_at.line == stop
    assert max(d.line for d in diags) == stop
    # each kind of mistake is on its own line, and that line has a diagnostic
    text = EVERY_MISTAKE.splitlines()
    flagged = {d.line for d in diags}
    for mistake in ("vrrp_garp_interval 0", "interval x", "weight 300 sideways", "timeout 0", "state master",
                    "interface lo", "virtual_router_id 300", "192.0.2.300/24", "notify_master /b", "trak_script {",
                    "~SEQ(Q, 1", "${_ENV X}", "300.0.0.1 80", "lb_algo nope", "connetc_port 80", "payload xyz",
                    "track_file nope", "key /k2", "ca", "include /nonexistent/*.conf", "weight 1.5"):
        line = next(n for n, t in enumerate(text, start=1) if t.strip() == mistake)
        assert line in flagged, mistake


def test_every_prefix_of_the_mistakes_parses_without_a_traceback() -> None:
    """A file cut anywhere (a half-written config, a truncated include) is still diagnosed, never raised."""
    text = EVERY_MISTAKE
    for cut in range(0, len(text), 7):
        res = parse(text[:cut])
        assert all(d.line >= 1 and d.column >= 1 for d in res.diagnostics)
