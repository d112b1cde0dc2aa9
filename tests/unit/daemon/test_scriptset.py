"""Scripts resolved once per (re)load as keepalived resolves them (``daemon.scriptset``): a disabled
vrrp_script is taken off its trackers, a disabled notify never runs, keepalived's lines are logged."""

from __future__ import annotations

from pathlib import Path

from daemon_fakes import FakeOs, FakeRunner
from test_daemon_loop import conf, drive, state, until

from vrrpkit.config import load_string
from vrrpkit.core.config import TrackKind
from vrrpkit.daemon.app import Daemon
from vrrpkit.daemon.scriptset import resolve_scripts
from vrrpkit.io.scripts import ScriptUser, UserError

NOBODY = ScriptUser(65534, 65534, "nobody")


def lookup(user: str, group: str | None) -> ScriptUser:
    if user == "nobody":
        return NOBODY
    raise UserError(f"Script user '{user}' does not exist")


TEXT = """
global_defs {
    enable_script_security
}
vrrp_script gone {
    script "/nonexistent/vrrpkit/check.sh"
}
vrrp_script semi {
    script "/usr/bin/true;/tmp/x"
}
vrrp_script mine {
    script "/bin/true"
    user nobody
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.99/24
    }
    track_script {
        gone
        semi
        mine
    }
    notify_master "/bin/echo m" nobody nogroup
    notify_backup "/bin/echo b"
}
"""


def test_resolve_and_apply_as_keepalived() -> None:
    result = load_string(TEXT)
    scripts = resolve_scripts(result, lookup=lookup)
    # no script_user, no keepalived_script user, script security on: scripts without a user are removed
    assert scripts.removed == {"gone", "semi"}
    lines = [line for _level, line in scripts.log]
    assert lines[0] == "Script user 'keepalived_script' does not exist"
    assert "Unable to set default user for vrrp script gone - removing" in lines
    assert "Failed to set default user for notify script /bin/echo - ignoring" in lines
    assert list(scripts.notify_of("instance", "VI_1")) == ["master"]
    assert scripts.notify_of("instance", "VI_1")["master"].user == NOBODY
    applied = scripts.apply(result)
    assert [t.name for t in applied.instances[0].tracks if t.kind is TrackKind.SCRIPT] == ["mine"]


def test_without_scripts_no_user_is_looked_up_unless_global_defs_names_one() -> None:
    """keepalived 2.2.7, measured in a namespace: with no script configured it says nothing about
    its default user (keepalived_script, missing here), with or without enable_script_security;
    a script_user written in global_defs is looked up (and its absence logged) all the same."""
    asked: list[str] = []

    def recording(user: str, group: str | None) -> ScriptUser:
        asked.append(user)
        return lookup(user, group)

    plain = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n}\n"
    for text in (plain, "global_defs {\n enable_script_security\n}\n" + plain):
        scripts = resolve_scripts(load_string(text), lookup=recording)
        assert scripts.log == () and asked == []
    scripts = resolve_scripts(load_string("global_defs {\n script_user nosuchuser\n}\n" + plain), lookup=recording)
    assert [line for _level, line in scripts.log] == ["Script user 'nosuchuser' does not exist"]
    assert asked == ["nosuchuser"]


def test_with_a_script_user_the_forms_are_refused_with_keepalived_words() -> None:
    result = load_string(TEXT.replace("enable_script_security", "enable_script_security\n    script_user nobody"))
    scripts = resolve_scripts(result, lookup=lookup)
    lines = [line for _level, line in scripts.log]
    assert "Script /usr/bin/true;/tmp/x cannot be accessed - No such file or directory" in lines
    assert "Disabling track script semi since not found/accessible" in lines
    assert "Disabling track script gone since not found/accessible" in lines
    assert scripts.removed == {"gone", "semi"}


def test_an_instance_tracking_only_disabled_scripts_becomes_master(tmp_path: Path) -> None:
    """keepalived 2.2.7 ignores a disabled tracker: the instance elects itself (measured)."""
    extra = "track_script {\n        gone\n    }"
    text = conf(extra=extra) + 'vrrp_script gone {\n    script "/nonexistent/vrrpkit/check.sh"\n    weight 0\n}\n'
    seen: list[str] = []

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        seen.extend(line for _level, line in d.scripts.log)
        await until(lambda: state(d) == "MASTER")

    drive(tmp_path, text, body)
    assert "Disabling track script gone since not found/accessible" in seen


def test_a_reload_of_a_file_keepalived_would_skip_keeps_the_running_config(tmp_path: Path) -> None:
    """SIGHUP with the config replaced by a FIFO (or made executable): an error line, no exception."""
    import asyncio
    import logging

    from vrrpkit.config.lexer import SkippedFile

    def load(files: list[str], config_id: str | None) -> object:
        raise SkippedFile("Configuration file 'k.conf' is not a regular non-executable file - skipping")

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("vrrpkit").addHandler(handler)

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        d._load = load  # type: ignore[assignment]
        await d.reload()
        await asyncio.sleep(0)
        assert list(d.instances) == ["VI_1"]

    try:
        drive(tmp_path, conf(), body)
    finally:
        logging.getLogger("vrrpkit").removeHandler(handler)
    assert any(r.startswith("Reload failed: Configuration file 'k.conf' is not a regular") for r in records)


def test_notify_fifo_scripts_are_resolved_and_checked_like_the_others() -> None:
    text = TEXT.replace("enable_script_security", "enable_script_security\n    script_user nobody\n"
                        "    notify_fifo /run/vk.fifo\n    notify_fifo_script /bin/true\n"
                        "    vrrp_notify_fifo /run/vk2.fifo\n    vrrp_notify_fifo_script /nonexistent/vk.sh")
    result = load_string(text)
    scripts = resolve_scripts(result, lookup=lookup)
    assert list(scripts.fifo_scripts()) == ["notify_fifo"]
    assert scripts.fifo_scripts()["notify_fifo"].user == NOBODY
    assert "Script /nonexistent/vk.sh cannot be accessed - No such file or directory" in [x for _, x in scripts.log]
