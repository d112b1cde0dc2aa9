"""Gather the facts ``check`` and ``convert`` compare a configuration with: this host's interfaces,
addresses, programs and users.

Reads the host (netlink through ``io.netlink``, the user database, PATH); the comparison itself is
pure (``vrrpkit.config.host``), so tests give it hand-made HostFacts.
"""

from __future__ import annotations

import os
import pwd
import shutil

from vrrpkit.config.host import HostFacts
from vrrpkit.io import netlink
from vrrpkit.io.fifo import path_kind
from vrrpkit.io.routes import rt_tables


def _executable(program: str) -> bool:
    if "/" in program:
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program) is not None


def gather() -> HostFacts:
    """This host's facts; raises OSError when netlink is unavailable."""
    users = frozenset(p.pw_name for p in pwd.getpwall())
    return HostFacts(interfaces=netlink.interface_addresses(), executable=_executable, users=users,
                     path_kind=path_kind, rt_tables=rt_tables() | {"main": 254, "local": 255, "default": 253})


def primary_sources(facts: HostFacts) -> dict[str, str]:
    """interface -> primary IPv4 address, and "interface/6" -> IPv6 address, for `convert`'s default --src."""
    out: dict[str, str] = {}
    for name in facts.interfaces:
        v4 = facts.primary(name, 4)
        if v4 is not None:
            out[name] = str(v4)
        v6 = facts.primary(name, 6)
        if v6 is not None:
            out[f"{name}/6"] = str(v6)
    return out
