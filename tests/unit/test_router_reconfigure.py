"""VirtualRouter.reconfigure: a reload applied in place, with literal times.

What keepalived 2.2.7 does on the same edits was measured in the lab (tests/interop/test_reload_matrix.py):
the state is kept and the new values are used from the reload on; a master whose priority fell below
a peer's is preempted by that peer (the master itself sends no priority 0); only an identity change
(VRID, interface, family, unicast <-> multicast) restarts an instance.
"""

from __future__ import annotations

from ipaddress import ip_address, ip_interface

import pytest

from vrrpkit.core import effects as fx
from vrrpkit.core.config import InstanceConfig, Track, TrackKind, UnicastPeer, Vip, VmacLink, rfc_vmac
from vrrpkit.core.packet import Advertisement, decode, encode
from vrrpkit.core.reconfig import diff, identity
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import Event, State
from vrrpkit.core.sync import SyncGroup

ME = ip_address("192.0.2.1")
PEER = ip_address("192.0.2.2")
GROUP = ip_address("224.0.0.18")
VIP = Vip(ip_interface("192.0.2.99/24"))
VIP2 = Vip(ip_interface("198.51.100.99/32"))
CHK = Track("chk", TrackKind.SCRIPT, 0)


def cfg(**kw: object) -> InstanceConfig:
    base: dict[str, object] = {"name": "VI_1", "interface": "eth0", "vrid": 51, "vips": (VIP,), "priority": 150}
    base.update(kw)
    return InstanceConfig(**base)  # type: ignore[arg-type]


def backup(**kw: object) -> VirtualRouter:
    r = VirtualRouter(cfg(**kw), ME)
    r.start(0.0)
    list(r.effects())
    return r


def master(**kw: object) -> VirtualRouter:
    """A master since t=0 (owner-free: it timed out its backup wait), effects drained."""
    r = backup(**kw)
    r.handle_timer(r.get_timer() or 0.0)
    assert r.state is State.MASTER
    list(r.effects())
    return r


def of(effects: list[fx.Effect], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in effects if isinstance(e, kind)]


def advert(prio: int, version: int = 2, interval: float = 1.0, vips: tuple[str, ...] = ("192.0.2.99",)) -> bytes:
    return encode(Advertisement(version, 51, prio, tuple(ip_address(v) for v in vips), interval), PEER, GROUP)


def test_unchanged_config_is_a_no_op() -> None:
    r = master()
    timers = r.timers()
    r.reconfigure(cfg(), 10.0)
    assert list(r.effects()) == [] and r.timers() == timers


def test_master_priority_down_but_still_highest_stays_master_and_advertises_at_once() -> None:
    r = master()
    r.reconfigure(cfg(priority=120), 10.0)
    effects = list(r.effects())
    assert r.state is State.MASTER
    assert of(effects, fx.PriorityChanged) == [fx.PriorityChanged("VI_1", 150, 120, State.MASTER)]
    sends = of(effects, fx.SendAdvert)
    assert [s.priority for s in sends] == [120]  # the new priority, never 0
    assert not of(effects, fx.StateChanged) and not of(effects, fx.Notify)
    assert not of(effects, fx.DelVips) and not of(effects, fx.AddVips)
    assert r.timers()["advert"] == 11.0


def test_master_priority_up_stays_master() -> None:
    r = master()
    r.reconfigure(cfg(priority=200), 10.0)
    effects = list(r.effects())
    assert r.state is State.MASTER and [s.priority for s in of(effects, fx.SendAdvert)] == [200]


def test_master_below_a_peer_hands_over_when_the_peer_preempts() -> None:
    r = master()
    r.reconfigure(cfg(priority=90), 10.0)
    list(r.effects())
    assert r.state is State.MASTER  # it cannot know the peer's priority: the peer preempts (keepalived too)
    r.datagram_received(advert(100), PEER, GROUP, 255, 13.7)
    effects = list(r.effects())
    assert r.state is State.BACKUP
    assert of(effects, fx.StateChanged)[0].event is Event.HIGHER_PRIORITY
    assert of(effects, fx.DelVips) == [fx.DelVips("VI_1", "eth0", (VIP,))]


