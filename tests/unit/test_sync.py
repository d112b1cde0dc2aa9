"""Sync groups: members move to MASTER, BACKUP and FAULT together (keepalived vrrp_sync_group).

The group is one-way: an input goes to one router, then `group.settle(now)` makes the others
follow. Each test therefore feeds a member and settles, as the daemon and SimLan do.
"""

from __future__ import annotations

from ipaddress import ip_address, ip_interface

from vrrpkit.core import effects as fx
from vrrpkit.core.config import InstanceConfig, Track, TrackKind, Vip
from vrrpkit.core.packet import Advertisement, encode
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import Event, State
from vrrpkit.core.sync import SyncGroup

ME = ip_address("192.0.2.1")
PEER = ip_address("192.0.2.2")
GROUP = ip_address("224.0.0.18")


def member(name: str, vrid: int, tracks: tuple[Track, ...] = ()) -> VirtualRouter:
    cfg = InstanceConfig(
        name=name, interface="eth0", vrid=vrid, vips=(Vip(ip_interface(f"192.0.2.{vrid}/24")),), tracks=tracks
    )
    return VirtualRouter(cfg, ME)


def pair() -> tuple[SyncGroup, VirtualRouter, VirtualRouter]:
    a = member("A", 51, (Track("chk", TrackKind.SCRIPT, 0),))
    b = member("B", 52)
    group = SyncGroup("G", [a, b])
    return group, a, b


def test_group_state_before_start_is_init() -> None:
    group, _, _ = pair()
    assert group.state is State.INIT


def masters() -> tuple[SyncGroup, VirtualRouter, VirtualRouter]:
    """A pair started together (A's script reported OK) that took over: group and members MASTER."""
    group, a, b = pair()
    a.tracker_changed("chk", True, 0.0)
    a.start(0.0)
    b.start(0.0)
    group.settle(0.0)
    expire(group, b, a)
    assert group.state is State.MASTER
    return group, a, b


def expire(group: SyncGroup, *routers: VirtualRouter) -> float:
    """Let each router's master-down timer run out, in order, settling after each (as the daemon)."""
    now = 0.0
    for r in routers:
        now = r.get_timer() or now
        r.handle_timer(now)
        group.settle(now)
    return now


def test_master_and_backup_propagate() -> None:
    group, a, b = pair()
    a.tracker_changed("chk", True, 0.0)
    b.start(0.0)
    a.start(0.0)
    group.settle(0.0)
    assert group.state is State.BACKUP
    expire(group, b, a)
    assert a.state is State.MASTER and b.state is State.MASTER and group.state is State.MASTER
    higher = encode(Advertisement(2, 51, 200, (ip_address("192.0.2.51"),), 1.0), PEER, GROUP)
    a.datagram_received(higher, PEER, GROUP, 255, 5.0)
    group.settle(5.0)
    assert a.state is State.BACKUP and b.state is State.BACKUP


def test_a_member_that_resigns_takes_every_master_of_its_group_with_goodbyes() -> None:
    """keepalived 2.2.7, measured (a VIP of one member of a MASTER group deleted): each member
    sends priority 0 ('sent 0 priority' for both) and is MASTER again after its Skew_Time. The
    group's other member went BACKUP silently with a whole Master_Down (3.4 s without the VIPs)."""
    group, a, b = masters()
    a.take_effects()
    b.take_effects()
    a.resign(10.0, "VIP deleted")
    group.settle(10.0)
    assert a.state is State.BACKUP and b.state is State.BACKUP
    byes = [e for e in b.take_effects() if isinstance(e, fx.SendAdvert)]
    assert [e.priority for e in byes] == [0] and byes[0].said
    assert b.get_timer() == 10.0 + b.skew_time  # back at Skew_Time, as the member that resigned


