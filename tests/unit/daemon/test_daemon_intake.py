"""The loop's order of work under load, with recording fakes: due timers before more reads, bounded
batches, no Master_Down while the master's advert waits in the queue, priority-0 adverts before any
other shutdown work, kernel filters kept in step with the instances, drops counted per socket.

The loop is blocked on purpose (time.sleep inside a coroutine) to make a timer due while datagrams
are queued; nothing here asserts how long anything took."""

from __future__ import annotations

import asyncio
import inspect
import logging
import selectors
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from daemon_fakes import FakeOs, FakeRunner, FakeSocket
from test_daemon_loop import advert, conf, drive, notifies, said, state, until

from vrrpkit.config import load_string
from vrrpkit.daemon import app
from vrrpkit.daemon.app import HOUSEKEEPING, Daemon
from vrrpkit.daemon.cycle import BATCH, TAKEOVER_AHEAD
from vrrpkit.io.eventloop import new_loop
from vrrpkit.io.vrrp_filter import Mode, VridRule


async def _following_a_master(d: Daemon, fake: FakeOs) -> FakeSocket:
    """VI_1 hears a priority-200 master at 192.0.2.2 and follows it; its socket."""
    sock = fake.sockets[("eth0", 4)]
    sock.deliver(advert(200), "192.0.2.2")
    await until(lambda: d.snapshot().instance("VI_1").master == "192.0.2.2")  # type: ignore[union-attr]
    return sock


