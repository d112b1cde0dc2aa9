"""vrrp_script and notify commands: who runs them, and whether keepalived would run them at all.

Everything here is decided once per (re)load, as keepalived decides it (``notify.c``,
``check_script_secure``), and the answer is a ``Script`` that either runs or is *disabled* with
keepalived's own log line. A disabled script never runs until the next reload, whatever happens to
the file meanwhile: there is no fallback to a shell for a command that failed the check.

How a command line becomes a process (``resolve``):

* The text is split into words (quotes group words; nothing else is interpreted). The first word
  is the program: a name without a slash is looked up on PATH as the script's user would look it
  up ("Cannot find script X in path - disabling"); then the path is resolved (symlinks, ``..``)
  and must be reachable by that user ("Script X cannot be accessed - <reason>") and executable by
  them ("... is not executable for uid:gid U:G - disabling"). So ``"/usr/bin/true;/x"`` and
  ``">/file"`` are names of files that do not exist, and are disabled, exactly as keepalived
  disables them.
* The program is executed directly (execve: no shell, no word is interpreted). A file the kernel
  cannot execute (no ``#!``, not ELF) runs as ``/bin/sh FILE ARGS``, which is what keepalived's
  ``system()`` amounts to for it, after the same checks.
* ``</path`` (keepalived's "file exists" test) is the one form keepalived hands to a shell
  unchecked; here the path is given to ``sh -c '<"$1"'`` as an argument, so it is only opened.
  keepalived also runs any further words of such a line through that shell, unchecked, as root;
  vrrpkit disables such a line instead (docs/security.md).

``enable_script_security``: when a script runs with root's power (as uid or gid 0, or set-uid/gid
root), every component of its path, and of the file it resolves to, must be owned by root and not
writable by a non-root group or by others (a sticky directory may be writable). Otherwise keepalived
logs "Unsafe permissions found for script 'X'" and, with enable_script_security, disables it.

Who runs it (``default_user``, ``script_user_for``): a script's own ``user USER [GROUP]`` (notify:
the words after the command), else ``script_user``, else the user ``keepalived_script`` if it
exists, else root. With enable_script_security and no such user, scripts without a user of their
own are removed rather than run as root. Users and groups are names (keepalived uses getpwnam).
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import shlex
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

SHELL = "/bin/sh"
DEFAULT_SCRIPT_USER = "keepalived_script"
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --- who runs it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptUser:
    """uid and gid a script runs with (keepalived sets the gid as the only supplementary group)."""

    uid: int
    gid: int
    name: str = ""

    @property
    def is_root(self) -> bool:
        return self.uid == 0 or self.gid == 0

    @property
    def ids(self) -> str:
        return f"{self.uid}:{self.gid}"


ROOT = ScriptUser(0, 0, "root")


class UserError(LookupError):
    """The user or group does not exist; the message is keepalived's."""


Lookup = Callable[[str, "str | None"], ScriptUser]


def lookup_user(user: str, group: str | None = None) -> ScriptUser:
    """A user name and optional group name, by name only (keepalived: getpwnam/getgrnam)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise UserError(f"Script user '{user}' does not exist") from None
    gid = entry.pw_gid
    if group is not None:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise UserError(f"Script group '{group}' does not exist") from None
    return ScriptUser(entry.pw_uid, gid, entry.pw_name)


@dataclass(frozen=True)
class DefaultUser:
    """keepalived's default script user: None means scripts without a user of their own are removed."""

    user: ScriptUser | None
    message: str | None = None  # what keepalived says about it (None: nothing)


def default_user(script_user: str | None, script_group: str | None, security: bool,
                 lookup: Lookup = lookup_user) -> DefaultUser:  # fmt: skip
    if script_user:
        try:
            return DefaultUser(lookup(script_user, script_group))
        except UserError as exc:
            return DefaultUser(None, str(exc))
    try:
        return DefaultUser(lookup(DEFAULT_SCRIPT_USER, None))
    except UserError as exc:
        return DefaultUser(None if security else ROOT, str(exc))


# --- how it is invoked ----------------------------------------------------------------------------

Mode = Literal["exec", "sh", "file-test"]
#: Why a script is disabled: keepalived's SC_NOTFOUND ("not-found"), SC_INHIBIT ("insecure",
#: "wrong-type"), not SC_EXECUTABLE ("not-executable"), a user it cannot set ("user"), a line it
#: cannot parse ("parse"), or a file test with a command after it ("shell-form", vrrpkit only).
Refusal = Literal["parse", "not-found", "not-executable", "wrong-type", "insecure", "user", "shell-form"]


