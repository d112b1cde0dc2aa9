"""VirtualRouter against RFC 5798 section 6 / RFC 3768 and keepalived's defaults, with literal times."""

from __future__ import annotations

from ipaddress import ip_address, ip_interface

import pytest

from vrrpkit.core import effects as fx
from vrrpkit.core.config import InstanceConfig, Track, TrackKind, UnicastPeer, Vip
from vrrpkit.core.packet import Advertisement, DropReason, encode
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State

ME = ip_address("192.0.2.1")
PEER = ip_address("192.0.2.2")
LOW_PEER = ip_address("192.0.2.0")
GROUP = ip_address("224.0.0.18")
VIP = Vip(ip_interface("192.0.2.99/24"))
LEAD = (256 - 100) / 256 / 2  # a claim's lead (half the skew time) at 1 s, priority 100: test_router_claim.py


def cfg(**kw: object) -> InstanceConfig:
    base: dict[str, object] = {"name": "VI_1", "interface": "eth0", "vrid": 51, "vips": (VIP,)}
    base.update(kw)
    return InstanceConfig(**base)  # type: ignore[arg-type]


def router(address: object = ME, start: float | None = 0.0, **kw: object) -> VirtualRouter:
    r = VirtualRouter(cfg(**kw), address)  # type: ignore[arg-type]
    if start is not None:
        r.start(start)
    return r


def drain(r: VirtualRouter) -> list[fx.Effect]:
    return list(r.effects())


def of(effects: list[fx.Effect], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in effects if isinstance(e, kind)]


def advert(
    prio: int = 100,
    *,
    version: int = 2,
    interval: float = 1.0,
    vips: tuple[str, ...] = ("192.0.2.99",),
    auth_type: int = 0,
    auth: bytes = b"",
    vrid: int = 51,
    src: object = PEER,
    dst: object = GROUP,
) -> bytes:
    adv = Advertisement(version, vrid, prio, tuple(ip_address(v) for v in vips), interval, auth_type, auth)
    return encode(adv, src, dst)  # type: ignore[arg-type]


def receive(r: VirtualRouter, data: bytes, now: float, src: object = PEER, dst: object = GROUP, ttl: int = 255) -> None:
    r.datagram_received(data, src, dst, ttl, now)  # type: ignore[arg-type]


# --- startup and timers ------------------------------------------------------------------------


def test_backup_start_arms_master_down_interval() -> None:
    r = router()
    assert r.state is State.BACKUP
    # v2: 3 * 1 s + Skew_Time (256 - 100) / 256
    assert r.timers() == {"master-down": 3.609375}
    assert r.skew_time == 0.609375
    effects = drain(r)
    assert of(effects, fx.StateChanged)[0].new == "BACKUP"
    assert of(effects, fx.Notify)[0].state == "BACKUP"


def test_configured_master_below_255_still_waits_as_backup() -> None:
    r = router(state="MASTER", priority=200)
    assert r.state is State.BACKUP
    assert r.get_timer() == pytest.approx(3 + 56 / 256)


def test_owner_becomes_master_at_once_with_advert_and_garp() -> None:
    r = router(priority=255, state="MASTER", start=10.0)
    assert r.state is State.MASTER
    effects = drain(r)
    assert [type(e) for e in effects][:4] == [fx.StateChanged, fx.AddVips, fx.SendAdvert, fx.SendGarp]
    send = of(effects, fx.SendAdvert)[0]
    assert (send.src, send.dst, send.priority) == (ME, GROUP, 255)
    assert of(effects, fx.SendGarp)[0].count == 5
    assert r.timers() == {"advert": 11.0, "garp-repeat": 15.0}
    assert r.stats.become_master == 1


def test_master_down_timer_promotes_backup_and_adverts_follow() -> None:
    r = router()
    drain(r)
    r.handle_timer(3.609375)
    assert r.state is State.MASTER
    assert r.transitions[-1][3] == "advertisement timeout"
    drain(r)
    r.handle_timer(4.609375)
    sends = of(drain(r), fx.SendAdvert)
    assert len(sends) == 1
    assert r.timers()["advert"] == pytest.approx(5.609375)
    r.handle_timer(8.609375)  # delayed second GARP batch, 5 s after becoming master
    garps = of(drain(r), fx.SendGarp)
    assert [g.count for g in garps] == [5]


def test_handle_timer_before_deadline_does_nothing() -> None:
    r = router()
    drain(r)
    r.handle_timer(1.0)
    assert r.state is State.BACKUP and drain(r) == []


def test_v3_skew_and_down_interval_use_master_interval() -> None:
    r = router(version=3, advert_int_cs=100)
    receive(r, advert(100, version=3, interval=0.5), 1.0)
    assert r.master_adver_int_cs == 50
    # 3 * 0.5 + ((256 - 100) * 0.5) / 256
    assert r.master_down_interval == pytest.approx(1.5 + 156 * 0.5 / 256)
    assert r.timers()["master-down"] == pytest.approx(1.0 + 1.5 + 156 * 0.5 / 256 - 156 * 0.5 / 256 / 2)
    mismatch = of(drain(r), fx.Mismatch)
    assert mismatch and mismatch[0].kind == "interval"


def test_backup_resets_down_timer_on_higher_priority_advert() -> None:
    r = router()
    receive(r, advert(200), 2.0)
    # the claim (test_router_claim.py) is due LEAD before the RFC's Master_Down
    assert r.timers()["master-down"] == pytest.approx(2.0 + 3.609375 - LEAD)
    assert r.master_address == PEER and r.master_priority == 200
    assert r.stats.advert_rcvd == 1


