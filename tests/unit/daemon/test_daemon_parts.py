"""The daemon's pure parts: notify planning, reload planning, the effect applier and split-brain
bookkeeping, each against recording fakes, no root and no loop needed."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from ipaddress import ip_address, ip_interface
from typing import Any

import pytest
from daemon_fakes import FakeOs, FakeRunner

from vrrpkit.config.model import GlobalDefs, ParseResult
from vrrpkit.core import effects as fx
from vrrpkit.core.config import InstanceConfig, SyncGroupConfig, UnicastPeer, Vip
from vrrpkit.core.packet import DropReason
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import Event, State
from vrrpkit.daemon import splitbrain
from vrrpkit.daemon.applier import EffectApplier
from vrrpkit.daemon.instance import HISTORY, RECENT, WINDOW, Instance
from vrrpkit.daemon.notify import Notifier, group_commands, instance_commands
from vrrpkit.daemon.reload import plan_reload, refusal
from vrrpkit.daemon.scriptset import ScriptSet
from vrrpkit.io.scripts import Script

VIP = Vip(ip_interface("192.0.2.99/24"))
ME = ip_address("192.0.2.1")


def cfg(name: str = "VI_1", **kw: object) -> InstanceConfig:
    base: dict[str, object] = {"name": name, "interface": "eth0", "vrid": 51, "vips": (VIP,)}
    base.update(kw)
    return InstanceConfig(**base)  # type: ignore[arg-type]


def instance(**kw: object) -> Instance:
    c = cfg(**kw)
    return Instance(c, VirtualRouter(c, ME))


# --- notify planning ------------------------------------------------------------------------------


def S(text: str) -> Script:
    """A resolved command, as scriptset makes them."""
    return Script(text, argv=tuple(text.split()))


def test_notify_runs_the_specific_script_then_the_generic_one_with_keepalived_arguments() -> None:
    notify = {"master": S("/x/m.sh"), "notify": S("/x/all.sh")}
    assert instance_commands(notify, "VI_1", fx.NotifyKind.MASTER, 150) == [
        (S("/x/m.sh"), []),
        (S("/x/all.sh"), ["INSTANCE", "VI_1", "MASTER", "150"]),
    ]


def test_master_rx_lower_pri_has_no_generic_call() -> None:
    notify = {"master_rx_lower_pri": S("/x/low.sh"), "notify": S("/x/all.sh")}
    assert instance_commands(notify, "VI_1", fx.NotifyKind.MASTER_RX_LOWER_PRI, 100) == [(S("/x/low.sh"), [])]


def test_group_notify_passes_priority_zero() -> None:
    notify = {"backup": S("/x/b.sh"), "notify": S("/x/all.sh")}
    assert group_commands(notify, "G", "BACKUP") == [
        (S("/x/b.sh"), []),
        (S("/x/all.sh"), ["GROUP", "G", "BACKUP", "0"]),
    ]


def test_notifier_queues_resolved_commands_in_order_and_never_a_disabled_one() -> None:
    import asyncio

    runner = FakeRunner()
    notifier = Notifier(runner)
    disabled = Script("/x/gone.sh", disabled="Script /x/gone.sh cannot be accessed - No such file or directory")

    async def go() -> None:
        notifier.run("VI_1", [(S("/bin/echo one"), []), (disabled, []), (S("/bin/echo two"), ["x"])])
        await notifier.finish(1.0)

    asyncio.run(go())
    assert [argv for _, argv in runner.queued] == [["/bin/echo", "one"], ["/bin/echo", "two", "x"]]
    assert runner.terminated


# --- reload planning --------------------------------------------------------------------------------


def test_reload_plan_keeps_identical_reconfigures_changed_restarts_new_identities() -> None:
    running = {"A": cfg("A"), "B": cfg("B", vrid=52), "C": cfg("C", vrid=53), "E": cfg("E", vrid=55)}
    new = [cfg("A"), cfg("B", vrid=52, priority=120), cfg("D", vrid=54), cfg("E", vrid=56)]
    plan = plan_reload(running, new)
    assert plan.keep == ("A",)
    assert plan.reconfigure == (("B", "B"),)  # same identity: applied in place, state kept
    assert plan.restart == ("E",)  # same name, new VRID: stopped and started anew
    assert plan.remove == ("C",)
    assert plan.add == ("D",)
    assert plan.stop == ("E", "C") and plan.start == ("E", "D")


def test_reload_plan_matches_by_identity_like_keepalived_not_by_name() -> None:
    running = {"A": cfg("A"), "B": cfg("B", vrid=52)}
    renamed = plan_reload(running, [cfg("A2"), cfg("B", vrid=52)])
    assert renamed.reconfigure == (("A", "A2"),) and renamed.keep == ("B",) and not renamed.stop
    swapped = plan_reload(running, [cfg("A", vrid=52), cfg("B")])
    assert sorted(swapped.reconfigure) == [("A", "B"), ("B", "A")] and not swapped.stop and not swapped.start
    # a name reused for another identity while its old identity went away: stop it, start the new one
    moved = plan_reload(running, [cfg("A", vrid=53), cfg("B", vrid=52)])
    assert moved.restart == ("A",) and moved.keep == ("B",)


@pytest.mark.parametrize(
    ("change", "in_place"),
    [
        ({"priority": 90}, True),
        ({"version": 3}, True),
        ({"advert_int_cs": 200}, True),
        ({"preempt": False}, True),
        ({"unicast_peers": (UnicastPeer(ip_address("192.0.2.2")),)}, False),
        ({"interface": "eth1"}, False),
        ({"vrid": 60}, False),
    ],
)
def test_reload_plan_restarts_only_on_keepalived_identity_changes(change: dict[str, object], in_place: bool) -> None:
    plan = plan_reload({"A": cfg("A")}, [cfg("A", **change)])
    assert (plan.reconfigure == (("A", "A"),)) is in_place
    assert (plan.restart == ("A",)) is not in_place


def test_reload_is_refused_on_errors_or_where_keepalived_would_not_run() -> None:
    from vrrpkit.config import load_string

    def result(body: str) -> ParseResult:
        return load_string(f"vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{body}\n}}\n")

    everywhere = lambda _: True  # noqa: E731
    only_eth0 = lambda name: name == "eth0"  # noqa: E731
    assert refusal(result("virtual_ipaddress {\n 192.0.2.99/24\n}"), everywhere) is None
    assert "errors" in (refusal(result("priorty 150\nvirtual_ipaddress {\n 192.0.2.99/24\n}"), everywhere) or "")
    why = refusal(result("track_interface {\n eth9\n}\nvirtual_ipaddress {\n 192.0.2.99/24\n}"), only_eth0)
    assert why is not None and "eth9" in why
    why = refusal(result("version 3"), everywhere)  # keepalived: 'No VIP specified; at least one is required'
    assert why is not None and "no virtual address" in why


# --- the applier ------------------------------------------------------------------------------------


def applier(fake: FakeOs, runner: FakeRunner | None = None) -> tuple[EffectApplier, list[tuple[float, bytes]]]:
    later: list[tuple[float, bytes]] = []
    ports = fake.ports()
    sockets = {("eth0", 4): ports.open_socket("eth0", 4, None, False)}
    a = EffectApplier(
        ports,
        sockets,
        Notifier(runner or FakeRunner()),
        call_later=lambda delay, fn, arg: later.append((delay, arg)),
        wall_clock=lambda: 1000.0,
    )
    return a, later


def test_vips_go_to_their_device_and_the_no_accept_firewall_follows() -> None:
    fake = FakeOs()
    a, _ = applier(fake)
    inst = instance(strict=True)  # strict and not the owner: Accept_Mode off
    other = Vip(ip_interface("198.51.100.7/32"), dev="eth1")
    a.apply(inst, fx.AddVips("VI_1", "eth0", (VIP, other)))
    a.apply(inst, fx.DelVips("VI_1", "eth0", (VIP,)))
    assert fake.netlink.calls == [
        ("add", "eth0", "192.0.2.99/24"),
        ("add", "eth1", "198.51.100.7/32"),
        ("del", "eth0", "192.0.2.99/24"),
    ]
    assert fake.firewall.log == [
        ("configure", "vrrpkit", "-1", "False"),  # global_defs' nftables settings (the defaults here)
        ("setup",),
        ("add", "eth0", "192.0.2.99", "198.51.100.7"),
        ("remove", "eth0", "192.0.2.99"),
    ]


def test_a_step_down_skips_only_the_removal_made_ahead_in_the_same_master_term() -> None:
    """`act_ahead` removed the VIPs for the step-down under way: that step-down does not ask the
    kernel again. A mark from another MASTER term (a step-down that never came) removes as usual."""
    fake = FakeOs()
    a, _ = applier(fake)
    inst = instance()
    stats = inst.router.stats
    stats.become_master, stats.release_master = 3, 3  # leaving the third term
    a._gone_ahead["VI_1"] = (3, 3, (VIP,))  # what act_ahead marks
    a.apply(inst, fx.DelVips("VI_1", "eth0", (VIP,)))
    assert fake.netlink.calls == []
    a.apply(inst, fx.DelVips("VI_1", "eth0", (VIP,)))  # the mark is used once
    assert fake.netlink.calls == [("del", "eth0", "192.0.2.99/24")]
    fake.netlink.calls.clear()
    a._gone_ahead["VI_1"] = (2, 2, (VIP,))  # marked in an earlier term
    a.apply(inst, fx.DelVips("VI_1", "eth0", (VIP,)))
    assert fake.netlink.calls == [("del", "eth0", "192.0.2.99/24")]
    fake.netlink.calls.clear()
    a._gone_ahead["VI_1"] = (3, 3, (VIP,))
    a.apply(inst, fx.DelVips("VI_1", "eth0", (VIP,), fx.VipCause.RELOAD))  # a reload trims: not a step-down
    assert fake.netlink.calls == [("del", "eth0", "192.0.2.99/24")]


def test_adverts_leave_by_the_socket_of_their_interface_and_family() -> None:
    fake = FakeOs()
    a, _ = applier(fake)
    inst = instance()
    a.apply(inst, fx.SendAdvert("VI_1", "eth0", ME, ip_address("224.0.0.18"), b"adv", 100))
    a.apply(inst, fx.SendAdvert("VI_1", "eth1", ME, ip_address("224.0.0.18"), b"lost", 100))  # no socket: skipped
    assert fake.sockets[("eth0", 4)].sent == [(b"adv", ip_address("224.0.0.18"), ME)]


def test_goodbyes_sent_unsaid_are_not_logged_and_remarks_name_the_sender(caplog: pytest.LogCaptureFixture) -> None:
    a, _ = applier(FakeOs())
    inst = instance()
    caplog.set_level(logging.INFO, logger="vrrpkit")
    bye = fx.SendAdvert("VI_1", "eth0", ME, ip_address("224.0.0.18"), b"bye", 0, said=False)
    a.apply(inst, bye)  # keepalived's unlogged one (a fault's first, a sync group's)
    assert "sent 0 priority" not in caplog.text
    a.apply(inst, replace(bye, said=True))
    assert caplog.text.count("(VI_1) sent 0 priority") == 1
    a.apply(inst, fx.Remarked("VI_1", fx.Remark.LOWER_PRIORITY, ip_address("192.0.2.2"), 90))
    assert "(VI_1) received lower priority (90) advert from 192.0.2.2 - discarding" in caplog.text


def test_garp_is_paced_when_vrrp_garp_interval_is_set() -> None:
    fake = FakeOs()
    a, later = applier(fake)
    inst = instance()
    a.apply(inst, fx.SendGarp("VI_1", "eth0", (VIP,), 2))
    assert fake.announcers["eth0"].announced == [(("192.0.2.99",), 2)] and not later
    a.configure(GlobalDefs(garp_interval_cs=10), {})
    a.apply(inst, fx.SendGarp("VI_1", "eth0", (VIP,), 3))
    assert [delay for delay, _ in later] == pytest.approx([0.0, 0.1, 0.2])


def test_state_changes_are_recorded_and_logged_in_keepalived_words(caplog: pytest.LogCaptureFixture) -> None:
    a, _ = applier(FakeOs())
    inst = instance()
    caplog.set_level(logging.INFO, logger="vrrpkit")
    for n in range(HISTORY + 5):
        change = fx.StateChanged("VI_1", State.BACKUP, State.MASTER, Event.MASTER_DOWN, "advertisement timeout", n)
        a.apply(inst, change)
    assert "(VI_1) Entering MASTER STATE" in caplog.text and "Receive advertisement timeout" in caplog.text
    assert len(inst.transitions) == HISTORY and inst.transitions_total == HISTORY + 5
    assert inst.transitions[-1].event == "master down timer expired" and inst.transitions[-1].at == 1000.0


def test_status_shows_the_last_transitions_and_the_last_hours_within_a_bound() -> None:
    """The status page draws the last hour; `status` always says the last RECENT, however old; memory
    stays bounded whatever an instance does."""
    inst = instance()

    def change(at: float) -> None:
        inst.record(fx.StateChanged("VI_1", State.BACKUP, State.MASTER, Event.MASTER_DOWN, "timeout", 0.0), at)

    for n in range(30):  # a day ago: only the last RECENT of these are shown
        change(1000.0 + n)
    now = 1000.0 + 86400
    assert [t.at for t in inst.status(0.0, now).transitions] == [1000.0 + n for n in range(30 - RECENT, 30)]
    for n in range(40):  # the last hour's are all shown, however many
        change(now - WINDOW + 60 + n)
    shown = inst.status(0.0, now).transitions
    assert len(shown) == 40 and shown[0].at == now - WINDOW + 60
    for n in range(HISTORY * 2):  # a flapping instance: bounded all the same
        change(now - 10 + n / 1000)
    assert len(inst.status(0.0, now).transitions) == HISTORY and inst.transitions_total == 70 + HISTORY * 2


def test_quiet_drops_are_not_logged_and_mismatches_are_logged_once_a_hundred(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, _ = applier(FakeOs())
    inst = instance()
    caplog.set_level(logging.INFO, logger="vrrpkit")
    a.apply(inst, fx.PacketDropped("VI_1", DropReason.OWN_ADVERT, ME))
    assert "dropped" not in caplog.text
    a.apply(inst, fx.PacketDropped("VI_1", DropReason.BAD_TTL, ME, "TTL 64"))
    assert "(VI_1) dropped advert from 192.0.2.1: bad-ttl TTL 64" in caplog.text
    caplog.clear()
    for _ in range(150):
        a.apply(inst, fx.Mismatch("VI_1", fx.MismatchKind.INTERVAL, ME, "2s, mine 1s"))
    assert caplog.text.count("interval mismatch") == 2 and inst.mismatches == {"interval": 150}


def test_group_change_runs_the_group_scripts_once_and_a_stop_runs_them_with_stop() -> None:
    """keepalived 2.2.7 at its stop (measured): the group's notify runs with `GROUP G1 STOP 0`."""
    runner = FakeRunner()
    a, _ = applier(FakeOs(), runner)
    group = SyncGroupConfig("G", ("A", "B"), (("notify", "/bin/echo", ()),))
    a.configure(GlobalDefs(), {"G": group}, scripts=ScriptSet(notify={("group", "G", "notify"): S("/bin/echo")}))

    import asyncio

    async def go() -> None:
        a.apply(instance(), fx.SyncGroupChanged("G", State.BACKUP, State.MASTER))
        a.apply(instance(), fx.SyncGroupChanged("G", State.MASTER, State.INIT))
        a.apply(instance(), fx.SyncGroupChanged("G", State.INIT, State.INIT))  # never started: nothing

    asyncio.run(go())
    assert runner.queued == [
        ("group:G", ["/bin/echo", "GROUP", "G", "MASTER", "0"]),
        ("group:G", ["/bin/echo", "GROUP", "G", "STOP", "0"]),
    ]


