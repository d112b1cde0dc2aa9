"""Pure parts of the netlink and nftables adapters: what keepalived would send, parsed events."""

from __future__ import annotations

import asyncio
import socket
import struct
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface, ip_address

import pytest

from vrrpkit.core.config import Vip
from vrrpkit.io import consts, netlink, nft


def v4(text: str, **kw: object) -> Vip:
    return Vip(IPv4Interface(text), **kw)  # type: ignore[arg-type]


def test_vip_request_ipv4_defaults_to_exactly_what_is_configured() -> None:
    req = netlink.vip_request(v4("192.0.2.10/32"))
    assert req == netlink.VipRequest(family=4, address=IPv4Address("192.0.2.10"), prefixlen=32)
    kwargs = req.add_kwargs(7)
    assert kwargs == {
        "index": 7,
        "family": socket.AF_INET,
        "address": "192.0.2.10",
        "local": "192.0.2.10",
        "prefixlen": 32,
        "scope": 0,
    }


def test_vip_request_ipv4_brd_scope_label_flags() -> None:
    req = netlink.vip_request(v4("192.0.2.10/24", brd="+", scope="link", label="eth0:vip", flags=("noprefixroute",)))
    assert req.broadcast == IPv4Address("192.0.2.255")
    assert req.scope == 253 and req.label == "eth0:vip" and req.flags == consts.IFA_F_NOPREFIXROUTE
    assert netlink.vip_request(v4("192.0.2.10/24", brd="-")).broadcast == IPv4Address("192.0.2.0")
    assert netlink.vip_request(v4("192.0.2.10/24", brd="192.0.2.99")).broadcast == IPv4Address("192.0.2.99")
    assert netlink.vip_request(v4("192.0.2.10/31", brd="+")).broadcast is None  # too long, as keepalived
    assert netlink.vip_request(v4("192.0.2.10/32", scope="host")).scope == 254
    assert netlink.vip_request(v4("192.0.2.10/32", scope="17")).scope == 17
    with pytest.raises(ValueError):
        netlink.parse_scope("300")


def test_vip_request_ipv6_nodad_and_deprecated() -> None:
    req = netlink.vip_request(Vip(IPv6Interface("2001:db8::10/128"), scope="link", label="x"))
    assert req.flags == consts.IFA_F_NODAD and req.preferred_lft == 0  # keepalived: /128 deprecated
    assert req.scope == 0 and req.label is None  # keepalived ignores scope and label for IPv6
    kwargs = req.add_kwargs(3)
    assert kwargs["preferred_lft"] == 0 and kwargs["valid_lft"] == consts.INFINITY_LIFE_TIME
    assert "local" not in kwargs
    dad = netlink.vip_request(Vip(IPv6Interface("2001:db8::10/64"), flags=("-nodad",)))
    assert dad.flags == 0 and dad.preferred_lft is None
    forever = netlink.vip_request(Vip(IPv6Interface("2001:db8::10/128"), flags=("preferred_lft", "forever")))
    assert forever.preferred_lft is None
    assert netlink.vip_request(Vip(IPv6Interface("2001:db8::1/128"), flags=("preferred_lft=30",))).preferred_lft == 30


def test_del_kwargs_match_keepalived() -> None:
    assert netlink.vip_request(v4("192.0.2.10/24", label="eth0:1")).del_kwargs(5) == {
        "index": 5,
        "family": socket.AF_INET,
        "address": "192.0.2.10",
        "local": "192.0.2.10",
        "prefixlen": 24,
    }


def _link_msg(kind: int, index: int, name: str, flags: int) -> bytes:
    ifname = name.encode() + b"\0"
    attr = struct.pack("=HH", 4 + len(ifname), consts.IFLA_IFNAME) + ifname
    attr += b"\0" * ((4 - len(attr) % 4) % 4)
    body = struct.pack("=BxHiII", 0, 1, index, flags, 0xFFFFFFFF) + attr
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def test_parse_link_messages_and_state_tracking() -> None:
    up = consts.IFF_UP | consts.IFF_RUNNING
    data = _link_msg(consts.RTM_NEWLINK, 4, "eth0", up) + _link_msg(consts.RTM_NEWLINK, 5, "eth1", consts.IFF_UP)
    assert netlink.parse_link_messages(data) == [
        (consts.RTM_NEWLINK, 4, "eth0", up),
        (consts.RTM_NEWLINK, 5, "eth1", consts.IFF_UP),
    ]
    mon = netlink.LinkMonitor.__new__(netlink.LinkMonitor)  # state logic only, no socket
    mon.interfaces = frozenset({"eth0"})
    mon._state = {}
    assert mon._update(consts.RTM_NEWLINK, 4, "eth0", up) == [("eth0", True)]
    assert mon._update(consts.RTM_NEWLINK, 4, "eth0", up) == []  # no change, no event
    assert mon._update(consts.RTM_NEWLINK, 5, "eth1", 0) == []  # not watched
    assert mon._update(consts.RTM_NEWLINK, 4, "eth0", consts.IFF_UP) == [("eth0", False)]  # carrier lost
    assert mon._update(consts.RTM_NEWLINK, 4, "eth0", up) == [("eth0", True)]
    assert mon._update(consts.RTM_NEWLINK, 4, "renamed", up) == [("eth0", False)]
    assert mon._update(consts.RTM_DELLINK, 4, "renamed", 0) == []
    assert netlink.parse_link_messages(b"\x00" * 7) == []


