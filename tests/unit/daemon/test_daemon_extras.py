"""Routes and rules, notify FIFOs, mail and process tracking through the whole daemon, against the recording
fakes (no root): what is installed while MASTER or always, in keepalived's order; what a deletion by
someone else does; the FIFO lines of a start/MASTER/priority change/stop sequence; one mail per
transition; a tracked process that dies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest
from daemon_fakes import FakeOs, FakeRunner, _Fd
from test_daemon_loop import advert, conf, drive, state, until

from vrrpkit.config import load_string
from vrrpkit.daemon import proctrack
from vrrpkit.daemon.app import Daemon
from vrrpkit.daemon.mail import Mailer, compose
from vrrpkit.io.routes import AddressCame, AddressGone, RouteGone
from vrrpkit.io.smtp import Mail, SmtpError

ROUTES = """
    virtual_routes {
        198.51.100.0/26 via 192.0.2.3 dev eth0
        198.51.100.64/26 dev eth0 no_track
    }
    virtual_rules {
        from 198.51.100.0/26 table 100 priority 200
    }
"""
STATIC = """
static_ipaddress {
    198.51.100.1/32 dev eth0
}
static_routes {
    198.51.100.128/26 via 192.0.2.3 dev eth0
}
static_rules {
    to 198.51.100.128/26 table 100 priority 300
}
"""


@contextlib.contextmanager
def customized(change: Callable[[Daemon], None]) -> Iterator[None]:
    """Daemons built inside the block get `change` applied before they start (parts the fakes do not cover)."""
    original = Daemon.__init__

    def init(self: Daemon, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        change(self)

    Daemon.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        Daemon.__init__ = original  # type: ignore[method-assign]


def kinds(fake: FakeOs) -> list[tuple[str, str]]:
    """(operation, what) of every netlink call, in order: VIPs, routes and rules alike."""
    return [(op, what if op.endswith(("route", "rule")) else f"vip {what}") for op, _, what in fake.netlink.calls]


def test_virtual_routes_exactly_while_master_static_always_in_keepalived_order(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert state(d) == "BACKUP"
        assert fake.netlink.routes == {r for r in d.result.static.routes}  # static: at once, BACKUP or not
        assert fake.netlink.rules == set(d.result.static.rules)
        await until(lambda: state(d) == "MASTER")
        extras = d.result.extras_of("VI_1")
        assert fake.netlink.routes == set(d.result.static.routes) | set(extras.virtual_routes)
        assert fake.netlink.rules == set(d.result.static.rules) | set(extras.virtual_rules)
        fake.sockets[("eth0", 4)].deliver(advert(200), "192.0.2.2")  # a better master: back to BACKUP
        await until(lambda: state(d) == "BACKUP")
        assert fake.netlink.routes == set(d.result.static.routes)
        assert fake.netlink.rules == set(d.result.static.rules)

    fake, _ = drive(tmp_path, STATIC + conf(extra=ROUTES), body)
    assert not fake.netlink.routes and not fake.netlink.rules  # nothing left after stop
    calls = kinds(fake)
    became = calls.index(("add-route", "198.51.100.0/26 via 192.0.2.3 dev eth0"))
    assert calls[became - 1] == ("add", "vip 192.0.2.99/24")  # VIPs, then routes, then rules
    assert calls[became + 2] == ("add-rule", "200: from 198.51.100.0/26 lookup 100")
    left = max(i for i, c in enumerate(calls) if c == ("del-rule", "200: from 198.51.100.0/26 lookup 100"))
    assert calls[left + 1][0] == "del-route" and calls[left + 3] == ("del", "vip 192.0.2.99/24")
    assert calls[0] == ("del-rule", "200: from 198.51.100.0/26 lookup 100")  # leftovers of a crash go first


def test_leftover_virtual_routes_of_a_crash_are_removed_before_anything_runs(tmp_path: Path) -> None:
    fake = FakeOs()
    text = conf(extra=ROUTES)
    leftover = load_string(text).extras_of("VI_1")
    fake.netlink.routes.update(leftover.virtual_routes)
    fake.netlink.rules.update(leftover.virtual_rules)

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert state(d) == "BACKUP" and not fake.netlink.routes and not fake.netlink.rules

    drive(tmp_path, text, body, fake)


def test_the_routes_lines_come_in_keepalived_order_and_only_a_real_leftover_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """keepalived 2.2.7, measured with the same file (2026-12-02): 'Entering MASTER STATE', 'setting
    VIPs.', 'setting Virtual Routes'; at a step-down 'Entering BACKUP STATE', 'removing Virtual
    Routes', 'removing VIPs.'. vrrpkit said the routes' lines when it installed them, before the
    takeover's own lines, and 'removing Virtual Rules and Routes left by an earlier run' at every
    start, with nothing left."""
    caplog.set_level(logging.INFO, logger="vrrpkit")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        fake.sockets[("eth0", 4)].deliver(advert(200), "192.0.2.2")
        await until(lambda: state(d) == "BACKUP")

    drive(tmp_path, conf(extra=ROUTES), body)
    lines = [r.getMessage() for r in caplog.records if r.name == "vrrpkit" and r.getMessage().startswith("(VI_1)")]
    assert not [line for line in lines if "leftover" in line or "earlier run" in line]  # nothing was there
    wanted = ["Entering MASTER STATE", "setting VIPs.", "setting Virtual Routes", "setting Virtual Rules",
              "Entering BACKUP STATE", "removing Virtual Rules", "removing Virtual Routes", "removing VIPs."]
    at = lines.index("(VI_1) Receive advertisement timeout")
    for w in wanted:  # each after the one before
        at = next((i for i in range(at + 1, len(lines)) if lines[i].startswith(f"(VI_1) {w}")), -1)
        assert at >= 0, (w, lines)

    caplog.clear()
    fake = FakeOs()
    fake.netlink.routes.update(load_string(conf(extra=ROUTES)).extras_of("VI_1").virtual_routes[:1])

    async def idle(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert state(d) == "BACKUP"

    drive(tmp_path, conf(extra=ROUTES), idle, fake)
    said = [r.getMessage() for r in caplog.records if "leftover" in r.getMessage()]
    assert said == ["(VI_1) removed leftover 198.51.100.0/26 via 192.0.2.3 dev eth0"]


def test_a_tracked_route_deleted_by_someone_makes_the_master_resign_and_come_back(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        router = d.instances["VI_1"].router
        assert fake.route_events is not None
        tracked, untracked = d.result.extras_of("VI_1").virtual_routes
        fake.netlink.routes.discard(untracked)
        fake.route_events.push(RouteGone(untracked.dst, 254, 0, 1, 18, 2, None))  # no_track: nothing happens
        await asyncio.sleep(0.05)
        assert state(d) == "MASTER" and router.stats.become_master == 1
        fake.netlink.routes.discard(tracked)
        calls_before = len(fake.netlink.calls)
        fake.route_events.push(RouteGone(tracked.dst, 254, 0, 1, 18, 2, None))
        await until(lambda: router.stats.become_master == 2)  # resigned, re-elected after Skew_Time
        resigning = [c[0] for c in fake.netlink.calls[calls_before:]]
        assert resigning[:4] == ["del-rule", "del-route", "del-route", "del"]  # the rest goes, as keepalived
        assert tracked in fake.netlink.routes  # and put it back
        assert d.applier.routes.stats.resigned == 1
        assert [t.event for t in d.snapshot().instance("VI_1").transitions][-2:] == [  # type: ignore[union-attr]
            "a tracked virtual route or rule was deleted", "master down timer expired"]

    drive(tmp_path, conf(extra=ROUTES), body)


def test_the_source_address_deleted_faults_a_master_and_its_return_ends_the_fault(tmp_path: Path) -> None:
    """keepalived 2.2.7, measured (the interface's only IPv4 address deleted while MASTER, put back
    2 s later): FAULT with two priority-0 adverts from the deleted address, the VIPs removed; back:
    BACKUP at once. With a second address promoted, the adverts come from it. vrrpkit advertised
    from the deleted address as MASTER in both cases."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert fake.route_events is not None
        sock, eth0 = fake.sockets[("eth0", 4)], fake.netlink.interface_index("eth0")
        assert eth0 is not None
        mine = ip_address("192.0.2.1")
        del fake.netlink.primary[("eth0", 4)]
        fake.route_events.push(AddressGone(eth0, "192.0.2.99", 24))  # our own VIP going: nothing to look up
        fake.route_events.push(AddressGone(eth0, "192.0.2.1", 24))
        await until(lambda: state(d) == "FAULT")
        byes = [(data[2], src) for data, _, src in sock.sent if data[2] == 0]
        assert byes == [(0, mine), (0, mine)]
        assert d.instances["VI_1"].router.fault_reason == "src address not configured"
        fake.netlink.primary[("eth0", 4)] = ip_address("192.0.2.7")
        fake.route_events.push(AddressCame(eth0, "192.0.2.7", 24))
        await until(lambda: state(d) == "MASTER")
        assert sock.sent[-1][2] == ip_address("192.0.2.7")
        fake.netlink.primary[("eth0", 4)] = ip_address("192.0.2.8")  # promoted when .7 went
        fake.route_events.push(AddressGone(eth0, "192.0.2.7", 24))
        await until(lambda: sock.sent[-1][2] == ip_address("192.0.2.8"))
        assert state(d) == "MASTER"

    drive(tmp_path, conf(), body)