def test_a_router_never_moves_its_group_by_itself() -> None:
    """The input's own router changes; its followers wait for settle (no re-entry mid-call)."""
    group, a, b = pair()
    a.tracker_changed("chk", True, 0.0)
    a.start(0.0)
    b.start(0.0)
    group.settle(0.0)
    expire(group, a)  # A wants MASTER, but B does not yet: A is held in BACKUP
    assert (a.state, b.state) == (State.BACKUP, State.BACKUP) and a.wants_master
    b.handle_timer(b.get_timer() or 0.0)  # now B wants it too, and goes
    assert (a.state, b.state) == (State.BACKUP, State.MASTER)
    group.settle(4.0)
    assert (a.state, b.state) == (State.MASTER, State.MASTER)
    follow = [e for e in a.effects() if isinstance(e, fx.StateChanged)][-1]
    assert follow.event is Event.SYNC_MASTER and follow.new is State.MASTER


def test_group_stays_backup_while_one_member_still_hears_its_master() -> None:
    """keepalived's vrrp_sync_can_goto_master: prefer BACKUP to thrashing. B's master is alive, so A's
    timer running out must not pull B (and its VIP) away from a working master."""
    group, a, b = pair()
    a.tracker_changed("chk", True, 0.0)
    a.start(0.0)
    b.start(0.0)
    group.settle(0.0)
    b_master = encode(Advertisement(2, 52, 200, (ip_address("192.0.2.52"),), 1.0), PEER, GROUP)
    now = 0.0
    for _ in range(10):  # B hears its master every second; A hears nothing
        now += 1.0
        b.datagram_received(b_master, PEER, GROUP, 255, now)
        group.settle(now)
        for r in (a, b):
            if (r.get_timer() or now + 1) <= now:
                r.handle_timer(now)
                group.settle(now)
    assert (a.state, b.state) == (State.BACKUP, State.BACKUP)
    assert a.wants_master and not b.wants_master
    when = b.get_timer() or 0.0  # B's master falls silent: B's claim goes unanswered
    b.handle_timer(when)
    group.settle(when)
    assert b.stats.claims_sent == 1 and (a.state, b.state) == (State.BACKUP, State.BACKUP)
    when = b.get_timer() or 0.0  # and its timer runs out: the group moves
    b.handle_timer(when)
    group.settle(when)
    assert (a.state, b.state) == (State.MASTER, State.MASTER)


def test_settle_reports_each_group_transition_once() -> None:
    group, _, _ = masters()
    group.settle(4.0)  # nothing new: nothing reported
    changes = [(e.old, e.new) for e in group.effects() if isinstance(e, fx.SyncGroupChanged)]
    assert changes == [(State.INIT, State.BACKUP), (State.BACKUP, State.MASTER)]


def test_fault_of_one_member_holds_the_group_until_it_clears() -> None:
    group, a, b = pair()
    b.start(0.0)
    a.start(0.0)  # waits in INIT for its weight-0 script
    group.settle(0.0)
    a.tracker_changed("chk", False, 1.0)
    group.settle(1.0)
    assert a.state is State.FAULT and b.state is State.FAULT and group.state is State.FAULT
    assert group.faulted()
    b.link_changed(False, 2.0)
    group.settle(2.0)
    b.link_changed(True, 3.0)  # b's own fault is gone, but a still faults: b stays
    group.settle(3.0)
    assert b.state is State.FAULT
    a.tracker_changed("chk", True, 4.0)
    group.settle(4.0)
    assert a.state is State.BACKUP and b.state is State.BACKUP


def test_member_starting_while_group_faulted_joins_fault() -> None:
    a = member("A", 51)
    b = member("B", 52)
    group = SyncGroup("G", [a, b])
    a.start(0.0)
    group.settle(0.0)
    a.link_changed(False, 1.0)
    group.settle(1.0)
    b.start(2.0)
    group.settle(2.0)
    assert b.state is State.FAULT
    a.link_changed(True, 3.0)
    group.settle(3.0)
    assert a.state is State.BACKUP and b.state is State.BACKUP


