"""The protocol's promises on a simulated LAN: the seed incident, failover bounds, sync groups."""

from __future__ import annotations

from ipaddress import ip_address, ip_interface

import pytest

from vrrpkit.core.config import InstanceConfig, SyncGroupConfig, Track, TrackKind, UnicastPeer, Vip
from vrrpkit.testing import SimLan

VIP = "192.0.2.99"
ADDRS = {"h1": "192.0.2.1", "h2": "192.0.2.2", "h3": "192.0.2.3"}


def inst(prio: int, host: str | None = None, unicast: bool = False, **kw: object) -> InstanceConfig:
    extra: dict[str, object] = {}
    if unicast:
        assert host is not None
        extra["unicast_src_ip"] = ip_address(ADDRS[host])
        extra["unicast_peers"] = tuple(UnicastPeer(ip_address(a)) for h, a in ADDRS.items() if h != host)
    extra.update(kw)
    return InstanceConfig(
        name="VI_1", interface="eth0", vrid=51, priority=prio, vips=(Vip(ip_interface(f"{VIP}/24")),), **extra
    )  # type: ignore[arg-type]


def seed_lan(unicast: bool = False, seed: int = 0, **kw: object) -> SimLan:
    lan = SimLan(seed=seed)
    for host, prio in (("h1", 152), ("h2", 100), ("h3", 50)):
        lan.add_host(host, ADDRS[host], [inst(prio, host, unicast, **kw)])
    return lan


def test_seed_incident_multicast_dropped_means_vip_everywhere() -> None:
    lan = seed_lan()
    lan.run(10)
    assert lan.masters() == {"h1"} and lan.vip_holders(VIP) == {"h1"}
    blocked_at = lan.now
    lan.block_multicast(True)
    lan.run(10)
    assert lan.vip_holders(VIP) == {"h1", "h2", "h3"}
    promotions = [t for t in lan.transitions if t[0] > blocked_at and t[4] == "MASTER"]
    assert {t[1] for t in promotions} == {"h2", "h3"}
    for when, host, *_ in promotions:
        # each backup promoted itself within its Master_Down_Interval of the last advert it heard
        mdi = lan.router(host, "VI_1").master_down_interval
        assert when - blocked_at <= mdi + 1.0


def test_seed_incident_fixed_by_unicast_peers() -> None:
    lan = seed_lan(unicast=True)
    lan.block_multicast(True)
    lan.run(20)
    assert lan.masters() == {"h1"} and lan.vip_holders(VIP) == {"h1"}


def test_crash_failover_exactly_at_master_down_interval() -> None:
    lan = seed_lan()
    lan.run(10.05)  # just after h1's advert at 3.4140625 + n
    last_advert = max(t for t, _ in lan.hosts["h1"].sent)
    lan.crash("h1")
    lan.run(10)
    takeover = next(t for t in lan.transitions if t[1] == "h2" and t[4] == "MASTER")
    mdi = 3 * 1.0 + (256 - 100) / 256
    assert takeover[0] == pytest.approx(last_advert + lan.delay + mdi, abs=1e-9)
    assert lan.vip_holders(VIP) == {"h2"}


def test_lost_adverts_of_a_live_master_move_nothing() -> None:
    """Three of h1's adverts lost in a row (the chaos bench's row): h2 asks before it takes over,
    h1 answers, and nobody changes state; keepalived's h2 would hold the VIP until that answer."""
    lan = seed_lan()
    lan.run(10.05)
    settled = len(lan.transitions)
    for _ in range(4):
        lan.lose_adverts("h1", 3)
        lan.run(6)
    assert len(lan.transitions) == settled and lan.vip_holders(VIP) == {"h1"}
    h2 = lan.router("h2", "VI_1")
    assert h2.stats.claims_sent == h2.stats.claims_answered == 4
    assert [e.master for _, e in lan.hosts["h2"].claims_answered] == [ip_address(ADDRS["h1"])] * 4
    assert lan.router("h3", "VI_1").stats.claims_sent == 0  # h2's claim reset h3's timer, h1's answer again


def test_graceful_stop_hands_over_at_skew_time() -> None:
    lan = seed_lan()
    lan.run(10.05)
    stopped_at = lan.now
    lan.stop("h1")
    lan.run(5)
    takeover = next(t for t in lan.transitions if t[1] == "h2" and t[4] == "MASTER")
    assert takeover[0] == pytest.approx(stopped_at + lan.delay + (256 - 100) / 256, abs=1e-9)
    assert lan.masters() == {"h2"}


def test_v3_fast_adverts_failover_bound() -> None:
    lan = seed_lan(version=3, advert_int_cs=10)
    lan.run(2.0)
    last = max(t for t, _ in lan.hosts["h1"].sent)
    lan.crash("h1")
    lan.run(1.0)
    takeover = next(t for t in lan.transitions if t[1] == "h2" and t[4] == "MASTER")
    assert takeover[0] - last == pytest.approx(lan.delay + 0.3 + (156 * 0.1) / 256, abs=1e-9)


