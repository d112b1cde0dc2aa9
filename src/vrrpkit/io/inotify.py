"""inotify(7) through libc: which names in watched directories were written, renamed or removed.

keepalived watches its track files with inotify and acts on a change at once (measured: 1 ms from
`echo 1 > file` to the VIP's removal; a rename over the file, a deletion and a new file the same;
a write not yet closed is not read). A poll alone is late by up to its period, so the daemon reads a
file again when its directory says so, and keeps polling for files inotify cannot see (procfs,
sysfs, network filesystems).

Directories are watched, not files: a file replaced by rename (the atomic way to write one), or
deleted and made again, stays seen. CPython ships no inotify module; libc's three calls through
ctypes are enough, and a kernel or sandbox without inotify only means polling.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_DELETE = 0x00000200
IN_Q_OVERFLOW = 0x00004000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
# what makes a file's value change: a write closed, a rename onto or off its name, its deletion
CHANGES = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE
_EVENT = struct.Struct("=iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)
_READ = 64 * 1024


class DirWatch:
    """One inotify descriptor watching directories for `CHANGES`; `fd` goes to the event loop."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), "inotify_init1")
        self.fd: int = fd
        self._dirs: dict[int, str] = {}

    def watch(self, directory: str) -> None:
        """Watch one directory (an absolute path); raises OSError (ENOENT, ENOSPC: out of watches)."""
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(directory), CHANGES | IN_ONLYDIR)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), directory)
        self._dirs[wd] = directory

    def changed(self) -> set[str] | None:
        """The paths named by the events queued so far (none: an empty set); None when the kernel's
        queue overflowed and dropped events (then anything may have changed)."""
        paths: set[str] = set()
        while True:
            try:
                data = os.read(self.fd, _READ)
            except BlockingIOError:
                return paths
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            if not data:
                return paths
            at = 0
            while at + _EVENT.size <= len(data):
                wd, mask, _cookie, size = _EVENT.unpack_from(data, at)
                name = data[at + _EVENT.size : at + _EVENT.size + size].rstrip(b"\0")
                at += _EVENT.size + size
                if mask & IN_Q_OVERFLOW:
                    self._drain()
                    return None
                directory = self._dirs.get(wd)
                if directory is not None and name:
                    paths.add(os.path.join(directory, os.fsdecode(name)))

    def _drain(self) -> None:
        while True:
            try:
                if not os.read(self.fd, _READ):
                    return
            except OSError:
                return

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
