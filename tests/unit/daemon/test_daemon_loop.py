"""The whole daemon on one asyncio loop, with recording fakes instead of the kernel: start, adverts
in and out, failover, link events, reloads (which instances restart, which keep state), sync-group
notify order and shutdown. No root, no namespaces; real time is short (VRRPv3 at 0.1 s)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from ipaddress import ip_address
from pathlib import Path

import pytest
from daemon_fakes import FakeOs, FakeRunner

from vrrpkit.config import load_string
from vrrpkit.control.snapshot import Snapshot
from vrrpkit.core.config import Vip
from vrrpkit.core.packet import Advertisement, encode
from vrrpkit.daemon.app import Daemon

GROUP = ip_address("224.0.0.18")


def conf(priority: int = 100, vips: str = "192.0.2.99/24", extra: str = "", name: str = "VI_1", vrid: int = 51) -> str:
    return f"""
vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    priority {priority}
    advert_int 0.1
    notify_master "/bin/echo master {name}"
    notify_backup "/bin/echo backup {name}"
    notify_stop "/bin/echo stop {name}"
    virtual_ipaddress {{
        {vips}
    }}
    {extra}
}}
global_defs {{
    vrrp_version 3
    vrrp_garp_master_delay 0
}}
"""


Body = Callable[[Daemon, FakeOs, FakeRunner], Awaitable[None]]


def drive(tmp_path: Path, text: str, body: Body, fake: FakeOs | None = None) -> tuple[FakeOs, FakeRunner]:
    fake = fake or FakeOs()
    runner = FakeRunner()

    async def main() -> None:
        result = load_string(text, filename="keepalived.conf")
        assert result.ok, result.diagnostics
        daemon = Daemon(
            result, files=[], config_id=None, control_path=str(tmp_path / "ctl.sock"), ports=fake.ports(), runner=runner
        )
        await daemon.start()
        try:
            await body(daemon, fake, runner)
        finally:
            await daemon.shutdown()

    asyncio.run(main())
    return fake, runner


def advert(priority: int, vrid: int = 51, src: str = "192.0.2.2", vip: str = "192.0.2.99") -> bytes:
    return encode(Advertisement(3, vrid, priority, (ip_address(vip),), 0.1), ip_address(src), GROUP)


def state(daemon: Daemon, name: str = "VI_1") -> str:
    return daemon.instances[name].router.state.value


async def until(check: Callable[[], bool], limit: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not check():
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.01)


def said(d: Daemon) -> bool:
    """Whether what was to be said of the last changes (notify scripts too) has been: after a
    takeover the loop says it a turn at a time, behind input (daemon/sayings.py)."""
    return d.sayings.waiting == 0


def notifies(runner: FakeRunner) -> list[str]:
    return [" ".join(argv[1:]) for _, argv in runner.queued]


def test_backup_becomes_master_after_master_down_and_adds_its_vip(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert state(d) == "BACKUP"
        await until(lambda: state(d) == "MASTER")
        assert ("add", "eth0", "192.0.2.99/24") in fake.netlink.calls
        assert fake.sockets[("eth0", 4)].sent, "a new master advertises at once"

    fake, runner = drive(tmp_path, conf(), body)
    assert ("del", "eth0", "192.0.2.99/24") in fake.netlink.calls  # a clean stop leaves no VIP
    assert notifies(runner) == ["backup VI_1", "master VI_1", "stop VI_1"]


def test_a_takeover_reads_the_old_masters_answer_before_saying_anything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The master was alive and only its adverts were lost: its answer to our first advert comes
    while the takeover is still to be said. It is read, and the VIP given back, before any line of
    the takeover; the lines then come in keepalived's order (daemon/sayings.py)."""
    fake = FakeOs()
    journal = fake.netlink.journal
    add = fake.netlink.add_vip

    def add_and_answer(ifname: str, vip: Vip) -> bool:
        done = add(ifname, vip)
        fake.sockets[("eth0", 4)].deliver(advert(200), "192.0.2.2")  # queued as the VIP lands
        return done

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            journal.append(("log", record.getMessage()))

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: any(e[0] == "del" for e in journal))
        await until(lambda: said(d))
        assert state(d) == "BACKUP"

    fake.netlink.add_vip = add_and_answer  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, logger="vrrpkit")
    lines = Lines()
    logging.getLogger("vrrpkit").addHandler(lines)
    try:
        _, runner = drive(tmp_path, conf(), body, fake)
    finally:
        logging.getLogger("vrrpkit").removeHandler(lines)
    start = journal.index(("add", "eth0", "192.0.2.99/24"))
    assert journal[start - 1] == ("send", 51, 100)  # the new master's advert first, then its VIP
    events = [e for e in journal[start:] if e[0] != "log" or str(e[1]).startswith("(VI_1)")][:10]
    assert events == [
        ("add", "eth0", "192.0.2.99/24"),
        ("read", 1),
        ("del", "eth0", "192.0.2.99/24"),
        ("log", "(VI_1) Receive advertisement timeout"),
        ("log", "(VI_1) Entering MASTER STATE"),
        ("log", "(VI_1) setting VIPs. (192.0.2.99/24)"),
        ("log", "(VI_1) Sending/queueing gratuitous ARPs on eth0 for 192.0.2.99"),
        ("log", "(VI_1) Master received advert from 192.0.2.2 with higher priority 200, ours 100"),
        ("log", "(VI_1) Entering BACKUP STATE"),
        ("log", "(VI_1) removing VIPs. (192.0.2.99/24)"),
    ]
    assert notifies(runner)[:3] == ["backup VI_1", "master VI_1", "backup VI_1"]