def test_a_group_s_first_backup_is_not_said_as_syncing(caplog: pytest.LogCaptureFixture) -> None:
    """keepalived 2.2.7 logs no 'Syncing instances to BACKUP state' as a group starts (its notify
    runs); a group that starts in FAULT, or moves later, is said (measured)."""
    a, _ = applier(FakeOs())
    caplog.set_level(logging.INFO, logger="vrrpkit")
    a.group_changed(fx.SyncGroupChanged("G", State.INIT, State.BACKUP))
    assert "Syncing" not in caplog.text
    a.group_changed(fx.SyncGroupChanged("G", State.INIT, State.FAULT))
    a.group_changed(fx.SyncGroupChanged("G", State.BACKUP, State.MASTER), said=True)  # said apart (cycle)
    assert caplog.text.count("Syncing") == 1 and "VRRP_Group(G) Syncing instances to FAULT state" in caplog.text


# --- split brain bookkeeping ------------------------------------------------------------------------


def test_split_brain_needs_two_probes_and_clears_on_leaving_master() -> None:
    inst = instance()
    inst.router.state = State.MASTER  # the state the prober reads; no protocol run needed here
    splitbrain.judge(inst, frozenset({"02:00:00:00:00:02"}), 1000.0)
    assert not inst.split_brain  # one probe could be a handover in flight
    splitbrain.judge(inst, frozenset({"02:00:00:00:00:02"}), 1003.0)
    assert inst.split_brain == {"02:00:00:00:00:02"} and inst.split_brain_events == 1
    splitbrain.judge(inst, frozenset({"02:00:00:00:00:02", "02:00:00:00:00:03"}), 1006.0)
    assert inst.split_brain_since == 1003.0  # a third host joining is the same split brain, still since 1003
    assert inst.status(0.0, 1006.0).split_brain_since == 1003.0
    splitbrain.left_master(inst)
    assert not inst.split_brain and not inst.suspects
    assert inst.status(0.0, 1009.0).split_brain_since is None


