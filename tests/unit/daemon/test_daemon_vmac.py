"""use_vmac and the long tail in the daemon, without root: what it asks the (fake) kernel to do.

The VMAC's life (made, adopted after a crash, refused, retried, removed), the sysctls keepalived
sets for it and their restoration, where adverts, VIPs and GARPs go, and the options that reach the
daemon: unicast_ttl, mcast_dst_ip, interface_up_down_delays, linkbeat, track_src_ip,
promote_secondaries, disable_local_igmp, log_unknown_vrids.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from ipaddress import ip_address
from pathlib import Path

import pytest
from daemon_fakes import FakeOs, FakeRunner
from test_daemon_loop import advert, conf, drive, state, until

from vrrpkit.config import load_string
from vrrpkit.core.config import VmacLink, rfc_vmac
from vrrpkit.daemon import app
from vrrpkit.daemon.app import Daemon
from vrrpkit.daemon.links import LinkManager, eui64_link_local
from vrrpkit.io.vmac import LinkState

VMAC = VmacLink("vrrp.51", "eth0", 4, rfc_vmac(51, 4))


@pytest.fixture(autouse=True)
def quick_housekeeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polls and retries at test speed (the production periods are seconds)."""
    monkeypatch.setattr(app, "HOUSEKEEPING", 0.05)
    monkeypatch.setattr(app, "POLL_INTERVAL", 0.1)
    monkeypatch.setattr(app, "RETRY", 0.1)


def test_eui64_link_local() -> None:
    assert eui64_link_local(bytes.fromhex("02766b000001")) == ip_address("fe80::76:6bff:fe00:1")


# --- LinkManager on its own --------------------------------------------------------------------


def manager(fake: FakeOs) -> LinkManager:
    return LinkManager(fake.ports(), lambda: fake.firewall)


def vmac_cfg(**kw: object) -> object:
    res = load_string(conf(extra="use_vmac") if not kw else conf(**kw), filename="k.conf")  # type: ignore[arg-type]
    return res.instances[0]


def test_an_ipv4_vmac_gets_keepalived_sysctls_and_its_base_gets_them_back() -> None:
    fake = FakeOs()
    fake.sysctl.values.update({"net/ipv4/conf/eth0/arp_ignore": 2})
    links = manager(fake)
    cfg = vmac_cfg()
    links.ensure(cfg, None)  # type: ignore[arg-type]
    assert fake.vmacs.calls == [("create", "vrrp.51", "eth0"), ("up", "vrrp.51")]
    written = dict(fake.sysctl.writes)
    assert {k: written[f"net/ipv4/conf/vrrp.51/{k}"] for k in ("arp_ignore", "accept_local", "rp_filter",
                                                               "promote_secondaries")} == {
        "arp_ignore": 1, "accept_local": 1, "rp_filter": 0, "promote_secondaries": 1}
    assert written["net/ipv6/conf/vrrp.51/disable_ipv6"] == 1
    assert fake.sysctl.values["net/ipv4/conf/eth0/arp_ignore"] == 1
    assert fake.sysctl.values["net/ipv4/conf/eth0/arp_filter"] == 1
    assert ("add_vmac", "vrrp.51", "eth0", "4") in fake.firewall.log
    links.close()
    assert "vrrp.51" not in fake.vmacs.links and ("remove_vmac", "vrrp.51", "eth0", "4") in fake.firewall.log
    assert fake.sysctl.values["net/ipv4/conf/eth0/arp_ignore"] == 2  # what it was before
    assert fake.sysctl.values["net/ipv4/conf/eth0/arp_filter"] == 0