def test_a_higher_priority_master_keeps_us_backup(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = fake.sockets[("eth0", 4)]
        for _ in range(8):
            sock.deliver(advert(200), "192.0.2.2")
            await asyncio.sleep(0.1)
        assert state(d) == "BACKUP"
        assert d.snapshot().instance("VI_1").master == "192.0.2.2"  # type: ignore[union-attr]

    fake, _ = drive(tmp_path, conf(), body)
    assert not any(call[0] == "add" for call in fake.netlink.calls)


def test_an_advert_that_ends_mastership_ends_the_split_brain_with_it(tmp_path: Path) -> None:
    """The split brain of issue 12: a master that saw another owner goes BACKUP on a higher-priority
    advert (FRR or keepalived took over); its status must not keep saying SPLIT BRAIN."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        inst = d.instances["VI_1"]
        inst.split_brain = inst.suspects = frozenset({"02:00:00:00:00:02"})  # what two probes found
        fake.sockets[("eth0", 4)].deliver(advert(200), "192.0.2.2")
        await until(lambda: state(d) == "BACKUP")
        snap = d.snapshot().instance("VI_1")
        assert snap is not None and snap.state == "BACKUP" and snap.split_brain == []

    drive(tmp_path, conf(), body)


def test_link_down_is_fault_and_link_up_recovers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vrrpkit")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert fake.links is not None
        fake.links.push("eth0", False)
        await until(lambda: state(d) == "FAULT")
        assert fake.netlink.calls[-1] == ("del", "eth0", "192.0.2.99/24")
        fake.links.push("eth0", True)
        await until(lambda: state(d) in ("BACKUP", "MASTER"))

    drive(tmp_path, conf(), body)
    # keepalived's lines (measured), the interface's before the instance's
    lines = [r.getMessage() for r in caplog.records if r.name == "vrrpkit"]
    down, up = lines.index("Netlink reports eth0 down"), lines.index("Netlink reports eth0 up")
    assert down < lines.index("(VI_1) Entering FAULT STATE") < up


def test_an_interface_made_anew_gets_new_sockets_and_arp_senders(tmp_path: Path) -> None:
    """keepalived 2.2.7, measured (the instance's interface deleted while MASTER, made again 3 s
    later): FAULT, then BACKUP and MASTER again, advertising on the new interface. vrrpkit's
    socket stayed bound to the old index: MASTER with the VIP, every advert failing with ENODEV."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert fake.links is not None
        old = fake.sockets[("eth0", 4)]
        del fake.netlink.interfaces["eth0"]  # deleted
        fake.links.push("eth0", False)
        await until(lambda: state(d) == "FAULT")
        assert old.closed  # bound to an index that is gone
        fake.netlink.interfaces["eth0"] = True  # made again: another index
        fake.netlink.remakes["eth0"] = 1
        fake.links.push("eth0", True)
        await until(lambda: fake.sockets[("eth0", 4)] is not old)
        new = fake.sockets[("eth0", 4)]
        assert new.ifindex == fake.netlink.interface_index("eth0") != old.ifindex
        await until(lambda: state(d) == "MASTER" and bool(new.sent))  # adverts on the new socket

    drive(tmp_path, conf(), body)


def test_an_interface_remade_between_two_looks_is_noticed_by_its_index(tmp_path: Path) -> None:
    """Deleted and made again before the daemon read the events (or inside an up/down delay): only
    the index tells; the socket on the old one is replaced at once."""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert fake.links is not None
        old = fake.sockets[("eth0", 4)]
        fake.netlink.remakes["eth0"] = 1
        fake.links.push("eth0", False)
        fake.links.push("eth0", True)
        await until(lambda: fake.sockets[("eth0", 4)] is not old)
        assert old.closed and fake.sockets[("eth0", 4)].ifindex == fake.netlink.interface_index("eth0")

    drive(tmp_path, conf(), body)


def test_a_vips_interface_made_anew_gets_a_new_arp_sender_and_others_cost_no_lookup(tmp_path: Path) -> None:
    """The ARP/NA sender of a VIP's `dev` is bound to that interface's index: made anew, the old
    sender sends nowhere, so it is replaced (measured in the lab: no GARP reached the new link).
    A link event for an interface nothing is bound to asks the kernel for no index."""
    fake = FakeOs()
    fake.netlink.interfaces["eth1"] = True

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and "eth1" in fake.announcers)
        assert fake.links is not None
        old = fake.announcers["eth1"]
        asked: list[str] = []
        lookup = fake.netlink.interface_index

        def counted(ifname: str) -> int | None:
            asked.append(ifname)
            return lookup(ifname)

        fake.netlink.interface_index = counted  # type: ignore[method-assign]
        fake.links.push("eth7", True)  # nothing of ours on it
        fake.links.push("eth1", True)  # the same index: the sender stays
        await until(lambda: asked == ["eth1"])
        assert not old.closed
        fake.netlink.remakes["eth1"] = 1
        fake.links.push("eth1", False)
        fake.links.push("eth1", True)
        await until(lambda: old.closed)
        await until(lambda: state(d) == "MASTER" and fake.announcers["eth1"] is not old)
        await until(lambda: bool(fake.announcers["eth1"].announced))  # the takeover's GARPs on the new one

    drive(tmp_path, conf(vips="192.0.2.99/24\n        192.0.2.98/32 dev eth1"), body, fake)


