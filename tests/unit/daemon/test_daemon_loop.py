"""The whole daemon on one asyncio loop, with recording fakes instead of the kernel: start, adverts
in and out, failover, link events, reloads (which instances restart, which keep state), sync-group
notify order and shutdown. No root, no namespaces; real time is short (VRRPv3 at 0.1 s)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from ipaddress import ip_address
from pathlib import Path

from daemon_fakes import FakeOs, FakeRunner

from vrrpkit.config import load_string
from vrrpkit.control.snapshot import Snapshot
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


def test_link_down_is_fault_and_link_up_recovers(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER")
        assert fake.links is not None
        fake.links.push("eth0", False)
        await until(lambda: state(d) == "FAULT")
        assert fake.netlink.calls[-1] == ("del", "eth0", "192.0.2.99/24")
        fake.links.push("eth0", True)
        await until(lambda: state(d) in ("BACKUP", "MASTER"))

    drive(tmp_path, conf(), body)


def test_a_leftover_vip_from_a_crash_is_removed_at_start(tmp_path: Path) -> None:
    fake = FakeOs()
    fake.netlink.addresses["eth0"] = {ip_address("192.0.2.99")}

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert fake.netlink.calls[0] == ("del", "eth0", "192.0.2.99/24")

    drive(tmp_path, conf(), body, fake)


def test_reload_keeps_unchanged_instances_and_restarts_changed_ones(tmp_path: Path) -> None:
    two = conf(priority=150) + conf(name="VI_2", vrid=52, vips="192.0.2.98/24")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and state(d, "VI_2") == "MASTER")
        first, second = d.instances["VI_1"].router, d.instances["VI_2"].router
        runner.queued.clear()
        changed = conf(priority=150) + conf(name="VI_2", vrid=52, vips="192.0.2.97/24")
        assert d.apply_reload(load_string(changed, filename="keepalived.conf"))
        assert d.instances["VI_1"].router is first and state(d) == "MASTER"  # untouched: no flap
        assert d.instances["VI_2"].router is not second  # changed: stopped, started anew
        assert notifies(runner)[0] == "stop VI_2"
        assert d.reloads == 1

    drive(tmp_path, two, body)


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
    assert group == ["GROUP G BACKUP 0", "GROUP G MASTER 0", "GROUP G BACKUP 0"]


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