def test_backup_priority_zero_waits_skew_time() -> None:
    r = router()
    receive(r, advert(0), 2.0)
    assert r.timers()["master-down"] == 2.0 + 0.609375
    assert r.stats.pri_zero_rcvd == 1


def test_backup_ignores_lower_priority_so_it_preempts() -> None:
    r = router(priority=200)
    deadline = r.get_timer()
    receive(r, advert(100), 1.0)
    assert r.get_timer() == deadline


def test_nopreempt_backup_keeps_lower_master() -> None:
    r = router(priority=200, preempt=False)
    receive(r, advert(100), 1.0)
    assert r.timers()["master-down"] == pytest.approx(1.0 + 3 + 56 / 256)


def test_preempt_delay_defers_then_takes_over() -> None:
    """keepalived 2.2.7, measured (priority 150 beside a master at 100, preempt_delay 2 and 5, 1 s
    adverts): the master's adverts count until the delay is over, then are discarded, and the
    takeover comes when Master_Down runs out from the last one counted (5.01 and 8.01 s after a
    start whose first advert came at 0.6 s), not when the delay ends."""
    r = router(priority=200, preempt_delay_cs=1000)
    receive(r, advert(100), 1.0)
    assert r.timers()["preempt-delay"] == 11.0
    receive(r, advert(100), 2.0)
    assert r.timers()["preempt-delay"] == 11.0
    r.handle_timer(4.5)
    assert r.state is State.BACKUP
    for t in range(3, 11):
        receive(r, advert(100), float(t))
    r.handle_timer(11.0)
    assert r.state is State.BACKUP and "preempt-delay" not in r.timers()
    down = 10.0 + 3 + (256 - 200) / 256
    for t in (11.0, 12.0, 13.0):  # discarded: Master_Down keeps running from 10.0
        receive(r, advert(100), t)
        assert r.timers()["master-down"] == down
    r.handle_timer(down)
    assert r.state is State.MASTER and r.transitions[-1][3] == "advertisement timeout"


def test_preempt_delay_does_not_preempt_once_we_are_no_longer_higher() -> None:
    r = router(priority=150, preempt_delay_cs=100, tracks=(Track("chk", TrackKind.SCRIPT, -100),))
    receive(r, advert(100), 9.5)
    r.tracker_changed("chk", False, 9.7)  # 150 - 100 = 50 < the master's 100
    r.handle_timer(10.5)
    assert r.state is State.BACKUP


def test_address_appearing_later_ends_the_fault() -> None:
    r = router(address=None)
    assert r.state is State.FAULT
    r.address_changed(ME, 5.0)
    assert r.state is State.BACKUP and r.timers() == {"master-down": 5.0 + 3.609375}
    pinned = router(unicast_src_ip=ME, unicast_peers=PEERS)
    pinned.address_changed(PEER, 1.0)
    assert pinned.address == ME


def test_preempt_delay_cancelled_by_higher_master() -> None:
    r = router(priority=200, preempt_delay_cs=1000)
    receive(r, advert(100), 1.0)
    receive(r, advert(250), 2.0)
    assert "preempt-delay" not in r.timers()


# --- master receive rules ------------------------------------------------------------------------


def master(**kw: object) -> VirtualRouter:
    r = router(**kw)
    r.handle_timer(r.get_timer() or 0.0)
    assert r.state is State.MASTER
    drain(r)
    return r


def test_master_steps_down_for_higher_priority() -> None:
    r = master()
    now = 10.0
    receive(r, advert(150), now)
    assert r.state is State.BACKUP
    effects = drain(r)
    assert of(effects, fx.DelVips)[0].vips == (VIP,)
    assert not of(effects, fx.SendAdvert)
    assert r.timers() == {"master-down": pytest.approx(now + 3.609375 - LEAD)}
    assert r.stats.release_master == 1


def test_master_equal_priority_higher_address_wins() -> None:
    r = master()
    receive(r, advert(100), 10.0, src=PEER)
    assert r.state is State.BACKUP


def test_master_equal_priority_lower_address_answers() -> None:
    r = master()
    receive(r, advert(100, src=LOW_PEER), 10.0, src=LOW_PEER)
    assert r.state is State.MASTER
    effects = drain(r)
    assert len(of(effects, fx.SendAdvert)) == 1
    assert of(effects, fx.SendGarp)[0].count == 5
    assert of(effects, fx.Notify)[0].state == "MASTER_RX_LOWER_PRI"
    assert r.timers()["advert"] == 11.0
    assert r.timers()["garp-repeat"] == 15.0


def test_lower_priority_garp_repeat_configurable() -> None:
    r = master(garp_lower_prio_repeat=2, garp_lower_prio_delay_cs=100)
    receive(r, advert(50), 10.0)
    assert of(drain(r), fx.SendGarp)[0].count == 2
    r.handle_timer(11.0)
    assert [g.count for g in of(drain(r), fx.SendGarp)] == [2]


def test_lower_prio_no_advert_sends_no_advert_but_still_regarps() -> None:
    # keepalived: the advert depends on lower_prio_no_advert, the GARP on garp_lower_prio_repeat
    r = master(lower_prio_no_advert=True)
    receive(r, advert(50), 10.0)
    effects = drain(r)
    assert not of(effects, fx.SendAdvert) and of(effects, fx.SendGarp)[0].count == 5