def test_a_track_file_says_when_it_faults_an_instance_and_when_it_stops(tmp_path: Path) -> None:
    """keepalived 2.2.7 (measured): '(VI_1): tracked file tf now FAULT state', then 'leaving'."""
    from vrrpkit.core.config import InstanceConfig, Track, TrackKind
    from vrrpkit.daemon.tracking import file_fault_lines

    cfg = InstanceConfig(name="VI_1", interface="eth0", vrid=51, vips=(),
                         tracks=(Track("tf", TrackKind.FILE, 0), Track("w", TrackKind.FILE, -100)))  # fmt: skip
    assert file_fault_lines(cfg, {"tf": 0}, "tf", 1) == ["(VI_1): tracked file tf now FAULT state"]
    assert file_fault_lines(cfg, {"tf": 1}, "tf", 7) == []  # still at fault
    assert file_fault_lines(cfg, {"tf": 7}, "tf", 0) == ["(VI_1): tracked file tf leaving FAULT state"]
    assert file_fault_lines(cfg, {"w": 0}, "w", 3) == ["(VI_1): tracked file w now FAULT state"]  # -300: -254
    assert file_fault_lines(cfg, {"w": 0}, "w", 2) == []  # -200: a weight, no fault


def test_a_leftover_vip_from_a_crash_is_removed_at_start(tmp_path: Path) -> None:
    fake = FakeOs()
    fake.netlink.addresses["eth0"] = {ip_address("192.0.2.99")}

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert fake.netlink.calls[0] == ("del", "eth0", "192.0.2.99/24")

    drive(tmp_path, conf(), body, fake)