@dataclass(frozen=True)
class Script:
    """A command resolved and checked once: how it runs, as whom, or why it never runs."""

    text: str
    user: ScriptUser = ROOT
    argv: tuple[str, ...] = ()  # exec/sh: the program's resolved path, then the words; file-test: (path,)
    mode: Mode = "exec"
    disabled: str | None = None  # keepalived's line saying it will not run (None: it runs)
    notes: tuple[str, ...] = ()  # keepalived's warnings about a script that still runs
    insecure: bool = False  # unsafe permissions for a root-run script (runs only without script security)
    refusal: Refusal | None = None

    @property
    def runnable(self) -> bool:
        return self.disabled is None

    def command(self, args: Sequence[str] = ()) -> list[str]:
        """The argv handed to the kernel, with notify arguments appended as separate words."""
        if self.disabled is not None:
            raise ScriptRefused(self.disabled)
        if self.mode == "file-test":
            return [SHELL, "-c", '<"$1"', "sh", self.argv[0]]
        if self.mode == "sh":
            return [SHELL, *self.argv, *args]
        return [*self.argv, *args]


class ScriptRefused(RuntimeError):
    """A disabled script was asked to run (a bug in the caller: disabled scripts are skipped)."""


def split_words(text: str) -> list[str]:
    """keepalived-like word splitting (quotes group words); ValueError on unbalanced quotes."""
    return shlex.split(text, comments=False, posix=True)


def is_executable(st: os.stat_result, user: ScriptUser) -> bool:
    """keepalived's is_executable: root needs any x bit; others the bit of their class."""
    mode = st.st_mode
    if user.uid == 0:
        return bool(mode & 0o111)
    if user.uid == st.st_uid:
        return bool(mode & stat.S_IXUSR)
    if user.gid == st.st_gid:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)


def _can_search(path: str, user: ScriptUser) -> bool:
    """Whether ``user`` may traverse every directory leading to ``path`` (what keepalived learns
    by resolving the path with the user's euid)."""
    if user.uid == 0:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    while True:
        try:
            st = os.stat(directory)
        except OSError:
            return False
        mode = st.st_mode
        bit = stat.S_IXUSR if st.st_uid == user.uid else stat.S_IXGRP if st.st_gid == user.gid else stat.S_IXOTH
        if not mode & bit:
            return False
        if directory == "/":
            return True
        directory = os.path.dirname(directory)


def find_in_path(word: str, user: ScriptUser, path_env: str | None = None) -> tuple[str | None, bool]:
    """keepalived's find_path: the first regular file on PATH executable by ``user``; and whether
    a candidate was refused for its permissions (keepalived's EACCES)."""
    search = path_env if path_env is not None else os.environ.get("PATH", _DEFAULT_PATH)
    denied = False
    for directory in search.split(":"):
        candidate = os.path.join(directory or ".", word)
        try:
            st = os.stat(candidate)
        except OSError as exc:
            denied = denied or exc.errno == errno.EACCES
            continue
        if not _can_search(candidate, user):
            denied = True
        elif stat.S_ISREG(st.st_mode) and is_executable(st, user):
            return candidate, False
        else:
            denied = True
    return None, denied