def test_master_answers_priority_zero_at_once() -> None:
    r = master()
    receive(r, advert(0), 10.0)
    assert r.state is State.MASTER
    assert len(of(drain(r), fx.SendAdvert)) == 1
    assert r.timers()["advert"] == 11.0


def test_higher_prio_send_advert_before_stepping_down() -> None:
    r = master(higher_prio_send_advert=True)
    receive(r, advert(200), 10.0)
    effects = drain(r)
    assert of(effects, fx.SendAdvert) and r.state is State.BACKUP


def test_owner_ignores_adverts_under_strict() -> None:
    r = router(priority=255, strict=True)
    drain(r)
    receive(r, advert(254, src=PEER), 1.0)
    assert r.state is State.MASTER
    assert of(drain(r), fx.PacketDropped)[0].reason is DropReason.OWNER_IGNORES


def test_strict_mode_silences_lower_priority_answer_and_drops_auth() -> None:
    r = master(strict=True, auth_type=1, auth_pass=b"1111")
    assert r.config.auth_type == 0 and r.config.lower_prio_no_advert
    receive(r, advert(50), 10.0)
    effects = drain(r)
    assert not of(effects, fx.SendAdvert)


# --- receive validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kw", "reason", "counter"),
    [
        (advert(), {"ttl": 254}, DropReason.BAD_TTL, "ip_ttl_err"),
        (advert(version=3), {}, DropReason.VERSION_MISMATCH, "version_err"),
        (advert(interval=2.0), {}, DropReason.INTERVAL_MISMATCH, "advert_interval_err"),
        (advert(auth_type=1, auth=b"1111"), {}, DropReason.AUTH_TYPE_MISMATCH, "authtype_mismatch"),
        (advert()[:5], {}, DropReason.TOO_SHORT, "packet_len_err"),
        (advert()[:-1], {}, DropReason.LENGTH_MISMATCH, "packet_len_err"),
        (advert(), {"dst": ip_address("192.0.2.1")}, DropReason.UNICAST_IN_MULTICAST_MODE, None),
        (advert(src=ME), {"src": ME}, DropReason.OWN_ADVERT, None),
        (advert(vrid=52), {}, DropReason.WRONG_VRID, None),
    ],
)
def test_receive_rules_drop_and_count(
    data: bytes, kw: dict[str, object], reason: DropReason, counter: str | None
) -> None:
    r = router()
    drain(r)
    receive(r, data, 1.0, **kw)  # type: ignore[arg-type]
    dropped = of(drain(r), fx.PacketDropped)
    assert [d.reason for d in dropped] == [reason]
    if counter:
        assert getattr(r.stats, counter) == 1
    assert r.stats.advert_rcvd == 0
    assert r.timers() == {"master-down": 3.609375}


def test_password_checked_and_mismatch_rejected() -> None:
    r = router(auth_type=1, auth_pass=b"secret")
    receive(r, advert(auth_type=1, auth=b"wrong"), 1.0)
    assert r.stats.auth_failure == 1
    receive(r, advert(200, auth_type=1, auth=b"secret"), 1.0)
    assert r.stats.advert_rcvd == 1


def test_ipv6_advert_to_ipv4_instance_is_family_mismatch() -> None:
    r = router()
    src, dst = ip_address("fe80::2"), ip_address("ff02::12")
    data = encode(Advertisement(3, 51, 100, (ip_address("fe80::99"),), 1.0), src, dst)
    r.datagram_received(data, src, dst, 255, 1.0)
    assert of(drain(r), fx.PacketDropped)[0].reason is DropReason.FAMILY_MISMATCH


def test_vip_list_mismatch_is_counted_not_dropped() -> None:
    r = router()
    receive(r, advert(200, vips=("192.0.2.98",)), 1.0)
    assert r.stats.addr_list_err == 1
    assert r.master_priority == 200
    mismatch = of(drain(r), fx.Mismatch)
    assert mismatch[0].kind == "address-list" and "192.0.2.98" in mismatch[0].detail


def test_skip_check_adv_addr_skips_the_same_master() -> None:
    r = router(skip_check_adv_addr=True)
    receive(r, advert(200, vips=()), 1.0)
    receive(r, advert(200, vips=()), 2.0)
    assert r.stats.addr_list_err == 1


def test_datagrams_in_fault_or_after_stop_are_ignored() -> None:
    r = router()
    r.link_changed(False, 1.0)
    receive(r, advert(200), 1.5)
    assert of(drain(r), fx.PacketDropped)[-1].reason is DropReason.NOT_RUNNING
    assert r.stats.dropped == {}


# --- unicast ------------------------------------------------------------------------------------------


PEERS = (UnicastPeer(ip_address("192.0.2.2")), UnicastPeer(ip_address("192.0.2.3")))


def test_unicast_sends_one_advert_per_peer_with_its_checksum() -> None:
    r = master(version=3, unicast_src_ip=ME, unicast_peers=PEERS)
    r.handle_timer(r.get_timer() or 0)
    sends = of(drain(r), fx.SendAdvert)
    assert [s.dst for s in sends] == [p.address for p in PEERS]
    assert sends[0].data[6:8] != sends[1].data[6:8]  # v3 pseudo-header covers the destination


def test_unicast_rejects_multicast_and_accepts_peers() -> None:
    r = router(unicast_src_ip=ME, unicast_peers=PEERS)
    receive(r, advert(200), 1.0)
    assert r.stats.dropped == {"multicast-in-unicast-mode": 1}
    receive(r, advert(200, dst=ME), 1.0, dst=ME, ttl=64)  # no TTL check without min/max_ttl
    assert r.stats.advert_rcvd == 1