def test_a_vip_deleted_behind_a_masters_back_makes_it_resign_and_come_back(tmp_path: Path) -> None:
    """keepalived 2.2.7, measured (`ip addr del` of the VIP while MASTER): 'Entering BACKUP STATE',
    a priority-0 advert, MASTER again after its Skew_Time with the VIP back (0.42 s at priority
    150); a `no_track` VIP stays deleted and nothing moves. vrrpkit stayed MASTER without its VIP."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert fake.route_events is not None
        sock, eth0, vip = fake.sockets[("eth0", 4)], fake.netlink.interface_index("eth0"), ip_address("192.0.2.99")
        assert eth0 is not None
        fake.netlink.addresses["eth0"].discard(vip)
        adds = len([c for c in fake.netlink.calls if c[0] == "add"])
        fake.route_events.push(AddressGone(eth0, "192.0.2.99", 24))
        await until(lambda: state(d) == "BACKUP")
        assert any(data[2] == 0 for data, _, _ in sock.sent)  # the goodbye: the backups may take over
        await until(lambda: state(d) == "MASTER")
        assert vip in fake.netlink.addresses["eth0"] and len([c for c in fake.netlink.calls if c[0] == "add"]) > adds

    drive(tmp_path, conf(priority=150), body)

    async def untracked(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert fake.route_events is not None
        eth0 = fake.netlink.interface_index("eth0")
        assert eth0 is not None
        fake.netlink.addresses["eth0"].discard(ip_address("192.0.2.99"))
        moves = len(d.instances["VI_1"].router.transitions)
        fake.route_events.push(AddressGone(eth0, "192.0.2.99", 24))
        await asyncio.sleep(0.3)
        assert state(d) == "MASTER" and len(d.instances["VI_1"].router.transitions) == moves

    drive(tmp_path, conf(priority=150, vips="192.0.2.99/24 no_track"), untracked)


def test_a_deleted_static_address_is_restored_and_a_refused_route_costs_only_itself(tmp_path: Path) -> None:
    fake = FakeOs()
    fake.netlink.refuse.add("198.51.100.128/26 via 192.0.2.3 dev eth0")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert d.applier.routes.stats.failed == 1 and len(fake.netlink.rules) == 1
        assert fake.route_events is not None
        fake.netlink.addresses["eth0"].clear()
        fake.route_events.push(AddressGone(2, "198.51.100.1", 32))
        await until(lambda: bool(fake.netlink.addresses["eth0"]))
        assert d.snapshot().counters["static_addresses_restored"] == 1
        await until(lambda: state(d) == "MASTER")

    drive(tmp_path, STATIC + conf(), body, fake)


def test_reload_swaps_only_the_routes_that_changed_on_a_master(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        router = d.instances["VI_1"].router
        new = ROUTES.replace("198.51.100.64/26 dev eth0 no_track", "198.51.100.192/26 dev eth0")
        assert d.apply_reload(load_string(conf(extra=new), filename="keepalived.conf"))
        assert d.instances["VI_1"].router is router and state(d) == "MASTER"  # no flap
        assert {str(r.dst) for r in fake.netlink.routes} == {"198.51.100.0/26", "198.51.100.192/26"}

    drive(tmp_path, conf(extra=ROUTES), body)


FIFO_CONF = """
global_defs {{
    vrrp_notify_fifo {fifo}
}}
track_file prio {{
    file {prio}
    weight 1
}}
"""


def test_fifo_lines_in_keepalived_format_and_order(tmp_path: Path) -> None:
    """start, MASTER, a priority change, stop: the same lines keepalived 2.2.7 wrote (measured)."""
    fifo, prio = tmp_path / "ka.fifo", tmp_path / "prio"
    prio.write_text("0\n")
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    text = FIFO_CONF.format(fifo=fifo, prio=prio) + conf(
        priority=150, extra="notify_priority_changes\ntrack_file {\n    prio\n}")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        prio.write_text("-20\n")
        await until(lambda: d.instances["VI_1"].router.priority == 130)

    drive(tmp_path, text, body)
    reader.join(5)
    assert got[0].decode().splitlines() == [
        'INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_1" MASTER 150', 'INSTANCE "VI_1" MASTER_PRIORITY 130',
        'INSTANCE "VI_1" STOP 130']
    assert fifo.exists()  # not created by us: left in place


def test_group_lines_come_first_at_start_and_last_at_stop(tmp_path: Path) -> None:
    fifo = tmp_path / "created-by-vrrpkit.fifo"
    lines: list[str] = []
    text = FIFO_CONF.format(fifo=fifo, prio=tmp_path / "unused") + conf(priority=150) + conf(
        name="VI_2", vrid=52, vips="192.0.2.98/24") + "vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n"

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        await until(lambda: state(d) == "MASTER" and state(d, "VI_2") == "MASTER")
        await asyncio.sleep(0.05)
        lines.extend(os.read(fd, 65536).decode().splitlines())
        os.close(fd)  # the reader goes away: later lines must not block or kill anything

    drive(tmp_path, text, body)
    assert lines[0] == 'GROUP "G1" BACKUP 0' and lines[-1] == 'GROUP "G1" MASTER 0'
    assert sorted(lines[1:3]) == ['INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_2" BACKUP 100']
    assert not fifo.exists()  # we created it: removed at stop


def test_a_path_that_is_a_regular_file_is_never_written(tmp_path: Path) -> None:
    regular = tmp_path / "not-a-fifo"
    regular.write_text("keep me\n")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert d.snapshot().counters["fifos_refused"] == 1

    drive(tmp_path, FIFO_CONF.format(fifo=regular, prio=tmp_path / "x") + conf(), body)
    assert regular.read_text() == "keep me\n"


MAIL_CONF = """
global_defs {
    router_id lab1
    notification_email {
        ops@example.com
    }
    notification_email_from vrrp@example.com
    smtp_server 192.0.2.25
    smtp_connect_timeout 1
}
"""


def test_one_mail_per_transition_with_keepalived_subject(tmp_path: Path) -> None:
    sent: list[Mail] = []

    async def send(host: str, port: int, helo: str, mail: Mail, timeout: float) -> None:
        assert (host, port, timeout) == ("192.0.2.25", 25, 1.0)
        sent.append(mail)

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        await until(lambda: len(sent) == 2)

    with customized(lambda d: setattr(d.applier.mailer, "send", send)):
        drive(tmp_path, MAIL_CONF + conf(extra="smtp_alert"), body)
    subjects = [next(ln for ln in m.data.split("\r\n") if ln.startswith("Subject: ")) for m in sent]
    assert subjects == ["Subject: [lab1] VRRP Instance VI_1 - Entering BACKUP state",
                        "Subject: [lab1] VRRP Instance VI_1 - Entering MASTER state",
                        "Subject: [lab1] VRRP Instance VI_1 - Stopping"]


def test_the_mail_keepalived_sends_byte_for_byte() -> None:
    g = load_string(MAIL_CONF).globals
    from vrrpkit.core.state import State

    mail = compose(g, "group", "G1", State.FAULT, hostname="h", user="root", now=0.0)
    assert mail is not None and mail.sender == "vrrp@example.com" and mail.recipients == ("ops@example.com",)
    head, body = mail.data.split("\r\n\r\n", 1)
    assert head.split("\r\n")[1:] == ["From: vrrp@example.com", "Subject: [lab1] VRRP Group G1 - Entering FAULT state",
                                      "X-Mailer: Keepalived", "To: ops@example.com"]
    assert body == "=> All VRRP group instances are now in FAULT state <=\r\n\r\n"


def test_a_dead_mail_server_is_counted_and_nothing_waits_for_it() -> None:
    async def main() -> Mailer:
        async def refuse(host: str, port: int, helo: str, mail: Mail, timeout: float) -> None:
            raise SmtpError("connect", "connection refused")

        m = Mailer(send=refuse)
        g = load_string(MAIL_CONF + "global_defs {\n  no_email_faults\n}\n").globals
        m.configure(g, {"VI_1": True}, {})
        from vrrpkit.core.state import State

        for s in (State.BACKUP, State.BACKUP, State.FAULT, State.MASTER):
            m.changed("instance", "VI_1", s)
        await m.finish()
        return m

    m = asyncio.run(main())
    assert (m.stats.sent, m.stats.failed) == (0, 2)  # BACKUP once (no repeat), FAULT skipped, MASTER


def test_a_tracked_process_that_dies_lowers_the_priority(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    stat = proc / "4242" / "stat"
    stat.write_text("4242 (haproxy) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0\n")
    text = "vrrp_track_process hp {\n  process haproxy\n  weight -60\n}\n" + conf(
        priority=150, extra="track_process {\n    hp\n}")
    proctrack.SCAN_INTERVAL = 0.05  # restored below; keeps the test short

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert d.instances["VI_1"].router.priority == 150 and d.processes.mode == "scan"
        stat.unlink()
        (proc / "4242").rmdir()
        await until(lambda: d.instances["VI_1"].router.priority == 90)

    def scan_fake_proc(d: Daemon) -> None:
        d.processes.root = str(proc)
        d.processes.events_factory = None

    try:
        with customized(scan_fake_proc):
            drive(tmp_path, text, body)
    finally:
        proctrack.SCAN_INTERVAL = 0.5


class LossyProcEvents(_Fd):
    """Kernel process events: `wake()` is an overrun (ENOBUFS) that the next read finds."""

    def drain(self) -> tuple[list[tuple[int, int, int]], bool]:
        try:
            return [], bool(os.read(self._r, 64))
        except BlockingIOError:
            return [], False


def test_lost_process_events_are_counted_and_rescan_proc(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    (proc / "4242" / "stat").write_text("4242 (haproxy) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0\n")
    text = "vrrp_track_process hp {\n  process haproxy\n  weight -60\n}\n" + conf(
        priority=150, extra="track_process {\n    hp\n}")
    events = LossyProcEvents()

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert d.processes.mode == "events" and d.snapshot().counters["process_event_overruns"] == 0
        scans = d.processes.scans
        events.wake()  # the kernel's queue overran
        await until(lambda: d.processes.overruns == 1)
        assert d.processes.scans == scans + 1  # what was lost is read from /proc instead
        assert d.snapshot().counters["process_event_overruns"] == 1

    def lossy(d: Daemon) -> None:
        d.processes.root = str(proc)
        d.processes.events_factory = lambda: events  # type: ignore[assignment,return-value]

    with customized(lossy):
        drive(tmp_path, text, body)


def test_route_matching_uses_table_and_interface() -> None:
    from vrrpkit.core.routing import Route
    from vrrpkit.daemon.routes import RouteKeeper

    fake = FakeOs()
    keeper = RouteKeeper(fake.netlink)
    route = Route(ip_network("198.51.100.0/26"), dev="eth0", table="vrrp")
    assert keeper._route_is(route, RouteGone(route.dst, 100, 0, 1, 18, 2, None))
    assert not keeper._route_is(route, RouteGone(route.dst, 254, 0, 1, 18, 2, None))
    assert not keeper._route_is(route, RouteGone(route.dst, 100, 0, 1, 18, 9, None))


def test_a_reload_that_swaps_two_masters_names_keeps_what_each_installed() -> None:
    """Renames go all at once: one by one, VI_A -> VI_B overwrote VI_B's routes before VI_B -> VI_A
    could move them, and the route VI_B had installed was never removed."""
    from vrrpkit.core.routing import Route
    from vrrpkit.daemon.routes import RouteKeeper, _Held

    keeper = RouteKeeper(FakeOs().netlink)
    a, b = (_Held((Route(ip_network(f"198.51.100.{n}/32"), dev="eth0"),)) for n in (1, 2))
    keeper.held = {"VI_A": a, "VI_B": b, "VI_C": _Held()}
    keeper.renamed({"VI_A": "VI_B", "VI_B": "VI_A", "VI_C": "VI_C"})
    assert keeper.held == {"VI_B": a, "VI_A": b, "VI_C": _Held()}
    keeper.renamed({"VI_A": "VI_D"})
    assert keeper.held == {"VI_B": a, "VI_D": b, "VI_C": _Held()}


def test_a_fifo_script_reads_the_fifo_it_is_given_and_states_are_rewritten_on_reload(tmp_path: Path) -> None:
    fifo, out = tmp_path / "vk.fifo", tmp_path / "seen"
    reader = tmp_path / "reader.sh"
    reader.write_text(f'#!/bin/sh\nexec cat "$1" > {out}\n')
    reader.chmod(0o755)
    text = (f"global_defs {{\n    vrrp_notify_fifo {fifo}\n    vrrp_notify_fifo_script {reader}\n"
            f"    fifo_write_vrrp_states_on_reload\n}}\n") + conf()

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert d.apply_reload(load_string(text, filename="keepalived.conf"))

    drive(tmp_path, text, body)
    assert out.read_text().splitlines() == [
        'INSTANCE "VI_1" BACKUP 100', 'INSTANCE "VI_1" MASTER 100', 'INSTANCE "VI_1" MASTER 100',
        'INSTANCE "VI_1" STOP 100']
    assert not fifo.exists()


def test_the_quiet_failures_are_metrics_too() -> None:
    from vrrpkit.control.snapshot import Snapshot
    from vrrpkit.daemon.metrics import DaemonCollector

    snap = Snapshot(pid=1, hostname="h", uptime=1.0, reloads=0, unknown_vrid_packets=0,
                    counters={"mails_failed": 2, "fifo_lines_dropped": 7})
    families = {f.name: f for f in DaemonCollector(lambda: snap).collect()}
    events = families["vrrpkit_daemon_events"].samples
    samples = {s.labels["kind"]: s.value for s in events if s.name.endswith("_total")}
    assert samples == {"mails_failed": 2, "fifo_lines_dropped": 7}


def test_an_interface_coming_up_gets_its_static_addresses_and_routes_back() -> None:
    """keepalived's interface_up, measured: 'Restoring deleted static route ... dev dum1' when dum1
    comes back (the kernel dropped the route with the link); never a no_track one, nor a rule."""
    from ipaddress import ip_interface

    from vrrpkit.config.model import StaticConfig
    from vrrpkit.core.config import Vip
    from vrrpkit.core.routing import Route
    from vrrpkit.daemon.routes import RouteKeeper

    fake = FakeOs()
    tracked = Route(ip_network("203.0.113.0/24"), dev="dum1")
    untracked = Route(ip_network("203.0.114.0/24"), dev="dum1", track=False)
    other = Route(ip_network("203.0.115.0/24"), dev="eth0")
    addr = Vip(ip_interface("198.51.100.1/24"), dev="dum1")
    keeper = RouteKeeper(fake.netlink)
    keeper.configure(StaticConfig(addresses=(addr,), routes=(tracked, untracked, other)), {})
    keeper.interface_up("dum1")
    assert fake.netlink.routes == set()  # not started yet: nothing to put back
    keeper.start_static()
    fake.netlink.routes.clear()
    fake.netlink.calls.clear()
    keeper.interface_up("dum1")
    assert fake.netlink.routes == {tracked} and ("add", "dum1", "198.51.100.1/24") in fake.netlink.calls
    assert keeper.stats.restored == 2


def test_a_track_file_is_read_when_written_not_only_when_polled(tmp_path: Path, monkeypatch: Any) -> None:
    """keepalived reads a track file when inotify says it was written (1 ms, measured); with the
    poll an hour away, only the directory's event can bring the new value."""
    from vrrpkit.daemon import tracking

    monkeypatch.setattr(tracking, "FILE_POLL", 3600.0)
    prio = tmp_path / "prio"
    prio.write_text("0\n")
    tracked = conf(priority=150, extra="track_file {\n    prio\n}")
    text = f"track_file prio {{\n    file {prio}\n    weight 1\n}}\n" + tracked

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        staged = tmp_path / "staged"
        staged.write_text("-20\n")
        os.rename(staged, prio)  # the atomic way to write it
        await until(lambda: d.instances["VI_1"].router.priority == 130)
        prio.write_text("5\n")
        await until(lambda: d.instances["VI_1"].router.priority == 155)

    drive(tmp_path, text, body)