def test_overlapping_member_faults_do_not_deadlock() -> None:
    a = member("A", 51, (Track("a", TrackKind.SCRIPT, 0),))
    b = member("B", 52, (Track("b", TrackKind.SCRIPT, 0),))
    group = SyncGroup("G", [a, b])
    for r, name in ((a, "a"), (b, "b")):
        r.tracker_changed(name, True, 0.0)
        r.start(0.0)
        group.settle(0.0)
    a.tracker_changed("a", False, 1.0)  # B follows A into FAULT
    group.settle(1.0)
    b.tracker_changed("b", False, 2.0)  # then B fails on its own too
    group.settle(2.0)
    a.tracker_changed("a", True, 3.0)  # A is fine, but B is not: both stay
    group.settle(3.0)
    assert (a.state, b.state) == (State.FAULT, State.FAULT)
    b.tracker_changed("b", True, 4.0)
    group.settle(4.0)
    assert (a.state, b.state) == (State.BACKUP, State.BACKUP)


def test_starting_member_joins_a_master_group_without_demoting_it() -> None:
    a = member("A", 51)
    b = member("B", 52)
    group = SyncGroup("G", [a, b])
    a.start(0.0)
    group.settle(0.0)
    a.handle_timer(a.get_timer() or 0.0)  # B is not running: A alone decides
    group.settle(4.0)
    assert a.state is State.MASTER
    b.start(5.0)  # e.g. restarted by a reload
    group.settle(5.0)
    assert (a.state, b.state) == (State.MASTER, State.MASTER)


def test_shutdown_of_the_faulted_member_releases_the_group() -> None:
    a = member("A", 51, (Track("a", TrackKind.SCRIPT, 0),))
    b = member("B", 52)
    group = SyncGroup("G", [a, b])
    a.tracker_changed("a", True, 0.0)
    a.start(0.0)
    b.start(0.0)
    group.settle(0.0)
    a.tracker_changed("a", False, 1.0)
    group.settle(1.0)
    assert b.state is State.FAULT
    a.shutdown(2.0)  # a reload removes or restarts A
    group.settle(2.0)
    assert b.state is State.BACKUP


# --- a reload makes a group of routers that ran apart (SyncGroup.reconcile) -------------------------


def running_apart(a_master: bool, b_master: bool, b_fault: bool = False) -> tuple[VirtualRouter, VirtualRouter]:
    """Two routers run without a group (as before the reload), each MASTER or BACKUP on its own."""
    a, b = member("A", 51), member("B", 52, (Track("chk", TrackKind.SCRIPT, 0),) if b_fault else ())
    for router, master in ((a, a_master), (b, b_master)):
        router.start(0.0)
        if master:
            router.handle_timer(router.get_timer() or 0.0)
        else:  # its master (PEER, priority 200) is heard
            vips = (router.config.vips[0].address,)
            peer = encode(Advertisement(2, router.config.vrid, 200, vips, 1.0), PEER, GROUP)
            router.datagram_received(peer, PEER, GROUP, 255, 1.0)
    if b_fault:
        b.tracker_changed("chk", False, 2.0)
    a.take_effects(), b.take_effects()
    return a, b


def test_a_group_made_of_a_master_and_a_backup_goes_backup_and_the_master_says_goodbye() -> None:
    """keepalived 2.2.7 (reload_matrix.py): the group is BACKUP at once and the master's VIPs go.
    vrrpkit's master sends priority 0 as it leaves, so its peer need not wait out Master_Down."""
    a, b = running_apart(True, False)
    group = SyncGroup("G", [a, b])
    group.reconcile(10.0)
    assert (a.state, b.state, group.state) == (State.BACKUP, State.BACKUP, State.BACKUP)
    effects = a.take_effects()
    goodbye = [e for e in effects if isinstance(e, fx.SendAdvert)]
    assert [e.priority for e in goodbye] == [0]
    assert effects.index(goodbye[0]) < next(i for i, e in enumerate(effects) if isinstance(e, fx.DelVips))
    assert [(e.event, e.new) for e in effects if isinstance(e, fx.StateChanged)] == [(Event.SYNC_BACKUP, State.BACKUP)]
    assert not b.take_effects()
    changes = [(e.old, e.new) for e in group.effects() if isinstance(e, fx.SyncGroupChanged)]
    assert changes == [(State.MASTER, State.BACKUP)]  # keepalived runs the group's notify BACKUP
    assert not a.wants_master  # and the group goes MASTER again only when both want it