def test_probes_wait_for_the_protocol_to_settle_after_becoming_master() -> None:
    inst = instance(advert_int_cs=100)
    inst.router.state = State.MASTER
    inst.router.state_since = 10.0
    assert not splitbrain.due(inst, 10.5)  # a handover leaves the old master holding the VIP a moment
    assert splitbrain.due(inst, 13.0)
    assert not splitbrain.due(inst, 13.5)  # once a period


def recording_prober() -> tuple[splitbrain.SplitBrainProber, list[object]]:
    """A prober on fakes, and the probe rounds it spawned (closed, not run)."""
    spawned: list[object] = []

    def spawn(coro: object) -> None:
        spawned.append(coro)
        coro.close()  # type: ignore[attr-defined]

    return splitbrain.SplitBrainProber(FakeOs().ports(), spawn), spawned


def test_probe_rounds_look_at_the_instances_only_when_a_master_can_be_due() -> None:
    """`check` runs four times a second; the look over every instance happens at most once a
    second, and not before the earliest master is due; a master that appears meanwhile is probed
    when its first period ends, not later."""
    prober, spawned = recording_prober()
    a, b = instance(advert_int_cs=100), instance(advert_int_cs=100)
    a.router.state, a.router.state_since = State.MASTER, 0.0
    b.router.state = State.BACKUP
    prober.check([a, b], 5.0)  # a is due now, and next a period (3 adverts of 1 s) later
    assert len(spawned) == 1 and a.next_probe == 8.0
    b.router.state, b.router.state_since = State.MASTER, 5.2  # b's first probe: at 8.2
    looks = 0

    class Counting(list):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            nonlocal looks
            looks += 1
            return super().__iter__()

    for now in (5.25, 5.5, 5.75):
        prober.check(Counting([a, b]), now)
    assert looks == 0 and len(spawned) == 1  # a look at most once a second
    for now in (6.0, 6.5, 7.0, 7.5):
        prober.check(Counting([a, b]), now)
    assert looks == 2 and len(spawned) == 1  # at 6.0 and 7.0: nobody due before 8.0
    prober.check(Counting([a, b]), 8.0)
    assert looks == 3 and len(spawned) == 2  # a again; b not yet (its first period ends at 8.2)
    prober.check(Counting([a, b]), 8.25)
    assert looks == 4 and len(spawned) == 3 and b.next_probe == 11.25


