"""Pure parts of the netlink and nftables adapters: what keepalived would send, parsed events."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface, ip_address

import pytest

from vrrpkit.core.config import Vip
from vrrpkit.io import consts, linkmon, netlink, nft, rtnl, viprequest


def v4(text: str, **kw: object) -> Vip:
    return Vip(IPv4Interface(text), **kw)  # type: ignore[arg-type]


def test_vip_request_ipv4_defaults_to_exactly_what_is_configured() -> None:
    req = viprequest.vip_request(v4("192.0.2.10/32"))
    assert req == viprequest.VipRequest(family=4, address=IPv4Address("192.0.2.10"), prefixlen=32)
    # ifaddrmsg (AF_INET, /32, flags 0, scope 0, index 7), IFA_LOCAL, IFA_ADDRESS: nothing more
    packed = IPv4Address("192.0.2.10").packed
    assert req.add_body(7) == (
        struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, 7)
        + struct.pack("=HH", 8, rtnl.IFA_LOCAL) + packed
        + struct.pack("=HH", 8, rtnl.IFA_ADDRESS) + packed
    )
    assert req.del_body(7) == req.add_body(7)


def test_vip_request_ipv4_brd_scope_label_flags() -> None:
    req = viprequest.vip_request(v4("192.0.2.10/24", brd="+", scope="link", label="eth0:vip", flags=("noprefixroute",)))
    assert req.broadcast == IPv4Address("192.0.2.255")
    assert req.scope == 253 and req.label == "eth0:vip" and req.flags == consts.IFA_F_NOPREFIXROUTE
    assert viprequest.vip_request(v4("192.0.2.10/24", brd="-")).broadcast == IPv4Address("192.0.2.0")
    assert viprequest.vip_request(v4("192.0.2.10/24", brd="192.0.2.99")).broadcast == IPv4Address("192.0.2.99")
    assert viprequest.vip_request(v4("192.0.2.10/31", brd="+")).broadcast is None  # too long, as keepalived
    assert viprequest.vip_request(v4("192.0.2.10/32", scope="host")).scope == 254
    assert viprequest.vip_request(v4("192.0.2.10/32", scope="17")).scope == 17
    with pytest.raises(ValueError):
        viprequest.parse_scope("300")


def test_vip_request_ipv6_nodad_and_deprecated() -> None:
    req = viprequest.vip_request(Vip(IPv6Interface("2001:db8::10/128"), scope="link", label="x"))
    assert req.flags == consts.IFA_F_NODAD and req.preferred_lft == 0  # keepalived: /128 deprecated
    assert req.scope == 0 and req.label is None  # keepalived ignores scope and label for IPv6
    attrs = dict(rtnl.parse_attrs(req.add_body(3), rtnl.IFADDRMSG.size, len(req.add_body(3))))
    assert attrs[rtnl.IFA_CACHEINFO] == struct.pack("=IIII", 0, consts.INFINITY_LIFE_TIME, 0, 0)
    assert struct.unpack("=I", attrs[rtnl.IFA_FLAGS]) == (consts.IFA_F_NODAD,)
    assert rtnl.IFA_LOCAL not in attrs and attrs[rtnl.IFA_ADDRESS] == IPv6Address("2001:db8::10").packed
    assert rtnl.IFA_CACHEINFO not in dict(rtnl.parse_attrs(req.del_body(3), rtnl.IFADDRMSG.size, 1000))
    dad = viprequest.vip_request(Vip(IPv6Interface("2001:db8::10/64"), flags=("-nodad",)))
    assert dad.flags == 0 and dad.preferred_lft is None
    forever = viprequest.vip_request(Vip(IPv6Interface("2001:db8::10/128"), flags=("preferred_lft", "forever")))
    assert forever.preferred_lft is None
    thirty = viprequest.vip_request(Vip(IPv6Interface("2001:db8::1/128"), flags=("preferred_lft=30",)))
    assert thirty.preferred_lft == 30


def test_add_and_del_bodies_carry_what_keepalived_sends() -> None:
    req = viprequest.vip_request(v4("192.0.2.10/24", brd="+", scope="link", label="eth0:1", flags=("noprefixroute",)))
    body = req.add_body(5)
    assert rtnl.IFADDRMSG.unpack_from(body) == (socket.AF_INET, 24, consts.IFA_F_NOPREFIXROUTE & 0xFF, 253, 5)
    attrs = list(rtnl.parse_attrs(body, rtnl.IFADDRMSG.size, len(body)))
    assert attrs == [
        (rtnl.IFA_LOCAL, IPv4Address("192.0.2.10").packed),
        (rtnl.IFA_ADDRESS, IPv4Address("192.0.2.10").packed),
        (rtnl.IFA_BROADCAST, IPv4Address("192.0.2.255").packed),
        (rtnl.IFA_LABEL, b"eth0:1\0"),
        (rtnl.IFA_FLAGS, struct.pack("=I", consts.IFA_F_NOPREFIXROUTE)),
    ]
    # delete: local, address and prefix only (keepalived's netlink_ipaddress for IPDEL)
    delete = req.del_body(5)
    kinds = [k for k, _ in rtnl.parse_attrs(delete, rtnl.IFADDRMSG.size, len(delete))]
    assert kinds == [rtnl.IFA_LOCAL, rtnl.IFA_ADDRESS]


def test_interface_queries_use_one_socket_and_refuse_impossible_names() -> None:
    assert netlink.interface_index("lo") == socket.if_nametoindex("lo")
    assert netlink.link_is_up("lo") in (True, False) and netlink.interface_flags("lo") is not None
    assert netlink.interface_index("no-such-if0") is None and netlink.interface_flags("no-such-if0") is None
    # a name the kernel could not have (16 bytes or more, NUL) is not truncated into another one
    assert netlink.interface_index("lo" + "x" * 14) is None and netlink.interface_index("lo\0") is None
    assert netlink.interface_index("") is None


def test_prepared_vip_requests_are_the_ones_add_vip_and_del_vip_send(monkeypatch: pytest.MonkeyPatch) -> None:
    vip = v4("192.0.2.10/24", brd="+", label="lo:1")
    netlink.prepare_vip("lo", vip)
    index = socket.if_nametoindex("lo")
    request = viprequest.vip_request(vip)
    assert netlink._bodies[(vip, index)] == (request.add_body(index), request.del_body(index))
    sent: list[tuple[bool, bytes]] = []

    class Recording:
        def change_address(self, add: bool, body: bytes) -> None:
            sent.append((add, body))

    monkeypatch.setattr(netlink._connection, "get", lambda: Recording())
    monkeypatch.setattr(netlink, "vip_request", None)  # nothing is built now: the prepared bodies go
    assert netlink.add_vip("lo", vip) is True
    assert netlink.del_vip("lo", vip) is True
    assert sent == [(True, request.add_body(index)), (False, request.del_body(index))]
    netlink.prepare_vip("no-such-if0", vip)  # nothing to prepare for: no error either


class FakeKernel:
    """Interfaces by name -> ifindex, and which indexes hold the VIP: RTM_NEWADDR/RTM_DELADDR at a
    missing index say ENODEV, a removal of what is not there EADDRNOTAVAIL. Records each lookup
    (``looked``) and each request as (add, index) (``sent``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, indexes: dict[str, int]) -> None:
        self.indexes = indexes
        self.looked: list[str] = []
        self.sent: list[tuple[bool, int]] = []
        self.present: dict[int, bool] = {}
        monkeypatch.setattr(netlink, "interface_index", self.lookup)
        monkeypatch.setattr(netlink._connection, "get", lambda: self)
        monkeypatch.setattr(netlink, "_known_index", {})

    def lookup(self, ifname: str) -> int | None:
        self.looked.append(ifname)
        return self.indexes.get(ifname)

    def change_address(self, add: bool, body: bytes) -> None:
        index = struct.unpack_from("=I", body, 4)[0]
        self.sent.append((add, index))
        if index not in self.indexes.values():
            raise OSError(errno.ENODEV, "No such device")
        if add:
            self.present[index] = True
        elif not self.present.pop(index, False):
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")


