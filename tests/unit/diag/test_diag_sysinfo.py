"""/proc parsers, fed text captured from lab hosts running keepalived (VRRPv3 over IPv4 and IPv6)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from vrrpkit.diag import sysinfo

IGMP = """\
Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter
1\tlo        :     1      V3
\t\t\t\t010000E0     1 0:00000000\t\t0
2\teth0      :     2      V2
\t\t\t\t120000E0     1 0:00000000\t\t0
\t\t\t\t010000E0     1 0:00000000\t\t0
"""

IGMP6 = """\
1    lo              ff020000000000000000000000000001     1 0000000C 0
2    eth0            ff0200000000000000000001ff000100     2 00000004 0
2    eth0            ff020000000000000000000000000012     1 00000004 0
"""

RAW = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  18: 00000000:0070 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 562145 2 0000000095eccc5c 0
  18: 120000E0:0070 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 562144 2 000000005ca669e8 0
   1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 562200 2 000000005ca669e8 0
"""

RAW6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   51: 00000000000000000000000000000000:0070 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 560064 2 000000004099a3a6 0
   51: 000002FF000000000000000012000000:0070 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 560063 2 0000000004e78e28 0
"""  # noqa: E501

ARP = """\
IP address       HW type     Flags       HW address            Mask     Device
192.0.2.2        0x1         0x2         02:76:6B:00:00:02     *        eth0
192.0.2.9        0x1         0x0         00:00:00:00:00:00     *        eth0
"""

NETSTAT = """\
TcpExt: SyncookiesSent IPReversePathFilter
TcpExt: 0 17
IpExt: InNoRoutes InMcastPkts OutMcastPkts
IpExt: 0 3 7
"""


def test_igmp_groups_and_querier_per_interface() -> None:
    parsed = sysinfo.parse_igmp(IGMP)
    assert parsed["eth0"].groups == {IPv4Address("224.0.0.18"), IPv4Address("224.0.0.1")}
    assert parsed["eth0"].querier == "V2"  # an IGMPv2 querier was heard on eth0
    assert parsed["lo"].groups == {IPv4Address("224.0.0.1")}


def test_igmp6_groups() -> None:
    parsed = sysinfo.parse_igmp6(IGMP6)
    assert IPv6Address("ff02::12") in parsed["eth0"]
    assert IPv6Address("ff02::1:ff00:100") in parsed["eth0"]


def test_raw_sockets_show_the_vrrp_protocol_and_bound_group() -> None:
    sockets = sysinfo.parse_raw(RAW)
    vrrp = [s for s in sockets if s.protocol == 112]
    assert {(str(s.local), s.inode) for s in vrrp} == {("0.0.0.0", 562145), ("224.0.0.18", 562144)}
    six = sysinfo.parse_raw(RAW6, family=6)
    assert {str(s.local) for s in six} == {"::", "ff02::12"}


def test_arp_keeps_complete_entries_lowercased() -> None:
    assert sysinfo.parse_arp(ARP) == {IPv4Address("192.0.2.2"): ("02:76:6b:00:00:02", "eth0")}


def test_counters_are_prefixed() -> None:
    counters = sysinfo.parse_counters(NETSTAT)
    assert counters["TcpExt:IPReversePathFilter"] == 17
    assert counters["IpExt:OutMcastPkts"] == 7


def test_effective_rp_filter_is_the_maximum() -> None:
    assert sysinfo.effective_rp_filter(0, 1) == 1
    assert sysinfo.effective_rp_filter(2, 1) == 2
    assert sysinfo.effective_rp_filter(None, None) == 0


def test_flags() -> None:
    assert sysinfo.describe_flags(0x1043) == ["UP", "BROADCAST", "RUNNING", "MULTICAST"]
    info = sysinfo.IfaceInfo("eth0", True, 0x1043, "up")
    assert info.up and info.multicast
    assert not sysinfo.IfaceInfo("eth0", True, 0x1002, "down").up


def test_garbage_is_ignored() -> None:
    assert sysinfo.parse_igmp("") == {}
    assert sysinfo.parse_raw("header\nnot a line\n") == []
    assert sysinfo.parse_arp("header\n1.2.3 x y z\n") == {}


def test_ip_neigh_json_keeps_resolved_entries_of_both_families() -> None:
    doc = [
        {"dst": "192.0.2.1", "dev": "eth0", "lladdr": "02:76:6B:00:00:01", "state": ["REACHABLE"]},
        {"dst": "2001:db8::1", "dev": "eth0", "lladdr": "02:76:6b:00:00:01", "state": ["STALE"]},
        {"dst": "192.0.2.9", "dev": "eth0", "state": ["FAILED"]},
        {"dst": "192.0.2.8", "dev": "eth0", "lladdr": "02:00:00:00:00:08", "state": ["INCOMPLETE"]},
    ]
    assert sysinfo.parse_ip_neigh_json(doc) == {  # type: ignore[arg-type]
        IPv4Address("192.0.2.1"): "02:76:6b:00:00:01",
        IPv6Address("2001:db8::1"): "02:76:6b:00:00:01",
    }