def test_unicast_ttl_range_and_check_src() -> None:
    peers = (UnicastPeer(ip_address("192.0.2.2"), min_ttl=250, max_ttl=255),)
    r = router(unicast_src_ip=ME, unicast_peers=peers)
    receive(r, advert(200, dst=ME), 1.0, dst=ME, ttl=64)
    assert r.stats.ip_ttl_err == 1
    other = ip_address("192.0.2.7")
    receive(r, advert(200, src=other, dst=ME), 1.0, src=other, dst=ME)
    assert r.stats.dropped["not-a-peer"] == 1


def test_ipv6_instance_uses_ff02_12() -> None:
    ll = ip_address("fe80::1")
    r = master(
        version=3, vips=(Vip(ip_interface("fe80::99/64")), Vip(ip_interface("2001:db8::99/64"))), address=ll
    )
    r.handle_timer(r.get_timer() or 0)
    send = of(drain(r), fx.SendAdvert)[0]
    assert send.dst == ip_address("ff02::12") and send.src == ll


def test_master_advert_bytes_are_computed_once() -> None:
    r = master()
    r.handle_timer(r.get_timer() or 0)
    first = of(drain(r), fx.SendAdvert)[0]
    r.handle_timer(r.get_timer() or 0)
    second = of(drain(r), fx.SendAdvert)[0]
    assert first is second


# --- tracking, priority, fault ----------------------------------------------------------------------


def test_track_weights_follow_keepalived() -> None:
    tracks = (
        Track("up", TrackKind.SCRIPT, 10),
        Track("down", TrackKind.SCRIPT, -20),
        Track("rev", TrackKind.SCRIPT, 5, reverse=True),
        Track("eth1", TrackKind.INTERFACE, 7),
        Track("f", TrackKind.FILE, 3),
    )
    r = router(tracks=tracks)
    assert r.priority == 107  # interface up at start (+7); scripts unknown add nothing; file 0
    r.tracker_changed("up", True, 1.0)
    assert r.priority == 117
    r.tracker_changed("down", False, 1.0)
    assert r.priority == 97
    r.tracker_changed("rev", True, 1.0)
    assert r.priority == 92  # reverse: the +5 becomes -5
    r.tracker_changed("eth1", False, 1.0)
    assert r.priority == 85
    r.tracker_changed("f", 4, 1.0)
    assert r.priority == 97
    changed = of(drain(r), fx.PriorityChanged)
    assert changed[-1].new == 97
    r.tracker_changed("nosuch", True, 1.0)
    r.tracker_changed("f", 4, 1.0)
    assert not of(drain(r), fx.PriorityChanged)


def test_priority_is_clamped_and_owner_ignores_weights() -> None:
    r = router(priority=250, tracks=(Track("up", TrackKind.SCRIPT, 100),))
    r.tracker_changed("up", True, 1.0)
    assert r.priority == 254
    low = router(priority=10, tracks=(Track("down", TrackKind.SCRIPT, -100),))
    low.tracker_changed("down", False, 1.0)
    assert low.priority == 1
    owner = router(priority=255, tracks=(Track("down", TrackKind.SCRIPT, -100),))
    owner.tracker_changed("down", False, 1.0)
    assert owner.priority == 255


def test_master_sends_advert_at_once_when_priority_changes() -> None:
    r = master(tracks=(Track("chk", TrackKind.SCRIPT, -50),))
    r.tracker_changed("chk", False, 20.0)
    sends = of(drain(r), fx.SendAdvert)
    assert sends[0].priority == 50
    assert r.timers()["advert"] == 21.0


def test_weight_zero_script_waits_then_faults_and_recovers() -> None:
    r = router(tracks=(Track("chk", TrackKind.SCRIPT, 0),))
    assert r.state is State.INIT and r.get_timer() is None
    r.tracker_changed("chk", True, 2.0)
    assert r.state is State.BACKUP and r.transitions[-1][3] == "scripts ran"  # not "startup": no "(init)"
    assert router().transitions[-1][3] == "startup"
    r.tracker_changed("chk", False, 3.0)
    assert r.state is State.FAULT and r.fault_reason == "tracked script chk failed"
    r.tracker_changed("chk", True, 4.0)
    assert r.state is State.BACKUP
    assert r.timers() == {"master-down": 4.0 + 3.609375}


def test_reversed_weight_zero_faults_while_ok() -> None:
    r = router(tracks=(Track("maint", TrackKind.SCRIPT, 0, reverse=True),))
    r.tracker_changed("maint", True, 1.0)
    assert r.state is State.FAULT


def test_a_vips_interface_down_says_why_it_is_tracked() -> None:
    """Nobody wrote a track for the interface a VIP is on (config/interface_blocks.with_vip_tracks):
    the FAULT's reason says so, where a written one says 'tracked interface'."""
    r = VirtualRouter(cfg(tracks=(Track("vt0", TrackKind.INTERFACE, 0, vip=True),)), ME)
    r.set_initial_track("vt0", False)
    r.start(0.0)
    assert r.state is State.FAULT and r.fault_reason == "interface vt0 failed (a VIP is on it)"


