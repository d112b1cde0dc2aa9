"""A notify FIFO that never blocks or kills the daemon, opened the way keepalived opens it (notify.c).

* The FIFO is created (mode 0644, owned by the configured user/group) when the path does not exist,
  and removed at close only if we created it, unlinked *before* the close so a reader that loops
  re-opening it cannot open it again.
* It is opened O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC. Read-write means this process holds a
  reader end itself: a write never raises SIGPIPE/EPIPE or ENXIO when the reader goes away, lines
  wait in the pipe (64 KiB) for the next reader, and a full pipe makes the write fail with EAGAIN,
  which drops that line and counts it instead of blocking the loop. A line is far below PIPE_BUF,
  so it is written whole or not at all.
* A path that exists but is not a FIFO (a regular file, a socket...) or is a symlink is refused:
  keepalived 2.2.7 writes into a regular file (measured), which fills a disk or corrupts whatever
  file the path names; vrrpkit says why and writes nothing (docs/divergences.md).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass

FIFO_MODE = 0o644
_FLAGS = os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW


class FifoRefused(OSError):
    """The path cannot be used as a notify FIFO (not a FIFO, a symlink, no permission...)."""


def path_kind(path: str) -> str | None:
    """'fifo', 'symlink', 'file', 'directory', 'other', or None when nothing is there (lstat, no follow)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError:
        return "other"
    if stat.S_ISFIFO(st.st_mode):
        return "fifo"
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    return "other"


@dataclass
class FifoWriter:
    """One open notify FIFO: `write(line)` never blocks and never raises."""

    path: str
    fd: int
    created: bool
    written: int = 0
    dropped: int = 0

    def write(self, line: str) -> bool:
        """Write one line (newline included); False (and counted) when the pipe is full or broken."""
        data = line.encode()
        try:
            n = os.write(self.fd, data)
        except OSError:
            self.dropped += 1
            return False
        if n != len(data):  # cannot happen below PIPE_BUF; counted rather than assumed
            self.dropped += 1
            return False
        self.written += 1
        return True

    def close(self) -> None:
        if self.created:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self.created = False
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def open_fifo(path: str, uid: int | None = None, gid: int | None = None) -> FifoWriter:
    """Create the FIFO if the path is free, then open it; FifoRefused says why it cannot be used."""
    created = False
    try:
        os.mkfifo(path, FIFO_MODE)
        created = True
        if (uid is not None and uid != os.geteuid()) or (gid is not None and gid != os.getegid()):
            os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    except FileExistsError:
        kind = path_kind(path)
        if kind != "fifo":
            why = f"{path} exists and is a {kind}, not a FIFO: refusing to write to it"
            raise FifoRefused(errno.EINVAL, why) from None
    except OSError as exc:
        raise FifoRefused(exc.errno, f"cannot create FIFO {path}: {exc.strerror}") from exc
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(path)
        reason = "it is a symlink" if exc.errno == errno.ELOOP else exc.strerror
        raise FifoRefused(exc.errno, f"cannot open FIFO {path}: {reason}") from exc
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):  # swapped between the check and the open
        os.close(fd)
        raise FifoRefused(errno.EINVAL, f"{path} is not a FIFO: refusing to write to it")
    return FifoWriter(path, fd, created)