def test_master_adds_and_removes_vips_with_garp_for_the_new_ones_only() -> None:
    r = master()
    r.reconfigure(cfg(vips=(VIP, VIP2)), 10.0)
    effects = list(r.effects())
    assert of(effects, fx.AddVips) == [fx.AddVips("VI_1", "eth0", (VIP2,), fx.VipCause.RELOAD)]
    assert of(effects, fx.SendGarp) == [fx.SendGarp("VI_1", "eth0", (VIP2,), 5)]
    assert not of(effects, fx.DelVips)
    sent = decode(of(effects, fx.SendAdvert)[0].data, ME, GROUP)
    assert sent.addresses == (VIP.address, VIP2.address) and sent.priority == 150
    r.reconfigure(cfg(vips=(VIP2,)), 11.0)
    effects = list(r.effects())
    assert of(effects, fx.DelVips) == [fx.DelVips("VI_1", "eth0", (VIP,), fx.VipCause.RELOAD)]
    assert not of(effects, fx.AddVips) and not of(effects, fx.SendGarp)
    assert r.state is State.MASTER and r.timers()["advert"] == 12.0


def test_a_vip_whose_options_changed_is_removed_and_added_again() -> None:
    r = master()
    labelled = Vip(VIP.interface, label="eth0:vip")
    r.reconfigure(cfg(vips=(labelled,)), 10.0)
    effects = list(r.effects())
    assert of(effects, fx.DelVips) == [fx.DelVips("VI_1", "eth0", (VIP,), fx.VipCause.RELOAD)]
    assert of(effects, fx.AddVips) == [fx.AddVips("VI_1", "eth0", (labelled,), fx.VipCause.RELOAD)]


def test_excluded_vips_are_added_without_garp_and_not_advertised() -> None:
    r = master()
    r.reconfigure(cfg(excluded_vips=(VIP2,)), 10.0)
    effects = list(r.effects())
    assert of(effects, fx.AddVips) == [fx.AddVips("VI_1", "eth0", (VIP2,), fx.VipCause.RELOAD)]
    assert not of(effects, fx.SendGarp) and not of(effects, fx.SendAdvert)


def test_backup_vip_changes_touch_no_address() -> None:
    r = backup()
    r.reconfigure(cfg(vips=(VIP, VIP2)), 1.0)
    effects = list(r.effects())
    assert not of(effects, fx.AddVips) and not of(effects, fx.SendGarp) and not of(effects, fx.SendAdvert)
    assert r.state is State.BACKUP


def test_backup_down_timer_is_rederived_from_the_masters_last_advert_with_the_new_skew() -> None:
    r = backup(priority=100)
    r.datagram_received(advert(200), PEER, GROUP, 255, 1.0)
    # half the skew time early: the master outranks us, a claim first (test_router_claim.py)
    assert r.timers()["master-down"] == pytest.approx(1.0 + 3 + 156 / 256 / 2)
    r.reconfigure(cfg(priority=50), 2.0)
    assert r.timers()["master-down"] == pytest.approx(1.0 + 3 + 206 / 256 / 2)


def test_backup_v2_interval_change_restarts_the_down_timer_as_keepalived_does() -> None:
    r = backup(priority=100)
    r.datagram_received(advert(200), PEER, GROUP, 255, 1.0)
    r.reconfigure(cfg(priority=100, advert_int_cs=200), 2.5)
    assert r.master_adver_int_cs == 200
    assert r.timers()["master-down"] == pytest.approx(2.5 + 6 + 156 / 256 / 2)


def test_backup_v3_keeps_the_interval_its_master_sends() -> None:
    r = backup(priority=100, version=3, advert_int_cs=100)
    r.datagram_received(advert(200, version=3, interval=0.5), PEER, GROUP, 255, 1.0)
    r.reconfigure(cfg(priority=100, version=3, advert_int_cs=200), 1.2)
    assert r.master_adver_int_cs == 50
    assert r.timers()["master-down"] == pytest.approx(1.0 + 1.5 + 156 * 0.5 / 256 / 2)


