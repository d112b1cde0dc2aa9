"""Reading and writing /proc/sys, in the network namespace the daemon runs in.

keepalived changes a handful of interface sysctls for use_vmac (arp_ignore, arp_filter,
accept_local, rp_filter, promote_secondaries, disable_ipv6, addr_gen_mode) and two global ones
(all/default rp_filter, igmp_link_local_mcast_reports); the daemon decides which and remembers
the originals. These functions only move integers in and out of the files, so that the deciding
part can be tested against a fake.
"""

from __future__ import annotations

import errno
import os

ROOT = "/proc/sys"  # a str, not a pathlib.Path: pathlib would cost the daemon ~0.6 MB for two calls


def _path(name: str) -> str:
    """`net/ipv4/conf/eth0/arp_ignore` -> /proc/sys/net/ipv4/conf/eth0/arp_ignore (no `..` escapes)."""
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"bad sysctl name {name!r}")
    return os.path.join(ROOT, *parts)


def read(name: str) -> int | None:
    """The value, or None when the sysctl does not exist (interface gone, IPv6 disabled...)."""
    try:
        with open(_path(name)) as f:
            return int(f.read().split()[0])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, IndexError):
        return None


def write(name: str, value: int) -> None:
    """Set an integer sysctl; raises OSError (ENOENT when the interface is gone)."""
    try:
        with open(_path(name), "w") as f:
            f.write(f"{value}\n")
    except FileNotFoundError as exc:
        raise OSError(errno.ENOENT, f"no sysctl {name}") from exc