def test_a_group_made_of_a_master_and_a_faulted_member_goes_fault() -> None:
    a, b = running_apart(True, False, b_fault=True)
    assert b.state is State.FAULT
    group = SyncGroup("G", [a, b])
    group.reconcile(10.0)
    assert (a.state, b.state, group.state) == (State.FAULT, State.FAULT, State.FAULT)
    effects = a.take_effects()
    # one goodbye, unlogged: keepalived's leave_fault for a member its group takes to FAULT (measured)
    assert [(e.priority, e.said) for e in effects if isinstance(e, fx.SendAdvert)] == [(0, False)]
    assert any(isinstance(e, fx.DelVips) for e in effects)
    changes = [(e.old, e.new) for e in group.effects() if isinstance(e, fx.SyncGroupChanged)]
    assert changes == [(State.MASTER, State.FAULT)]
    b.tracker_changed("chk", True, 11.0)  # the fault clears: the group recovers to BACKUP together
    group.settle(11.0)
    assert (a.state, b.state) == (State.BACKUP, State.BACKUP)


def test_a_group_whose_members_agree_is_left_alone() -> None:
    """Two masters (measured: keepalived keeps both, no notify), two backups, two faults: nothing
    is sent, no state changes and the group says nothing."""
    for a_master, b_master in ((True, True), (False, False)):
        a, b = running_apart(a_master, b_master)
        group = SyncGroup("G", [a, b])
        before = (a.state, b.state)
        group.reconcile(10.0)
        assert (a.state, b.state) == before
        assert not a.take_effects() and not b.take_effects() and not list(group.effects())
    a, b = running_apart(False, False, b_fault=True)
    a.link_changed(False, 3.0)
    a.take_effects()
    group = SyncGroup("G", [a, b])
    group.reconcile(10.0)
    assert (a.state, b.state) == (State.FAULT, State.FAULT)
    assert not a.take_effects() and not list(group.effects())


def test_a_group_the_reload_forms_says_its_state_unless_every_member_is_master() -> None:
    """keepalived 2.2.7 (reload_matrix.py, six rows): a group a reload made runs its notify for the
    state its members end in, BACKUP or FAULT, even when they agreed already; two masters, none.
    Only a group of a new name is formed: the same members under a group that ran before say
    nothing (test_a_group_whose_members_agree_is_left_alone)."""

    def formed(a_master: bool, b_master: bool, b_fault: bool = False) -> list[tuple[State, State]]:
        a, b = running_apart(a_master, b_master, b_fault)
        group = SyncGroup("G", [a, b])
        group.reconcile(10.0, formed=True)
        return [(e.old, e.new) for e in group.effects() if isinstance(e, fx.SyncGroupChanged)]

    assert formed(True, True) == []
    assert formed(False, False) == [(State.MASTER, State.BACKUP)]
    assert formed(True, False) == [(State.MASTER, State.BACKUP)]
    assert formed(True, False, b_fault=True) == [(State.MASTER, State.FAULT)]
    assert formed(False, False, b_fault=True) == [(State.MASTER, State.FAULT)]
    a, b = running_apart(False, False, b_fault=True)
    a.link_changed(False, 3.0)  # both in FAULT of their own
    group = SyncGroup("G", [a, b])
    group.reconcile(10.0, formed=True)
    assert [(e.old, e.new) for e in group.effects() if isinstance(e, fx.SyncGroupChanged)] == [
        (State.MASTER, State.FAULT)
    ]
    fresh = member("C", 53)  # nothing counted yet: the group is announced when its members start
    group = SyncGroup("G", [fresh])
    group.reconcile(10.0, formed=True)
    assert not list(group.effects())


def test_a_member_the_reload_starts_is_not_counted() -> None:
    """A new (or restarted) member is still in INIT when the group is made: it joins in the group's
    state when it starts, so the master beside it keeps its VIPs."""
    a, _ = running_apart(True, True)
    fresh = member("C", 53)
    group = SyncGroup("G", [a, fresh])
    group.reconcile(10.0)
    assert a.state is State.MASTER and not a.take_effects()
    fresh.start(10.0)
    assert fresh.state is State.MASTER  # keepalived starts a member in its group's state