def test_a_shorter_down_timer_already_past_fires_at_the_next_timer_call() -> None:
    r = backup(priority=1)
    r.datagram_received(advert(200), PEER, GROUP, 255, 1.0)  # down at 1 + 3 + 255/256
    r.reconfigure(cfg(priority=254), 4.5)  # 1 + 3 + 2/256 < 4.5
    assert r.timers()["master-down"] == 4.5
    r.handle_timer(4.5)
    assert r.state is State.MASTER


def test_nopreempt_cancels_a_pending_preempt_delay_and_a_new_delay_counts_from_the_first_advert() -> None:
    r = backup(priority=200, preempt_delay_cs=1000)
    r.datagram_received(advert(100), PEER, GROUP, 255, 1.0)
    assert r.timers()["preempt-delay"] == 11.0
    r.reconfigure(cfg(priority=200, preempt_delay_cs=500), 2.0)
    assert r.timers()["preempt-delay"] == 6.0
    r.reconfigure(cfg(priority=200, preempt=False, preempt_delay_cs=500), 3.0)
    assert "preempt-delay" not in r.timers()


def test_a_new_failing_track_script_faults_a_master_with_priority_zero() -> None:
    r = master()
    r.reconfigure(cfg(tracks=(CHK,)), 10.0, {"chk": False})
    effects = list(r.effects())
    assert r.state is State.FAULT
    # keepalived 2.2.7 (measured, a reload adding a failing weight-0 script): two, as at run time
    assert [(s.priority, s.said) for s in of(effects, fx.SendAdvert)] == [(0, False), (0, True)]
    assert of(effects, fx.DelVips) and [n.state for n in of(effects, fx.Notify)] == ["FAULT"]


def test_a_reload_that_faults_a_master_adds_none_of_its_new_vips() -> None:
    """A VIP added on an interface that is down (its implicit weight-0 track fails): the reload
    ends the mastership, so the new VIP is not added. keepalived 2.2.7 (measured) adds it and
    removes every VIP at the end of the reload, holding none; vrrpkit's daemon applied a reload's
    removals first (a VIP moved between instances) and so added that VIP after the FAULT's removal,
    leaving it on a FAULT host."""
    r = master()
    vt0 = Vip(ip_interface("198.51.100.71/32"), dev="vt0")
    r.reconfigure(cfg(vips=(VIP, vt0), tracks=(Track("vt0", TrackKind.INTERFACE, 0),)), 10.0, {"vt0": False})
    effects = list(r.effects())
    assert r.state is State.FAULT and not of(effects, fx.AddVips) and not of(effects, fx.SendGarp)
    assert [d.vips for d in of(effects, fx.DelVips)] == [(VIP, vt0)]
    r = master()  # still master: the new VIP comes, with its GARP, after what the election said
    r.reconfigure(cfg(vips=(VIP, vt0), tracks=(Track("vt0", TrackKind.INTERFACE, 0),)), 10.0, {"vt0": True})
    effects = list(r.effects())
    assert r.state is State.MASTER and [a.vips for a in of(effects, fx.AddVips)] == [(vt0,)]


def test_a_new_track_script_not_run_yet_keeps_the_master_until_it_fails() -> None:
    r = master()
    r.reconfigure(cfg(tracks=(CHK,)), 10.0)
    assert r.state is State.MASTER and list(r.effects()) == []
    r.tracker_changed("chk", False, 10.4)
    assert r.state is State.FAULT


def test_removing_the_failing_track_script_ends_the_fault() -> None:
    r = backup(tracks=(CHK,))
    r.tracker_changed("chk", False, 1.0)
    assert r.state is State.FAULT
    r.reconfigure(cfg(), 2.0)
    assert r.state is State.BACKUP and r.timers() == {"master-down": 2.0 + 3 + 106 / 256}