def test_restarted_higher_priority_preempts() -> None:
    lan = seed_lan()
    lan.run(10)
    lan.crash("h1")
    lan.run(10)
    assert lan.masters() == {"h2"}
    lan.start("h1")
    lan.run(10)
    assert lan.masters() == {"h1"}
    assert lan.vip_holders(VIP) == {"h1"}


def test_nopreempt_keeps_current_master() -> None:
    lan = seed_lan(preempt=False)
    lan.run(10)
    lan.crash("h1")
    lan.run(10)
    lan.start("h1")
    lan.run(10)
    assert lan.masters() == {"h2"}


def test_split_brain_heals_with_advert_and_regarp() -> None:
    lan = seed_lan()
    lan.run(10)
    lan.partition({"h1"}, {"h2", "h3"})
    lan.run(10)
    assert lan.masters() == {"h1", "h2"}
    healed_at = lan.now
    lan.heal()
    lan.run(5)
    assert lan.masters() == {"h1"}
    # the master answered the lower-priority master with GARPs (ends black-holing)
    assert any(t > healed_at for t, _ in lan.hosts["h1"].garps)


def test_same_seed_same_history() -> None:
    def history(seed: int) -> list[tuple[float, str, str, str, str]]:
        lan = seed_lan(seed=seed)
        lan.set_loss(0.3)
        lan.run(30)
        lan.crash("h1")
        lan.run(10)
        return lan.transitions

    assert history(7) == history(7)


def test_config_text_hosts() -> None:
    pytest.importorskip("vrrpkit.config", reason="parser not built yet")
    from vrrpkit import config as kconfig

    if not hasattr(kconfig, "load_string"):
        pytest.skip("parser not built yet")
    text = """
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 1
    virtual_ipaddress {
        192.0.2.99/24
    }
}
"""
    lan = SimLan(seed=3)
    lan.add_host("h1", "192.0.2.1", text % 150)
    lan.add_host("h2", "192.0.2.2", text % 100)
    lan.run(10)
    assert lan.masters() == {"h1"}


def test_sync_group_members_move_together() -> None:
    def host(prio: int) -> list[InstanceConfig]:
        return [
            InstanceConfig(
                name=name,
                interface="eth0",
                vrid=vrid,
                priority=prio,
                vips=(Vip(ip_interface(vip)),),
                tracks=(Track("chk", TrackKind.SCRIPT, 0),) if name == "VI_1" else (),
                sync_group="G",
            )
            for name, vrid, vip in (("VI_1", 51, "192.0.2.99/24"), ("VI_2", 52, "198.51.100.99/24"))
        ]

    groups = (SyncGroupConfig("G", ("VI_1", "VI_2")),)
    lan = SimLan(seed=5)
    h1 = lan.add_host("h1", "192.0.2.1", host(150), start=False)
    h2 = lan.add_host("h2", "192.0.2.2", host(100), start=False)
    h1.sync_groups = h2.sync_groups = groups
    lan.start("h1")
    lan.start("h2")
    for h in ("h1", "h2"):
        lan.tracker(h, "VI_1", "chk", True)
    lan.run(10)
    assert lan.masters("VI_1") == lan.masters("VI_2") == {"h1"}
    # VI_1's tracker fails on h1: the whole group goes FAULT there and h2 takes both VIPs
    lan.tracker("h1", "VI_1", "chk", False)
    assert lan.state("h1", "VI_2") == "FAULT"
    lan.run(10)
    assert lan.masters("VI_1") == lan.masters("VI_2") == {"h2"}
    lan.tracker("h1", "VI_1", "chk", True)
    assert lan.state("h1", "VI_2") == "BACKUP"
    lan.run(10)
    assert lan.masters("VI_1") == lan.masters("VI_2") == {"h1"}


@pytest.mark.parametrize("version", [2, 3])
def test_ipv6_elects_one_master_with_either_version(version: int) -> None:
    """`version 2` on an IPv6 instance is keepalived's VRRPv2 over IPv6 (core/packet.py): the same
    election and failover as VRRPv3, with whole-second intervals."""
    lan = SimLan(seed=3)
    vip = "2001:db8::99"
    for n, prio in ((1, 150), (2, 100)):
        cfg = InstanceConfig(
            name="VI_6", interface="eth0", vrid=51, priority=prio, version=version,  # type: ignore[arg-type]
            vips=(Vip(ip_interface(f"{vip}/64")),),
        )
        lan.add_host(f"h{n}", f"fe80::{n}", [cfg])
    lan.run(10)
    assert lan.masters() == {"h1"} and lan.vip_holders(vip) == {"h1"}
    assert lan.router("h2", "VI_6").stats.advert_rcvd > 0
    lan.crash("h1")
    lan.run(5)
    assert lan.masters() == {"h2"}