def test_flags_up_is_keepalived_if_flags_up() -> None:
    assert netlink.flags_up(consts.IFF_UP | consts.IFF_RUNNING)
    assert not netlink.flags_up(consts.IFF_UP)
    assert not netlink.flags_up(consts.IFF_RUNNING)


def test_interface_queries_for_missing_interface() -> None:
    assert netlink.interface_index("vk-no-such0") is None
    assert not netlink.interface_exists("vk-no-such0")
    assert not netlink.link_is_up("vk-no-such0")
    assert netlink.interface_exists("lo")


def test_nft_scripts() -> None:
    addrs = [ip_address("192.0.2.10"), ip_address("2001:db8::10"), IPv6Address("fe80::10")]
    setup = nft.setup_script()
    assert "table inet vrrpkit" in setup and "priority -1" in setup
    assert setup.index("nd-neighbor-solicit") < setup.index("ip6 daddr @vips6 drop")  # ND allowed first
    assert "ip daddr @vips4 drop" in setup and "ip saddr @vips4 drop" in setup
    add = nft.add_script("eth0", addrs)
    assert "add element inet vrrpkit vips4 { 192.0.2.10 }" in add
    assert "add element inet vrrpkit vips6 { 2001:db8::10 }" in add
    assert 'add element inet vrrpkit vips6ll { fe80::10 . "eth0" }' in add
    remove = nft.remove_script("eth0", addrs[:1])
    assert remove.splitlines() == [
        "add element inet vrrpkit vips4 { 192.0.2.10 }",
        "delete element inet vrrpkit vips4 { 192.0.2.10 }",
    ]
    assert nft.add_script("eth0", []) == ""
    assert nft.teardown_script("t1").splitlines() == [
        "add table inet t1", "delete table inet t1", "add table ip t1", "delete table ip t1",
        "add table ip6 t1", "delete table ip6 t1"]
    with pytest.raises(ValueError):
        nft.setup_script("bad name;")
    with pytest.raises(ValueError):
        nft.add_script('eth0"; flush ruleset', [IPv6Address("fe80::1")])


def test_nft_vmac_scripts() -> None:
    """keepalived's VMAC rules: IGMP (protocol 2, never a name) and MLD move to the base interface."""
    setup = nft.vmac_setup_script()
    assert "table ip vrrpkit" in setup and "table ip6 vrrpkit" in setup
    assert "ip protocol 2 oif @vmacs dup to ip daddr device oif map @vmacs drop" in setup
    assert "icmpv6 type nd-router-solicit oif @vmacs_rs drop" in setup
    assert nft.vmac_add_script("vrrp.51", "eth0", 4) == 'add element ip vrrpkit vmacs { "vrrp.51" : "eth0" }\n'
    assert nft.vmac_add_script("vrrp.51", "eth0", 6).splitlines() == [
        'add element ip6 vrrpkit vmacs { "vrrp.51" : "eth0" }', 'add element ip6 vrrpkit vmacs_rs { "vrrp.51" }']
    assert nft.vmac_remove_script("vrrp.51", "eth0", 4).splitlines() == [
        'add element ip vrrpkit vmacs { "vrrp.51" : "eth0" }', 'delete element ip vrrpkit vmacs { "vrrp.51" : "eth0" }']
    with pytest.raises(ValueError):
        nft.vmac_add_script('x"; flush ruleset', "eth0", 4)


def test_sync_helpers_work_inside_a_running_loop() -> None:
    """pyroute2 0.9's sync API fails in a running loop; ours must not (the daemon calls it there).

    Read-only queries of `lo` in the current namespace: nothing is changed or sent.
    """

    async def main() -> tuple[object, object, object]:
        sync = netlink.primary_address("lo", 4)
        async with netlink.Netlink() as nl:
            awaited = await nl.primary_address("lo", 4)
        return sync, awaited, netlink.has_address("lo", IPv4Address("127.0.0.1"))

    assert asyncio.run(main()) == (IPv4Address("127.0.0.1"), IPv4Address("127.0.0.1"), True)
    assert netlink.primary_address("lo", 4) == IPv4Address("127.0.0.1")  # and outside a loop
    with pytest.raises(OSError):
        netlink.addresses("vk-no-such0")
