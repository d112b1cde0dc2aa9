"""Linux capabilities: what the daemon keeps, and dropping the rest for good.

A VRRP daemon runs as root, but it only ever needs to open raw and packet sockets
(CAP_NET_RAW: a reload may add an interface; GARP/NA; split-brain probes), change addresses,
routes and nft rules (CAP_NET_ADMIN, also inherited by the ``nft`` it runs), run scripts as their
user (CAP_SETUID, CAP_SETGID) and stop them (CAP_KILL), give a notify FIFO to its configured user
(CAP_CHOWN), and read configuration, track files and script paths whoever owns them
(CAP_DAC_READ_SEARCH). Everything else (writing any file, loading
modules, ptrace, mounts, ...) is dropped from the effective, permitted, inheritable *and bounding*
sets, so neither the daemon nor a program it starts can get it back, even as root. keepalived keeps
every capability; a notify script that runs as root therefore has only these under vrrpkit
(``vrrpkit run --keep-capabilities`` keeps them all, as keepalived does).

The bounding set and capset(2) are per thread, inherited by threads and processes created later,
so ``vrrpkit run`` drops them first, before any thread or socket exists; what it keeps is enough
to open every socket afterwards. No dependency: prctl(PR_CAPBSET_DROP) and capset(2) through
ctypes, the capability numbers from <linux/capability.h>.
"""

from __future__ import annotations

import ctypes
import os
import re

CAP_CHOWN = 0
CAP_DAC_READ_SEARCH = 2
CAP_KILL = 5
CAP_SETGID = 6
CAP_SETUID = 7
CAP_NET_BIND_SERVICE = 10
CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
NAMES = {
    CAP_CHOWN: "CAP_CHOWN",
    CAP_DAC_READ_SEARCH: "CAP_DAC_READ_SEARCH",
    CAP_KILL: "CAP_KILL",
    CAP_SETGID: "CAP_SETGID",
    CAP_SETUID: "CAP_SETUID",
    CAP_NET_ADMIN: "CAP_NET_ADMIN",
    CAP_NET_RAW: "CAP_NET_RAW",
}
DAEMON_KEEPS = frozenset(NAMES)

_PR_CAPBSET_READ = 23
_PR_CAPBSET_DROP = 24
_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 40


def mask(caps: frozenset[int]) -> int:
    return sum(1 << c for c in caps)


def current(pid: int | str = "self") -> dict[str, int]:
    """CapEff, CapPrm, CapInh, CapBnd, CapAmb of a process, as /proc shows them."""
    with open(f"/proc/{pid}/status") as f:
        text = f.read()
    return {m.group(1): int(m.group(2), 16) for m in re.finditer(r"^Cap(\w+):\s+([0-9a-f]+)$", text, re.M)}


def drop_all_but(keep: frozenset[int] = DAEMON_KEEPS) -> None:
    """Drop every capability not in ``keep`` from every set of this process, for good.

    Raises OSError when the kernel refuses (the caller decides whether to go on). Must run while
    the process is single-threaded as far as capabilities go: capset changes the calling thread.
    """
    # the interpreter's own libc: ctypes.util.find_library would import shutil and tempfile (about
    # 1 MB of the daemon's memory) for a name the process has already loaded
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(last_cap() + 1):
        # A capability already out of the bounding set (a unit's CapabilityBoundingSet=) is skipped:
        # dropping it again needs CAP_SETPCAP, which such a unit does not give either.
        if cap in keep or libc.prctl(_PR_CAPBSET_READ, cap, 0, 0, 0) == 0:
            continue
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            if err != 22:  # EINVAL: a capability this kernel does not know
                raise OSError(err, f"PR_CAPBSET_DROP {cap}: {os.strerror(err)}")
    bits = mask(keep)
    data = (_Data * 2)()
    for i in range(2):
        word = (bits >> (32 * i)) & 0xFFFFFFFF
        data[i].effective = data[i].permitted = word
        data[i].inheritable = 0
    header = _Header(_VERSION_3, 0)
    if libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")
