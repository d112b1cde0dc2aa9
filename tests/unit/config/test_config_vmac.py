"""use_vmac and the rest of keepalived's long tail, as `check` reads them: values, names, MACs, and each
complaint keepalived 2.2.7 makes (measured with `keepalived -t`) on the line it makes it."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from vrrpkit.config import Diagnostic, ParseResult, load_string
from vrrpkit.core.config import ChecksumCompat, VmacLink


def inst(body: str = "", vips: str = "192.0.2.100/24", head: str = "", name: str = "VI_1", vrid: int = 51) -> str:
    block = f"  virtual_ipaddress {{\n{vips}\n  }}\n" if vips else ""
    return f"{head}vrrp_instance {name} {{\n  interface eth0\n  virtual_router_id {vrid}\n{body}\n{block}}}\n"


def parse(text: str) -> ParseResult:
    return load_string(text, "k.conf", config_id="h1")


def found(res: ParseResult, rule: str) -> list[Diagnostic]:
    return [d for d in res.diagnostics if d.rule == rule]


def at(res: ParseResult, rule: str) -> list[int]:
    return [d.line for d in found(res, rule)]


# --- use_vmac -----------------------------------------------------------------------------------


def test_use_vmac_defaults_to_vrrp_vrid_and_the_rfc_mac() -> None:
    (i,) = parse(inst("  use_vmac")).instances
    assert i.vmac == VmacLink("vrrp.51", "eth0", 4, bytes.fromhex("00005e000133"))
    assert (i.vip_interface, i.advert_interface, i.interface) == ("vrrp.51", "vrrp.51", "eth0")
    assert i.device_of(i.vips[0]) == "vrrp.51"


def test_ipv6_vmac_uses_the_ipv6_mac() -> None:
    (i,) = parse(inst("  use_vmac", vips="    fe80::100/64\n    2001:db8::100/64")).instances
    assert i.vmac is not None and i.vmac.mac == bytes.fromhex("00005e000233") and i.vmac.family == 6


@pytest.mark.parametrize(
    ("line", "name", "mac"),
    [
        ("use_vmac vk51", "vk51", "00005e000133"),
        ("use_vmac name vk51", "vk51", "00005e000133"),
        ("use_vmac vk51 02:11:22:33:44:55", "vk51", "021122334455"),
        ("use_vmac 02:11:22:33:44:55 vk51", "vk51", "021122334455"),
        ("use_vmac 02:11:22:33:44", "vrrp.51", "021122334433"),  # five octets: the VRID is the sixth
        ("use_vmac 02:11:22:33:44:", "vrrp.51", "021122334433"),
    ],
)
def test_use_vmac_name_and_mac(line: str, name: str, mac: str) -> None:
    res = parse(inst(f"  {line}"))
    assert res.ok and not found(res, "invalid-value"), res.diagnostics
    vmac = res.instances[0].vmac
    assert vmac is not None and (vmac.name, vmac.mac.hex()) == (name, mac)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("use_vmac 00:00:5e:00:01", "not allowed to be RFC5798 address"),
        ("use_vmac 01:00:5e:00:00:01", "MAC address is multicast"),
        ("use_vmac vk51 zz:11", "VMAC invalid MAC address zz:11"),
        ("use_vmac averyveryverylongname", "too long or invalid characters"),
        ("use_vmac name vk51", None),
        ("use_vmac vk51 extra", "VMAC interface name already specified"),
    ],
)
def test_use_vmac_complaints_on_the_line(line: str, message: str | None) -> None:
    """keepalived -t names the use_vmac line for each of these; the VMAC still comes up with defaults."""
    res = parse(inst(f"  {line}"))
    errors = found(res, "invalid-value")
    if message is None:
        assert not errors
        return
    assert [d.line for d in errors] == [4] and message in errors[0].message
    assert res.instances[0].vmac is not None


def test_two_instances_cannot_share_a_vmac_name() -> None:
    res = parse(inst("  use_vmac vk") + inst("  use_vmac vk", name="VI_2", vrid=52, vips="    192.0.2.101/24"))
    assert at(res, "vmac-ignored") == [12]
    names = [i.vmac.name for i in res.instances if i.vmac is not None]
    assert names == ["vk", "vrrp.52"]


def test_vmac_prefix_names_the_default_interface() -> None:
    res = parse(inst("  use_vmac", head="global_defs {\n  vmac_prefix vk\n  vmac_prefix other\n}\n"))
    assert res.instances[0].vmac is not None and res.instances[0].vmac.name == "vk.51"
    assert at(res, "invalid-value") == [3]  # keepalived: vmac prefix has already been specified


def test_unicast_with_use_vmac_turns_on_xmit_base_at_the_end_of_the_block() -> None:
    body = "  use_vmac\n  unicast_src_ip 192.0.2.1\n  unicast_peer {\n    192.0.2.2\n  }"
    res = parse(inst(body))
    (i,) = res.instances
    assert i.vmac_xmit_base and i.advert_interface == "eth0" and i.vip_interface == "vrrp.51"
    assert at(res, "vmac-unicast-xmit-base") == [12]  # the closing brace, as keepalived reports it


def test_strict_mode_resets_xmit_base_and_the_configured_mac() -> None:
    res = parse(inst("  use_vmac 02:11:22:33:44:55\n  vmac_xmit_base\n  strict_mode"))
    (i,) = res.instances
    assert not i.vmac_xmit_base and i.vmac is not None and i.vmac.mac == bytes.fromhex("00005e000133")
    assert len(found(res, "strict-resets-option")) == 2


def test_use_vmac_addr_names_like_keepalived() -> None:
    """Measured with keepalived 2.2.7: vrrp1.51 on eth1, vrrp2.51 on eth2, vrrp6.51 for IPv6 on eth0."""
    vips = "    192.0.2.100/24\n    198.51.100.100/24 dev eth1\n    203.0.113.100/24 dev eth2"
    body = "  use_vmac\n  use_vmac_addr\n  virtual_ipaddress_excluded {\n    2001:db8::100/64\n" \
           "    2001:db8:1::100/64 dev eth1\n  }"
    (i,) = parse(inst(body, vips=vips)).instances
    links = [(link.name, link.base, link.family) for link in i.vmac_links]
    assert links == [("vrrp.51", "eth0", 4), ("vrrp1.51", "eth1", 4), ("vrrp2.51", "eth2", 4),
                     ("vrrp6.51", "eth0", 6), ("vrrp3.51", "eth1", 6)]
    devices = [i.device_of(v) for v in (*i.vips, *i.excluded_vips)]
    assert devices == ["vrrp.51", "vrrp1.51", "vrrp2.51", "vrrp6.51", "vrrp3.51"]


def test_a_vip_line_use_vmac_makes_a_link_for_that_vip_only() -> None:
    vips = "    192.0.2.100/24\n    198.51.100.100/24 dev eth1 use_vmac\n    203.0.113.100/24 dev eth2"
    (i,) = parse(inst("", vips=vips)).instances
    assert i.vmac is None and [link.name for link in i.vmac_links] == ["vrrp1.51"]
    assert [i.device_of(v) for v in i.vips] == ["eth0", "vrrp1.51", "eth2"]


def test_use_ipvlan() -> None:
    res = parse(inst("  use_ipvlan ipv1 192.0.2.50/24 private"))
    vmac = res.instances[0].vmac
    assert vmac is not None and (vmac.kind, vmac.name, vmac.ipvlan_mode, str(vmac.ipvlan_address)) == (
        "ipvlan", "ipv1", "private", "192.0.2.50/24")
    res = parse(inst("  use_ipvlan"))
    assert "requires a source ip address" in found(res, "vmac-ignored")[0].message


@pytest.mark.parametrize(("line", "value"), [("garp_extra_if 100", (100, False)), ("garp_extra_if all 5", (5, True))])
def test_garp_extra_if(line: str, value: tuple[int, bool]) -> None:
    (i,) = parse(inst(f"  use_vmac\n  {line}")).instances
    assert (i.garp_extra_if_s, i.garp_extra_if_all) == value


def test_garp_extra_if_complaints() -> None:
    res = parse(inst("  garp_extra_if all"))
    assert "specified without time" in found(res, "invalid-value")[0].message
    res = parse(inst("  vmac_garp_intvl 10"))
    assert at(res, "deprecated-keyword") == [4] and res.instances[0].garp_extra_if_s == 10
    res = parse(inst("", head="global_defs {\n  vrrp_garp_extra_if all 60\n}\n"))
    assert (res.instances[0].garp_extra_if_s, res.instances[0].garp_extra_if_all) == (60, True)


# --- the long tail ------------------------------------------------------------------------------


def test_bare_flags() -> None:
    body = "  dont_track_primary\n  track_src_ip\n  promote_secondaries\n  no_virtual_ipaddress"
    (i,) = parse(inst(body)).instances
    assert i.dont_track_primary and i.track_src_ip and i.promote_secondaries and i.no_virtual_ipaddress


def test_a_bare_flag_with_a_value_still_sets_it_and_says_so() -> None:
    res = parse(inst("  dont_track_primary off"))
    assert res.instances[0].dont_track_primary and at(res, "ignored-value") == [4]


def test_no_virtual_ipaddress_silences_the_no_vips_warning() -> None:
    assert "no-vips" in {d.rule for d in parse(inst("", vips="")).diagnostics}
    res = parse(inst("  no_virtual_ipaddress", vips=""))
    assert "no-vips" not in {d.rule for d in res.diagnostics} and res.instances[0].no_virtual_ipaddress


@pytest.mark.parametrize(
    ("line", "group4", "group6", "ok"),
    [
        ("mcast_dst_ip 224.0.0.19", "224.0.0.19", "ff02::12", True),
        ("mcast_dst_ip 192.0.2.5", "224.0.0.18", "ff02::12", False),  # keepalived: not multicast. Skipping
    ],
)
def test_mcast_dst_ip(line: str, group4: str, group6: str, ok: bool) -> None:
    res = parse(inst(f"  {line}"))
    i = res.instances[0]
    assert (str(i.mcast_group4), str(i.mcast_group6), i.group) == (group4, group6, ip_address(group4))
    assert (at(res, "invalid-address") == []) is ok


def test_mcast_dst_ip_ipv6_must_be_link_local() -> None:
    vips = "    2001:db8::100/64"
    assert parse(inst("  mcast_dst_ip ff02::99", vips=vips)).instances[0].group == ip_address("ff02::99")
    res = parse(inst("  mcast_dst_ip ff05::12", vips=vips))
    assert "not link-local multicast" in found(res, "invalid-address")[0].message


def test_same_vrid_on_one_interface_is_fine_with_other_groups() -> None:
    two = inst("  mcast_dst_ip 224.0.0.19") + inst("", name="VI_2", vips="    192.0.2.101/24")
    assert "vrid-duplicate" not in {d.rule for d in parse(two).diagnostics}
    same = inst("") + inst("", name="VI_2", vips="    192.0.2.101/24")
    assert "vrid-duplicate" in {d.rule for d in parse(same).diagnostics}


def test_unicast_ttl() -> None:
    peers = "  unicast_src_ip 192.0.2.1\n  unicast_peer {\n    192.0.2.2\n  }"
    assert parse(inst(f"  unicast_ttl 5\n{peers}")).instances[0].unicast_ttl == 5
    res = parse(inst("  unicast_ttl 5"))
    assert res.instances[0].unicast_ttl is None and at(res, "option-ignored") == [8]
    assert at(parse(inst("  unicast_ttl 300")), "out-of-range") == [4]


def test_unicast_keywords_without_peers_fall_back_to_multicast() -> None:
    res = parse(inst("  unicast_src_ip 192.0.2.1"))
    assert at(res, "unicast-without-peers") == [4] and not res.instances[0].unicast


def test_unicast_fault_no_peer_stays_unicast() -> None:
    res = parse(inst("  unicast_fault_no_peer"))
    i = res.instances[0]
    assert i.unicast and not i.unicast_peers and "unicast-without-peers" not in {d.rule for d in res.diagnostics}


@pytest.mark.parametrize(
    ("line", "mode"),
    [("old_unicast_checksum", ChecksumCompat.ALWAYS), ("old_unicast_checksum never", ChecksumCompat.NEVER),
     ("", ChecksumCompat.AUTO)],
)
def test_old_unicast_checksum(line: str, mode: ChecksumCompat) -> None:
    peers = "\n  unicast_src_ip 192.0.2.1\n  unicast_peer {\n    192.0.2.2\n  }"
    assert parse(inst(f"  {line}{peers}")).instances[0].old_unicast_checksum is mode
    assert "Unknown old_unicast_chksum mode" in found(parse(inst(f"  old_unicast_checksum sometimes{peers}")),
                                                      "invalid-value")[0].message


def test_v3_checksum_as_v2_instance_and_global() -> None:
    assert parse(inst("  v3_checksum_as_v2")).instances[0].v3_checksum_as_v2
    assert parse(inst("", head="global_defs {\n  v3_checksum_as_v2\n}\n")).instances[0].v3_checksum_as_v2
    assert not parse(inst("  v3_checksum_as_v2 off", head="global_defs {\n  v3_checksum_as_v2\n}\n")).instances[
        0].v3_checksum_as_v2


def test_native_ipv6() -> None:
    (i,) = parse(inst("  native_ipv6\n  no_virtual_ipaddress", vips="")).instances
    assert i.is_ipv6 and i.version == 3
    # keepalived 2.2.7 -t, measured: the first address or native_ipv6 in file order sets the family
    res = parse(inst(vips="", body="  virtual_ipaddress {\n    192.0.2.100/24\n  }\n  native_ipv6"))
    assert "Cannot specify native_ipv6 with IPv4 addresses" in found(res, "option-ignored")[0].message
    assert not res.instances[0].is_ipv6
    res = parse(inst("  mcast_dst_ip 192.0.2.5\n  native_ipv6", vips=""))  # refused group, family taken
    assert "Cannot specify native_ipv6" in found(res, "option-ignored")[0].message
    res = parse(inst("  native_ipv6"))  # before the VIPs: an IPv6 instance, whose IPv4 VIP is ignored
    assert at(res, "vip-family-mismatch") == [6] and not found(res, "option-ignored")


def test_debug_is_read_and_checked_only() -> None:
    assert parse(inst("  debug 2")).ok
    assert at(parse(inst("  debug 5")), "out-of-range") == [4]


def test_linkbeat_use_polling_in_an_instance_is_deprecated() -> None:
    assert at(parse(inst("  linkbeat_use_polling")), "deprecated-keyword") == [4]


def test_global_tracking_is_sync_group_tracking_weight() -> None:
    text = ('global_defs {\n enable_script_security\n}\nvrrp_script chk {\n  script "/bin/true"\n  weight 10\n}\n'
            + inst("  track_script {\n    chk\n  }")
            + "vrrp_sync_group G {\n  group {\n    VI_1\n  }\n  global_tracking\n}\n")
    res = parse(text)
    assert res.instance("VI_1").tracks[0].weight == 10 and at(res, "deprecated-keyword") == [22]


# --- top-level blocks ---------------------------------------------------------------------------


def test_linkbeat_interfaces() -> None:
    res = parse("linkbeat_interfaces {\n  eth0\n  eth1 ETHTOOL\n  eth2 FOO\n}\nlinkbeat_use_polling\n" + inst())
    assert res.interfaces.linkbeat == {"eth0": "", "eth1": "ETHTOOL", "eth2": ""}
    assert res.interfaces.linkbeat_all and at(res, "invalid-value") == [4]


def test_interface_up_down_delays() -> None:
    text = "interface_up_down_delays {\n  eth0 1.5 2\n  eth1 0.000001\n  eth2 300\n  eth3\n}\n" + inst()
    res = parse(text)
    assert res.interfaces.delays_us == {"eth0": (1_500_000, 2_000_000), "eth1": (1, 1)}
    assert at(res, "out-of-range") == [4] and at(res, "invalid-value") == [5]


def test_garp_group() -> None:
    text = "garp_group {\n  garp_interval 0.01\n  gna_interval 0.02\n  interfaces {\n    eth0 eth1\n  }\n}\n" \
           "garp_group {\n  garp_interval abc\n  interface eth2\n}\n" + inst()
    res = parse(text)
    groups = res.interfaces.garp_groups
    assert [(g.interfaces, g.garp_interval_us, g.gna_interval_us) for g in groups] == [
        (("eth0", "eth1"), 10_000, 20_000), (("eth2",), None, None)]
    assert at(res, "invalid-value") == [9]
    assert res.interfaces.garp_group_of("eth1") is groups[0]


def test_track_group() -> None:
    text = "track_group TG {\n  group {\n    VI_1\n    VI_9\n  }\n}\ntrack_group TG {\n  group {\n    VI_1\n  }\n}\n"
    res = parse(text + inst())
    assert res.track_groups == {"TG": ("VI_1",)}
    assert at(res, "sync-group-unknown-instance") == [4] and at(res, "invalid-value") == [7]


TG = "track_group G {\n  group {\n    VI_1\n  }\n}\n"


def test_track_group_on_static_items_makes_its_instances_track_their_interfaces() -> None:
    """keepalived's static_track_group_init, measured: the group's instances go to FAULT while the
    interface of a static address (its dev), route (its dev) or rule (its iif) is down."""
    text = TG + ("static_ipaddress {\n  198.51.100.1/24 dev dum0 track_group G\n"
                 "  198.51.100.2/24 dev dum3 track_group G no_track\n}\n"
                 "static_routes {\n  203.0.113.0/24 dev dum1 track_group G\n"
                 "  203.0.114.0/24 via 192.0.2.1 track_group G\n}\n"
                 "static_rules {\n  from 192.0.2.0/24 table 100 iif dum2 track_group G priority 100\n}\n")
    res = parse(text + inst() + inst(name="VI_2", vrid=52))
    tracks = {c.name: [(t.name, t.kind.value, t.weight) for t in c.tracks] for c in res.instances}
    assert tracks == {"VI_1": [("dum0", "interface", 0), ("dum1", "interface", 0), ("dum2", "interface", 0)],
                      "VI_2": []}
    assert [(d.line, d.severity) for d in found(res, "option-ignored")] == [(8, "info")]  # no_track wins
    assert not [d for d in res.diagnostics if d.severity == "error"]


def test_a_vip_on_another_interface_makes_the_instance_track_it_with_weight_zero() -> None:
    """keepalived 2.2.7, measured (an instance on eth0 with a VIP `dev vt0`): vt0 down or deleted
    puts the instance in FAULT (priority 0, VIPs removed), up again BACKUP and a new election; the
    same for an excluded VIP; not with `no_track`; FAULT, and no priority change, when a
    track_interface gives vt0 a weight. A VIP on the instance's own interface adds nothing."""
    vips = ("    192.0.2.100/24\n    192.0.2.101/32 dev vt0\n    192.0.2.102/32 dev vt0\n"
            "    192.0.2.103/32 dev vt1 no_track\n    192.0.2.104/32 dev eth0")
    excluded = "  virtual_ipaddress_excluded {\n    192.0.2.110/32 dev vt2\n  }"
    res = parse(inst(excluded, vips=vips) + inst("  track_interface {\n    vt0 weight -60\n  }", name="VI_2",
                                                 vrid=52, vips="    192.0.2.120/32 dev vt0"))
    tracks = {c.name: [(t.name, t.kind.value, t.weight) for t in c.tracks] for c in res.instances}
    assert tracks == {"VI_1": [("vt0", "interface", 0), ("vt2", "interface", 0)],
                      "VI_2": [("vt0", "interface", 0)]}
    assert not [d for d in res.diagnostics if d.severity in ("error", "warning")]
    assert all(t.vip for c in res.instances for t in c.tracks)  # FAULT says why: a VIP is on it
    (same,) = parse(inst("  track_interface {\n    vt0\n  }", vips="    192.0.2.101/32 dev vt0")).instances
    assert [(t.name, t.weight, t.vip) for t in same.tracks] == [("vt0", 0, False)]  # tracked once, as written