def test_track_file_fault_and_initial_values() -> None:
    r = VirtualRouter(cfg(tracks=(Track("f", TrackKind.FILE, 0), Track("eth1", TrackKind.INTERFACE, 0))), ME)
    r.set_initial_track("eth1", False)
    r.set_initial_track("nosuch", True)
    r.start(0.0)
    assert r.state is State.FAULT and "eth1" in (r.fault_reason or "")
    r.tracker_changed("eth1", True, 1.0)
    assert r.state is State.BACKUP
    r.tracker_changed("f", 1, 2.0)
    assert r.state is State.FAULT and r.fault_reason == "tracked file f = 1"


def test_track_file_weight_reaching_minus_254_faults() -> None:
    r = router(tracks=(Track("f", TrackKind.FILE, -127),))
    r.tracker_changed("f", 1, 1.0)
    assert r.state is State.BACKUP and r.priority == 1
    r.tracker_changed("f", 2, 2.0)
    assert r.state is State.FAULT


def test_master_tracker_fault_sends_priority_zero_and_releases() -> None:
    r = router(tracks=(Track("chk", TrackKind.SCRIPT, 0),))
    r.tracker_changed("chk", True, 0.0)
    r.handle_timer(r.get_timer() or 0.0)
    assert r.state is State.MASTER
    drain(r)
    sent, zeros = r.stats.advert_sent, r.stats.pri_zero_sent
    r.tracker_changed("chk", False, 30.0)
    effects = drain(r)
    # keepalived 2.2.7 (measured: track_file, track_script, track_interface): two priority-0
    # adverts, before the VIP goes; one 'sent 0 priority' line and one in its counter
    assert [(a.priority, a.said) for a in of(effects, fx.SendAdvert)] == [(0, False), (0, True)]
    assert effects.index(of(effects, fx.SendAdvert)[1]) < effects.index(of(effects, fx.DelVips)[0])
    assert (r.stats.advert_sent - sent, r.stats.pri_zero_sent - zeros) == (2, 1)
    assert r.state is State.FAULT and r.get_timer() is None


def test_a_fault_goodbye_to_unicast_peers_is_said_once() -> None:
    peers = (UnicastPeer(PEER), UnicastPeer(LOW_PEER))
    r = router(unicast_peers=peers, tracks=(Track("chk", TrackKind.SCRIPT, 0),))
    r.tracker_changed("chk", True, 0.0)
    r.handle_timer(r.get_timer() or 0.0)
    drain(r)
    r.tracker_changed("chk", False, 30.0)
    byes = of(drain(r), fx.SendAdvert)
    assert [(a.dst, a.said) for a in byes] == [(PEER, False), (LOW_PEER, False), (PEER, False), (LOW_PEER, True)]


def test_a_backup_says_which_lower_priority_adverts_it_discards() -> None:
    """keepalived: '(VI_1) received lower priority (90) advert from 192.0.2.2 - discarding' for
    each one; vrrpkit at most twice an advert interval, so a flood of them is no flood of lines."""
    r = router(priority=150)
    assert r.state is State.BACKUP
    drain(r)
    receive(r, advert(90), 0.5)
    (said,) = of(drain(r), fx.Remarked)
    assert said == fx.Remarked("VI_1", fx.Remark.LOWER_PRIORITY, PEER, 90)
    assert said.text() == "received lower priority (90) advert from 192.0.2.2 - discarding"
    for k in range(50):  # a flood within half an interval: not one more line
        receive(r, advert(90), 0.51 + k * 0.008)
    assert not of(drain(r), fx.Remarked)
    receive(r, advert(90), 1.5)  # the next one a lower master sends, an interval later
    assert len(of(drain(r), fx.Remarked)) == 1
    receive(r, advert(150), 2.0)  # not lower: followed, nothing said
    assert not of(drain(r), fx.Remarked)


def test_link_down_master_releases_without_sending() -> None:
    r = master()
    r.link_changed(False, 30.0)
    r.link_changed(False, 30.0)
    effects = drain(r)
    assert r.state is State.FAULT and not of(effects, fx.SendAdvert) and of(effects, fx.DelVips)
    r.link_changed(True, 31.0)
    assert r.state is State.BACKUP


def test_owner_recovers_from_fault_as_backup_and_takes_over_after_master_down() -> None:
    """keepalived 2.2.7, measured (a weight-0 track_file to 1 and back to 0, state MASTER, BACKUP
    or unset): "Entering BACKUP STATE", the VIP back 3.0 s later, not at once."""
    for state in ("MASTER", "BACKUP"):
        r = router(priority=255, state=state)
        r.link_changed(False, 1.0)
        r.link_changed(True, 2.0)
        assert r.state is State.BACKUP and r.get_timer() == 2.0 + 3 + 1 / 256, state
        r.handle_timer(2.0 + 3 + 1 / 256)
        assert r.state is State.MASTER, state


def test_no_source_address_means_fault() -> None:
    r = router(address=None)
    assert r.state is State.FAULT and r.fault_reason == "src address not configured"


def test_a_master_whose_address_goes_faults_with_two_goodbyes_from_it_and_comes_back() -> None:
    """keepalived 2.2.7, measured (the interface's only IPv4 address deleted while MASTER): FAULT,
    two priority-0 adverts from the deleted address, VIPs removed; the address back: BACKUP at once,
    MASTER a Master_Down later. vrrpkit stayed MASTER, advertising from an address it no longer had."""
    r = master()
    drain(r)
    r.address_changed(None, 50.0)
    effects = drain(r)
    assert r.state is State.FAULT and r.fault_reason == "src address not configured"
    byes = of(effects, fx.SendAdvert)
    assert [(b.priority, b.src) for b in byes] == [(0, ME), (0, ME)] and of(effects, fx.DelVips)
    r.address_changed(ME, 52.0)
    assert r.state is State.BACKUP and "master-down" in r.timers()