def test_reload_keeps_unchanged_instances_and_changes_the_others_in_place(tmp_path: Path) -> None:
    two = conf(priority=150) + conf(name="VI_2", vrid=52, vips="192.0.2.98/24")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and state(d, "VI_2") == "MASTER" and said(d))
        first, second = d.instances["VI_1"].router, d.instances["VI_2"].router
        runner.queued.clear()
        fake.netlink.calls.clear()
        sock = fake.sockets[("eth0", 4)]
        sent_before = len(sock.sent)
        changed = conf(priority=120) + conf(name="VI_2", vrid=52, vips="192.0.2.98/24\n192.0.2.97/24")
        assert d.apply_reload(load_string(changed, filename="keepalived.conf"))
        assert d.instances["VI_1"].router is first and d.instances["VI_2"].router is second
        assert state(d) == "MASTER" and state(d, "VI_2") == "MASTER"
        assert first.priority == 120 and runner.queued == []  # no state change, no notify script
        assert fake.netlink.calls == [("add", "eth0", "192.0.2.97/24")]  # the new VIP only, nothing removed
        assert fake.announcers["eth0"].announced[-1] == (("192.0.2.97",), 5)
        fresh = [data for data, _, _ in sock.sent[sent_before:]]
        assert (51, 120) in {(data[1], data[2]) for data in fresh}  # VI_1 advertised its new priority at once
        assert all(data[2] != 0 for data in fresh)  # and nobody said goodbye
        assert d.reloads == 1

    drive(tmp_path, two, body)


def test_reload_restarts_an_instance_whose_identity_changed(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and said(d))
        router = d.instances["VI_1"].router
        runner.queued.clear()
        assert d.apply_reload(load_string(conf(vrid=52), filename="keepalived.conf"))
        assert d.instances["VI_1"].router is not router and state(d) == "BACKUP"
        assert notifies(runner) == ["stop VI_1", "backup VI_1"]

    drive(tmp_path, conf(), body)


def test_reload_renames_in_place_and_moves_a_vip_between_instances_without_a_gap(tmp_path: Path) -> None:
    two = conf(priority=150, vips="192.0.2.99/24\n192.0.2.97/24") + conf(name="VI_2", vrid=52, vips="192.0.2.98/24")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and state(d, "VI_2") == "MASTER")
        router = d.instances["VI_1"].router
        fake.netlink.calls.clear()
        # VI_1 is renamed; 192.0.2.97 moves from it to VI_2 (listed first in the file)
        moved = conf(name="VI_2", vrid=52, vips="192.0.2.98/24\n192.0.2.97/24") + conf(name="VI_one", priority=150)
        assert d.apply_reload(load_string(moved, filename="keepalived.conf"))
        assert d.instances["VI_one"].router is router and state(d, "VI_one") == "MASTER"
        assert "VI_1" not in d.instances and d.snapshot().instance("VI_one") is not None
        assert fake.netlink.calls == [("del", "eth0", "192.0.2.97/24"), ("add", "eth0", "192.0.2.97/24")]
        assert fake.netlink.has_address("eth0", ip_address("192.0.2.97"))

    drive(tmp_path, two, body)