def test_many_masters_share_a_probe_budget() -> None:
    """PROBE_RATE probes a second in all: 200 masters at 0.1 s adverts are asked every 4 s each,
    not every second; a handful keep their period (3 adverts, at least 1 s)."""
    prober, spawned = recording_prober()
    many = [instance(advert_int_cs=10, version=3) for _ in range(4 * splitbrain.PROBE_RATE)]
    for inst in many:
        inst.router.state, inst.router.state_since = State.MASTER, 0.0
    prober.check(many, 10.0)
    assert {inst.next_probe for inst in many} == {10.0 + 4.0}
    few = many[:3]
    prober.check(few, 20.0)
    assert {inst.next_probe for inst in few} == {20.0 + splitbrain.MIN_PERIOD}
    assert len(spawned) == 2  # one round (one interface) per look


def test_metrics_count_socket_drops_and_unanswered_lower_priorities() -> None:
    from vrrpkit.control.snapshot import Snapshot, SocketStatus
    from vrrpkit.daemon.metrics import DaemonCollector

    inst = instance()
    inst.router.stats.lower_prio_unanswered = 7
    inst.router.stats.claims_sent, inst.router.stats.claims_answered = 5, 4
    snap = Snapshot(
        pid=1,
        hostname="h",
        uptime=1.0,
        reloads=0,
        unknown_vrid_packets=3,
        instances=[inst.status(0.0, 0.0)],
        sockets=[SocketStatus("eth0", 4, received=10, unknown_vrid=3, undecodable=1, queue_overflow=2)],
    )
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in DaemonCollector(lambda: snap).collect()
        for s in m.samples
    }
    labels = (("interface", "eth0"), ("vrid", "51"), ("vrrp_instance", "VI_1"))
    assert samples[("vrrpkit_lower_priority_unanswered_total", labels)] == 7
    assert samples[("vrrpkit_takeover_claims_total", labels)] == 5
    assert samples[("vrrpkit_takeover_claims_answered_total", labels)] == 4
    sock = (("family", "4"), ("interface", "eth0"))
    assert samples[("vrrpkit_socket_received_total", sock)] == 10
    assert samples[("vrrpkit_socket_dropped_total", (*sock, ("reason", "queue-full")))] == 2
    assert samples[("vrrpkit_socket_dropped_total", (*sock, ("reason", "unknown-vrid")))] == 3