def test_track_group_must_be_defined_first_and_only_on_static_items() -> None:
    """keepalived -t, measured: 'track_group G not found' for a group defined later; on a virtual
    address 'Unknown configuration entry' for both words; on a virtual rule or route the line goes."""
    res = parse("static_routes {\n  203.0.113.0/24 dev eth0 track_group G\n}\n" + TG + inst(
        "  virtual_rules {\n    from 192.0.2.0/24 table 100 track_group G priority 5\n  }\n"
        "  virtual_routes {\n    198.51.100.0/24 dev eth0 track_group G\n  }",
        vips="192.0.2.100/24 track_group G"))
    assert [(d.line, d.message.split(" (")[0]) for d in found(res, "invalid-value")] == [(2, "track_group G not found")]
    assert len(found(res, "vip-option")) == 2 and at(res, "rule-invalid") and at(res, "route-invalid")
    (cfg,) = res.instances
    assert cfg.tracks == () and not res.extras["VI_1"].virtual_rules and not res.extras["VI_1"].virtual_routes


def test_receive_buffer_keywords_as_keepalived_reads_them() -> None:
    """keepalived -t, measured on each line (corpus bad_rx_bufs.conf): a size is read from the first
    word; size beats a policy, MTU beats ADVERT; the multiplier is 1.. and one word."""
    res = parse("global_defs {\n  vrrp_rx_bufs_policy MTU 5000\n  vrrp_rx_bufs_policy ADVERT\n"
                "  vrrp_rx_bufs_multiplier 0\n  vrrp_rx_bufs_multiplier 4 5\n}\n"
                + inst("  kernel_rx_buf_size 65536x\n  kernel_rx_buf_size"))
    assert (res.globals.rx_bufs_policy, res.globals.rx_bufs_multiplier) == ("mtu", 3)
    assert at(res, "invalid-value") == [2, 4, 5, 10, 11] and at(res, "option-ignored") == [3]
    assert res.instances[0].kernel_rx_buf_size == 0
    res = parse("global_defs {\n  vrrp_rx_bufs_policy 70000 MTU\n  vrrp_rx_bufs_multiplier 7\n}\n"
                + inst("  kernel_rx_buf_size 100000"))
    assert (res.globals.rx_bufs_policy, res.globals.rx_bufs_size, res.globals.rx_bufs_multiplier) == ("size", 70000, 7)
    assert at(res, "option-ignored") == [2] and res.instances[0].kernel_rx_buf_size == 100000


