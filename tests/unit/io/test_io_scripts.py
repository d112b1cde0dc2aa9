"""How keepalived decides whether, how and as whom a command runs (``io.scripts``), case by case.

Each expected message is keepalived 2.2.7's own line for the same case (measured in a namespace,
see tests/integration/test_security.py). Ownership cases need root (chown); they skip otherwise.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from vrrpkit.io import scripts
from vrrpkit.io.scripts import ROOT, DefaultUser, ScriptUser, UserError

NOBODY = ScriptUser(65534, 65534, "nobody")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, other users)")


def _write(path: Path, text: str = "#!/bin/sh\nexit 0\n", mode: int = 0o755) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def safe() -> Iterator[Path]:
    """A directory every user can reach whose every component is root-owned and not writable by
    others (pytest's tmp_path is private to root, so another user could not reach a script in it)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (a root-owned tree)")
    d = Path(tempfile.mkdtemp(prefix="vrrpkit-scripts-"))
    d.chmod(0o755)
    try:
        if scripts.check_security(str(d / "x")) == "unsafe":
            pytest.skip(f"{d} is not a safe base here")
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_exec_with_notify_arguments_as_separate_words() -> None:
    s = scripts.resolve("/bin/true 'a b' c")
    assert s.runnable and s.mode == "exec" and s.argv[1:] == ("a b", "c")
    assert os.path.samefile(s.argv[0], "/bin/true")
    assert s.command(["INSTANCE", "VI 1"])[-2:] == ["INSTANCE", "VI 1"]


def test_a_bare_name_is_searched_on_path_with_keepalived_warning() -> None:
    s = scripts.resolve("true x", path_env="/nonexistent:/usr/bin:/bin")
    assert s.runnable and s.argv[1:] == ("x",) and s.argv[0].endswith("/true")
    assert s.notes[0].startswith("WARNING - script `true` resolved by path search to `")


def test_not_found_is_disabled_never_a_shell(tmp_path: Path) -> None:
    s = scripts.resolve("no-such-command-vrrpkit --flag", path_env=str(tmp_path))
    assert s.disabled == "Cannot find script no-such-command-vrrpkit in path - disabling"
    assert s.refusal == "not-found"
    with pytest.raises(scripts.ScriptRefused):
        s.command(["MASTER"])


def test_semicolon_and_redirection_forms_are_file_names_that_do_not_exist(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    for text in (f"/usr/bin/true;{tmp_path}/x", f">{victim}"):
        s = scripts.resolve(text)
        assert s.disabled == f"Script {text} cannot be accessed - No such file or directory", text
    words = scripts.resolve(f"/bin/true && rm {victim}")  # no shell: "&&" is just an argument of true
    assert words.mode == "exec" and words.argv[1:] == ("&&", "rm", str(victim))
    assert scripts.resolve("'unbalanced").disabled == "Unable to parse script ''unbalanced' - ignoring"


def test_file_test_form_only_opens_the_file() -> None:
    s = scripts.resolve("</etc/hostname")
    assert s.mode == "file-test" and s.command() == [scripts.SHELL, "-c", '<"$1"', "sh", "/etc/hostname"]
    spaced = scripts.resolve("'< /etc/hostname'")
    assert spaced.command()[-1] == "/etc/hostname"
    # keepalived runs whatever follows through that shell, unchecked, as root: vrrpkit refuses the line
    assert scripts.resolve("</etc/hostname /tmp/evil.sh").refusal == "shell-form"
    # two words: "<" is then a program name, as keepalived reads it
    assert scripts.resolve("< /etc/hostname").disabled == "Cannot find script < in path - disabling"


def test_a_script_without_shebang_runs_through_sh_after_the_same_checks(tmp_path: Path) -> None:
    plain = _write(tmp_path / "plain", "exit 3\n")
    s = scripts.resolve(f"{plain} x")
    assert s.mode == "sh" and s.notes == (f"Please add a #! shebang to script {plain}",)
    assert s.command(["y z"]) == [scripts.SHELL, str(plain), "x", "y z"]


def test_not_executable_at_load_stays_disabled_after_chmod(tmp_path: Path) -> None:
    """The 644-then-755 race: the decision is taken once, at load."""
    late = _write(tmp_path / "late.sh", mode=0o644)
    s = scripts.resolve(str(late))
    assert s.disabled == f"WARNING - script '{late}' is not executable for uid:gid 0:0 - disabling."
    late.chmod(0o755)
    assert not s.runnable


def test_a_fifo_in_place_of_a_script_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fifo.chmod(0o755)
    assert scripts.resolve(str(fifo)).refusal == "wrong-type"


@needs_root
def test_unsafe_directory_disables_with_script_security_and_warns_without(safe: Path) -> None:
    owned = safe / "owned"
    owned.mkdir()
    os.chown(owned, 65534, 65534)
    owned.chmod(0o755)
    script = _write(owned / "s.sh")
    refused = scripts.resolve(str(script), security=True)
    assert refused.disabled == f"Unsafe permissions found for script '{script}' - disabling."
    assert refused.refusal == "insecure"
    allowed = scripts.resolve(str(script), security=False)
    assert allowed.runnable and allowed.insecure
    assert allowed.notes == (f"Unsafe permissions found for script '{script}'.",)
    # run as nobody it needs no protection: keepalived runs it
    assert scripts.resolve(str(script), NOBODY, security=True).runnable


@needs_root
def test_check_security_components(safe: Path) -> None:
    script = _write(safe / "check.sh")
    assert scripts.check_security(str(script)) is None
    script.chmod(0o757)  # world-writable file
    assert scripts.check_security(str(script)) == "unsafe"
    script.chmod(0o755)
    os.chown(script, 0, 65534)
    script.chmod(0o775)  # group-writable by a non-root group
    assert scripts.check_security(str(script)) == "unsafe"
    os.chown(script, 0, 0)  # group-writable by root's group is fine
    assert scripts.check_security(str(script)) is None
    sticky = safe / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)  # like /tmp: writable, but sticky
    assert scripts.check_security(str(_write(sticky / "s.sh"))) is None
    assert scripts.check_security(str(script) + "/below") == "wrong-type"


@needs_root
def test_a_symlink_is_judged_by_its_target_too(safe: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    bad.chmod(0o777)
    target = _write(bad / "real.sh")
    link = safe / "link.sh"
    link.symlink_to(target)
    s = scripts.resolve(str(link), security=True)
    assert s.refusal == "insecure" and str(bad) in (s.disabled or "")


@needs_root
def test_setuid_root_needs_protection_even_for_another_user(safe: Path) -> None:
    suid = _write(safe / "suid.sh")
    suid.chmod(0o4755)
    st = os.stat(suid)
    assert scripts.needs_protection(st, NOBODY)
    suid.chmod(0o755)
    assert not scripts.needs_protection(os.stat(suid), NOBODY) and scripts.needs_protection(st, ROOT)


@needs_root
def test_the_user_must_reach_and_execute_the_script(safe: Path) -> None:
    private = safe / "private"
    private.mkdir()
    private.chmod(0o700)
    script = _write(private / "s.sh")
    s = scripts.resolve(str(script), NOBODY)
    assert s.disabled == f"Script {script} cannot be accessed - Permission denied"
    own = _write(safe / "own.sh", mode=0o744)  # x for the owner (root) only
    assert scripts.resolve(str(own), NOBODY).refusal == "not-executable"
    found, denied = scripts.find_in_path("own.sh", NOBODY, str(safe))
    assert found is None and denied
    assert scripts.resolve("own.sh", NOBODY, path_env=str(safe)).disabled == (
        "Permissions failure for script own.sh in path - disabling"
    )


def _lookup(known: dict[str, ScriptUser]) -> scripts.Lookup:
    def lookup(user: str, group: str | None) -> ScriptUser:
        if user not in known:
            raise UserError(f"Script user '{user}' does not exist")
        if group is not None and group != "nogroup":
            raise UserError(f"Script group '{group}' does not exist")
        return known[user]

    return lookup


def test_default_user_as_keepalived() -> None:
    none = _lookup({"nobody": NOBODY})
    assert scripts.default_user("nobody", None, True, none) == DefaultUser(NOBODY)
    assert scripts.default_user("ghost", None, False, none) == DefaultUser(None, "Script user 'ghost' does not exist")
    # no script_user: keepalived_script if it exists, else root, unless script security is on
    missing = DefaultUser(ROOT, "Script user 'keepalived_script' does not exist")
    assert scripts.default_user(None, None, False, none) == missing
    assert scripts.default_user(None, None, True, none).user is None
    ks = ScriptUser(990, 990, "keepalived_script")
    assert scripts.default_user(None, None, True, _lookup({"keepalived_script": ks})).user == ks


def test_lookup_is_by_name_only() -> None:
    with pytest.raises(UserError, match="Script user '0' does not exist"):
        scripts.lookup_user("0")
    assert scripts.lookup_user("root").uid == 0


def test_script_for_user_words_and_default_failures() -> None:
    lookup = _lookup({"nobody": NOBODY})
    no_default = DefaultUser(None)
    own = scripts.script_for("/bin/true", ("nobody", "nogroup"), no_default, kind="notify", name="VI_1",
                             security=True, lookup=lookup)  # fmt: skip
    assert own.runnable and own.user == NOBODY
    notify = scripts.script_for("/bin/true x", (), no_default, kind="notify", name="VI_1", security=True)
    assert notify.disabled == "Failed to set default user for notify script /bin/true - ignoring"
    tracked = scripts.script_for("/bin/true", (), no_default, kind="vrrp_script", name="chk", security=True)
    assert tracked.disabled == "Unable to set default user for vrrp script chk - removing"
    bad = scripts.script_for("/bin/true x", ("ghost",), DefaultUser(ROOT), kind="notify", name="VI_1",
                             security=True, lookup=lookup)  # fmt: skip
    assert bad.refusal == "user" and bad.disabled is not None
    assert bad.disabled.endswith("Invalid user/group for notify script /bin/true - ignoring")
    bad_group = scripts.script_for("/bin/true x", ("nobody", "nogrp"), DefaultUser(ROOT), kind="vrrp_script",
                                   name="chk", security=True, lookup=lookup)  # fmt: skip
    assert bad_group.disabled == ("Script group 'nogrp' does not exist; Unable to set uid/gid for script "
                                  "'/bin/true' 'x'")  # fmt: skip


def test_is_executable_follows_keepalived_classes() -> None:
    st = os.stat_result((stat.S_IFREG | 0o710, 0, 0, 1, 1000, 100, 0, 0, 0, 0))
    assert scripts.is_executable(st, ROOT)
    assert scripts.is_executable(st, ScriptUser(1000, 5))  # owner bit
    assert scripts.is_executable(st, ScriptUser(2000, 100))  # group bit
    assert not scripts.is_executable(st, ScriptUser(2000, 5))  # other: none