def test_a_member_waiting_for_its_scripts_is_not_counted() -> None:
    """Running but still in INIT (a weight-0 script has not reported): not a BACKUP that would
    demote the master beside it on every reload."""
    a, _ = running_apart(True, True)
    waiting = member("W", 54, (Track("chk", TrackKind.SCRIPT, 0),))
    waiting.start(0.0)
    assert waiting.running and waiting.state is State.INIT
    group = SyncGroup("G", [a, waiting])
    group.reconcile(10.0)
    assert a.state is State.MASTER and not a.take_effects() and not list(group.effects())


def test_a_group_already_in_fault_that_gains_a_backup_is_not_announced_again() -> None:
    a, b = running_apart(False, False, b_fault=True)
    group = SyncGroup("G", [a, b])
    assert group.state is State.FAULT
    group.reconcile(10.0)
    assert (a.state, b.state) == (State.FAULT, State.FAULT)
    assert not [e for e in group.effects() if isinstance(e, fx.SyncGroupChanged)]


def test_what_the_reload_did_to_a_member_is_settled_before_the_group_is_judged() -> None:
    """A member the new config puts in FAULT (its link, a failing track): the group follows it to
    FAULT by the usual rule, and the master beside it leaves once (one priority-0 advert), not by
    way of BACKUP first."""
    a, b = running_apart(True, True)
    group = SyncGroup("G", [a, b])
    b.link_changed(False, 10.0)  # what reconfigure did, recorded for the group
    group.reconcile(10.0)
    assert (a.state, b.state) == (State.FAULT, State.FAULT)
    effects = a.take_effects()
    assert [e.priority for e in effects if isinstance(e, fx.SendAdvert)] == [0]
    assert [e.new for e in effects if isinstance(e, fx.StateChanged)] == [State.FAULT]


def test_an_owner_held_in_fault_by_a_group_it_left_joins_a_backup_group_as_backup() -> None:
    """An owner (priority 255) held in FAULT by G1 (its other member's script fails) is moved by a
    reload into G2, whose members are BACKUP under a live peer. keepalived 2.2.7 (measured in a lab,
    h2 the peer): '(VI_1) Entering BACKUP STATE (init)', no advert, no VIP, G2's members untouched.
    The daemon's order: groups rebuilt (views cleared), members reconfigured, then reconcile. Before
    the fix the reconfigure released the owner as MASTER, an election G2 followed: all three MASTER,
    VIPs set, then given back to the peer."""
    from dataclasses import replace

    owner = VirtualRouter(
        InstanceConfig(name="O", interface="eth0", vrid=61, priority=255, vips=(Vip(ip_interface("192.0.2.61/32")),),
                       sync_group="G1"), ME)  # fmt: skip
    failing = member("F", 62, (Track("chk", TrackKind.SCRIPT, 0),))
    g1 = SyncGroup("G1", [owner, failing])
    failing.tracker_changed("chk", False, 0.0)
    owner.start(0.0)
    failing.start(0.0)
    g1.settle(0.0)
    c, d = running_apart(False, False)
    assert (owner.state, failing.state, c.state, d.state) == (State.FAULT, State.FAULT, State.BACKUP, State.BACKUP)
    for r in (owner, failing, c, d):
        r.take_effects()
        r.group = None  # the reload rebuilds every group (Building._rebuild_groups)
        r.set_group_view(fault=False, master=False)
    g2 = SyncGroup("G2", [owner, c, d])
    owner.reconfigure(replace(owner.config, sync_group="G2"), 10.0)
    g2.reconcile(10.0, was=State.BACKUP)  # G2 ran before, BACKUP
    assert (owner.state, c.state, d.state) == (State.BACKUP, State.BACKUP, State.BACKUP)
    assert not list(g2.effects())  # no group notify: G2 did not move (keepalived runs none)
    moves = [(e.old, e.new) for e in owner.take_effects() if isinstance(e, fx.StateChanged)]
    assert moves == [(State.FAULT, State.BACKUP)]
    assert not c.take_effects() and not d.take_effects()
    assert not owner.wants_master


