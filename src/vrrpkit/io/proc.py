"""Which processes run: a cached /proc scan, and the kernel's process events where the kernel sends them.

keepalived's track_process listens to the proc connector (NETLINK_CONNECTOR, CN_IDX_PROC) and reads
/proc only at start. The connector only answers the initial network namespace: inside any other
(a container, a lab host) subscribing fails with ECONNREFUSED, keepalived logs "Failed to set/clear
process event listen - errno 111" and counts every tracked process as absent. vrrpkit uses the
connector where it works (`ProcEvents`) and otherwise scans /proc (`ProcTable.scan`).

The scan is kept cheap and bounded by a cache keyed by pid and start time:

* each scan lists /proc once and reads `stat` (name, state, start time) only for pids it has not
  seen, plus the pids the caller says matter (those that matched last time: a process that exec'd
  or renamed itself is noticed at the next scan), plus a fixed-size round-robin slice of the rest,
  so a name change of any process is seen within `len(cache) / refresh` scans;
* between scans, `check` re-reads only the pids that matched, so a tracked process that dies is seen
  without listing /proc at all;
* `cmdline` is read only when a tracker matches on the full command line;
* the start time tells a reused pid from the process the cache remembers.

`reads` counts the files opened, which is what the bench and the 10,000-process test measure.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from vrrpkit.io.fdsocket import NOTHING_TO_READ, FdSocket

CMDLINE_MAX = 4096  # bytes of a command line read (keepalived reads the longest configured name + params)
REFRESH_PER_SCAN = 64


@dataclass(frozen=True)
class ProcInfo:
    """One process as the tracker sees it; `argv` is None when command lines are not read."""

    pid: int
    comm: str
    start: int
    zombie: bool
    argv: tuple[str, ...] | None = None


def parse_stat(pid: int, text: str) -> ProcInfo | None:
    """/proc/PID/stat: the name is between the first '(' and the last ')', then state, ..., starttime (22)."""
    open_at, close_at = text.find("("), text.rfind(")")
    if open_at < 0 or close_at < open_at:
        return None
    rest = text[close_at + 2 :].split()
    if len(rest) < 20:
        return None
    try:
        start = int(rest[19])
    except ValueError:
        return None
    return ProcInfo(pid, text[open_at + 1 : close_at], start, rest[0] == "Z")


class ProcTable:
    """The processes of a /proc tree, refreshed by `scan()` (or per pid by `refresh()` from events)."""

    def __init__(self, root: str = "/proc", *, cmdline: bool = False, refresh_per_scan: int = REFRESH_PER_SCAN):
        self.root = root
        self.cmdline = cmdline
        self.refresh_per_scan = refresh_per_scan
        self.procs: dict[int, ProcInfo] = {}
        self.reads = 0
        self.scans = 0
        self._young: set[int] = set()
        self._cursor = 0

    def _slurp(self, path: str, size: int) -> bytes:
        """One read of a small /proc file, without Python's buffered-file machinery (the scan's hot spot)."""
        self.reads += 1
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return os.read(fd, size)
        finally:
            os.close(fd)

    def _read(self, pid: int) -> ProcInfo | None:
        base = f"{self.root}/{pid}"
        try:
            info = parse_stat(pid, self._slurp(f"{base}/stat", 1024).decode(errors="replace"))
            if info is None or info.zombie or not self.cmdline:
                return info
            raw = self._slurp(f"{base}/cmdline", CMDLINE_MAX)
        except OSError:
            return None
        argv = tuple(part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")) if raw else ()
        return ProcInfo(info.pid, info.comm, info.start, info.zombie, argv)

    def check(self, pids: Iterable[int]) -> None:
        """Re-read only `pids` (the ones that matched): a dead or renamed tracked process is seen at once,
        without listing /proc."""
        for pid in pids:
            self.refresh(pid)

    def refresh(self, pid: int) -> None:
        """Re-read one process (an exec, a rename, a fork seen by the connector); forget it if gone."""
        info = self._read(pid)
        if info is None:
            self.procs.pop(pid, None)
        else:
            self.procs[pid] = info

    def forget(self, pid: int) -> None:
        self.procs.pop(pid, None)

    def scan(self, hot: Iterable[int] = ()) -> None:
        """List /proc; read new pids, `hot` ones, last scan's new ones and a round-robin slice of the rest."""
        self.scans += 1
        try:
            names = os.listdir(self.root)
        except OSError:
            return
        live = {int(n) for n in names if n.isdigit()}
        for pid in [p for p in self.procs if p not in live]:
            del self.procs[pid]
        todo = {p for p in live if p not in self.procs}
        todo.update(p for p in hot if p in live)
        todo.update(p for p in self._young if p in live)
        cached = sorted(self.procs)
        if cached and self.refresh_per_scan:
            start = self._cursor % len(cached)
            todo.update(cached[start : start + self.refresh_per_scan])
            self._cursor = start + self.refresh_per_scan
        # pids new since the previous scan are read again next time: a fork caught before its exec
        # shows the parent's name for a moment (the first scan has no "before", so nothing is young)
        self._young = {p for p in live if p not in self.procs} if self.scans > 1 else set()
        for pid in todo:
            old = self.procs.get(pid)
            info = self._read(pid)
            if info is None:
                self.procs.pop(pid, None)
            elif old is None or old != info:
                self.procs[pid] = info