def test_a_kept_track_keeps_its_value_under_new_weights() -> None:
    weighted = Track("chk", TrackKind.SCRIPT, -20)
    r = master(tracks=(weighted,))
    r.tracker_changed("chk", False, 5.0)
    assert r.priority == 130
    r.reconfigure(cfg(priority=160, tracks=(weighted,)), 10.0)
    assert r.priority == 140
    r.reconfigure(cfg(priority=160, tracks=(Track("chk", TrackKind.SCRIPT, -50),)), 11.0)
    assert r.priority == 110 and r.state is State.MASTER


def test_removing_the_last_weight_zero_script_starts_a_router_held_in_init() -> None:
    r = VirtualRouter(cfg(tracks=(CHK,)), ME)
    r.start(0.0)
    assert r.state is State.INIT
    r.reconfigure(cfg(), 1.0)
    assert r.state is State.BACKUP


def test_rename_keeps_the_state_and_speaks_under_the_new_name() -> None:
    r = master()
    r.reconfigure(cfg(name="VI_renamed"), 10.0)
    assert r.name == "VI_renamed" and r.state is State.MASTER
    assert list(r.effects()) == []
    r.handle_timer(r.timers()["advert"])
    assert {e.instance for e in r.effects()} == {"VI_renamed"}


def test_version_change_in_place_sends_the_new_version_at_once() -> None:
    r = master()
    r.reconfigure(cfg(version=3, advert_int_cs=100), 10.0)
    sends = of(list(r.effects()), fx.SendAdvert)
    assert r.state is State.MASTER and sends and sends[0].data[0] >> 4 == 3


def test_garp_refresh_timer_follows_the_config() -> None:
    r = master()
    r.reconfigure(cfg(garp_master_refresh_cs=6000), 10.0)
    assert r.timers()["garp-refresh"] == 70.0
    r.reconfigure(cfg(), 20.0)
    assert "garp-refresh" not in r.timers()


@pytest.mark.parametrize(
    "change",
    [
        {"vrid": 52},
        {"interface": "eth1"},
        {"unicast_peers": (UnicastPeer(PEER),)},
        {"vips": (Vip(ip_interface("2001:db8::99/64")),), "version": 3},
        {"vmac": VmacLink("vrrp.51", "eth0", 4, rfc_vmac(51, 4))},
    ],
    ids=["vrid", "interface", "unicast", "family", "use_vmac"],
)
def test_an_identity_change_is_refused(change: dict[str, object]) -> None:
    r = master()
    new = cfg(**change)
    assert identity(new) != identity(r.config)
    with pytest.raises(ValueError, match="identity"):
        r.reconfigure(new, 10.0)


def test_unicast_source_is_identity_but_peers_are_not() -> None:
    base = cfg(unicast_peers=(UnicastPeer(PEER),), unicast_src_ip=ME)
    assert identity(base) == identity(base.replace(unicast_peers=(UnicastPeer(ip_address("192.0.2.3")),)))
    assert identity(base) != identity(base.replace(unicast_src_ip=ip_address("192.0.2.4")))


def test_diff_names_the_fields_for_the_log() -> None:
    old, new = cfg(), cfg(priority=120, vips=(VIP, VIP2))
    change = diff(old, new)
    assert change.fields == ("priority", "vips") and change.advert_changed
    assert change.describe(old, new) == "priority 150 -> 120, +198.51.100.99/32"
    assert not diff(old, cfg(priority=120)).advert_changed  # the priority goes out through the election


def test_a_group_member_faulted_by_a_reload_takes_its_group_along() -> None:
    a = VirtualRouter(cfg(name="A"), ME)
    b = VirtualRouter(cfg(name="B", vrid=52, vips=(VIP2,)), ME)
    group = SyncGroup("G", [a, b])
    for r in (a, b):
        r.start(0.0)
    a.handle_timer(a.get_timer() or 0.0)
    group.settle(3.6)
    assert b.state is State.MASTER
    a.reconfigure(cfg(name="A", tracks=(CHK,)), 10.0, {"chk": False})
    group.settle(10.0)
    assert a.state is State.FAULT and b.state is State.FAULT
    a.reconfigure(cfg(name="A"), 11.0)
    group.settle(11.0)
    assert a.state is State.BACKUP and b.state is State.BACKUP


