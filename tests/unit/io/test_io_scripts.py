"""Script runner: rise/fall arithmetic (keepalived's), how commands are executed, security, timeouts."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import pytest

from vrrpkit.io import scripts
from vrrpkit.io.scripts import RiseFall


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


def _write(path: Path, text: str, mode: int = 0o755) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_prepare_exec_when_first_word_is_executable(tmp_path: Path) -> None:
    s = scripts.prepare("/bin/true 'a b' c")
    assert s.mode == "exec" and s.argv == ("/bin/true", "a b", "c") and s.problem is None
    assert s.command(["INSTANCE", "VI_1"]) == ["/bin/true", "a b", "c", "INSTANCE", "VI_1"]
    on_path = scripts.prepare("true x", path_env="/usr/bin:/bin")
    assert on_path.mode == "exec" and on_path.argv[0].endswith("/true") and on_path.argv[1:] == ("x",)


def test_prepare_shell_for_scripts_without_shebang_and_unknown_commands(tmp_path: Path) -> None:
    plain = _write(tmp_path / "plain", "exit 3\n")
    s = scripts.prepare(f"{plain} x")
    assert s.mode == "shell" and "shebang" in (s.problem or "")
    assert s.command(["y z"]) == [scripts.SHELL, "-c", f"{plain} x 'y z'"]
    missing = scripts.prepare("no-such-command-vrrpkit --flag", path_env=str(tmp_path))
    assert missing.mode == "shell" and "Cannot find script" in (missing.problem or "")
    assert missing.command(["MASTER"]) == [scripts.SHELL, "-c", "no-such-command-vrrpkit --flag MASTER"]
    redirect = scripts.prepare("</dev/null")
    assert redirect.mode == "shell" and redirect.command() == [scripts.SHELL, "-c", "</dev/null"]
    assert scripts.prepare("'unbalanced").problem is not None


def _mkdirs(base: Path) -> Path:
    d = base / "etc" / "ka"
    d.mkdir(parents=True)
    return d


def test_check_security(tmp_path: Path) -> None:
    # tmp_path is under /tmp (sticky, root-owned) on this machine; build a fake tree with chown
    if os.geteuid() != 0:
        pytest.skip("needs root to chown")
    d = _mkdirs(tmp_path)
    for p in (tmp_path / "etc", d):
        p.chmod(0o755)
    script = _write(d / "check.sh", "#!/bin/sh\nexit 0\n")
    # pytest's base directory may itself be unsafe, so only compare what our chmods change
    baseline = scripts.check_security(str(script))
    if baseline:
        pytest.skip(f"temporary directory is not a safe base here: {baseline}")
    # world-writable file
    script.chmod(0o757)
    assert any("writable by everyone" in p for p in scripts.check_security(str(script)))
    script.chmod(0o755)
    # a parent directory owned by someone else
    os.chown(d, 65534, 0)
    assert any("owned by uid 65534" in p for p in scripts.check_security(str(script)))
    os.chown(d, 0, 0)
    # group-writable by a non-root group
    os.chown(script, 0, 65534)
    script.chmod(0o775)
    assert any("writable by group 65534" in p for p in scripts.check_security(str(script)))
    # group-writable by root's group is fine
    os.chown(script, 0, 0)
    assert scripts.check_security(str(script)) == []
    # a symlink to an unsafe target is judged by its target
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad_dir.chmod(0o777)
    target = _write(bad_dir / "real.sh", "#!/bin/sh\n")
    link = d / "link.sh"
    link.symlink_to(target)
    assert any(str(bad_dir) in p for p in scripts.check_security(str(link)))


def test_check_security_of_safe_system_binary() -> None:
    assert scripts.check_security("/bin/true") == [] or os.path.islink("/bin")
    assert scripts.check_security(os.path.realpath("/bin/true")) == []


def test_check_security_sticky_dir_is_fine() -> None:
    st = os.stat("/tmp")
    if not st.st_mode & stat.S_ISVTX or st.st_uid != 0:
        pytest.skip("/tmp is not a root-owned sticky directory here")
    problem = scripts._component_problem("/tmp", st, is_last=False)
    assert problem is None


def test_run_script_exit_status_and_args(tmp_path: Path) -> None:
    out = tmp_path / "args"
    s = scripts.prepare(f'/bin/sh -c \'printf "%s|" "$@" > {out}; exit 7\' sh')
    result = asyncio.run(scripts.run_script(s, ["INSTANCE", "VI 1", "MASTER", "100"], timeout=5))
    assert result.returncode == 7 and not result.ok and not result.timed_out
    assert out.read_text() == "INSTANCE|VI 1|MASTER|100|"


def test_run_script_scrubs_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_PRELOAD", "/nonexistent.so")
    monkeypatch.setenv("IFS", "x")
    out = tmp_path / "env"
    s = scripts.prepare(f"/bin/sh -c 'env > {out}'")
    assert asyncio.run(scripts.run_script(s, timeout=5)).ok
    text = out.read_text()
    assert "LD_PRELOAD" not in text and "\nIFS=" not in text


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # the script starts a grandchild that ignores SIGTERM, then waits; both must die
    cmd = f'/bin/sh -c \'sh -c "trap \\"\\" TERM; echo \\$\\$ > {pidfile}; sleep 30" & wait\''
    s = scripts.prepare(cmd)
    started = time.monotonic()
    result = asyncio.run(scripts.run_script(s, timeout=0.5, kill_grace=0.3))
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
    async def main() -> tuple[int, scripts.ScriptResult]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        result = await scripts.run_script(scripts.prepare("/bin/sleep 0.3"), timeout=5)
        task.cancel()
        return ticks, result

    ticks, result = asyncio.run(main())
    assert result.ok
    assert ticks >= 10


def test_run_command_and_refusal(tmp_path: Path) -> None:
    assert asyncio.run(scripts.run_command("/bin/sh -c 'exit 3'", timeout=5)) == 3
    assert asyncio.run(scripts.run_command("/bin/sleep 5", timeout=0.2)) is None
    if os.geteuid() == 0:
        bad_dir = tmp_path / "w"
        bad_dir.mkdir()
        bad_dir.chmod(0o777)
        script = _write(bad_dir / "s.sh", "#!/bin/sh\nexit 0\n")
        with pytest.raises(scripts.ScriptRefused):
            asyncio.run(scripts.run_command(str(script), timeout=5, security=True))
        assert asyncio.run(scripts.run_command(str(script), timeout=5, security=False)) == 0


def test_run_as_user() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch user")
    shared = Path(tempfile.mkdtemp(prefix="vrrpkit-io-"))  # pytest's tmp_path is private to root
    try:
        shared.chmod(0o777)
        out = shared / "id"
        user = scripts.resolve_user("nobody")
        s = scripts.prepare(f"/bin/sh -c 'id -u > {out}; id -G >> {out}'", user)
        assert asyncio.run(scripts.run_script(s, timeout=5)).ok
        uid, groups = out.read_text().split("\n", 1)
        assert uid == str(user.uid) and groups.split() == [str(user.gid)]  # supplementary groups cleared
    finally:
        shutil.rmtree(shared)


def test_notify_runs_in_order_per_key(tmp_path: Path) -> None:
    log = tmp_path / "log"

    async def main() -> None:
        runner = scripts.ScriptRunner(notify_timeout=5)
        slow = scripts.prepare(f"/bin/sh -c 'sleep 0.2; echo $1 >> {log}' sh")
        fast = scripts.prepare(f"/bin/sh -c 'echo $1 >> {log}' sh")
        t1 = runner.notify("VI_1", slow, ["MASTER"])
        t2 = runner.notify("VI_1", fast, ["BACKUP"])
        await asyncio.gather(t1, t2)
        assert runner.running_groups == frozenset()

    asyncio.run(main())
    assert log.read_text().split() == ["MASTER", "BACKUP"]
