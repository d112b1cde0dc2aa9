"""The loop's order of work under load, with recording fakes: due timers before more reads, bounded
batches, no Master_Down while the master's advert waits in the queue, priority-0 adverts before any
other shutdown work, kernel filters kept in step with the instances, drops counted per socket.

The loop is blocked on purpose (time.sleep inside a coroutine) to make a timer due while datagrams
are queued; nothing here asserts how long anything took."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from daemon_fakes import FakeOs, FakeRunner
from test_daemon_loop import advert, conf, drive, state, until

from vrrpkit.config import load_string
from vrrpkit.daemon.app import Daemon
from vrrpkit.daemon.cycle import BATCH
from vrrpkit.io.vrrp_filter import Mode, VridRule


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
        assert sock.reads[-4:] == [BATCH, BATCH, BATCH, 5]  # one bounded batch per wake-up
        # and the flood is answered once, not 197 times (once per advert interval)
        answers = [e for e in journal if e[0] == "send"]
        assert len(answers) <= 2, answers

    drive(tmp_path, conf(priority=150), body)


def test_master_down_waits_for_the_advert_already_in_the_queue(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = fake.sockets[("eth0", 4)]
        sock.deliver(advert(200), "192.0.2.2")
        await until(lambda: d.snapshot().instance("VI_1").master == "192.0.2.2")  # type: ignore[union-attr]
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


def test_priority_zero_adverts_leave_before_any_vip_is_removed(tmp_path: Path) -> None:
    three = conf(priority=150) + conf(name="VI_2", vrid=52, vips="192.0.2.98/24")
    three += conf(name="VI_3", vrid=53, vips="192.0.2.97/24")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: all(state(d, n) == "MASTER" for n in ("VI_1", "VI_2", "VI_3")))
        fake.netlink.journal.clear()
        d.request_stop()  # what SIGTERM calls: the goodbyes happen here, before shutdown() runs
        kinds = [(e[0], e[2] if e[0] == "send" else None) for e in fake.netlink.journal]
        assert kinds[:3] == [("send", 0)] * 3
        assert [k for k, _ in kinds[3:]] == ["del"] * 3

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