def test_a_member_held_in_fault_alone_in_its_group_after_a_reload_is_released() -> None:
    """The member whose fault held the group left it: nobody is left to recover the one held, so
    reconcile releases it, as BACKUP (before, it stayed in FAULT until another fault came and went)."""
    a, b = member("A", 51), member("B", 52, (Track("chk", TrackKind.SCRIPT, 0),))
    group = SyncGroup("G", [a, b])
    b.tracker_changed("chk", False, 0.0)
    a.start(0.0)
    b.start(0.0)
    group.settle(0.0)
    assert a.state is State.FAULT
    for r in (a, b):
        r.group = None
        r.set_group_view(fault=False, master=False)
    alone = SyncGroup("G", [a])
    alone.reconcile(10.0)
    assert a.state is State.BACKUP and b.state is State.FAULT


# --- startup: keepalived 2.2.7 measured in a lab (h1: G1 {VI_1 priority 255, VI_2 priority 100}) ---


def owner(name: str, vrid: int, state: str = "BACKUP") -> VirtualRouter:
    """An address owner; `state` as the file resolves it (unset with priority 255 is MASTER)."""
    vips = (Vip(ip_interface(f"192.0.2.{vrid}/24")),)
    cfg = InstanceConfig(name=name, interface="eth0", vrid=vrid, priority=255, vips=vips, state=state)  # type: ignore[arg-type]
    return VirtualRouter(cfg, ME)


def start_all(group: SyncGroup, *routers: VirtualRouter, now: float = 0.0) -> None:
    """The daemon's start: every router in turn, then one settle."""
    for r in routers:
        r.start(now)
    group.settle(now)


def said(*routers: VirtualRouter) -> list[type]:
    return [type(e) for r in routers for e in r.take_effects() if isinstance(e, (fx.AddVips, fx.SendAdvert))]


def test_an_owner_waits_in_init_while_a_member_waits_for_its_scripts_and_faults_with_it() -> None:
    """keepalived: no member of a group leaves INIT before all can; VI_2's failing script takes the
    group to FAULT without VI_1 ever advertising (vrrpkit used to flash VI_1 MASTER: advert, VIP,
    GARP, then priority 0 within the second)."""
    for order in ("owner first", "owner last"):
        lead, chk = owner("VI_1", 61), member("VI_2", 62, (Track("chk", TrackKind.SCRIPT, 0),))
        group = SyncGroup("G1", [lead, chk])
        start_all(group, *((lead, chk) if order == "owner first" else (chk, lead)))
        assert (lead.state, chk.state, group.state) == (State.INIT, State.INIT, State.INIT), order
        assert not said(lead, chk) and not list(group.effects())
        chk.tracker_changed("chk", False, 0.5)
        group.settle(0.5)
        assert (lead.state, chk.state) == (State.FAULT, State.FAULT), order
        assert not said(lead, chk)


def test_an_owner_starts_as_backup_with_its_group_once_the_scripts_report() -> None:
    """keepalived: "(VI_2) Entering BACKUP STATE", the group syncs to BACKUP, "(VI_1) Entering BACKUP
    STATE"; both MASTER when the last Master_Down runs out (VI_2's, 3.61 s at 1 s adverts)."""
    lead, chk = owner("VI_1", 61), member("VI_2", 62, (Track("chk", TrackKind.SCRIPT, 0),))
    group = SyncGroup("G1", [lead, chk])
    start_all(group, lead, chk)
    chk.tracker_changed("chk", True, 0.5)
    group.settle(0.5)
    assert (lead.state, chk.state, group.state) == (State.BACKUP, State.BACKUP, State.BACKUP)
    assert not said(lead, chk)
    assert [e.new for e in group.effects() if isinstance(e, fx.SyncGroupChanged)] == [State.BACKUP]
    now = expire(group, lead, chk)
    assert now == 0.5 + 3 + (256 - 100) / 256
    assert (lead.state, chk.state) == (State.MASTER, State.MASTER)