def test_use_vmac_on_off_is_identity_for_multicast_only_and_the_vmac_itself_is_not() -> None:
    """keepalived 2.2.7 (vrrp_exist; measured): a VMAC renamed, given a new MAC or vmac_xmit_base is
    changed in place; use_vmac or use_vmac_addr turned on or off restarts a multicast instance."""
    link = VmacLink("vrrp.51", "eth0", 4, rfc_vmac(51, 4))
    base = cfg(vmac=link)
    for same in (base.replace(vmac=VmacLink("vk51", "eth0", 4, link.mac)),
                 base.replace(vmac=VmacLink("vrrp.51", "eth0", 4, bytes.fromhex("021122334455"))),
                 base.replace(vmac_xmit_base=True)):
        assert identity(same) == identity(base)
    assert identity(base.replace(vmac=None)) != identity(base)
    unicast = base.replace(unicast_peers=(UnicastPeer(PEER),))
    assert identity(unicast.replace(vmac=None)) == identity(unicast)


def test_a_renamed_vmac_takes_the_masters_vips_along() -> None:
    link = VmacLink("vrrp.51", "eth0", 4, rfc_vmac(51, 4))
    r = master(vmac=link)
    r.reconfigure(cfg(vmac=VmacLink("vk51", "eth0", 4, link.mac)), 10.0)
    out = list(r.effects())
    assert r.state is State.MASTER and of(out, fx.DelVips) == []
    assert [(e.interface, e.vips) for e in of(out, fx.AddVips)] == [("vk51", (VIP,))]
    assert [(e.interface, e.vips) for e in of(out, fx.SendGarp)] == [("vk51", (VIP,))]
    assert {e.interface for e in of(out, fx.SendAdvert)} == {"vk51"}  # at once, from the new VMAC
    r.reconfigure(cfg(vmac=VmacLink("vk51", "eth0", 4, bytes.fromhex("021122334455"))), 11.0)
    assert [e.vips for e in of(list(r.effects()), fx.AddVips)] == [(VIP,)]  # a new MAC: the link is remade


def test_a_vmac_master_adds_and_removes_reloaded_vips_on_its_vmac() -> None:
    link = VmacLink("vrrp.51", "eth0", 4, rfc_vmac(51, 4))
    r = master(vmac=link)
    r.reconfigure(cfg(vmac=link, vips=(VIP2,)), 10.0)
    out = list(r.effects())
    assert [(e.interface, e.vips) for e in of(out, fx.DelVips)] == [("vrrp.51", (VIP,))]
    assert [(e.interface, e.vips) for e in of(out, fx.AddVips)] == [("vrrp.51", (VIP2,))]
    assert [(e.interface, e.vips) for e in of(out, fx.SendGarp)] == [("vrrp.51", (VIP2,))]


def test_what_a_later_removal_undoes_is_not_added() -> None:
    """`without_undone_vips`, which the daemon applies to a reload's effects before it makes every
    removal first: an addition (and its GARP) that a later removal of the same router takes back
    is dropped; a removal before an addition (a VIP moved onto a VMAC, options changed) stays."""
    other = Vip(ip_interface("198.51.100.7/32"))
    add, garp = fx.AddVips("VI_1", "eth0", (VIP, VIP2)), fx.SendGarp("VI_1", "eth0", (VIP, VIP2), 5)
    gone = fx.DelVips("VI_1", "eth0", (VIP2, other))
    assert fx.without_undone_vips([add, garp, gone]) == [
        fx.AddVips("VI_1", "eth0", (VIP,)), fx.SendGarp("VI_1", "eth0", (VIP,), 5), gone]
    assert fx.without_undone_vips([fx.AddVips("VI_1", "eth0", (VIP2,)), gone]) == [gone]
    assert fx.without_undone_vips([gone, add, garp]) == [gone, add, garp]
