"""Cluster lint over several hosts' files, and host checks with the host's facts given as data."""

from __future__ import annotations

from ipaddress import ip_interface

from vrrpkit.config import ParseResult, load_string
from vrrpkit.config.cluster import lint_cluster
from vrrpkit.config.host import HostFacts, ScriptVerdict, host_checks
from vrrpkit.config.model import GlobalDefs, ScriptUse


def host(name: str, src: str, peers: list[str], prio: int = 100, state: str = "BACKUP", vip: str = "10.0.0.100/24",
         advert: str = "1", extra: str = "") -> ParseResult:
    plist = "".join(f"    {p}\n" for p in peers)
    text = (f"vrrp_instance VI_1 {{\n  state {state}\n  interface eth0\n  virtual_router_id 7\n  priority {prio}\n"
            f"  advert_int {advert}\n  unicast_src_ip {src}\n  unicast_peer {{\n{plist}  }}\n"
            f"  virtual_ipaddress {{\n    {vip}\n  }}\n{extra}}}\n")
    return load_string(text, f"{name}.conf")


def rules(diags: list) -> list[tuple[str, str, int]]:  # type: ignore[type-arg]
    return sorted((d.file, d.rule, d.line) for d in diags)


def test_consistent_cluster_is_clean() -> None:
    a = host("a", "10.0.0.1", ["10.0.0.2", "10.0.0.3"], 150)
    b = host("b", "10.0.0.2", ["10.0.0.1", "10.0.0.3"], 100)
    c = host("c", "10.0.0.3", ["10.0.0.1", "10.0.0.2"], 50)
    assert lint_cluster([a, b, c]) == []


def test_cluster_problems_point_at_the_file_they_are_about() -> None:
    a = host("a", "10.0.0.1", ["10.0.0.2"], 100, "MASTER")
    b = host("b", "10.0.0.2", ["10.0.0.9"], 100, "MASTER", vip="10.0.0.101/24", advert="2")
    got = rules(lint_cluster([a, b]))
    assert ("b.conf", "cluster-mismatch", 6) in got  # advert_int
    assert ("b.conf", "cluster-mismatch", 11) in got  # VIPs
    assert ("b.conf", "cluster-peers", 8) in got  # b does not list a
    assert ("b.conf", "cluster-priority-tie", 5) in got
    assert ("b.conf", "cluster-multiple-masters", 2) in got


def test_unicast_and_multicast_mixed() -> None:
    a = host("a", "10.0.0.1", ["10.0.0.2"])
    b = load_string("vrrp_instance X {\n  interface eth0\n  virtual_router_id 7\n  priority 90\n"
                    "  virtual_ipaddress {\n    10.0.0.100/24\n  }\n}\n", "b.conf")
    assert ("b.conf", "cluster-mode-mismatch", 1) in rules(lint_cluster([a, b]))


def test_host_checks() -> None:
    res = load_string('global_defs {\n  enable_script_security\n}\nvrrp_script s {\n  script "/opt/chk arg"\n}\n'
                      "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 7\n  unicast_src_ip 10.0.0.9\n"
                      "  unicast_peer {\n    10.0.0.2\n  }\n  track_interface {\n    bond0\n  }\n"
                      "  virtual_ipaddress {\n    10.0.0.100/24 dev eth1\n  }\n"
                      '  notify_master "/x/m.sh" nobody\n  notify_backup /x/b.sh\n  notify_fault chk\n}\n', "k.conf")
    verdicts = {
        "/opt/chk arg": ScriptVerdict("root", "Script /opt/chk cannot be accessed - No such file or directory",
                                      "not-found"),
        "/x/m.sh": ScriptVerdict("nobody", "Unsafe permissions found for script '/x/m.sh' - disabling.", "insecure"),
        "/x/b.sh": ScriptVerdict("root", "Failed to set default user for notify script /x/b.sh - ignoring", "user"),
        "chk": ScriptVerdict("root", notes=("WARNING - script `chk` resolved by path search to `/usr/bin/chk`. "
                                            "Please specify full path.",)),
    }  # fmt: skip
    seen: list[tuple[str, ...]] = []

    def check(use: ScriptUse, g: GlobalDefs) -> ScriptVerdict:
        seen.append(use.user)
        assert g.enable_script_security
        return verdicts[use.command]

    facts = HostFacts(interfaces={"eth0": (ip_interface("10.0.0.1/24"),)}, script_check=check)
    got = rules(host_checks(res, facts))
    assert got == [("k.conf", "host-address-missing", 10), ("k.conf", "host-interface-missing", 15),
                   ("k.conf", "host-interface-missing", 18), ("k.conf", "host-script-disabled", 20),
                   ("k.conf", "host-script-missing", 4), ("k.conf", "host-script-path-search", 22),
                   ("k.conf", "host-script-user-missing", 21)]  # fmt: skip
    assert seen == [(), ("nobody",), (), ()]
    ok = HostFacts(interfaces={"eth0": (ip_interface("10.0.0.9/24"),), "eth1": (), "bond0": ()},
                   script_check=lambda use, g: ScriptVerdict("root"))  # fmt: skip
    assert host_checks(res, ok) == []


def test_primary_prefers_link_local_for_v6() -> None:
    f = HostFacts(interfaces={"eth0": (ip_interface("2001:db8::1/64"), ip_interface("fe80::1/64"),
                                       ip_interface("10.0.0.1/24"))})
    assert str(f.primary("eth0", 6)) == "fe80::1" and str(f.primary("eth0", 4)) == "10.0.0.1"


def test_host_checks_interfaces_outside_instances_and_vmac_names() -> None:
    text = ("linkbeat_interfaces {\n  eth9\n}\ninterface_up_down_delays {\n  eth8 1\n}\n"
            "garp_group {\n  interfaces {\n    eth0\n    eth7\n  }\n}\n"
            "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  use_vmac eth1\n"
            "  virtual_ipaddress {\n    192.0.2.100/24\n  }\n}\n")
    res = load_string(text, "k.conf")
    eth = (ip_interface("192.0.2.1/24"),)
    facts = HostFacts(interfaces={"eth0": eth, "eth1": ()}, kinds={"eth0": "veth", "eth1": "veth"})
    found = [(d.line, d.rule) for d in host_checks(res, facts)]
    # keepalived names the garp_group's closing brace (it checks the names once the block is read)
    assert found == [(2, "host-interface-missing"), (5, "host-interface-missing"), (11, "host-interface-missing"),
                     (16, "host-vmac-name-taken")]
    facts = HostFacts(interfaces={"eth0": eth, "eth1": ()}, kinds={"eth1": "macvlan"})  # a VMAC left by a crash
    assert not [d for d in host_checks(res, facts) if d.rule == "host-vmac-name-taken"]