def test_a_batch_only_for_masters_does_not_ask_when_it_arrived(tmp_path: Path) -> None:
    """A BACKUP counts Master_Down from its master's advert's arrival (an ioctl per batch); a MASTER
    answering a lower priority or giving way to a higher one needs no such precision, and its
    answer or its VIP removal must not wait for the system call."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = await _following_a_master(d, fake)
        assert sock.arrivals_asked >= 1  # the BACKUP asked
        sock.deliver(advert(0), "192.0.2.2")  # the master leaves: we take over at once
        await until(lambda: state(d) == "MASTER")
        asked = sock.arrivals_asked
        sock.deliver(advert(50, src="192.0.2.7"), "192.0.2.7")  # answered
        await until(lambda: not sock.inbox)
        sock.deliver(advert(200), "192.0.2.2")  # the master is back: we give way
        await until(lambda: state(d) == "BACKUP")
        assert sock.arrivals_asked == asked

    drive(tmp_path, conf(), body)


def test_a_due_advert_goes_out_before_a_full_queue_is_read(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        sock = fake.sockets[("eth0", 4)]
        deadline = d.instances["VI_1"].router.get_timer()
        assert deadline is not None
        for _ in range(3 * BATCH + 5):
            sock.deliver(advert(50, src="192.0.2.7"), "192.0.2.7")  # a flood of lower priority
        fake.netlink.journal.clear()
        time.sleep(max(0.0, deadline - asyncio.get_running_loop().time()) + 0.01)  # the advert is now due
        await until(lambda: not sock.inbox)
        journal = fake.netlink.journal
        assert journal[0][0] == "send", journal[:3]  # the due advert before the first read
        # one bounded batch per wake-up (its first datagram read alone: `act_ahead`)
        assert sock.reads[-8:] == [1, BATCH - 1, 1, BATCH - 1, 1, BATCH - 1, 1, 4]
        # the due advert, and the flood answered at most twice, not 197 times (twice an interval)
        answers = [e for e in journal if e[0] == "send"]
        assert len(answers) <= 3, answers

    drive(tmp_path, conf(priority=150), body)


def test_master_down_waits_for_the_advert_already_in_the_queue(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = await _following_a_master(d, fake)
        router = d.instances["VI_1"].router
        down = router.get_timer()
        assert down is not None
        # the loop is stuck past Master_Down; the master's next advert arrived in the meantime and
        # waits behind a burst of other traffic
        time.sleep(max(0.0, down - asyncio.get_running_loop().time()) + 0.02)
        for _ in range(2 * BATCH):
            sock.deliver(advert(50, vrid=77, src="192.0.2.9"), "192.0.2.9")
        sock.deliver(advert(200), "192.0.2.2")
        await asyncio.sleep(0.05)
        assert state(d) == "BACKUP"
        # the queued advert reset the timer before it fired: never MASTER, not even for a moment
        assert [t[2].value for t in router.transitions] == ["BACKUP"]
        assert not any(e[0] == "add" for e in fake.netlink.journal)
        assert router.stats.advert_rcvd == 2

    drive(tmp_path, conf(), body)


def test_priority_zero_adverts_leave_before_any_vip_is_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """And it is said as keepalived 2.2.7 says it (measured, two masters): 'Stopping', then per
    instance '(VI_1) sent 0 priority', '(VI_1) removing VIPs.'; vrrpkit said every goodbye first."""
    three = conf(priority=150) + conf(name="VI_2", vrid=52, vips="192.0.2.98/24")
    three += conf(name="VI_3", vrid=53, vips="192.0.2.97/24")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: all(state(d, n) == "MASTER" for n in ("VI_1", "VI_2", "VI_3")))
        fake.netlink.journal.clear()
        d.request_stop()  # what SIGTERM calls: the goodbyes happen here, before shutdown() runs
        kinds = [(e[0], e[2] if e[0] == "send" else None) for e in fake.netlink.journal]
        assert kinds[:3] == [("send", 0)] * 3
        assert [k for k, _ in kinds[3:]] == ["del"] * 3
        lines = [r.getMessage() for r in caplog.records]
        said = lines[lines.index("Stopping") + 1 :]
        expected = [(f"(VI_{n}) sent 0 priority", f"(VI_{n}) removing VIPs.") for n in (1, 2, 3)]
        assert [line.split(" (192")[0] for line in said[:6]] == [line for pair in expected for line in pair], said

    caplog.set_level(logging.INFO, logger="vrrpkit")
    drive(tmp_path, three, body)


def test_kernel_filters_follow_the_instances_on_each_socket(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = fake.sockets[("eth0", 4)]
        assert sock.filter is not None and sock.filter.rules == (VridRule(51, Mode.MULTICAST),)
        two = conf() + conf(name="VI_2", vrid=52, vips="192.0.2.98/24")
        assert d.apply_reload(load_string(two, filename="keepalived.conf"))
        assert sock.filter.rules == (VridRule(51, Mode.MULTICAST), VridRule(52, Mode.MULTICAST))
        # what gets past the filter for no instance is counted on the socket
        sock.deliver(advert(100, vrid=99), "192.0.2.5")
        await until(lambda: d.snapshot().unknown_vrid_packets == 1)
        (status,) = d.snapshot().sockets
        assert (status.interface, status.family, status.kernel_filter) == ("eth0", 4, True)
        assert status.unknown_vrid == 1 and status.received >= 1

    drive(tmp_path, conf(), body)


def test_masters_on_one_interface_share_one_split_brain_probe_round(tmp_path: Path) -> None:
    # equal priorities: the three become MASTER in the same tick, and probe in the same round
    three = conf() + conf(name="VI_2", vrid=52, vips="192.0.2.98/24")
    three += conf(name="VI_3", vrid=53, vips="192.0.2.97/24")
    fake = FakeOs(prober_answers=frozenset({"02:00:00:00:00:09"}))

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: all(state(d, n) == "MASTER" for n in ("VI_1", "VI_2", "VI_3")))
        await until(lambda: all(d.instances[n].split_brain for n in ("VI_1", "VI_2", "VI_3")), limit=5.0)
        prober = fake.probers[("eth0", 4)]
        assert prober.rounds >= 2 and len(prober.probes) == 3 * prober.rounds  # one round, three VIPs

    drive(tmp_path, three, body, fake)




def test_an_answer_from_another_interface_of_this_host_is_no_split_brain(tmp_path: Path) -> None:
    """A host with two interfaces on one LAN answers ARP for its VIP on both (Linux answers for any
    local address on any interface): measured in a namespace whose veth pair had both ends, the
    other end's MAC was flagged as a second master. Only another host's MAC is one."""
    fake = FakeOs(prober_answers=frozenset({"02:00:00:00:00:09"}))
    fake.netlink.interfaces["eth1"] = True
    fake.vmacs.macs["eth1"] = b"\x02\0\0\0\0\x09"

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        await until(lambda: ("eth0", 4) in fake.probers and fake.probers[("eth0", 4)].rounds >= 3, limit=6.0)
        assert not d.instances["VI_1"].split_brain
        fake.probers[("eth0", 4)].answers = frozenset({"02:00:00:00:00:09", "02:00:00:00:00:0a"})  # and another host
        await until(lambda: bool(d.instances["VI_1"].split_brain), limit=5.0)
        assert d.instances["VI_1"].split_brain == frozenset({"02:00:00:00:00:0a"})

    drive(tmp_path, conf(), body, fake)

Stop = Callable[[Daemon, FakeOs], Awaitable[None]]


def _run_until_stopped(
    tmp_path: Path, text: str, stop: Stop, loop_factory: Callable[[], asyncio.AbstractEventLoop] = new_loop
) -> FakeOs:
    """`Daemon.run()` (its signal handlers included) as MASTER until `stop` has signalled it, in
    the loop `vrrpkit run` makes (io/eventloop.py) unless told otherwise."""
    fake, runner = FakeOs(), FakeRunner()

    async def main() -> None:
        result = load_string(text, filename="keepalived.conf")
        d = Daemon(result, files=[], config_id=None, control_path=str(tmp_path / "c.sock"), ports=fake.ports(),
                   runner=runner)  # fmt: skip
        task = asyncio.create_task(d.run())
        await until(lambda: "VI_1" in d.instances and state(d) == "MASTER" and ("eth0", 4) in fake.sockets)
        await stop(d, fake)
        assert await asyncio.wait_for(task, 10) == 0

    with asyncio.Runner(loop_factory=loop_factory) as running:
        running.run(main())
    return fake


def _record_goodbyes(d: Daemon, fake: FakeOs, into: list[tuple[bool, bool]]) -> None:
    """Each priority-0 advert sent: (from inside the signal handler, the stop already requested)."""
    sock = fake.sockets[("eth0", 4)]
    send = sock.send

    def recording(data: bytes, *args: Any, **kwargs: Any) -> OSError | None:
        if data[2] == 0:
            names = {frame.function for frame in inspect.stack(0)}
            into.append(("_on_stop_signal" in names, d._stop.is_set()))
        return send(data, *args, **kwargs)

    sock.send = recording  # type: ignore[method-assign]


def _stopped_in_order(fake: FakeOs) -> bool:
    kinds = [e[0] for e in fake.netlink.journal if e[0] in ("send", "del")]
    return kinds[-2:] == ["send", "del"]  # the VIP removed after the goodbye


@pytest.mark.parametrize("loop_factory", [new_loop, asyncio.new_event_loop], ids=["daemon-loop", "asyncio-loop"])
def test_a_stop_signal_that_finds_the_loop_waiting_sends_the_goodbyes_from_its_handler(
    tmp_path: Path, loop_factory: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    # asyncio runs a signal's handler one or two loop iterations after the signal; the goodbyes
    # (the backups count Skew_Time from them) go out from the Python-level handler instead. The
    # daemon's own selector waits through the stdlib's: this went unseen while only asyncio's
    # default loop ran here (0.14 ms more from SIGTERM to the goodbye, measured 2026-12-01)
    goodbyes: list[tuple[bool, bool]] = []
    main_thread = threading.get_ident()
    select = selectors.DefaultSelector.select.__code__

    def signal_when_waiting() -> None:  # from another thread, once the loop waits in its selector
        for _ in range(2000):
            frame = sys._current_frames().get(main_thread)
            if frame is not None and frame.f_code is select:
                signal.pthread_kill(main_thread, signal.SIGTERM)
                return
            time.sleep(0.001)

    async def stop(d: Daemon, fake: FakeOs) -> None:
        _record_goodbyes(d, fake, goodbyes)
        thread = threading.Thread(target=signal_when_waiting)
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.01)

    fake = _run_until_stopped(tmp_path, conf(priority=150), stop, loop_factory)
    assert goodbyes == [(True, False)]  # once, from the handler, before the rest of the stop ran
    assert _stopped_in_order(fake)


def test_a_stop_signal_that_interrupts_our_own_code_waits_for_it_to_finish(tmp_path: Path) -> None:
    # in the middle of a callback nothing may be touched: the stop (goodbyes first) is the next callback
    goodbyes: list[tuple[bool, bool]] = []

    async def stop(d: Daemon, fake: FakeOs) -> None:
        _record_goodbyes(d, fake, goodbyes)
        signal.raise_signal(signal.SIGTERM)  # its Python handler runs right here, in this coroutine
        assert goodbyes == [] and not d._stop.is_set()

    fake = _run_until_stopped(tmp_path, conf(priority=150), stop)
    assert goodbyes == [(False, False)]  # once, from request_stop, which sets `_stop` after it
    assert _stopped_in_order(fake)


def test_a_takeover_timer_fires_early_and_the_takeover_waits_awake_for_its_deadline(tmp_path: Path) -> None:
    # a sleeping process wakes ~0.1 ms late; the takeover must still not come before Master_Down
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = await _following_a_master(d, fake)
        router = d.instances["VI_1"].router
        sock.deliver(advert(0), "192.0.2.2")  # goodbye: Master_Down in Skew_Time
        await until(lambda: (router.get_timer() or float("inf")) < d._now() + 0.1)
        down = router.get_timer()
        assert down is not None
        await until(lambda: fake.timers[-1].armed_at == down - TAKEOVER_AHEAD)
        assert d._takeover is d.instances["VI_1"] and d._next_deadline == down
        await until(lambda: state(d) == "MASTER")
        (took,) = [t for t in router.transitions if t[2].value == "MASTER"]
        assert took[0] >= down and d._waited_at >= down  # not early: the wait ran out first
        assert ("eth0", "192.0.2.99/24") in fake.netlink.prepared  # the rehearsal looked the VIP up

    drive(tmp_path, conf(), body)


def test_an_advert_that_moved_the_deadline_cancels_the_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = await _following_a_master(d, fake)
        inst = d.instances["VI_1"]
        d._next_deadline = d._now() + 0.3  # armed for a deadline the master's next advert moves
        sock.deliver(advert(200), "192.0.2.2")
        await until(lambda: (inst.router.get_timer() or 0) > d._next_deadline + 0.01)  # type: ignore[operator]
        looks: list[float] = []

        def looking() -> float:
            looks.append(0.0)
            return time.perf_counter()

        monkeypatch.setattr(time, "monotonic", looking)  # the clock _wait_for_takeover reads
        d._wait_for_takeover(inst)
        monkeypatch.undo()
        assert looks == []  # returned at once, without looking at the clock: no takeover to wait for

    drive(tmp_path, conf(), body)


def test_what_a_takeover_sends_first_is_built_ahead_once_per_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "PREPARE_EVERY", HOUSEKEEPING)  # every housekeeping round here

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await asyncio.sleep(HOUSEKEEPING + 0.2)  # a housekeeping round (the takeovers rehearsed first)
        assert {("eth0", "192.0.2.98/24"), ("eth0", "192.0.2.99/24")} <= set(fake.netlink.prepared)
        count = len(fake.netlink.prepared)
        await asyncio.sleep(2 * HOUSEKEEPING)
        assert len(fake.netlink.prepared) == count  # once per config, not every round
        for inst in d.instances.values():  # no peer: both took over, and their goodbyes are ready
            assert state(d, inst.name) == "MASTER" and set(inst.router._advert_cache) == {inst.router.priority, 0}

    drive(tmp_path, conf() + conf(name="VI_2", vrid=52, vips="192.0.2.98/24"), body)


def _journal_of_handling(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """A journal that gets ("handled",) whenever a router is handed a datagram: give it to the
    fakes too, and it says what the daemon did before the router saw the datagram."""
    from vrrpkit.core.router import VirtualRouter

    journal: list[tuple[object, ...]] = []
    handle = VirtualRouter.datagram_received

    def handled(self: VirtualRouter, *args: Any) -> Any:
        journal.append(("handled",))
        return handle(self, *args)

    monkeypatch.setattr(VirtualRouter, "datagram_received", handled)
    return journal


def test_a_rival_answered_before_is_answered_before_its_advert_is_handled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The rival's next advert is the same bytes (the same objects from the socket): our advert
    leaves before the router handles it (`VirtualRouter.answer_first`), once; the re-GARP, the
    notify and keepalived's log line follow from the handling as before."""
    journal = _journal_of_handling(monkeypatch)

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        sock, router = fake.sockets[("eth0", 4)], d.instances["VI_1"].router
        rival = advert(50, src="192.0.2.7")
        for n in range(3):  # advert_int 0.1: answered each time (at most once per half interval)
            sent = router.stats.advert_sent
            journal.clear()
            sock.journal = journal
            sock.deliver(rival, "192.0.2.7")
            await until(lambda sent=sent: not sock.inbox and router.stats.advert_sent > sent and said(d))
            read = journal.index(("read", 1))  # (a tick due before the read may have sent before it)
            if n:  # the first is judged, then answered; the next ones are answered, then handled
                assert journal[read + 1 : read + 3] == [("send", 51, 100), ("handled",)], journal
            else:
                assert journal[read + 1 : read + 3] == [("handled",), ("send", 51, 100)], journal
            assert journal[read:].count(("send", 51, 100)) == 1  # answered once (the next tick is 0.1 s away)
            await asyncio.sleep(0.06)
        assert router.stats.lower_prio_unanswered == 0 and state(d) == "MASTER"
        assert runner.queued and notifies(runner).count("master VI_1") == 1

    caplog.set_level(logging.INFO, logger="vrrpkit")
    drive(tmp_path, conf(), body)
    line = "(VI_1) Received advert from 192.0.2.7 with lower priority 50, ours 100, forcing new election"
    assert [r.getMessage() for r in caplog.records].count(line) == 3  # keepalived's words, once per answer