def _kernel_can_exec(path: str) -> bool:
    """ELF or ``#!``: what execve accepts (keepalived asks libmagic). Opened non-blocking: never
    waits on a FIFO someone put in its place."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, 4)
    except OSError:
        return False
    finally:
        os.close(fd)
    return head.startswith(b"#!") or head == b"\x7fELF"


def _exec_path(given: str, real: str) -> str:
    """keepalived runs the resolved path but keeps the name it was called by when the resolved
    name differs (some programs behave by their argv[0]) and that name is the same file."""
    if os.path.basename(given) == os.path.basename(real):
        return real
    alias = os.path.join(os.path.dirname(real), os.path.basename(given))
    with contextlib.suppress(OSError):
        a, b = os.stat(alias), os.stat(real)
        if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
            return alias
    return real


def resolve(text: str, user: ScriptUser = ROOT, *, security: bool = False, path_env: str | None = None) -> Script:
    """Decide once whether and how ``text`` runs as ``user`` (see the module docstring)."""
    try:
        words = split_words(text)
    except ValueError:
        words = []
    if not words:
        return Script(text, user, disabled=f"Unable to parse script '{text}' - ignoring", refusal="parse")
    first = words[0]
    if first.startswith("<") and first[1:].lstrip(" \t").startswith("/"):
        target = first[1:].lstrip(" \t")
        if len(words) > 1:
            return Script(text, user, disabled=f"Script {text} is a file test followed by a command, which "
                          "keepalived would run through a shell without any check - disabling",
                          refusal="shell-form")  # fmt: skip
        return Script(text, user, (target,), "file-test")
    notes: list[str] = []
    if "/" not in first:
        found, denied = find_in_path(first, user, path_env)
        if found is None:
            why = "Permissions failure for" if denied else "Cannot find"
            return Script(text, user, disabled=f"{why} script {first} in path - disabling", refusal="not-found")
        notes.append(f"WARNING - script `{first}` resolved by path search to `{found}`. Please specify full path.")
        first = found
    try:
        real = os.path.realpath(first, strict=True)
        if not _can_search(real, user):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        st = os.stat(real)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return Script(text, user, disabled=f"Script {first} cannot be accessed - {reason}", refusal="not-found")
    path = _exec_path(first, real)
    if not stat.S_ISREG(st.st_mode):
        return Script(text, user, disabled=f"Wrong file type found in script path '{real}'.", refusal="wrong-type")
    if not is_executable(st, user):
        return Script(text, user, disabled=f"WARNING - script '{path}' is not executable for uid:gid "
                      f"{user.ids} - disabling.", refusal="not-executable")  # fmt: skip
    mode: Mode = "exec"
    if not _kernel_can_exec(real):
        notes.append(f"Please add a #! shebang to script {path}")
        mode = "sh"
    argv = (path, *words[1:])
    if not needs_protection(st, user):
        return Script(text, user, argv, mode, notes=tuple(notes))
    for target in dict.fromkeys((path, real)):
        problem = check_security(target)
        if problem == "wrong-type":
            return Script(text, user, argv, mode, disabled=f"Wrong file type found in script path '{target}'.",
                          refusal="wrong-type")  # fmt: skip
        if problem == "unsafe":
            if security:
                return Script(text, user, argv, mode, insecure=True, refusal="insecure",
                              disabled=f"Unsafe permissions found for script '{target}' - disabling.")  # fmt: skip
            notes.append(f"Unsafe permissions found for script '{target}'.")
            return Script(text, user, argv, mode, notes=tuple(notes), insecure=True)
    return Script(text, user, argv, mode, notes=tuple(notes))


# --- enable_script_security -----------------------------------------------------------------------


def needs_protection(st: os.stat_result, user: ScriptUser) -> bool:
    """keepalived checks scripts that run with root's power: as uid/gid 0, or set-uid/gid root."""
    mode = st.st_mode
    return (
        user.is_root
        or (st.st_uid == 0 and bool(mode & stat.S_IXUSR) and bool(mode & stat.S_ISUID))
        or (st.st_gid == 0 and bool(mode & stat.S_IXGRP) and bool(mode & stat.S_ISGID))
    )


def unsafe(st: os.stat_result) -> bool:
    """Owned by someone else than root, or (a file, or a directory without the sticky bit)
    writable by a non-root group or by everyone."""
    mode = st.st_mode
    checked = (stat.S_ISDIR(mode) and not mode & stat.S_ISVTX) or stat.S_ISREG(mode)
    return st.st_uid != 0 or (checked and ((st.st_gid != 0 and bool(mode & stat.S_IWGRP)) or bool(mode & stat.S_IWOTH)))


Problem = Literal["wrong-type", "unsafe"]


def check_security(path: str, lstat: Callable[[str], os.stat_result] = os.lstat) -> Problem | None:
    """keepalived's check_security: ``/``, then every prefix of ``path`` as written, without
    following symlinks. A non-final component must be a directory, the final one a file or a
    symlink; the first unsafe component ends the walk."""
    parts = [p for p in path.split("/") if p]
    prefixes = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
    for i, prefix in enumerate(prefixes):
        try:
            st = lstat(prefix)
        except OSError:
            return "wrong-type"
        last = i == len(prefixes) - 1
        if (not last and not stat.S_ISDIR(st.st_mode)) or (
            last and not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode))
        ):
            return "wrong-type"
        if unsafe(st):
            return "unsafe"
    return None


# --- a configured line, with its user -------------------------------------------------------------

Kind = Literal["vrrp_script", "notify"]


def script_for(text: str, user_words: Sequence[str], default: DefaultUser, *, kind: Kind, name: str,
               security: bool, lookup: Lookup = lookup_user, path_env: str | None = None) -> Script:  # fmt: skip
    """One configured command with its own ``USER [GROUP]`` words (or none), resolved as keepalived
    resolves it; a bad or missing user disables it with keepalived's words."""
    if user_words:
        try:
            user = lookup(user_words[0], user_words[1] if len(user_words) > 1 else None)
        except UserError as exc:
            words = _words(text)
            if kind == "notify":
                why = f"{exc}; Invalid user/group for notify script {(words or [text])[0]} - ignoring"
            else:
                quoted = " ".join(f"'{w}'" for w in words)
                why = f"{exc}; Unable to set uid/gid for script {quoted}"
            return Script(text, ROOT, disabled=why, refusal="user")
    elif default.user is None:
        if kind == "notify":
            program = (_words(text) or [text])[0]
            why = f"Failed to set default user for notify script {program} - ignoring"
            return Script(text, ROOT, disabled=why, refusal="user")
        return Script(
            text, ROOT, disabled=f"Unable to set default user for vrrp script {name} - removing", refusal="user"
        )
    else:
        user = default.user
    return resolve(text, user, security=security, path_env=path_env)


def _words(text: str) -> list[str]:
    try:
        return split_words(text)
    except ValueError:
        return text.split()