def test_log_lines_are_keepalived_s_in_its_order_with_journal_fields(caplog: pytest.LogCaptureFixture) -> None:
    """What keepalived 2.2.7 logged for the same events in the lab: the cause, then the state line,
    word for word; vrrpkit's reason goes to the REASON= journal field."""
    a, _ = applier(FakeOs())
    inst = instance()
    caplog.set_level(logging.INFO, logger="vrrpkit")
    a.apply(inst, fx.StateChanged("VI_1", State.INIT, State.BACKUP, Event.STARTUP, "startup", 0))
    a.apply(inst, fx.StateChanged("VI_1", State.BACKUP, State.MASTER, Event.MASTER_DOWN, "advertisement timeout", 1))
    a.apply(inst, fx.AddVips("VI_1", "eth0", (VIP,)))
    a.apply(inst, fx.SendGarp("VI_1", "eth0", (VIP,), 5))
    inst.router.master_address, inst.router.master_priority = ip_address("192.0.2.2"), 150
    a.apply(inst, fx.StateChanged("VI_1", State.MASTER, State.BACKUP, Event.HIGHER_PRIORITY, "higher", 2))
    a.apply(inst, fx.StateChanged("VI_1", State.BACKUP, State.FAULT, Event.FAULT, "interface eth0 down", 3))
    records = [r for r in caplog.records if r.name == "vrrpkit"]
    assert [r.getMessage() for r in records] == [
        "(VI_1) Entering BACKUP STATE (init)",
        "(VI_1) Receive advertisement timeout",
        "(VI_1) Entering MASTER STATE",
        "(VI_1) setting VIPs. (192.0.2.99/24)",
        "(VI_1) Sending/queueing gratuitous ARPs on eth0 for 192.0.2.99",
        "(VI_1) Master received advert from 192.0.2.2 with higher priority 150, ours 100",
        "(VI_1) Entering BACKUP STATE",
        "(VI_1) Entering FAULT STATE",
        "(VI_1) fault: interface eth0 down",
    ]
    master = records[2]
    assert master.journal == {"INSTANCE": "VI_1", "VRID": "51", "INTERFACE": "eth0", "STATE": "MASTER",  # type: ignore[attr-defined]
                              "OLD_STATE": "BACKUP", "EVENT": "MASTER_DOWN", "REASON": "advertisement timeout"}
    assert records[7].levelno == logging.WARNING  # FAULT: found by journalctl -p warning
    detail = [r.getMessage() for r in caplog.records if r.name == "vrrpkit.detail"]
    assert detail == ["Sending gratuitous ARP on eth0 for 192.0.2.99 (x5)"]  # keepalived's -D line, per address