def test_reload_adding_a_tracked_interface_that_is_down_faults_the_master(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """And says so in keepalived's order (2.2.7, measured): the state line, then the VIPs' removal
    (a reload's removals are made first, and were said first)."""
    fake = FakeOs()
    fake.netlink.interfaces["eth1"] = False

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        sock = fake.sockets[("eth0", 4)]
        sent_before = len(sock.sent)
        assert d.apply_reload(load_string(conf(extra="track_interface {\n eth1\n}"), filename="keepalived.conf"))
        assert state(d) == "FAULT"
        # two goodbyes, as for any fault of its own (a backup takes over after Skew_Time); keepalived
        # sends none here (divergence reload-tracked-interface-down)
        assert [data[2] for data, _, _ in sock.sent[sent_before:]] == [0, 0]
        assert fake.netlink.calls[-1] == ("del", "eth0", "192.0.2.99/24")
        await until(lambda: "removing VIPs" in caplog.text)
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("(VI_1) ")]
        fault = lines.index("(VI_1) Entering FAULT STATE")
        assert next(i for i, line in enumerate(lines) if "removing VIPs" in line) > fault, lines

    caplog.set_level(logging.INFO, logger="vrrpkit")
    drive(tmp_path, conf(), body, fake)


def test_a_reload_that_ends_a_fault_says_init_as_keepalived_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """keepalived 2.2.7 (measured) starts an instance a reload takes out of FAULT anew: '(VI_1)
    Entering BACKUP STATE (init)'; an interface coming back says it without '(init)'."""
    fake = FakeOs()
    fake.netlink.interfaces["eth1"] = False
    tracked = conf(extra="track_interface {\n eth1\n}")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "FAULT")
        assert d.apply_reload(load_string(conf(), filename="keepalived.conf"))
        await until(lambda: state(d) == "BACKUP" and "Entering BACKUP STATE (init)" in caplog.text)
        assert d.instances["VI_1"].transitions[-1].reason == "fault cleared by reload"

    caplog.set_level(logging.INFO, logger="vrrpkit")
    drive(tmp_path, tracked, body, fake)


