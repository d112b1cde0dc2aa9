"""The takeover claim through the daemon, with recording fakes: the claim goes out at Master_Down
(early by the claim's lead), the loop then waits awake for the takeover's own time, reads what came
meanwhile, and takes over only when the master did not answer; an answer is logged and nothing
moves. Nothing here asserts how long anything took."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from daemon_fakes import FakeOs, FakeRunner, FakeSocket
from test_daemon_loop import advert, conf, drive, state, until

from vrrpkit.daemon.app import Daemon
from vrrpkit.daemon.cycle import TAKEOVER_AHEAD
from vrrpkit.daemon.instance import Instance


async def _following_a_master(d: Daemon, fake: FakeOs) -> FakeSocket:
    sock = fake.sockets[("eth0", 4)]
    sock.deliver(advert(200), "192.0.2.2")
    await until(lambda: d.instances["VI_1"].router.master_address is not None)
    return sock


def test_an_unanswered_claim_is_a_takeover_at_the_rfc_time(tmp_path: Path) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        waits: list[tuple[float | None, dict[str, float], int, float | None]] = []
        wait = d._wait_for_takeover

        def waiting(inst: Instance) -> None:
            router = inst.router
            waits.append((d._next_deadline, router.timers(), router.stats.claims_sent, fake.timers[-1].armed_at))
            wait(inst)

        d._wait_for_takeover = waiting  # type: ignore[method-assign]
        await _following_a_master(d, fake)
        router = d.instances["VI_1"].router
        down = router.get_timer()
        assert down is not None and not router.claiming
        await until(lambda: state(d) == "MASTER")
        # Master_Down_Interval's own end: half the skew time (30.5 ms here) after the claim, longer
        # than asyncio's clock (the fake timer's) may wake late, so the claim is never skipped
        lead = router.claim_lead
        assert lead == pytest.approx((256 - 100) * 0.1 / 256 / 2)
        end = down + lead
        # the loop waited awake for the claim, then for the takeover itself, each armed a little ahead
        # (a wake-up is up to ~1 ms late: a late claim would leave no time for the answer)
        claim = [w for w in waits if w[0] == down]
        assert [(w[2], w[3]) for w in claim] == [(0, pytest.approx(down - TAKEOVER_AHEAD, abs=1e-6))]
        due, timers, claims, armed = waits[-1]
        assert claims == 1 and due == timers["takeover"] == pytest.approx(end, abs=1e-6)
        assert armed == pytest.approx(end - TAKEOVER_AHEAD, abs=1e-6)
        await until(lambda: state(d) == "MASTER")
        (took,) = [t for t in router.transitions if t[2].value == "MASTER"]
        assert took[0] >= end
        journal = fake.netlink.journal
        sends = [i for i, e in enumerate(journal) if e == ("send", 51, 100)]
        assert len(sends) >= 2 and sends[0] < sends[1] < journal.index(("add", "eth0", "192.0.2.99/24"))

    drive(tmp_path, conf(), body)


def test_an_answered_claim_moves_nothing_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vrrpkit")

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        sock = await _following_a_master(d, fake)
        router = d.instances["VI_1"].router
        send = sock.send

        def answering(data: bytes, *args: object, **kw: object) -> object:
            result = send(data, *args, **kw)  # type: ignore[arg-type]
            if data[2] == 100:  # our claim: the master, alive, answers it at once
                sock.deliver(advert(200), "192.0.2.2")
            return result

        sock.send = answering  # type: ignore[method-assign]
        await until(lambda: router.stats.claims_answered == 1)
        assert state(d) == "BACKUP" and router.stats.become_master == 0
        assert not any(e[0] == "add" for e in fake.netlink.journal)
        assert not [c for c in runner.queued if "master" in str(c)]  # no notify_master
        lines = [r.getMessage() for r in caplog.records if "answered our claim" in r.getMessage()]
        assert lines == [
            "(VI_1) Master 192.0.2.2 (priority 200) silent for a Master_Down interval, then answered our claim: "
            "staying BACKUP (its adverts were lost or it stalled)"
        ]

    drive(tmp_path, conf(), body)