def test_shutdown_master_sends_priority_zero_and_releases() -> None:
    r = master()
    r.shutdown(50.0)
    effects = drain(r)
    assert of(effects, fx.SendAdvert)[0].priority == 0
    assert of(effects, fx.DelVips)
    assert of(effects, fx.Notify)[-1].state == "STOP"
    assert r.state is State.INIT and r.get_timer() is None
    assert r.stats.pri_zero_sent == 1
    r.shutdown(51.0)
    assert drain(r) == []
    r.handle_timer(100.0)


def test_goodbye_alone_then_shutdown_sends_no_second_one() -> None:
    r = master()
    start = r.state_since
    r.goodbye(start + 0.05)
    (bye,) = drain(r)  # the priority-0 advert and nothing else: the caller sends it first
    assert isinstance(bye, fx.SendAdvert) and bye.priority == 0
    assert "advert" not in r.timers()  # no advert of our priority after a goodbye
    r.goodbye(start + 0.06)
    assert drain(r) == []
    r.shutdown(start + 0.07)
    effects = drain(r)
    assert not of(effects, fx.SendAdvert) and of(effects, fx.DelVips)
    assert r.stats.pri_zero_sent == 1


def test_prepared_adverts_are_the_ones_a_takeover_and_a_stop_send() -> None:
    # built ahead (the daemon's idle moments), so a takeover or a stop does not build them cold
    r = router(version=3, advert_int_cs=100)
    drain(r)
    assert r._advert_cache == {}
    r.prepare_adverts()
    assert sorted(r._advert_cache) == [100]  # a BACKUP's next advert is its own (a takeover)
    ready = r._advert_cache[100]
    r.handle_timer(r.get_timer() or 0.0)  # takes over: the prepared advert, not a new one
    assert of(drain(r), fx.SendAdvert) == list(ready)
    r.prepare_adverts()
    assert sorted(r._advert_cache) == [0, 100]  # a MASTER's is its goodbye
    goodbye = r._advert_cache[0]
    r.shutdown(r.state_since + 5)
    (bye,) = of(drain(r), fx.SendAdvert)
    assert bye is goodbye[0]
    assert bye.data == advert(0, version=3, src=ME) and bye.dst == GROUP
    again = master()  # a new mastership owes a new goodbye; nothing prepared is needed for it
    again.shutdown(again.state_since + 1)
    assert of(drain(again), fx.SendAdvert)[0].priority == 0


def test_a_rehearsed_takeover_changes_nothing_of_the_real_router() -> None:
    r = router(version=3, advert_int_cs=1, tracks=(Track("chk", TrackKind.SCRIPT, -20),))
    receive(r, advert(200, version=3, interval=0.01), 0.001)
    drain(r)
    r.tracker_changed("chk", True, 0.002)
    drain(r)
    r.prepare_adverts()
    before = (r.state, r.timers(), r.stats.advert_sent, list(r.transitions), dict(r._advert_cache),
              r.master_address, r.priority, r.track_values())  # fmt: skip
    assert r.rehearse_takeover(0.003) is State.MASTER  # the scratch copy took over
    after = (r.state, r.timers(), r.stats.advert_sent, list(r.transitions), dict(r._advert_cache),
             r.master_address, r.priority, r.track_values())  # fmt: skip
    assert after == before and drain(r) == []
    # and the real takeover afterwards is the usual one (after the claim, unanswered)
    r.handle_timer(r.get_timer() or 0.0)
    r.handle_timer(r.get_timer() or 0.0)
    assert r.state is State.MASTER and of(drain(r), fx.AddVips)


def test_prepare_adverts_leaves_what_the_encoder_refuses_to_the_moment_of_sending() -> None:
    r = router(version=3, vips=())  # VRRPv3 without an address (no no_virtual_ipaddress)
    r.prepare_adverts()
    assert r._advert_cache == {}
    unaddressed = router(address=None)
    unaddressed.prepare_adverts()
    assert unaddressed._advert_cache == {}


def test_shutdown_backup_only_notifies_stop() -> None:
    r = router()
    drain(r)
    r.shutdown(1.0)
    effects = drain(r)
    assert not of(effects, fx.SendAdvert)
    assert of(effects, fx.Notify)[-1].state == "STOP"


def test_shutdown_while_waiting_in_init() -> None:
    r = router(tracks=(Track("chk", TrackKind.SCRIPT, 0),))
    r.shutdown(1.0)
    assert r.state is State.INIT and not r.running


def test_garp_refresh_repeats() -> None:
    r = master(garp_master_refresh_cs=6000, garp_master_refresh_repeat=2, garp_master_delay_cs=0)
    start = r.state_since
    assert r.timers()["garp-refresh"] == start + 60
    r.handle_timer(start + 60)
    garps = of(drain(r), fx.SendGarp)
    assert [g.count for g in garps] == [2]
    assert r.timers()["garp-refresh"] == start + 120


def test_no_garp_without_vips() -> None:
    r = router(priority=255, vips=(), version=2)
    assert not of(drain(r), fx.SendGarp)


