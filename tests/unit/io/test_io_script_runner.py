"""Running resolved scripts: rise/fall arithmetic (keepalived's), exit status, environment, umask,
process groups and timeouts, user switching, notify order."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from vrrpkit.io import script_runner as runner_mod
from vrrpkit.io import scripts
from vrrpkit.io.script_runner import RiseFall, ScriptRunner, run_script


def resolve(text: str, user: scripts.ScriptUser | None = None) -> scripts.Script:
    """Commands of these tests run as whoever runs the tests (resolve checks for that user)."""
    me = user or scripts.ScriptUser(os.geteuid(), os.getegid(), "me")
    s = scripts.resolve(text, me)
    assert s.runnable, s.disabled
    return s


def feed(counter: RiseFall, outcomes: str) -> list[bool | None]:
    return [counter.update(c == "+") for c in outcomes]


def test_rise_fall_first_result_decides() -> None:
    assert feed(RiseFall(rise=3, fall=2), "+") == [True]
    assert feed(RiseFall(rise=3, fall=2), "-") == [False]


def test_rise_fall_needs_fall_failures_then_rise_successes() -> None:
    c = RiseFall(rise=3, fall=2)
    assert feed(c, "+") == [True]
    assert feed(c, "-") == [None]  # one failure of two
    assert feed(c, "+") == [None]  # a success resets the fall count
    assert feed(c, "--") == [None, False]
    assert feed(c, "++") == [None, None]
    assert feed(c, "-") == [None]  # a failure resets the rise count
    assert feed(c, "+++") == [None, None, True]
    assert c.state is True and c.result == c.rise + c.fall - 1


def test_rise_fall_init_fail_needs_rise_successes() -> None:
    c = RiseFall(rise=2, fall=5, init_fail=True)
    assert c.state is False
    assert feed(c, "-+") == [None, None]
    assert feed(c, "+") == [True]
    c1 = RiseFall(rise=1, fall=1, init_fail=True)
    assert feed(c1, "+-") == [True, False]


def test_rise_fall_validates() -> None:
    with pytest.raises(ValueError):
        RiseFall(rise=0)


def test_run_script_exit_status_and_args(tmp_path: Path) -> None:
    out = tmp_path / "args"
    s = resolve(f'/bin/sh -c \'printf "%s|" "$@" > {out}; exit 7\' sh')
    result = asyncio.run(run_script(s, ["INSTANCE", "VI 1", "MASTER", "100"], timeout=5))
    assert result.returncode == 7 and not result.ok and not result.timed_out
    assert out.read_text() == "INSTANCE|VI 1|MASTER|100|"


def test_run_script_scrubs_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_PRELOAD", "/nonexistent.so")
    monkeypatch.setenv("IFS", "x")
    out = tmp_path / "env"
    s = resolve(f"/bin/sh -c 'env > {out}'")
    assert asyncio.run(run_script(s, timeout=5)).ok
    text = out.read_text()
    assert "LD_PRELOAD" not in text and "\nIFS=" not in text


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # the script starts a grandchild that ignores SIGTERM, then waits; both must die
    cmd = f'/bin/sh -c \'sh -c "trap \\"\\" TERM; echo \\$\\$ > {pidfile}; sleep 30" & wait\''
    s = resolve(cmd)
    started = time.monotonic()
    result = asyncio.run(run_script(s, timeout=0.5, kill_grace=0.3))
    elapsed = time.monotonic() - started
    assert result.timed_out and not result.ok
    assert elapsed < 5
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"grandchild {grandchild} survived the timeout")


def test_loop_is_not_blocked_while_a_script_runs() -> None:
    async def main() -> tuple[int, runner_mod.ScriptResult]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        result = await run_script(resolve("/bin/sleep 0.3"), timeout=5)
        task.cancel()
        return ticks, result

    ticks, result = asyncio.run(main())
    assert result.ok
    assert ticks >= 10


def test_run_as_user() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch user")
    shared = Path(tempfile.mkdtemp(prefix="vrrpkit-io-"))  # pytest's tmp_path is private to root
    try:
        shared.chmod(0o777)
        out = shared / "id"
        user = scripts.lookup_user("nobody", "nogroup")
        s = resolve(f"/bin/sh -c 'id -u > {out}; id -G >> {out}'", user)
        assert asyncio.run(run_script(s, timeout=5)).ok
        uid, groups = out.read_text().split("\n", 1)
        assert uid == str(user.uid) and groups.split() == [str(user.gid)]  # supplementary groups cleared
    finally:
        shutil.rmtree(shared)


def test_notify_runs_in_order_per_key(tmp_path: Path) -> None:
    log = tmp_path / "log"

    async def main() -> None:
        runner = ScriptRunner(notify_timeout=5)
        slow = resolve(f"/bin/sh -c 'sleep 0.2; echo $1 >> {log}' sh")
        fast = resolve(f"/bin/sh -c 'echo $1 >> {log}' sh")
        t1 = runner.notify("VI_1", slow, ["MASTER"])
        t2 = runner.notify("VI_1", fast, ["BACKUP"])
        await asyncio.gather(t1, t2)
        assert runner.running_groups == frozenset()

    asyncio.run(main())
    assert log.read_text().split() == ["MASTER", "BACKUP"]


def test_umask_and_process_group_are_set_in_the_child_only(tmp_path: Path) -> None:
    """keepalived's scripts run with umask 0177 (measured, 2.2.7) in a process group of their own;
    the daemon's own umask never changes, so its first and later runs see the same."""
    out = tmp_path / "seen"
    before = os.umask(0o022)
    os.umask(before)
    s = resolve(f"/bin/sh -c 'umask >> {out}; ps -o pgid= -p $$ >> {out}; echo $$ >> {out}'")
    for _ in range(2):
        assert asyncio.run(run_script(s, timeout=5)).ok
    lines = out.read_text().split()
    assert lines[0] == lines[3] == "0177"
    assert lines[1] == lines[2] and lines[4] == lines[5]  # pgid == pid: its own group
    after = os.umask(0o022)
    os.umask(after)
    assert after == before


def test_a_disabled_script_never_starts() -> None:
    s = scripts.resolve("/nonexistent/vrrpkit-test.sh")
    assert not s.runnable
    result = asyncio.run(run_script(s, timeout=5))
    assert result.returncode is None and result.error == s.disabled
    with pytest.raises(scripts.ScriptRefused):
        s.command()


def test_a_file_test_only_opens_the_file(tmp_path: Path) -> None:
    """`</path`: keepalived's "does it open" check, through sh with the path as an argument."""
    missing = asyncio.run(run_script(scripts.resolve(f"<{tmp_path}/x")))
    assert missing.returncode not in (0, None)  # x does not exist yet: sh's redirection fails
    (tmp_path / "x").write_text("")
    odd = tmp_path / "a b;$(touch pwned)"
    odd.write_text("")
    assert asyncio.run(run_script(scripts.resolve(f"<{tmp_path}/x"))).ok
    assert asyncio.run(run_script(scripts.resolve(f"'<{odd}'"))).ok
    assert not (Path("/") / "pwned").exists() and not (tmp_path / "pwned").exists()