def test_the_garp_sender_of_each_vip_interface_is_opened_ahead_and_used_at_the_takeover() -> None:
    """Opened at the first GARP it cost a socket, an ioctl for the MAC and a bind (~0.15 ms)
    between a new master's VIP and its next read; `prepare` opens it once per config instead."""
    fake = FakeOs()
    a, _ = applier(fake)
    inst = instance()
    a.prepare([inst])
    sender = fake.announcers["eth0"]
    assert set(fake.announcers) == {"eth0"} and sender.announced == []  # opened, nothing sent
    a.apply(inst, fx.SendGarp("VI_1", "eth0", (VIP,), 5))
    assert fake.announcers["eth0"] is sender and sender.announced == [(("192.0.2.99",), 5)]


def test_a_garp_burst_reads_the_mac_again_unless_the_rehearsal_just_did(monkeypatch: pytest.MonkeyPatch) -> None:
    """An interface's MAC can change under us; keepalived 2.2.7's next GARPs carry the new one
    (measured), vrrpkit's carried the MAC read when the sender was opened. A takeover's own burst
    follows the rehearsal's read: no system call between the VIP and the next read."""
    from vrrpkit.daemon import applier as applier_module

    clock = [100.0]
    monkeypatch.setattr(applier_module.time, "monotonic", lambda: clock[0])
    fake = FakeOs()
    a, _ = applier(fake)
    inst = instance()
    a.prepare_vips(inst)  # the takeover's rehearsal
    sender = fake.announcers["eth0"]
    assert sender.mac_reads == 1
    a.apply(inst, fx.SendGarp("VI_1", "eth0", (VIP,), 5))  # the takeover's burst
    assert sender.mac_reads == 1
    clock[0] += 5.0  # garp_master_delay later
    a.apply(inst, fx.SendGarp("VI_1", "eth0", (VIP,), 5))
    assert sender.mac_reads == 2 and len(sender.announced) == 2