def test_all_rp_filter_moves_to_default_and_each_interface_while_a_vmac_exists() -> None:
    """Measured with keepalived 2.2.7: all 2 -> 0, default 0 -> 2, eth0 1 -> 2, lo untouched; restored."""
    fake = FakeOs()
    fake.netlink.interfaces.update({"lo": True, "eth1": True})
    fake.sysctl.values.update({"net/ipv4/conf/all/rp_filter": 2, "net/ipv4/conf/eth0/rp_filter": 1})
    links = manager(fake)
    links.ensure(vmac_cfg(), None)  # type: ignore[arg-type]
    v = fake.sysctl.values
    assert (v["net/ipv4/conf/all/rp_filter"], v["net/ipv4/conf/default/rp_filter"]) == (0, 2)
    assert (v["net/ipv4/conf/eth0/rp_filter"], v["net/ipv4/conf/eth1/rp_filter"]) == (2, 2)
    assert "net/ipv4/conf/lo/rp_filter" not in v and v["net/ipv4/conf/vrrp.51/rp_filter"] == 0
    links.close()
    assert (v["net/ipv4/conf/all/rp_filter"], v["net/ipv4/conf/default/rp_filter"]) == (2, 0)
    assert (v["net/ipv4/conf/eth0/rp_filter"], v["net/ipv4/conf/eth1/rp_filter"]) == (1, 0)


def test_an_ipv6_vmac_borrows_the_base_link_local_and_makes_none_of_its_own() -> None:
    fake = FakeOs()
    links = manager(fake)
    cfg = vmac_cfg(vips="fe80::99/64", extra="use_vmac")
    links.ensure(cfg, None)  # type: ignore[arg-type]
    assert ("addr", "vrrp.51", "fe80::1/64") in fake.vmacs.calls
    assert ("net/ipv6/conf/vrrp.51/addr_gen_mode", 1) in fake.sysctl.writes
    assert not any(name.startswith("net/ipv4/conf/eth0") for name, _ in fake.sysctl.writes)
    assert ("add_vmac", "vrrp.51", "eth0", "6") in fake.firewall.log
    assert fake.vmacs.links["vrrp.51"].mac == rfc_vmac(51, 6)


def test_a_vmac_left_by_a_crash_is_adopted_a_different_one_replaced_a_stranger_refused() -> None:
    fake = FakeOs()
    fake.netlink.interfaces["vrrp.51"] = True
    base = fake.vmacs.state("eth0")
    assert base is not None
    fake.vmacs.links["vrrp.51"] = LinkState("vrrp.51", 300, "macvlan", "private", base.index, VMAC.mac, True)
    manager(fake).ensure(vmac_cfg(), None)  # type: ignore[arg-type]
    assert [c[0] for c in fake.vmacs.calls] == ["up"]  # adopted: not deleted, not created
    fake = FakeOs()
    fake.netlink.interfaces["vrrp.51"] = True
    fake.vmacs.links["vrrp.51"] = LinkState("vrrp.51", 300, "macvlan", "private", 1, b"\x02" * 6, True)
    manager(fake).ensure(vmac_cfg(), None)  # type: ignore[arg-type]
    assert [c[0] for c in fake.vmacs.calls] == ["delete", "create", "up"]
    fake = FakeOs()
    fake.netlink.interfaces["vrrp.51"] = True  # a veth that happens to have the name
    with pytest.raises(OSError, match="not a private macvlan"):
        manager(fake).ensure(vmac_cfg(), None)  # type: ignore[arg-type]
    assert fake.vmacs.calls == [] and "vrrp.51" in fake.netlink.interfaces


def test_a_half_made_vmac_is_undone_so_the_next_attempt_starts_clean() -> None:
    fake = FakeOs()
    fake.sysctl.values["net/ipv4/conf/eth0/arp_ignore"] = 2
    fake.vmacs.refuse["up:vrrp.51"] = OSError(errno.EIO, "flaky")
    links = manager(fake)
    with pytest.raises(OSError, match="flaky"):
        links.ensure(vmac_cfg(), None)  # type: ignore[arg-type]
    assert "vrrp.51" not in fake.vmacs.links and not links.links
    assert fake.sysctl.values["net/ipv4/conf/eth0/arp_ignore"] == 2  # undone too
    del fake.vmacs.refuse["up:vrrp.51"]
    links.ensure(vmac_cfg(), None)  # type: ignore[arg-type]
    assert fake.vmacs.links["vrrp.51"].up and [c[0] for c in fake.vmacs.calls].count("create") == 2