def test_del_vip_removes_at_the_index_it_last_saw_and_looks_again_when_told_it_is_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vip = v4("192.0.2.11/32")
    kernel = FakeKernel(monkeypatch, {"vk0": 40})
    looked, sent = kernel.looked, kernel.sent
    assert netlink.add_vip("vk0", vip) is True and looked == ["vk0"]
    assert netlink.del_vip("vk0", vip) is True and looked == ["vk0"]  # no lookup: the index it added at
    # not there: the name is asked once more, and names the same index: not sent again
    assert netlink.del_vip("vk0", vip) is False and looked == ["vk0"] * 2 and sent[-1] == (False, 40)
    assert len(sent) == 3
    kernel.indexes["vk0"] = 41  # made again: the old index answers ENODEV, the new one is asked
    kernel.present[41] = True
    assert netlink.del_vip("vk0", vip) is True and sent[-2:] == [(False, 40), (False, 41)]
    assert netlink.del_vip("vk0", vip) is False and sent[-1] == (False, 41)  # remembered the new one
    del kernel.indexes["vk0"]  # gone: nothing to remove, and the name is forgotten
    assert netlink.del_vip("vk0", vip) is False and "vk0" not in netlink._known_index


def test_add_vip_uses_an_index_a_lookup_saw_within_fresh_and_looks_again_past_it_or_on_enodev(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vip = v4("192.0.2.12/32")
    kernel = FakeKernel(monkeypatch, {"vk0": 40})
    looked, sent = kernel.looked, kernel.sent
    clock = [100.0]
    monkeypatch.setattr(netlink.time, "monotonic", lambda: clock[0])
    netlink.prepare_vip("vk0", vip)  # the takeover's rehearsal looks the name up
    assert looked == ["vk0"]
    clock[0] += 0.5
    assert netlink.add_vip("vk0", vip) is True and looked == ["vk0"] and sent == [(True, 40)]  # no second look
    clock[0] += netlink.FRESH
    assert netlink.add_vip("vk0", vip) is True and looked == ["vk0"] * 2  # too old: looked up again
    kernel.indexes["vk0"] = 41  # made again within FRESH: the old index answers ENODEV, the new one is asked
    assert netlink.add_vip("vk0", vip) is True and sent[-2:] == [(True, 40), (True, 41)] and looked == ["vk0"] * 3
    del kernel.indexes["vk0"]
    clock[0] += 0.1  # gone: the remembered index says ENODEV, the lookup finds nothing
    with pytest.raises(OSError):
        netlink.add_vip("vk0", vip)


def test_rtnl_parses_an_address_dump_and_errors() -> None:
    body = rtnl.addr_body(
        family=socket.AF_INET, index=3, prefixlen=24, address=bytes([192, 0, 2, 1]), local=bytes([192, 0, 2, 1]),
        broadcast=bytes([192, 0, 2, 255]), label="eth0", flags=0x80,
    )
    dump = rtnl.message(rtnl.RTM_NEWADDR, 2, 9, body) + rtnl.message(consts.NLMSG_DONE, 2, 9, b"\0\0\0\0")
    msgs = list(rtnl.parse_messages(dump))
    assert [m[0] for m in msgs] == [rtnl.RTM_NEWADDR, consts.NLMSG_DONE]
    parsed = rtnl.parse_addr(*msgs[0][2:])
    assert parsed == rtnl.AddrMessage(
        family=socket.AF_INET, prefixlen=24, flags=0x80, scope=0, index=3, address=bytes([192, 0, 2, 1]),
        local=bytes([192, 0, 2, 1]), label="eth0", broadcast=bytes([192, 0, 2, 255]),
    )
    assert rtnl.parse_addr(b"\0" * 4, 0, 4) is None  # too short to be an ifaddrmsg
    err = rtnl.message(consts.NLMSG_ERROR, 0, 1, struct.pack("=i", -17) + bytes(16))
    kind, _flags, buf, start, end = next(rtnl.parse_messages(err))
    assert kind == consts.NLMSG_ERROR and rtnl.error_code(buf, start, end) == 17
    assert list(rtnl.parse_messages(b"\x00" * 7)) == []
    truncated = rtnl.attr(rtnl.IFA_LABEL, b"abc") + struct.pack("=HH", 200, 1)
    assert list(rtnl.parse_attrs(truncated, 0, len(truncated))) == [(rtnl.IFA_LABEL, b"abc")]


def _link_msg(kind: int, index: int, name: str, flags: int) -> bytes:
    ifname = name.encode() + b"\0"
    attr = struct.pack("=HH", 4 + len(ifname), consts.IFLA_IFNAME) + ifname
    attr += b"\0" * ((4 - len(attr) % 4) % 4)
    body = struct.pack("=BxHiII", 0, 1, index, flags, 0xFFFFFFFF) + attr
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def test_parse_link_messages_and_state_tracking() -> None:
    up = consts.IFF_UP | consts.IFF_RUNNING
    data = _link_msg(consts.RTM_NEWLINK, 4, "eth0", up) + _link_msg(consts.RTM_NEWLINK, 5, "eth1", consts.IFF_UP)
    assert linkmon.parse_link_messages(data) == [
        (consts.RTM_NEWLINK, 4, "eth0", up),
        (consts.RTM_NEWLINK, 5, "eth1", consts.IFF_UP),
    ]
    mon = linkmon.LinkMonitor.__new__(linkmon.LinkMonitor)  # state logic only, no socket
    mon.interfaces = frozenset({"eth0"})
    mon._state = {}
    assert mon._update(consts.RTM_NEWLINK, 4, "eth0", up) == [("eth0", True)]
    assert mon._update(consts.RTM_NEWLINK, 4, "eth0", up) == []  # no change, no event
    assert mon._update(consts.RTM_NEWLINK, 5, "eth1", 0) == []  # not watched
    assert mon._update(consts.RTM_NEWLINK, 4, "eth0", consts.IFF_UP) == [("eth0", False)]  # carrier lost
    assert mon._update(consts.RTM_NEWLINK, 4, "eth0", up) == [("eth0", True)]
    assert mon._update(consts.RTM_NEWLINK, 4, "renamed", up) == [("eth0", False)]
    assert mon._update(consts.RTM_DELLINK, 4, "renamed", 0) == []
    assert linkmon.parse_link_messages(b"\x00" * 7) == []


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
    """The module functions work inside a running loop (the daemon calls them there) and outside.

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


def test_rtnl_requests_wait_only_when_the_answer_is_not_there(monkeypatch: pytest.MonkeyPatch) -> None:
    """rtnetlink answers inside the sendto: a request makes no poll() (a socket with a timeout
    polls before every send and recv), and one with no answer waits TIMEOUT, then says so.
    Read-only: an address dump of this namespace."""
    conn = rtnl.Rtnl()
    try:
        def no_poll() -> None:
            raise AssertionError("polled although the answer was there")

        with monkeypatch.context() as m:
            m.setattr(rtnl.select, "poll", no_poll)
            assert any(a.address == bytes([127, 0, 0, 1]) for a in conn.addresses(socket.AF_INET))
        monkeypatch.setattr(rtnl, "TIMEOUT", 0.05)
        with pytest.raises(TimeoutError):
            conn._recv()  # nothing asked, nothing queued
    finally:
        conn.close()


def test_a_forked_child_opens_its_own_netlink_and_ioctl_sockets() -> None:
    """The sockets are shared module state; a child must not read the parent's answers. The fork
    hook forgets them in the child (no getpid() per request), the parent keeps its own."""
    parent = netlink._connection.get()
    assert netlink.interface_index("lo") is not None
    ioctl_sock = netlink._ioctl.made
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave at once
        try:
            forgot = netlink._connection.made is None and netlink._ioctl.made is None
            fresh = netlink._connection.get() is not parent and netlink.interface_index("lo") is not None
            os.write(write, b"1" if forgot and fresh and netlink._ioctl.made is not ioctl_sock else b"0")
        finally:
            os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert netlink._connection.get() is parent and netlink._ioctl.made is ioctl_sock
