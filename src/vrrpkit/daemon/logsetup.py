"""Where the daemon's log lines go: journald (native, structured), syslog, or stderr.

keepalived logs through syslog(3) (``-G`` turns that off, ``-l`` adds the console, ``-S`` picks the
facility, ``-D`` adds detail). vrrpkit honours the same flags, with journald's native protocol
preferred over syslog where journald runs: one datagram per record to
``/run/systemd/journal/socket`` (no libsystemd, no new dependency), carrying the priority, the
facility and the fields people filter on: ``journalctl INSTANCE=VI_1``, ``VRID=51``,
``STATE=MASTER``. The sinks:

* journald when its socket exists (else syslog through ``/dev/log`` when that exists), unless
  ``-G``/``--no-syslog``;
* stderr, always, except when stderr *is* the journal (systemd's ``$JOURNAL_STREAM`` names it) and
  the native sink is on: the same line twice would be noise (``-l`` asks for it anyway, as with
  keepalived). Under systemd that means native records with fields; from a terminal, a lab or a
  test, plain lines on stderr as before.

Detail (``-D``): records logged on the ``vrrpkit.detail`` logger appear only with ``-D``, as
keepalived gates the same kind of lines on its LOG_DETAIL bit; ``-DD`` adds debug records.

Callers attach fields with ``extra=fields(instance=..., vrid=..., state=...)``; a sink that cannot
carry them (stderr, syslog) ignores them, so the message text alone must say what happened.
"""

from __future__ import annotations

import array
import contextlib
import errno
import fcntl
import logging
import os
import socket
import stat
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

JOURNAL_SOCKET = "/run/systemd/journal/socket"
SYSLOG_SOCKET = "/dev/log"
IDENTIFIER = "vrrpkit"
DETAIL = "vrrpkit.detail"

# syslog(3) facility numbers (sys/syslog.h, without the << 3); keepalived's -S takes 0-7 for
# LOG_LOCAL0-7, or (2.2) local0-7, user, daemon.
FACILITIES = {"user": 1, "daemon": 3, **{f"local{i}": 16 + i for i in range(8)}}
DEFAULT_FACILITY = FACILITIES["daemon"]


def parse_facility(text: str) -> int:
    """keepalived's -S argument: 0-7 (LOG_LOCAL0-7), local0-7, user or daemon. ValueError otherwise."""
    value = text.strip().lower()
    if value.isdigit() and 0 <= int(value) <= 7:
        return FACILITIES[f"local{int(value)}"]
    if value in FACILITIES:
        return FACILITIES[value]
    raise ValueError(f"invalid log facility {text!r} (0-7, local0-7, user or daemon)")


def priority_of(levelno: int) -> int:
    """syslog priority of a logging level: error 3, warning 4, info 6, debug 7 (critical 2)."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def fields(**values: object) -> dict[str, dict[str, str]]:
    """``extra=`` for a log call: journal fields (upper-cased names), e.g. INSTANCE, VRID, STATE."""
    return {"journal": {name.upper(): str(value) for name, value in values.items() if value is not None}}


def encode_journal(items: list[tuple[str, str]]) -> bytes:
    """journald's native datagram: ``KEY=value`` lines; a value with a newline uses the binary form
    (``KEY``, newline, 64-bit little-endian length, the bytes, newline)."""
    out = bytearray()
    for key, value in items:
        data = value.encode("utf-8", errors="replace")
        if b"\n" in data:
            out += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key.encode() + b"=" + data + b"\n"
    return bytes(out)


def journal_items(record: logging.LogRecord, message: str, facility: int) -> list[tuple[str, str]]:
    """The fields of one record: MESSAGE, PRIORITY, SYSLOG_FACILITY/IDENTIFIER, CODE_*, and the
    caller's ``fields(...)``."""
    items = [
        ("MESSAGE", message),
        ("PRIORITY", str(priority_of(record.levelno))),
        ("SYSLOG_FACILITY", str(facility)),
        ("SYSLOG_IDENTIFIER", IDENTIFIER),
        ("CODE_FILE", record.pathname),
        ("CODE_LINE", str(record.lineno)),
        ("CODE_FUNC", record.funcName),
    ]
    extra = getattr(record, "journal", None)
    if isinstance(extra, Mapping):
        items += [(k, str(v)) for k, v in extra.items() if _valid_field(k)]
    return items