def test_promote_secondaries_and_disable_local_igmp_are_restored() -> None:
    """Measured with keepalived 2.2.7: both set while it runs, both back to what they were after."""
    fake = FakeOs()
    v = fake.sysctl.values
    v["net/ipv4/igmp_link_local_mcast_reports"] = 1
    links = manager(fake)
    links.configure(disable_local_igmp=True)
    links.promote_secondaries(vmac_cfg(extra="promote_secondaries"))  # type: ignore[arg-type]
    assert (v["net/ipv4/igmp_link_local_mcast_reports"], v["net/ipv4/conf/eth0/promote_secondaries"]) == (0, 1)
    links.ensure(vmac_cfg(), None)  # type: ignore[arg-type]
    assert not any(e[0] == "add_vmac" for e in fake.firewall.log)  # IPv4: no IGMP to move
    links.close()
    assert (v["net/ipv4/igmp_link_local_mcast_reports"], v["net/ipv4/conf/eth0/promote_secondaries"]) == (1, 0)


# --- the daemon with use_vmac -----------------------------------------------------------------


def test_use_vmac_master_advertises_and_announces_from_the_vmac_and_cleans_up(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert ("vrrp.51", 4) in fake.sockets and ("eth0", 4) not in fake.sockets
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert ("add", "vrrp.51", "192.0.2.99/24") in fake.netlink.calls
        assert fake.sockets[("vrrp.51", 4)].sent
        assert d.snapshot().instance("VI_1").vmac == "vrrp.51"  # type: ignore[union-attr]

    text = conf(extra="use_vmac") + "global_defs {\n    nftables vk_tbl\n    nftables_counters\n}\n"
    fake, _ = drive(tmp_path, text, body)
    assert ("configure", "vk_tbl", "-1", "True") in fake.firewall.log  # nftables TABLE, nftables_counters
    assert ("del", "vrrp.51", "192.0.2.99/24") in fake.netlink.calls
    assert ("delete", "vrrp.51") in fake.vmacs.calls and "vrrp.51" not in fake.netlink.interfaces
    assert fake.firewall.log[-1] == ("teardown",)


def test_vmac_xmit_base_advertises_from_eth0(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert ("eth0", 4) in fake.sockets and ("vrrp.51", 4) not in fake.sockets
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert ("add", "vrrp.51", "192.0.2.99/24") in fake.netlink.calls

    drive(tmp_path, conf(extra="use_vmac\n    vmac_xmit_base"), body)


def test_a_vmac_the_kernel_refuses_is_logged_counted_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeOs()
    fake.vmacs.refuse["vrrp.51"] = OSError(errno.EOPNOTSUPP, "Operation not supported")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        inst = d.instances["VI_1"]
        assert state(d) == "FAULT" and inst.vmac_errors == 1
        await until(lambda: inst.vmac_errors >= 3, limit=5.0)  # retried, the daemon running all along
        assert state(d) == "FAULT"
        errors = [r for r in caplog.records if "Unable to create VMAC" in r.getMessage()]
        assert len(errors) == 1  # the same failure is logged once
        del fake.vmacs.refuse["vrrp.51"]
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert ("vrrp.51", 4) in fake.sockets

    caplog.set_level(logging.INFO, logger="vrrpkit")
    drive(tmp_path, conf(extra="use_vmac"), body, fake)


def test_a_vmac_is_made_as_soon_as_its_base_interface_comes_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """keepalived 2.2.7, measured (a use_vmac instance's base interface deleted and made again):
    the VMAC is made as soon as the base is back; vrrpkit waited for its 5 s retry (MASTER 2.7 s
    later than keepalived). A link-up of the base of a VMAC that could not be made retries now."""
    monkeypatch.setattr(app, "RETRY", 5.0)  # the daemon's own retry period, not this module's quick one
    fake = FakeOs()
    fake.vmacs.refuse["vrrp.51"] = OSError(errno.ENODEV, "No such device")  # the base is gone

    def creates() -> int:
        return len([c for c in fake.vmacs.calls if c[0] == "create"])

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert state(d) == "FAULT" and d.instances["VI_1"].vmac_error is not None
        await until(lambda: creates() == 2)  # the first housekeeping round's retry; the next is 5 s later
        del fake.vmacs.refuse["vrrp.51"]
        assert fake.links is not None
        fake.links.push("eth0", True)  # the base is back
        await until(lambda: creates() == 3, limit=2.0)
        assert d.instances["VI_1"].vmac_error is None

    drive(tmp_path, conf(extra="use_vmac"), body, fake)


def test_a_vmac_deleted_under_us_is_made_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vrrpkit")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER", limit=5.0)
        old = fake.sockets[("vrrp.51", 4)]
        router = d.instances["VI_1"].router
        seen = len(router.transitions)
        fake.vmacs.links.pop("vrrp.51")
        fake.netlink.interfaces.pop("vrrp.51")
        assert fake.links is not None
        fake.links.push("vrrp.51", False)
        # FAULT lasts one housekeeping round (the VMAC is made again at once): look at the record, not the state
        await until(lambda: any(t[2].value == "FAULT" for t in router.transitions[seen:]), limit=5.0)
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert [c for c in fake.vmacs.calls if c[0] == "create"] == [("create", "vrrp.51", "eth0")] * 2
        # the socket bound to the old link's index is closed; adverts go out on one opened anew
        new = fake.sockets[("vrrp.51", 4)]
        assert old.closed and new is not old
        await until(lambda: len(new.sent) > 0, limit=5.0)

    drive(tmp_path, conf(extra="use_vmac"), body)
    # keepalived says 'Netlink reports' of the interfaces it was given, not of the VMACs it makes
    assert "Netlink reports vrrp.51" not in caplog.text


def test_a_vmac_name_taken_by_another_interface_falls_back_to_vrrp_vrid(tmp_path: Path) -> None:
    """keepalived: 'interface vk51 already exists and is not a private macvlan; ignoring vmac if_name'."""
    fake = FakeOs()
    fake.netlink.interfaces["vk51"] = True  # a veth of that name

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert ("add", "vrrp.51", "192.0.2.99/24") in fake.netlink.calls and "vk51" not in fake.vmacs.links
        router = d.instances["VI_1"].router
        assert d.apply_reload(load_string(conf(extra="use_vmac vk51"), filename="keepalived.conf"))
        assert d.instances["VI_1"].router is router  # unchanged config: the fix-up is no reason to restart
        assert d.apply_reload(load_string(conf(priority=160, extra="use_vmac vk51"), filename="keepalived.conf"))
        inst = d.instances["VI_1"]  # changed in place: still MASTER, still on the fallback VMAC
        assert inst.router is router and state(d) == "MASTER" and inst.cfg.vip_interface == "vrrp.51"
        assert inst.router.priority == 160 and [c for c in fake.vmacs.calls if c[0] == "delete"] == []

    drive(tmp_path, conf(extra="use_vmac vk51"), body, fake)


def test_reload_changes_a_vmac_in_place_as_keepalived(tmp_path: Path) -> None:
    """keepalived 2.2.7, measured: a new priority keeps the VMAC; a new MAC or name remakes it while the
    instance stays MASTER ('Deleting old VMAC interface vrrp.51', 'setting VIPs'); use_vmac taken
    away restarts a multicast instance, whose VMAC goes."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER", limit=5.0)
        router = d.instances["VI_1"].router

        def reload(extra: str) -> None:
            fake.netlink.calls.clear()
            assert d.apply_reload(load_string(conf(priority=120, extra=extra), filename="keepalived.conf"))

        reload("use_vmac")
        assert "vrrp.51" in fake.vmacs.links and ("delete", "vrrp.51") not in fake.vmacs.calls
        reload("use_vmac 02:11:22:33:44:55")
        assert fake.vmacs.links["vrrp.51"].mac == bytes.fromhex("021122334455")  # a new MAC: made anew
        assert ("add", "vrrp.51", "192.0.2.99/24") in fake.netlink.calls  # and its VIP set again
        reload("use_vmac vk51 02:11:22:33:44:55")
        assert "vrrp.51" not in fake.vmacs.links and "vk51" in fake.vmacs.links
        assert ("add", "vk51", "192.0.2.99/24") in fake.netlink.calls
        assert d.instances["VI_1"].router is router and state(d) == "MASTER"
        await until(lambda: len(fake.sockets[("vk51", 4)].sent) > 0, limit=5.0)  # adverts from the new VMAC
        reload("")
        assert "vk51" not in fake.vmacs.links and d.instances["VI_1"].router is not router  # restarted

    drive(tmp_path, conf(extra="use_vmac"), body)


def test_reload_turning_use_vmac_on_for_a_unicast_master_moves_its_vip(tmp_path: Path) -> None:
    """keepalived compares use_vmac only for multicast instances: a unicast one keeps its state."""
    uni = "unicast_src_ip 192.0.2.1\n    unicast_peer {\n        192.0.2.2\n    }\n    "

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER", limit=5.0)
        router = d.instances["VI_1"].router
        fake.netlink.calls.clear()
        assert d.apply_reload(load_string(conf(extra=uni + "use_vmac"), filename="keepalived.conf"))
        assert d.instances["VI_1"].router is router and state(d) == "MASTER"
        assert ("del", "eth0", "192.0.2.99/24") in fake.netlink.calls
        assert ("add", "vrrp.51", "192.0.2.99/24") in fake.netlink.calls

    drive(tmp_path, conf(extra=uni), body)


def test_receive_buffers_sum_the_instances_on_a_socket(tmp_path: Path) -> None:
    """keepalived's vrrp_sockpool: kernel_rx_buf_size, else the policy's share, summed per socket."""
    text = conf(extra="kernel_rx_buf_size 100000") + conf(name="VI_2", vrid=52, vips="192.0.2.98/24")
    text = text.replace("vrrp_version 3", "vrrp_version 3\n    vrrp_rx_bufs_policy MTU\n    vrrp_rx_bufs_multiplier 2")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert fake.sockets[("eth0", 4)].rcvbuf == 100000 + 2 * 1450  # the interface MTU (SIOCGIFMTU)

    drive(tmp_path, text, body)


# --- the long tail -----------------------------------------------------------------------------


def test_unicast_ttl_reaches_the_socket(tmp_path: Path) -> None:
    extra = "unicast_src_ip 192.0.2.1\n    unicast_ttl 7\n    unicast_peer {\n        192.0.2.2\n    }"

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert set(fake.sockets[("eth0", 4)].ttls) == {7}

    drive(tmp_path, conf(extra=extra), body)


def test_two_groups_share_one_socket(tmp_path: Path) -> None:
    two = conf(extra="mcast_dst_ip 224.0.0.19") + conf(name="VI_2", vips="192.0.2.98/24")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = fake.sockets[("eth0", 4)]
        assert sorted(map(str, sock.groups)) == ["224.0.0.18", "224.0.0.19"]
        for _ in range(8):  # a master on VI_2's group, same VRID: VI_1 (on 224.0.0.19) never hears it
            sock.deliver(advert(200, vip="192.0.2.98"), "192.0.2.2", dst="224.0.0.18")
            await asyncio.sleep(0.1)
        assert state(d, "VI_2") == "BACKUP" and state(d) == "MASTER"

    drive(tmp_path, two, body)


def test_interface_up_down_delays_hide_a_short_flap(tmp_path: Path) -> None:
    text = "interface_up_down_delays {\n    eth0 1 0.1\n}\n" + conf()  # a long down delay: loaded CI

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert fake.links is not None
        fake.links.push("eth0", False)
        await asyncio.sleep(0.05)
        fake.links.push("eth0", True)
        await asyncio.sleep(1.2)
        assert state(d) == "MASTER"  # never heard of it
        fake.links.push("eth0", False)
        await asyncio.sleep(0.2)
        assert state(d) == "MASTER"
        await until(lambda: state(d) == "FAULT", limit=5.0)  # once the 1 s down delay is over

    drive(tmp_path, text, body)


def test_linkbeat_interfaces_are_polled_not_taken_from_netlink(tmp_path: Path) -> None:
    text = "linkbeat_interfaces {\n    eth0 ETHTOOL\n}\n" + conf()

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert fake.links is not None
        fake.links.push("eth0", False)  # netlink says down, the driver says carrier: no fault
        await asyncio.sleep(0.2)
        assert state(d) == "MASTER"
        fake.carrier["eth0"] = False
        await until(lambda: state(d) == "FAULT", limit=5.0)
        assert ("eth0", "ETHTOOL") in fake.polls

    drive(tmp_path, text, body)


def test_dont_track_primary(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert fake.links is not None
        fake.links.push("eth0", False)
        await asyncio.sleep(0.3)
        assert state(d) == "MASTER"

    drive(tmp_path, conf(extra="dont_track_primary"), body)


def test_track_src_ip_faults_when_the_address_goes(tmp_path: Path) -> None:
    fake = FakeOs()
    fake.netlink.addresses["eth0"] = {ip_address("192.0.2.1")}
    extra = "track_src_ip\n    unicast_src_ip 192.0.2.1\n    unicast_peer {\n        192.0.2.2\n    }"

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER", limit=5.0)
        fake.netlink.addresses["eth0"].discard(ip_address("192.0.2.1"))
        await until(lambda: state(d) == "FAULT", limit=5.0)
        fake.netlink.addresses["eth0"].add(ip_address("192.0.2.1"))
        await until(lambda: state(d) != "FAULT", limit=5.0)

    drive(tmp_path, conf(extra=extra), body, fake)


def test_log_unknown_vrids(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = conf() + "global_defs {\n    log_unknown_vrids\n}\n"

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = fake.sockets[("eth0", 4)]
        for _ in range(3):
            sock.deliver(advert(100, vrid=77), "192.0.2.2")
            await asyncio.sleep(0.05)
        assert d.snapshot().unknown_vrid_packets == 3

    caplog.set_level(logging.INFO, logger="vrrpkit")
    drive(tmp_path, text, body)
    lines = [r.getMessage() for r in caplog.records if "unknown VRID 77" in r.getMessage()]
    assert len(lines) == 1  # once a minute per VRID


def test_dynamic_interfaces_start_in_fault_until_the_interface_appears(tmp_path: Path) -> None:
    text = conf().replace("interface eth0", "interface eth1") + "global_defs {\n    dynamic_interfaces\n}\n"

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert state(d) == "FAULT" and ("eth1", 4) not in fake.sockets
        fake.netlink.interfaces["eth1"] = True
        fake.netlink.primary[("eth1", 4)] = ip_address("198.51.100.1")
        assert fake.links is not None
        fake.links.push("eth1", True)
        await until(lambda: state(d) == "MASTER", limit=5.0)
        assert ("eth1", 4) in fake.sockets and fake.sockets[("eth1", 4)].sent

    drive(tmp_path, text, body)