def test_an_owner_in_a_sync_group_starts_as_backup() -> None:
    """Even with no script to wait for, and with every member an owner: keepalived 2.2.7 enters
    "BACKUP STATE (init)" for all and MASTER after Master_Down (3.00 s for two owners, 3.61 s
    beside a priority-100 member); owners whose state is MASTER (or unset) listen one interval
    only (1.00 s). Alone, an owner starts MASTER if its state is, else as a BACKUP (3.00 s)."""
    lead, plain = owner("VI_1", 61, "MASTER"), member("VI_2", 62)
    group = SyncGroup("G1", [lead, plain])
    start_all(group, lead, plain)
    assert (lead.state, plain.state) == (State.BACKUP, State.BACKUP) and not said(lead, plain)
    assert expire(group, lead, plain) == 3 + (256 - 100) / 256 and group.state is State.MASTER
    a, b = owner("VI_1", 61), owner("VI_2", 62)
    both = SyncGroup("G1", [a, b])
    start_all(both, a, b)
    assert (a.state, b.state) == (State.BACKUP, State.BACKUP)
    assert expire(both, a, b) == 3 + 1 / 256 and (a.state, b.state) == (State.MASTER, State.MASTER)
    a, b = owner("VI_1", 61, "MASTER"), owner("VI_2", 62, "MASTER")
    both = SyncGroup("G1", [a, b])
    start_all(both, a, b)
    assert (a.state, b.state) == (State.BACKUP, State.BACKUP)
    assert expire(both, a, b) == 1 + 1 / 256 and (a.state, b.state) == (State.MASTER, State.MASTER)
    alone, waits = owner("VI_1", 61, "MASTER"), owner("VI_1", 61, "BACKUP")
    alone.start(0.0)
    waits.start(0.0)
    assert alone.state is State.MASTER and waits.state is State.BACKUP and waits.get_timer() == 3 + 1 / 256


def test_an_owner_joining_a_master_group_takes_over_at_once() -> None:
    a, late = member("A", 51), owner("VI_1", 61, "MASTER")
    group = SyncGroup("G", [a, late])
    a.start(0.0)
    group.settle(0.0)
    a.handle_timer(a.get_timer() or 0.0)  # the owner is not running: A alone decides
    group.settle(4.0)
    late.start(5.0)  # e.g. restarted by a reload
    group.settle(5.0)
    assert (a.state, late.state) == (State.MASTER, State.MASTER)
    assert [e.event for e in late.take_effects() if isinstance(e, fx.StateChanged)] == [Event.STARTUP_OWNER]


def test_an_owner_leaving_fault_stays_backup_while_its_group_cannot_go_master() -> None:
    """keepalived 2.2.7, measured (h1: G1 {VI_1 owner with a weight-0 track, VI_2 100}, h2 master of
    VI_2's VRID at 200): when VI_1's track recovers, "(VI_1) Entering BACKUP STATE", the group syncs
    to BACKUP, and VI_1 stays BACKUP while VI_2 hears h2. vrrpkit used to take VI_1 MASTER (advert,
    VIP, GARPs) and leave VI_2 in FAULT: a group half MASTER, half FAULT."""
    lead = VirtualRouter(
        InstanceConfig(
            name="VI_1", interface="eth0", vrid=61, priority=255, vips=(Vip(ip_interface("192.0.2.61/24")),),
            tracks=(Track("chk", TrackKind.SCRIPT, 0),),
        ),
        ME,
    )
    other = member("VI_2", 62)
    group = SyncGroup("G1", [lead, other])
    lead.tracker_changed("chk", True, 0.0)
    start_all(group, lead, other)
    h2 = encode(Advertisement(2, 62, 200, (ip_address("192.0.2.62"),), 1.0), PEER, GROUP)
    for t in (0.5, 1.5, 2.5):
        other.datagram_received(h2, PEER, GROUP, 255, t)
        group.settle(t)
    lead.tracker_changed("chk", False, 3.0)
    group.settle(3.0)
    assert (lead.state, other.state) == (State.FAULT, State.FAULT)
    said(lead, other)
    lead.tracker_changed("chk", True, 5.0)
    group.settle(5.0)
    assert (lead.state, other.state, group.state) == (State.BACKUP, State.BACKUP, State.BACKUP)
    assert not said(lead, other)
    for t in (5.5, 6.5, 7.5, 8.5, 9.5):  # h2 goes on; VI_1's Master_Down runs out at 8.0
        other.datagram_received(h2, PEER, GROUP, 255, t)
        group.settle(t)
        lead.handle_timer(t)
        group.settle(t)
    assert (lead.state, other.state) == (State.BACKUP, State.BACKUP) and lead.wants_master
    assert not said(lead, other)