def test_dont_release_vrrp_leaves_the_vips_at_shutdown() -> None:
    """keepalived -V: the stopping daemon keeps its VIPs (it still sends priority 0)."""
    fake = FakeOs()
    a, _ = applier(fake)
    a.release_vips = False
    a.apply(instance(), fx.DelVips("VI_1", "eth0", (VIP,)))
    assert fake.netlink.calls == []


def test_script_lines_are_keepalived_s(caplog: pytest.LogCaptureFixture) -> None:
    from vrrpkit.config.model import ScriptConfig
    from vrrpkit.daemon.tracking import ScriptTracker, log_script
    from vrrpkit.io.scripts import Script

    caplog.set_level(logging.INFO, logger="vrrpkit")
    tracker = ScriptTracker("chk", ScriptConfig("/bin/false"), Script("/bin/false"))
    tracker.last_rc = 1
    tracker.counter.update(False)
    log_script(tracker, 0, True)
    tracker.last_rc = 0
    tracker.counter.update(True)
    log_script(tracker, 1, True)
    log_script(tracker, 0, False)
    assert [r.getMessage() for r in caplog.records] == [
        "Script `chk` now returning 1", "VRRP_Script(chk) failed (exited with status 1)",
        "Script `chk` now returning 0", "VRRP_Script(chk) succeeded",
    ]
    assert [r.levelno for r in caplog.records][1] == logging.WARNING
    caplog.clear()
    first = ScriptTracker("ok", ScriptConfig("/bin/true"), Script("/bin/true"))
    first.last_rc = 0
    first.counter.update(True)
    log_script(first, None, True)  # a first run that returns 0: keepalived says only that it succeeded
    assert [r.getMessage() for r in caplog.records] == ["VRRP_Script(ok) succeeded"]
    caplog.clear()
    first.last_rc, first.timed_out = None, True  # killed at its timeout: keepalived 2.2.7's words (measured)
    first.counter.update(False)
    log_script(first, 0, True)
    assert [r.getMessage() for r in caplog.records] == ["VRRP_Script(ok) timed_out"]


def test_an_owner_starting_master_says_its_timeout_first(caplog: pytest.LogCaptureFixture) -> None:
    """keepalived 2.2.7 (measured, priority 255, state unset): '(VI_1) Receive advertisement
    timeout', then '(VI_1) Entering MASTER STATE' (its Master_Down is 1 µs), and no BACKUP line."""
    a, _ = applier(FakeOs())
    caplog.set_level(logging.INFO, logger="vrrpkit")
    a.apply(instance(), fx.StateChanged("VI_1", State.INIT, State.MASTER, Event.STARTUP_OWNER, "startup", 0.0))
    lines = [r.getMessage() for r in caplog.records if r.name == "vrrpkit"]
    assert lines[:2] == ["(VI_1) Receive advertisement timeout", "(VI_1) Entering MASTER STATE"]


def test_a_backup_that_waited_for_its_scripts_is_not_said_to_enter_at_init(caplog: pytest.LogCaptureFixture) -> None:
    """keepalived 2.2.7 (measured): '(VI_1) Entering BACKUP STATE (init)' at start, but only
    '(VI_1) Entering BACKUP STATE' when the instance waited in INIT for a weight-0 script."""
    a, _ = applier(FakeOs())
    caplog.set_level(logging.INFO, logger="vrrpkit")
    a.apply(instance(), fx.StateChanged("VI_1", State.INIT, State.BACKUP, Event.STARTUP, "scripts ran", 1.0))
    assert "(VI_1) Entering BACKUP STATE" in caplog.text and "(init)" not in caplog.text