def test_late_wakeups_do_not_stretch_the_advert_period() -> None:
    r = master()
    due = r.timers()["advert"]
    r.handle_timer(due + 0.003)  # the loop woke 3 ms late
    assert r.timers()["advert"] == pytest.approx(due + 1.0)
    r.handle_timer(due + 2.5)  # more than an interval behind: restart from now
    assert r.timers()["advert"] == pytest.approx(due + 3.5)


def test_identical_repeats_take_the_fast_path_with_the_same_outcome() -> None:
    r = router(priority=100)
    data = advert(200)
    receive(r, data, 1.0)
    receive(r, data, 2.0)
    assert r.stats.advert_rcvd == 2 and r.timers() == {"master-down": pytest.approx(2.0 + 3.609375 - LEAD)}
    assert r.datagram_received(data, PEER, GROUP, 255, 3.0) == r.datagram_received(data, PEER, GROUP, 255, 3.5)
    # a different TTL is a different packet: the rules run again and drop it
    receive(r, data, 4.0, ttl=254)
    assert r.stats.ip_ttl_err == 1


def test_fast_path_respects_a_priority_change() -> None:
    r = router(priority=100, tracks=(Track("up", TrackKind.SCRIPT, 150),))
    data = advert(200)
    receive(r, data, 1.0)
    receive(r, data, 2.0)
    r.tracker_changed("up", True, 2.5)  # 250 now outranks the master's 200: preempt
    receive(r, data, 3.0)
    # not reset at 3.0; counted again from 2.0 with the new Skew_Time, no claim (keepalived, measured)
    assert r.timers()["master-down"] == 2.0 + 3 + (256 - 250) / 256
    r.handle_timer(r.get_timer() or 0.0)
    assert r.state is State.MASTER


def test_mismatching_adverts_are_always_fully_checked() -> None:
    r = router()
    data = advert(200, vips=("192.0.2.98",))
    receive(r, data, 1.0)
    receive(r, data, 2.0)
    assert r.stats.addr_list_err == 2


def test_lower_priority_is_answered_at_most_twice_per_advert_interval() -> None:
    """keepalived answers every lower-priority advert (advert, re-GARP, notify); a flood of them
    would make us a flood too. Two answers in any advert interval, the rest counted: the second
    is a BACKUP's takeover right after its claim when our answer to the claim was lost."""
    r = master()  # advert_int 1 s
    for now in (10.0, 10.002):
        receive(r, advert(50), now)
        answer = drain(r)
        assert len(of(answer, fx.SendAdvert)) == 1 and len(of(answer, fx.SendGarp)) == 1
        assert of(answer, fx.Notify)[0].state == "MASTER_RX_LOWER_PRI"
    for now in (10.2, 10.5, 10.999):
        receive(r, advert(50), now)
        assert drain(r) == [] and r.state is State.MASTER
    assert r.stats.lower_prio_unanswered == 3 and r.stats.advert_rcvd == 5
    assert r.timers()["advert"] == 11.002  # the answer at 10.002 still counts as this interval's advert
    receive(r, advert(50), 11.0)  # an interval after the first of the two
    again = drain(r)
    assert len(of(again, fx.SendAdvert)) == 1 and len(of(again, fx.Notify)) == 1
    assert r.timers()["advert"] == 12.0
    receive(r, advert(50), 11.001)  # and the second's interval is not over
    assert drain(r) == [] and r.stats.lower_prio_unanswered == 4
    # a higher priority is never held back by the limit
    receive(r, advert(150), 10.6)
    assert r.state is State.BACKUP


def test_a_rival_advertising_every_interval_is_answered_every_time_whatever_its_jitter() -> None:
    """Our answer to a rival's advert may be lost; its next comes an interval later, a little early
    or late as its host woke. One answer an interval left every other one unanswered (both held
    the VIP an interval longer, measured in the lab); two in any interval answer each."""
    r = master()  # advert_int 1 s
    for n, jitter in enumerate((0.0, -0.004, 0.003, -0.002, -0.001)):
        receive(r, advert(50), 10.0 + n + jitter)
        assert len(of(drain(r), fx.SendAdvert)) == 1, n
    assert r.stats.lower_prio_unanswered == 0