# --- the proc connector ------------------------------------------------------------------------------

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
NLMSG_DONE = 3
PROC_EVENT_FORK, PROC_EVENT_EXEC, PROC_EVENT_COMM, PROC_EVENT_EXIT = 0x1, 0x2, 0x200, 0x80000000
_NLMSGHDR = struct.Struct("=IHHII")
_CN_MSG = struct.Struct("=IIIIHH")  # idx, val, seq, ack, len, flags
_PROC_EVENT = struct.Struct("=IIQ")  # what, cpu, timestamp


def parse_proc_events(data: bytes) -> list[tuple[int, int, int]]:
    """(what, tgid, parent tgid) for each fork (the child; parent only set here), exec, comm change and
    exit of a process (threads are skipped, as keepalived skips them)."""
    out: list[tuple[int, int, int]] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind = _NLMSGHDR.unpack_from(data, offset)[:2]
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        body = offset + _NLMSGHDR.size
        if kind == NLMSG_DONE and length >= _NLMSGHDR.size + _CN_MSG.size + _PROC_EVENT.size + 8:
            idx, val, _seq, ack = _CN_MSG.unpack_from(data, body)[:4]
            ev = body + _CN_MSG.size
            what = _PROC_EVENT.unpack_from(data, ev)[0]
            payload = ev + _PROC_EVENT.size
            if idx == CN_IDX_PROC and val == CN_VAL_PROC and not ack:
                if what == PROC_EVENT_FORK and length >= payload - offset + 16:
                    _ppid, ptgid, child_pid, child_tgid = struct.unpack_from("=iiii", data, payload)
                    if child_pid == child_tgid:
                        out.append((what, child_tgid, ptgid))
                elif what in (PROC_EVENT_EXEC, PROC_EVENT_COMM, PROC_EVENT_EXIT):
                    pid, tgid = struct.unpack_from("=ii", data, payload)
                    if pid == tgid:
                        out.append((what, tgid, -1))
        offset += (length + 3) & ~3
    return out


class ProcEvents(FdSocket):
    """Process events from the kernel; the constructor raises OSError where the kernel will not send them
    (ECONNREFUSED outside the initial network namespace, EPROTONOSUPPORT without CONFIG_PROC_EVENTS)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK, NETLINK_CONNECTOR)
        try:
            self.sock.bind((0, CN_IDX_PROC))
            op = struct.pack("=I", PROC_CN_MCAST_LISTEN)
            cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0) + op
            self.sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(cn), NLMSG_DONE, 0, 0, 0) + cn)
        except BaseException:
            self.sock.close()
            raise
        self.overruns = 0

    def drain(self, limit: int = 256) -> tuple[list[tuple[int, int, int]], bool]:
        """Queued events (bounded), and whether some were lost (ENOBUFS: the caller rescans /proc)."""
        events: list[tuple[int, int, int]] = []
        lost = False
        for _ in range(limit):
            try:
                data = self.sock.recv(65536)
            except OSError as exc:
                if exc.errno in NOTHING_TO_READ:
                    break
                if exc.errno == errno.ENOBUFS:
                    self.overruns += 1
                    lost = True
                    continue
                raise
            events.extend(parse_proc_events(data))
        return events, lost