def test_reload_turning_accept_off_on_a_master_moves_only_the_firewall(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        fake.netlink.calls.clear()
        assert d.apply_reload(load_string(conf(extra="no_accept"), filename="keepalived.conf"))
        assert fake.firewall.log[-1] == ("add", "eth0", "192.0.2.99")
        assert fake.netlink.calls == [] and state(d) == "MASTER"
        assert d.apply_reload(load_string(conf(), filename="keepalived.conf"))
        assert fake.firewall.log[-1] == ("remove", "eth0", "192.0.2.99")

    drive(tmp_path, conf(), body)


def test_reload_with_errors_or_a_missing_interface_keeps_the_running_config(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        router = d.instances["VI_1"].router
        broken = load_string(conf().replace("interface eth0", "interface eth9"), filename="keepalived.conf")
        assert not d.apply_reload(broken)
        assert d.instances["VI_1"].router is router and d.reloads == 0

    drive(tmp_path, conf(), body)


def test_reload_that_removes_a_master_sends_priority_zero_and_releases_its_vip(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        sock = fake.sockets[("eth0", 4)]
        sent_before = len(sock.sent)
        d.apply_reload(load_string(conf(name="VI_9", vrid=59, vips="192.0.2.50/24"), filename="keepalived.conf"))
        last_of_vi1 = [data for data, _, _ in sock.sent[sent_before:] if data[1] == 51]
        assert last_of_vi1 and last_of_vi1[-1][2] == 0  # priority byte of the last VI_1 advert
        assert ("del", "eth0", "192.0.2.99/24") in fake.netlink.calls
        assert "VI_1" not in d.instances

    drive(tmp_path, conf(), body)


def test_a_reload_that_faults_a_sync_group_leaves_none_of_its_new_vips(tmp_path: Path) -> None:
    """keepalived 2.2.7, measured: a reload gives VI_1 a VIP on a down interface (FAULT) and VI_2 of
    its sync group a new VIP: both end in FAULT holding no VIP. vrrpkit's VI_2 had added its new
    VIP (it was MASTER when reconfigured) after the group's FAULT removed its VIPs, since a reload's
    removals go first: the VIP stayed on a FAULT host."""
    group = "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_2\n    }\n}\n"
    before = group + conf(priority=150) + conf(name="VI_2", vrid=52, vips="192.0.2.98/24")
    after = group + conf(priority=150, vips="192.0.2.99/24\n        192.0.2.71/32 dev eth1") + conf(
        name="VI_2", vrid=52, vips="192.0.2.98/24\n        192.0.2.82/32")
    fake = FakeOs()
    fake.netlink.interfaces["eth1"] = False  # there, and down

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and state(d, "VI_2") == "MASTER")
        assert d.apply_reload(load_string(after, filename="keepalived.conf"))
        await until(lambda: state(d) == "FAULT" and state(d, "VI_2") == "FAULT")
        held = {str(a) for addresses in fake.netlink.addresses.values() for a in addresses}
        assert held.isdisjoint({"192.0.2.99", "192.0.2.71", "192.0.2.98", "192.0.2.82"}), held

    drive(tmp_path, before, body, fake)


def test_sync_group_moves_together_and_runs_group_notify_once_per_transition(tmp_path: Path) -> None:
    text = (
        conf(priority=150)
        + conf(name="VI_2", vrid=52, vips="192.0.2.98/24")
        + """
vrrp_sync_group G {
    group {
        VI_1
        VI_2
    }
    notify "/bin/echo group"
}
"""
    )

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and state(d, "VI_2") == "MASTER")
        sock = fake.sockets[("eth0", 4)]
        sock.deliver(advert(200, vrid=52, vip="192.0.2.98"), "192.0.2.2")  # VI_2 loses: the group follows it to BACKUP
        await until(lambda: state(d) == "BACKUP" and state(d, "VI_2") == "BACKUP")

    _, runner = drive(tmp_path, text, body)
    group = [n.removeprefix("group ") for n in notifies(runner) if n.startswith("group ")]
    assert group == ["GROUP G BACKUP 0", "GROUP G MASTER 0", "GROUP G BACKUP 0", "GROUP G STOP 0"]  # and the stop


def test_the_member_that_moves_its_sync_group_acts_first_as_in_keepalived(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """keepalived 2.2.7, measured (two state MASTER members of one group, VIPs in one /27): the
    member whose timeout completes the group enters MASTER and adds its VIPs, then the group
    syncs the held one; the first VIP added is the interface's primary address for the subnet, so
    the order is what a host's source address and a later deletion depend on. vrrpkit added them
    in file order. Leaving MASTER: the member that heard the better master first, then the rest.
    The log keeps the events' order (the held member's timeout first), as keepalived's does."""
    caplog.set_level(logging.INFO, logger="vrrpkit")
    text = conf(vips="192.0.2.99/24") + conf(name="VI_2", vrid=52, vips="192.0.2.98/24") + """
vrrp_sync_group G {
    group {
        VI_1
        VI_2
    }
}
"""

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and state(d, "VI_2") == "MASTER")
        adds = [vip for op, _, vip in fake.netlink.calls if op == "add"]
        assert adds == ["192.0.2.98/24", "192.0.2.99/24"]  # VI_2 completed the group (VI_1 was held)
        fake.netlink.calls.clear()
        fake.sockets[("eth0", 4)].deliver(advert(200), "192.0.2.2")  # VI_1 hears a better master
        await until(lambda: state(d) == "BACKUP" and state(d, "VI_2") == "BACKUP")
        dels = [vip for op, _, vip in fake.netlink.calls if op == "del"]
        assert dels == ["192.0.2.99/24", "192.0.2.98/24"]

    drive(tmp_path, text, body)
    said = [r.getMessage() for r in caplog.records if r.name == "vrrpkit"]
    up = said.index("VRRP_Group(G) Syncing instances to MASTER state")
    assert [m for m in said[:up] if "timeout" in m or "Entering MASTER" in m] == [
        "(VI_1) Receive advertisement timeout", "(VI_2) Receive advertisement timeout", "(VI_2) Entering MASTER STATE"
    ]
    assert said[up + 1] == "(VI_1) Entering MASTER STATE"


def test_excluded_vips_have_keepalived_s_e_vips_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """keepalived 2.2.7, measured: 'setting VIPs.' then 'setting E-VIPs.' (virtual_ipaddress_excluded),
    'removing VIPs.' then 'removing E-VIPs.'; vrrpkit said both lists in the one VIPs line."""
    caplog.set_level(logging.INFO, logger="vrrpkit")
    text = conf(extra="virtual_ipaddress_excluded {\n        192.0.2.50/32\n    }")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        fake.sockets[("eth0", 4)].deliver(advert(200), "192.0.2.2")
        await until(lambda: state(d) == "BACKUP")

    drive(tmp_path, text, body)
    said = [r.getMessage() for r in caplog.records if r.name == "vrrpkit" and "VIPs." in r.getMessage()]
    assert said == ["(VI_1) setting VIPs. (192.0.2.99/24)", "(VI_1) setting E-VIPs. (192.0.2.50/32)",
                    "(VI_1) removing VIPs. (192.0.2.99/24)", "(VI_1) removing E-VIPs. (192.0.2.50/32)"]


def test_status_snapshot_round_trips_through_json(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        snap = d.snapshot()
        again = Snapshot.from_json(snap.to_json())
        assert again == snap
        inst = again.instance("VI_1")
        assert inst is not None and inst.state == "MASTER" and inst.transitions[-1].new == "MASTER"
        assert inst.transitions_total == len(inst.transitions)

    drive(tmp_path, conf(), body)


ROUTE = "virtual_routes {\n 198.51.100.0/26 via 192.0.2.3 dev eth0\n}"
ROUTE2 = "virtual_routes {\n 198.51.100.64/26 via 192.0.2.3 dev eth0\n}"


def test_reload_keeps_a_masters_routes_while_its_vips_change_and_follows_a_rename(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        (route,) = fake.netlink.routes
        fake.netlink.calls.clear()
        fewer = conf(vips="192.0.2.98/24", extra=ROUTE)  # the VIP changes: the routes are not the VIPs' business
        assert d.apply_reload(load_string(fewer, filename="keepalived.conf"))
        assert fake.netlink.calls == [("del", "eth0", "192.0.2.99/24"), ("add", "eth0", "192.0.2.98/24")]
        assert fake.netlink.routes == {route}
        renamed = conf(name="VI_one", vips="192.0.2.98/24", extra=ROUTE2)  # a rename and another route
        assert d.apply_reload(load_string(renamed, filename="keepalived.conf"))
        assert state(d, "VI_one") == "MASTER" and [str(r) for r in fake.netlink.routes] == [
            "198.51.100.64/26 via 192.0.2.3 dev eth0"
        ]

    fake, _ = drive(tmp_path, conf(extra=ROUTE), body)
    assert not fake.netlink.routes  # the renamed master took its route with it when it stopped


def test_reload_gives_a_master_without_routes_the_routes_the_file_now_has(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert not fake.netlink.routes
        assert d.apply_reload(load_string(conf(extra=ROUTE), filename="keepalived.conf"))
        assert [str(r) for r in fake.netlink.routes] == ["198.51.100.0/26 via 192.0.2.3 dev eth0"]

    fake, _ = drive(tmp_path, conf(), body)
    assert not fake.netlink.routes
