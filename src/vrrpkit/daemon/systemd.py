"""sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (Type=notify units).

What the daemon says, and when:

* ``READY=1`` once the sockets are open and the routers started;
* ``WATCHDOG=1`` every half ``WatchdogSec`` *from the event loop* (`watchdog_interval`): a loop that
  is stuck (a blocking call, a busy callback) stops pinging, and systemd kills and restarts it;
* ``RELOADING=1`` with ``MONOTONIC_USEC`` when a SIGHUP reload starts, ``READY=1`` when it ends
  (taken or refused), so ``systemctl reload`` waits for the new configuration;
* ``STATUS=`` lines for ``systemctl status``, and ``STOPPING=1`` at shutdown.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


def notify(*lines: str) -> bool:
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(path)
            sock.sendall("\n".join(lines).encode())
    except OSError:
        return False
    return True


def watchdog_interval(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec, as sd_watchdog_enabled advises), or
    None when systemd asked for none, or asked another process ($WATCHDOG_PID)."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = env.get("WATCHDOG_PID", "")
    if owner and (not owner.isdigit() or int(owner) != (os.getpid() if pid is None else pid)):
        return None
    return int(usec) / 2_000_000


def reloading() -> bool:
    """RELOADING=1 with the CLOCK_MONOTONIC timestamp systemd (>= 253, Type=notify-reload) wants."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}")