def test_default_interface_places_static_addresses_without_dev() -> None:
    res = parse("global_defs {\n  default_interface eth1\n}\nstatic_ipaddress {\n  192.0.2.77/24\n}\n" + inst())
    assert [v.dev for v in res.static.addresses] == ["eth1"]
    assert [v.dev for v in parse("static_ipaddress {\n  192.0.2.77/24\n}\n" + inst()).static.addresses] == ["eth0"]
    res = parse("global_defs {\n  default_interface\n}\n" + inst())
    assert at(res, "syntax") == [2] and res.instances  # keepalived: 'requires interface name', and goes on


def test_nftables_table_priority_and_counters() -> None:
    g = parse("global_defs {\n  nftables vk_tbl\n  nftables_priority -5\n  nftables_counters\n}\n" + inst()).globals
    assert (g.nftables_table, g.nftables_priority, g.nftables_counters) == ("vk_tbl", -5, True)
    g = parse("global_defs {\n  nftables\n}\n" + inst()).globals
    assert (g.nftables_table, g.nftables_priority, g.nftables_counters) == ("vrrpkit", -1, False)
    res = parse("global_defs {\n  nftables bad-name!\n  nftables_priority abc\n}\n" + inst())
    assert res.globals.nftables_table == "vrrpkit"
    assert [(d.line, d.severity) for d in found(res, "invalid-value")] == [(2, "warning"), (3, "error"), (3, "error")]
