"""Lazy reading, with recording fakes: while every instance on a socket is BACKUP the loop reads it
on a schedule and wakes at once only for a goodbye (priority 0, io/wake.py); each advert counts
from when it arrived; the moment an instance there is anything else the socket is read eagerly.

The schedule is pushed far out (`LAZY_MIN`) so that whatever is read here was read because the
goodbye socket or a deadline asked for it."""

from __future__ import annotations

import asyncio
from ipaddress import ip_address
from pathlib import Path

import pytest
from daemon_fakes import FakeOs, FakeRunner, FakeSocket
from test_daemon_loop import GROUP, advert, conf, drive, state, until

from vrrpkit.core.packet import Advertisement, encode
from vrrpkit.core.router import VirtualRouter
from vrrpkit.daemon import app, cycle
from vrrpkit.daemon.app import Daemon
from vrrpkit.daemon.cycle import BATCH
from vrrpkit.daemon.instance import Instance
from vrrpkit.io.stamped import Known

KEY = ("eth0", 4)


@pytest.fixture(autouse=True)
def _quick_housekeeping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "HOUSEKEEPING", 0.02)  # the round that turns sockets lazy
    monkeypatch.setattr(cycle, "LAZY_MIN", 30.0)  # ... and no scheduled read within a test
    monkeypatch.setattr(cycle, "LAZY_MAX", 30.0)


def advert1(priority: int) -> bytes:
    """The master's advert at `slow()`'s interval, 1 s (so Skew_Time is 0.61 s, not 61 ms)."""
    return encode(Advertisement(3, 51, priority, (ip_address("192.0.2.99"),), 1.0), ip_address("192.0.2.2"), GROUP)


def slow(priority: int = 100) -> str:
    """An instance with 1 s adverts: Master_Down is over 3 s away after each master advert."""
    return conf(priority=priority).replace("advert_int 0.1", "advert_int 1")


async def lazy_backup(d: Daemon, fake: FakeOs) -> tuple[FakeSocket, VirtualRouter]:
    """VI_1 hears its master once, and its socket goes lazy: the socket and the router."""
    sock = fake.sockets[KEY]
    router = d.instances["VI_1"].router
    sock.deliver(advert1(200), "192.0.2.2")
    await until(lambda: router.master_address is not None)
    await until(lambda: KEY in d.socketset.lazy)
    return sock, router