def test_one_input_to_two_members_before_one_settle_frees_both() -> None:
    """The daemon gives a link change (or a script's result) to every member it concerns, then
    settles once. Each member judged it by the other's state from before: held for the other,
    neither moved. Measured in a lab: after a link flap under both members of a group, vrrpkit
    stayed in FAULT for good (keepalived: BACKUP, then MASTER after Master_Down)."""
    a, b = member("A", 51), member("B", 52)
    group = SyncGroup("G", [a, b])
    start_all(group, a, b)
    for up, now in ((False, 1.0), (True, 3.0)):
        a.link_changed(up, now)
        b.link_changed(up, now)
        group.settle(now)
    assert (a.state, b.state, group.state) == (State.BACKUP, State.BACKUP, State.BACKUP)
    assert expire(group, a, b) == 3.0 + 3 + (256 - 100) / 256 and group.state is State.MASTER


def test_a_script_both_members_track_starts_and_frees_the_group_at_once() -> None:
    """One weight-0 script tracked by both members (the usual chk_haproxy): at startup both wait
    in INIT for it; its first result, given to both before one settle, starts both; a failure and
    a recovery the same way take both to FAULT and back."""
    chk = (Track("chk", TrackKind.SCRIPT, 0),)
    a, b = member("A", 51, chk), member("B", 52, chk)
    group = SyncGroup("G", [a, b])
    start_all(group, a, b)
    assert (a.state, b.state) == (State.INIT, State.INIT)
    for value, now, want in ((True, 0.5, State.BACKUP), (False, 1.0, State.FAULT), (True, 2.0, State.BACKUP)):
        a.tracker_changed("chk", value, now)
        b.tracker_changed("chk", value, now)
        group.settle(now)
        assert (a.state, b.state, group.state) == (want, want, want), now


def test_a_held_member_and_a_goodbye_say_keepalived_s_lines() -> None:
    """keepalived logs '(VI_2) Receive advertisement timeout' each time a member's Master_Down runs
    out while its group holds it, and '(VI_1) Backup received priority 0 advertisement' for a
    goodbye (measured); neither changes a state, so they come as `Remarked`."""
    a, b = member("VI_1", 51), member("VI_2", 52)
    group = SyncGroup("G1", [a, b])
    start_all(group, a, b)
    master = encode(Advertisement(2, 51, 200, (ip_address("192.0.2.51"),), 1.0), PEER, GROUP)
    a.datagram_received(master, PEER, GROUP, 255, 0.5)
    group.settle(0.5)
    a.take_effects()
    b.take_effects()
    b.handle_timer(b.get_timer() or 0.0)  # VI_2 wants MASTER; VI_1 hears its master: held
    group.settle(3.7)
    assert b.state is State.BACKUP
    assert [e.remark for e in b.take_effects() if isinstance(e, fx.Remarked)] == [fx.Remark.HELD]
    goodbye = encode(Advertisement(2, 51, 0, (ip_address("192.0.2.51"),), 1.0), PEER, GROUP)
    a.datagram_received(goodbye, PEER, GROUP, 255, 4.0)
    assert [e.remark for e in a.take_effects() if isinstance(e, fx.Remarked)] == [fx.Remark.PRIORITY_ZERO]
