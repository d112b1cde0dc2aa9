"""A timerfd on CLOCK_MONOTONIC: a protocol timer that wakes the loop when due, to the microsecond.

asyncio sleeps in epoll_wait, whose timeout is in whole milliseconds (rounded up), so a timer fired
through ``call_at`` is up to a millisecond late, and more with the loop's own bookkeeping: at
``advert_int 0.01`` that is a tenth of the interval, and it pushes a backup's takeover past the
protocol's bound. A timerfd armed at an absolute CLOCK_MONOTONIC time (the clock ``loop.time()``
reads) becomes readable when the kernel's hrtimer fires; the loop watches its fd like a socket's
and wakes at once. Python 3.13 has ``os.timerfd_create``; on 3.11/3.12 libc is called through
ctypes (``timerfd_create`` and ``timerfd_settime`` have been in glibc since 2.8).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from typing import Any

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC
TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_libc: Any = None


def _c() -> Any:
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)  # the interpreter's own libc (no ctypes.util: it imports tempfile)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_settime.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.POINTER(_Itimerspec),
        ]
        _libc = libc
    return _libc


class TimerFd:
    """One-shot timer: ``arm(when)`` at an absolute monotonic time (None disarms); the fd is readable
    once it fired, and ``clear()`` reads it back to not readable."""

    def __init__(self) -> None:
        if hasattr(os, "timerfd_create"):
            self._fd: int = os.timerfd_create(CLOCK_MONOTONIC, flags=TFD_NONBLOCK | TFD_CLOEXEC)
        else:
            fd: int = _c().timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
            if fd < 0:
                err = ctypes.get_errno()
                raise OSError(err, f"timerfd_create: {os.strerror(err)}")
            self._fd = fd
        self.armed_at: float | None = None

    def fileno(self) -> int:
        return self._fd

    def arm(self, when: float | None) -> None:
        """Fire at ``when`` (``time.monotonic()`` seconds; at once if already past), or never."""
        if when == self.armed_at:
            return
        self.armed_at = when
        # 0 disarms a timerfd: a deadline at or before the epoch becomes its smallest positive time
        value = 0.0 if when is None else max(when, 1e-9)
        if hasattr(os, "timerfd_settime"):
            os.timerfd_settime(self._fd, flags=TFD_TIMER_ABSTIME, initial=value)
            return
        sec = int(value)
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(sec, round((value - sec) * 1e9)))
        if spec.it_value.tv_nsec >= 1_000_000_000:
            spec.it_value.tv_sec += 1
            spec.it_value.tv_nsec -= 1_000_000_000
        if _c().timerfd_settime(self._fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_settime: {os.strerror(err)}")

    def clear(self) -> None:
        """Consume the expiration, so the fd is not readable until the next one."""
        self.armed_at = None
        with contextlib.suppress(BlockingIOError):
            os.read(self._fd, 8)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