def test_a_goodbye_wakes_a_lazy_socket_and_adverts_count_from_their_arrival(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        loop = asyncio.get_running_loop()
        sock, router = await lazy_backup(d, fake)
        assert sock.stamped and sock.wake_fd is not None
        # an advert arrives and nothing reads it: no goodbye, no deadline, the schedule is far away
        sock.deliver(advert1(200), "192.0.2.2")
        await asyncio.sleep(0.1)
        assert router.stats.advert_rcvd == 1 and len(sock.inbox) == 1
        # the goodbye wakes the loop: the whole queue is read, in order, each from its arrival
        bye = loop.time() - 0.05  # stamped a little before it is delivered
        sock.deliver(advert1(0), "192.0.2.2", at=bye)
        await until(lambda: router.stats.pri_zero_rcvd == 1, limit=0.5)  # Skew_Time is 0.61 s
        assert router.stats.advert_rcvd == 3 and not sock.inbox and state(d) == "BACKUP"
        assert router.get_timer() == pytest.approx(bye + router.skew_time, abs=1e-6)
        await until(lambda: state(d) == "MASTER")
        # MASTER: read as adverts arrive again, the goodbye socket closed, no stamps
        assert KEY not in d.socketset.lazy and sock.wake_fd is None and not sock.stamped

    drive(tmp_path, slow(), body, fake=FakeOs(wakeable=True))


def test_a_queued_advert_counts_from_its_arrival_when_a_deadline_reads_it(tmp_path: Path) -> None:
    """Master_Down comes before the scheduled read: the queue is read first, the master's last
    advert (stamped when it came) moves the deadline, and the instance stays BACKUP."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        loop = asyncio.get_running_loop()
        sock, router = await lazy_backup(d, fake)
        down = router.get_timer()
        assert down is not None
        at = down - 0.1  # the master's next advert, queued 0.1 s before Master_Down
        sock.deliver(advert1(200), "192.0.2.2", at=at)  # not read: lazy, and no goodbye
        await asyncio.sleep(max(0.0, down - loop.time()) + 0.05)
        assert state(d) == "BACKUP" and router.stats.advert_rcvd == 2
        assert router.get_timer() == pytest.approx(at + router.master_down_interval - router.claim_lead, abs=1e-6)

    drive(tmp_path, slow(), body, fake=FakeOs(wakeable=True))  # Master_Down 3.61 s: no race with it


def test_a_socket_without_a_goodbye_socket_is_read_eagerly(tmp_path: Path) -> None:
    """IPv6 sockets (and any that cannot make one) keep reading every advert as it arrives."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = fake.sockets[KEY]
        router = d.instances["VI_1"].router
        sock.deliver(advert1(200), "192.0.2.2")
        await until(lambda: router.master_address is not None)
        await asyncio.sleep(0.1)  # several housekeeping rounds
        assert not d.socketset.lazy and not sock.stamped
        sock.deliver(advert1(200), "192.0.2.2")
        await until(lambda: router.stats.advert_rcvd == 2, limit=1.0)

    drive(tmp_path, slow(), body)


def test_a_flood_found_by_a_lazy_read_makes_the_socket_eager_for_a_while(tmp_path: Path) -> None:
    """More datagrams between two reads than the instances send is not a master advertising: a
    queue nobody reads would overflow and lose the master's adverts in it."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock, router = await lazy_backup(d, fake)
        for _ in range(3 * BATCH):
            sock.deliver(advert(1, vrid=77, src="192.0.2.9"), "192.0.2.9")  # another VRID, queued
        sock.deliver(advert(0, vrid=77, src="192.0.2.9"), "192.0.2.9")  # a goodbye wakes the read
        await until(lambda: KEY not in d.socketset.lazy)
        assert not sock.inbox and state(d) == "BACKUP" and router.stats.pri_zero_rcvd == 0
        await asyncio.sleep(0.1)  # housekeeping rounds: it stays eager (LAZY_BACKOFF)
        assert KEY not in d.socketset.lazy and sock.wake_fd is None

    drive(tmp_path, slow(), body, fake=FakeOs(wakeable=True))


def test_a_receive_buffer_sized_small_keeps_the_socket_eager(tmp_path: Path) -> None:
    """kernel_rx_buf_size below what a lazy read needs (2 KB per instance): read as it comes."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = fake.sockets[KEY]
        sock.deliver(advert1(200), "192.0.2.2")
        await until(lambda: d.instances["VI_1"].router.master_address is not None)
        await asyncio.sleep(0.1)
        assert sock.rcvbuf == 1024 and not d.socketset.lazy

    drive(tmp_path, slow().replace("advert_int 1", "advert_int 1\n    kernel_rx_buf_size 1024"), body,
          fake=FakeOs(wakeable=True))  # fmt: skip


def test_a_lazy_read_of_known_adverts_only_moves_master_down(tmp_path: Path) -> None:
    """After one ordinary read, the master's advert is known by its bytes: a batch of nothing but
    it is counted and moves Master_Down to the last copy's arrival without being parsed. Anything
    else in a batch (a changed advert), or a router that changed since (its address), and the
    batch is read the ordinary way, in order."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        loop = asyncio.get_running_loop()
        sock, router = await lazy_backup(d, fake)
        now = loop.time() - 0.2  # every arrival below is in the past when it is read
        for i in range(2):
            sock.deliver(advert1(200), "192.0.2.2", at=now - 0.02 + 0.01 * i)
        d._read_lazy()  # the first lazy read: nothing known yet
        assert sock.journal[-1] == ("read", 2) and router.stats.advert_rcvd == 3
        at = [now + 0.01 * i for i in range(3)]
        for when in at:
            sock.deliver(advert1(200), "192.0.2.2", at=when)
        d._read_lazy()
        assert sock.journal[-1] == ("known", 3) and router.stats.advert_rcvd == 6
        assert router.get_timer() == pytest.approx(at[-1] + router.master_down_interval - router.claim_lead, abs=1e-9)
        assert d._deadline_of["VI_1"] == router.get_timer()
        # a changed advert among repeats: the whole batch in order (the last one counts)
        sock.deliver(advert1(200), "192.0.2.2", at=now + 0.03)
        sock.deliver(advert1(150), "192.0.2.2", at=now + 0.04)
        d._read_lazy()
        assert sock.journal[-1] == ("read", 2) and router.master_priority == 150
        sock.deliver(advert1(150), "192.0.2.2", at=now + 0.05)
        d._read_lazy()
        assert sock.journal[-1] == ("known", 1) and router.stats.advert_rcvd == 9
        # the router changed since the table was made: not matched, read the ordinary way
        router.address_changed(ip_address("192.0.2.7"), loop.time())
        assert router.repeat is None
        sock.deliver(advert1(150), "192.0.2.2", at=now + 0.06)
        d._read_lazy()
        assert sock.journal[-1] == ("read", 1) and router.stats.advert_rcvd == 10
        assert state(d) == "BACKUP" and router.repeat is not None
        # an entry for an instance a reload replaced (same name, not the running one) is not vouched for
        running = d.instances["VI_1"]
        assert d._still_repeats([Known(running, 255, router.repeat)])
        assert not d._still_repeats([Known(Instance(running.cfg, router), 255, router.repeat)])

    drive(tmp_path, slow(), body, fake=FakeOs(wakeable=True))


def test_adverts_read_two_intervals_late_count_from_their_arrival(tmp_path: Path) -> None:
    """At 1 s adverts the socket is read every 2 s: an advert read 1.9 s after it came still counts
    from then, parsed or known (a master dead since must be taken over on time, not a read late)."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        loop = asyncio.get_running_loop()
        sock, router = await lazy_backup(d, fake)
        for kind in ("read", "known"):
            at = loop.time() - 1.9
            sock.deliver(advert1(200), "192.0.2.2", at=at)
            d._read_lazy()
            assert sock.journal[-1] == (kind, 1)
            assert router.get_timer() == pytest.approx(at + router.master_down_interval - router.claim_lead, abs=1e-9)

    drive(tmp_path, slow(), body, fake=FakeOs(wakeable=True))


def test_a_takeover_reads_eagerly_before_its_first_advert(tmp_path: Path) -> None:
    """The takeover's rehearsal, a millisecond ahead, turns the socket eager: the old master's
    answer to the new master's first advert wakes the loop at once, and the switch's system calls
    are not between the VIP and that answer."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock, _ = await lazy_backup(d, fake)
        sock.deliver(advert1(0), "192.0.2.2")  # the master leaves: Skew_Time, then the takeover
        await until(lambda: state(d) == "MASTER", limit=2.0)
        journal = fake.netlink.journal
        eager = journal.index(("eager", "eth0"))
        first = journal.index(("send", 51, 100))
        assert eager < first < journal.index(("add", "eth0", "192.0.2.99/24"))
        assert KEY not in d.socketset.lazy and sock.wake_fd is None and not sock.stamped

    drive(tmp_path, slow(), body, fake=FakeOs(wakeable=True))


def test_a_reload_and_a_tracker_read_the_queue_first(tmp_path: Path) -> None:
    """What came before a reload or a tracker's change counts under the config and priority it came
    under: a queued master advert judged afterwards, under a priority now above the master's, was
    discarded, and the takeover came an interval early (measured in a lab: 2.41 s after the
    change instead of 3.41; keepalived reads its socket as adverts come)."""
    from vrrpkit.config import load_string

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock, router = await lazy_backup(d, fake)
        sock.deliver(advert1(200), "192.0.2.2")
        await asyncio.sleep(0.05)
        assert router.stats.advert_rcvd == 1 and len(sock.inbox) == 1  # queued, unread
        assert d.apply_reload(load_string(slow(priority=120), filename="keepalived.conf"))
        assert router.stats.advert_rcvd == 2 and not sock.inbox
        await until(lambda: KEY in d.socketset.lazy)
        sock.deliver(advert1(200), "192.0.2.2")
        await asyncio.sleep(0.05)
        assert router.stats.advert_rcvd == 2 and len(sock.inbox) == 1
        d._tracker_changed("nothing-tracks-this", True)
        assert router.stats.advert_rcvd == 3 and not sock.inbox

    drive(tmp_path, slow(), body, fake=FakeOs(wakeable=True))