def _valid_field(name: str) -> bool:
    """journald field names: uppercase letters, digits, underscores; not starting with _ or a digit."""
    return bool(name) and name[0].isalpha() and all(c.isupper() or c.isdigit() or c == "_" for c in name)


class JournalHandler(logging.Handler):
    """journald's native protocol, without libsystemd. A record too large for one datagram goes
    through a sealed memfd, as sd_journal_send does; a journal that went away costs a dropped
    record (``handleError``), never the daemon."""

    def __init__(self, path: str = JOURNAL_SOCKET, facility: int = DEFAULT_FACILITY) -> None:
        super().__init__()
        self.path = path
        self.facility = facility
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = encode_journal(journal_items(record, self.format(record), self.facility))
            try:
                self.sock.sendto(data, self.path)
            except OSError as exc:
                if exc.errno not in (errno.EMSGSIZE, errno.ENOBUFS):
                    raise
                self._send_memfd(data)
        except Exception:
            self.handleError(record)

    def _send_memfd(self, data: bytes) -> None:
        """journald takes a record of any size as a sealed memfd passed with SCM_RIGHTS."""
        fd = os.memfd_create("vrrpkit-journal", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.write(fd, data)
            seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
            self.sock.sendmsg([], rights, 0, self.path)
        finally:
            os.close(fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        super().close()


class ConsoleFormatter(logging.Formatter):
    """``2026-01-02T03:04:05 vrrpkit[PID] info: message`` on stderr."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        when = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        return f"{when} vrrpkit[{os.getpid()}] {record.levelname.lower()}: {text}"


@dataclass(frozen=True)
class LogOptions:
    """keepalived's logging flags as `vrrpkit run` parsed them."""

    console: bool = False  # -l/--log-console
    syslog: bool = True  # not -G/--no-syslog
    facility: int = DEFAULT_FACILITY  # -S/--log-facility
    detail: int = 0  # -D/--log-detail, counted
    level: str = "info"  # --log-level


@dataclass
class LogPlan:
    """What `configure` set up (said in the first log line, and checked by tests)."""

    journal: str | None = None  # the journald socket used
    syslog: str | None = None  # the syslog socket used
    console: bool = False
    handlers: list[logging.Handler] = field(default_factory=list)

    def describe(self) -> str:
        sinks = [f"journald ({self.journal})" if self.journal else "", f"syslog ({self.syslog})" if self.syslog else "",
                 "stderr" if self.console else ""]  # fmt: skip
        return ", ".join(s for s in sinks if s) or "nowhere"


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def stderr_is_journal(env: Mapping[str, str], fd: int = 2) -> bool:
    """systemd sets $JOURNAL_STREAM to DEVICE:INODE of the journal stream it connected to stderr."""
    value = env.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def configure(
    opts: LogOptions,
    *,
    env: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
    journal_path: str = JOURNAL_SOCKET,
    syslog_path: str = SYSLOG_SOCKET,
) -> LogPlan:
    """Point the ``vrrpkit`` logger at the sinks `opts` and the host call for (see the module doc)."""
    env = os.environ if env is None else env
    stream = sys.stderr if stream is None else stream
    plan = LogPlan()
    if opts.syslog and _is_socket(journal_path):
        plan.journal = journal_path
        plan.handlers.append(JournalHandler(journal_path, opts.facility))
    elif opts.syslog and _is_socket(syslog_path):
        plan.syslog = syslog_path
        from logging.handlers import SysLogHandler  # only here: it pulls pickle and queue in (~0.8 MB)

        handler = SysLogHandler(address=syslog_path, facility=opts.facility)
        handler.ident = f"{IDENTIFIER}[{os.getpid()}]: "
        plan.handlers.append(handler)
    duplicate = plan.journal is not None and stderr_is_journal(env, _fileno(stream))
    plan.console = opts.console or not duplicate  # -l: the console even when it is the journal, as keepalived
    if plan.console:
        console = logging.StreamHandler(stream)
        console.setFormatter(ConsoleFormatter())
        plan.handlers.append(console)
    root = logging.getLogger("vrrpkit")
    for old in root.handlers:
        old.close()
    root.handlers[:] = plan.handlers
    level = logging.DEBUG if opts.detail >= 2 else getattr(logging, opts.level.upper())
    root.setLevel(level)
    root.propagate = False
    logging.getLogger(DETAIL).setLevel(logging.NOTSET if opts.detail else logging.WARNING)
    return plan


def _fileno(stream: TextIO) -> int:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return -1
