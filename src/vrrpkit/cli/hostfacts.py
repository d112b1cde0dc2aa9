"""Gather the facts `check` and `convert` compare a configuration with: this host's interfaces,
addresses, programs and users. The comparison itself is pure (`vrrpkit.config.host`)."""

from __future__ import annotations

import os
import pwd
import shutil
from ipaddress import ip_interface

from vrrpkit.config.host import HostFacts
from vrrpkit.core.config import IPInterface


def _interfaces() -> dict[str, tuple[IPInterface, ...]]:
    from pyroute2 import IPRoute

    out: dict[str, list[IPInterface]] = {}
    with IPRoute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        for name in names.values():
            out.setdefault(name, [])
        for msg in ipr.get_addr():
            name = names.get(msg["index"])
            addr = msg.get_attr("IFA_ADDRESS") or msg.get_attr("IFA_LOCAL")
            if name is None or addr is None:
                continue
            out.setdefault(name, []).append(ip_interface(f"{addr}/{msg['prefixlen']}"))
    return {k: tuple(v) for k, v in out.items()}


def _executable(program: str) -> bool:
    if "/" in program:
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program) is not None


def gather() -> HostFacts:
    """This host's facts; raises OSError when netlink is unavailable."""
    users = frozenset(p.pw_name for p in pwd.getpwall())
    return HostFacts(interfaces=_interfaces(), executable=_executable, users=users)


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