def test_the_master_we_followed_answering_our_takeover_removes_the_vip_before_the_batch_is_handled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was alive and only its adverts were lost: its advert is the one we followed (the same
    objects from the socket), it outranks us, so the VIP goes at once (`step_down_first`); the
    handling then steps down as before, without asking the kernel to remove it again."""
    journal = _journal_of_handling(monkeypatch)

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = await _following_a_master(d, fake)
        sock.deliver(advert(200), "192.0.2.2")  # heard again: the very objects, remembered
        await until(lambda: not sock.inbox)
        await until(lambda: state(d) == "MASTER")  # its adverts stop: we take over
        await until(lambda: said(d))
        journal.clear()
        sock.journal = fake.netlink.journal = journal
        sock.deliver(advert(200), "192.0.2.2")  # it answers
        await until(lambda: state(d) == "BACKUP" and said(d))
        read = journal.index(("read", 1))
        gone = ("del", "eth0", "192.0.2.99/24")
        assert journal[read + 1 : read + 3] == [gone, ("handled",)], journal
        assert journal.count(gone) == 1  # not again in the step-down: a round trip and an ioctl for nothing
        assert not fake.netlink.addresses["eth0"]

    drive(tmp_path, conf(), body)


def test_lower_prio_no_advert_logs_keepalived_line_without_the_election(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """keepalived 2.2.7 (vrrp.c): ", forcing new election" only when it answers with an advert."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        fake.sockets[("eth0", 4)].deliver(advert(50, src="192.0.2.7"), "192.0.2.7")
        await until(lambda: d.instances["VI_1"].router.stats.advert_rcvd > 0 and said(d))

    caplog.set_level(logging.INFO, logger="vrrpkit")
    drive(tmp_path, conf(extra="lower_prio_no_advert"), body)
    assert "(VI_1) Received advert from 192.0.2.7 with lower priority 50, ours 100" in [
        r.getMessage() for r in caplog.records
    ]


def test_a_master_with_virtual_routes_steps_down_in_keepalived_order_not_ahead(tmp_path: Path) -> None:
    """Routes (and rules) go before the VIPs when a master leaves: then nothing is removed ahead."""
    from test_daemon_loop import ROUTE

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = await _following_a_master(d, fake)
        sock.deliver(advert(200), "192.0.2.2")
        await until(lambda: not sock.inbox)
        await until(lambda: state(d) == "MASTER" and said(d))
        known = sock._parsed[(advert(200), "192.0.2.2", "224.0.0.18", 255)]  # what the socket hands over
        router = d.instances["VI_1"].router
        assert router.step_down_first(known.payload, known.src, known.dst, known.ttl) is not None  # decided ...
        fake.netlink.calls.clear()
        sock.deliver(advert(200), "192.0.2.2")  # ... but the route must go first
        await until(lambda: state(d) == "BACKUP" and said(d))
        assert [c[0] for c in fake.netlink.calls] == ["del-route", "del"], fake.netlink.calls

    drive(tmp_path, conf(extra=ROUTE), body)