def test_dropped_adverts_log_the_first_of_a_kind_then_a_count(caplog: pytest.LogCaptureFixture) -> None:
    """300 bad-TTL adverts: one line now, one count when the window ends (keepalived 2.2.7 logs 300)."""
    timers: list[tuple[float, Any, Any]] = []
    fake = FakeOs()
    later = lambda d, fn, arg: timers.append((d, fn, arg))  # noqa: E731
    a = EffectApplier(fake.ports(), {}, Notifier(FakeRunner()), call_later=later, wall_clock=lambda: 1000.0)
    inst = instance()
    src = ip_address("192.0.2.2")
    caplog.set_level(logging.WARNING, "vrrpkit")
    for _ in range(300):
        a.apply(inst, fx.PacketDropped("VI_1", DropReason.BAD_TTL, src, "TTL 64, expected 255"))
    a.apply(inst, fx.PacketDropped("VI_1", DropReason.BAD_PASSWORD, src, "bad password"))
    assert [r.getMessage() for r in caplog.records] == [
        "(VI_1) dropped advert from 192.0.2.2: bad-ttl TTL 64, expected 255",
        "(VI_1) dropped advert from 192.0.2.2: bad-password bad password",
    ]
    caplog.clear()
    first = timers[0]
    first[1](first[2])  # the window ends
    assert [r.getMessage() for r in caplog.records] == [
        "(VI_1) 299 more adverts dropped as bad-ttl in the last 60 s (not logged one by one; see "
        "vrrpkit_packets_dropped)"
    ]
    caplog.clear()
    a.apply(inst, fx.PacketDropped("VI_1", DropReason.BAD_TTL, src, "TTL 64, expected 255"))
    assert caplog.records == []  # the flood goes on: still counted, not logged
    timers[2][1](timers[2][2])
    timers[1][1](timers[1][2])  # a window with nothing more to say ends silently
    assert caplog.records[0].getMessage().startswith("(VI_1) 1 more adverts dropped as bad-ttl")
    caplog.clear()
    a.apply(inst, fx.PacketDropped("VI_1", DropReason.BAD_PASSWORD, src, "bad password"))
    assert len(caplog.records) == 1  # after a quiet window, the first of a kind is logged again


def test_scripts_start_on_a_fixed_cadence_and_skip_the_starts_a_long_run_overlaps() -> None:
    """keepalived starts a vrrp_script every interval whatever the run took (measured: 1.000 s
    apart for a 50 ms script at interval 1; vrrpkit waited the interval after each run: 1.057 s,
    which drifts a rise or fall by a whole interval within a minute). A run longer than the
    interval skips the starts it overlaps, as keepalived ('already running')."""
    from vrrpkit.daemon.tracking import next_start

    assert next_start(10.0, 10.05, 1.0) == 11.0  # a 50 ms run: the cadence holds
    assert next_start(10.0, 11.0, 1.0) == 11.0  # ended exactly at the next start
    assert next_start(10.0, 12.5, 1.0) == 13.0  # a 2.5 s run: 11 and 12 skipped
    assert next_start(10.0, 10.2, 0.25) == 10.25


def test_a_script_kept_by_a_reload_keeps_its_last_exit_code_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """keepalived 2.2.7, measured: a reload logs 'VRRP_Script(chk) considered unsuccessful on
    reload' (or 'successful') for a script it keeps, and no 'now returning' at the next run of an
    unchanged exit code. vrrpkit forgot the exit code and said 'now returning 3' again."""
    from vrrpkit.config import load_string
    from vrrpkit.daemon.tracking import Trackers
    from vrrpkit.io.scripts import Script

    text = ('vrrp_script chk {\n  script "/bin/false"\n  weight -10\n}\nvrrp_instance VI_1 {\n  interface eth0\n'
            "  virtual_router_id 51\n  track_script {\n    chk\n  }\n  virtual_ipaddress {\n    192.0.2.1/24\n  }\n}\n")
    result = load_string(text, "k.conf")
    scripts = {"chk": Script("/bin/false", argv=("/bin/false",))}
    caplog.set_level(logging.INFO, logger="vrrpkit")

    async def main() -> tuple[object, ...]:
        trackers = Trackers(lambda name, value: None)
        try:  # no await in between: the script loops never run
            trackers.configure(result, result.instances, scripts)
            first = trackers.scripts["chk"]
            first.last_rc = 3
            first.counter.update(False)
            said = len(caplog.records)  # a start says nothing
            trackers.configure(result, result.instances, scripts)  # the reload
            kept = trackers.scripts["chk"]
            return said, kept is first, kept.ok, kept.last_rc
        finally:
            trackers.cancel()

    assert asyncio.run(main()) == (0, False, False, 3)

    assert [r.getMessage() for r in caplog.records] == ["VRRP_Script(chk) considered unsuccessful on reload"]