def test_identical_datagrams_are_decoded_once_and_counted_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import vrrpkit.core.receive as router_module

    calls: list[bytes] = []
    real = router_module.inspect

    def counting(data: bytes, *args: object, **kwargs: object) -> object:
        calls.append(data)
        return real(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(router_module, "inspect", counting)
    r = router(priority=100)
    good, bad = advert(200), advert(200)[:6] + b"\0\0" + advert(200)[8:]  # the second: checksum zeroed
    for i in range(50):
        receive(r, good, 1.0 + i * 0.01)
        receive(r, bad, 1.0 + i * 0.01)
    assert calls == [good, bad]
    assert r.stats.advert_rcvd == 50 and r.stats.checksum_err == 50
    drops = of(drain(r), fx.PacketDropped)
    assert len(drops) == 50 and {d.reason for d in drops} == {DropReason.BAD_CHECKSUM}
    assert r.timers()["master-down"] == pytest.approx(1.49 + 3 + (256 - 100) / 256 - LEAD)
    # the same bytes from another source or with another TTL are judged again
    receive(r, good, 2.0, src=LOW_PEER)
    receive(r, good, 2.0, ttl=1)
    assert len(calls) == 4 and r.stats.ip_ttl_err == 1


def test_our_own_advert_is_recognised_again_after_an_address_change() -> None:
    r = router(address=ME, priority=100)
    data = advert(200, src=PEER)
    receive(r, data, 1.0, src=PEER)
    assert r.stats.advert_rcvd == 1
    r.address_changed(PEER, 1.5)  # the interface's address moved to what the peer used
    drain(r)
    receive(r, data, 2.0, src=PEER)
    assert r.stats.advert_rcvd == 1  # now our own advert: dropped, uncounted
    assert of(drain(r), fx.PacketDropped)[0].reason is DropReason.OWN_ADVERT


def test_advert_tick_is_the_whole_tick_of_a_plain_master_and_nothing_else() -> None:
    r = master()  # advert_int 1 s; became MASTER at 3.609375 with its GARP repeat pending
    assert r.advert_tick(100.0) is None  # the delayed GARP timer is set too: the general path
    r.handle_timer(r.timers()["garp-repeat"])
    drain(r)
    due = r.timers()["advert"]
    assert r.advert_tick(due - 0.001) is None  # not yet due
    sends, nxt = r.advert_tick(due + 0.002)  # type: ignore[misc]
    assert [s.priority for s in sends] == [100] and nxt == due + 1.0 and r.timers() == {"advert": due + 1.0}
    assert drain(r) == [] and r.stats.advert_sent == 3  # becoming master, the first tick, this one
    r.tracker_changed("nope", True, due + 0.5)  # unknown tracker: nothing changes
    receive(r, advert(50), due + 0.5)  # an answer is queued: the next tick goes the general way
    assert r.advert_tick(due + 1.0) is None


def test_only_timer_moved_marks_a_backups_repeated_master_advert() -> None:
    r = router(priority=100)
    data = advert(200)
    receive(r, data, 1.0)
    assert not r.only_timer_moved  # judged, accepted: the caller must look at the timers
    receive(r, data, 2.0)
    assert r.only_timer_moved and r.timers() == {"master-down": pytest.approx(2.0 + 3 + (256 - 100) / 256 - LEAD)}
    receive(r, advert(0), 2.5)  # the master leaves: Master_Down moves *earlier* (no claim: it left)
    assert not r.only_timer_moved and r.timers()["master-down"] == pytest.approx(2.5 + (256 - 100) / 256)
    receive(r, data, 3.0)  # it is back: judged once more (its goodbye changed what a claim would be)
    assert not r.only_timer_moved
    receive(r, data, 3.5)  # and then the same advert means the same as before
    assert r.only_timer_moved and r.timers()["master-down"] == pytest.approx(3.5 + 3 + (256 - 100) / 256 - LEAD)
    wrong = advert(200, vips=("192.0.2.98",))
    receive(r, wrong, 4.0)
    receive(r, wrong, 4.5)
    assert not r.only_timer_moved and r.stats.addr_list_err == 2  # a mismatch is reported every time


def test_an_advert_at_the_end_of_the_preempt_delay_is_discarded_before_its_timer_runs() -> None:
    """keepalived compares the delay's end with the advert's arrival; here the advert may be read
    before the delay's timer runs, and must not count either (else the takeover is a whole
    interval later: 5.99 s against keepalived's 5.01 in the same lab run)."""
    r = router(priority=200, preempt_delay_cs=200)
    receive(r, advert(100), 1.0)
    receive(r, advert(100), 2.0)
    receive(r, advert(100), 3.0)  # the delay ends at 3.0: discarded
    assert r.timers()["master-down"] == 2.0 + 3 + (256 - 200) / 256


def test_an_advert_read_after_the_preempt_delay_ended_counts_if_it_arrived_before() -> None:
    """A lazily read socket hands over adverts with their arrival times, after timers that ran
    meanwhile: one that arrived before the delay's end counts (measured in a lab before this was
    judged by arrival: a takeover a whole interval early, 4.01 s against keepalived's 5.01)."""
    r = router(priority=200, preempt_delay_cs=200)
    receive(r, advert(100), 1.0)
    r.handle_timer(3.0)  # the delay ends
    receive(r, advert(100), 2.0)  # arrived at 2.0, read now
    assert r.timers()["master-down"] == 2.0 + 3 + (256 - 200) / 256
    receive(r, advert(100), 3.5)  # arrived after the end: discarded
    assert r.timers()["master-down"] == 2.0 + 3 + (256 - 200) / 256


def test_a_backup_whose_priority_rose_above_its_master_preempts_on_the_same_adverts() -> None:
    """keepalived 2.2.7, measured (priority 150, a weight -60 script failing then passing, a
    master at 100): back at 150, it discards the master's adverts and takes over at Master_Down.
    vrrpkit kept the master's advert as 'the one we follow' across the priority change: the same
    bytes (the same verdict object) were taken as a mere repeat, Master_Down moved on each, and it
    never preempted."""
    r = router(priority=150, tracks=(Track("chk", TrackKind.SCRIPT, -60),))
    r.tracker_changed("chk", False, 0.5)  # 90: the master at 100 outranks us
    same = advert(100)
    for t in (1.0, 2.0):
        receive(r, same, t)
    assert r.state is State.BACKUP and r.priority == 90
    r.tracker_changed("chk", True, 2.5)  # 150 again: Master_Down from 2.0 with 150's Skew_Time
    down = 2.0 + 3 + (256 - 150) / 256  # keepalived: 3.414 s after the last advert (measured)
    for t in (3.0, 4.0, 5.0):  # discarded: Master_Down keeps running
        receive(r, same, t)
        assert r.timers()["master-down"] == down, t
    r.handle_timer(down)
    assert r.state is State.MASTER
