"""Gather the facts ``check`` and ``convert`` compare a configuration with: this host's interfaces,
addresses, and what keepalived would do with each command here.

Reads the host (netlink through ``io.netlink``; the user database, PATH and the files of each
command through ``io.scripts``, the same code the daemon runs them with); the comparison itself is
pure (``vrrpkit.config.host``), so tests give it hand-made HostFacts.
"""

from __future__ import annotations

from vrrpkit.config.host import HostFacts, ScriptVerdict
from vrrpkit.config.model import GlobalDefs, ScriptUse
from vrrpkit.io import netlink, scripts, vmac
from vrrpkit.io.fifo import path_kind
from vrrpkit.io.routes import rt_tables


def script_verdict(use: ScriptUse, g: GlobalDefs) -> ScriptVerdict:
    """keepalived's verdict on one command, evaluated on this host exactly as the daemon evaluates it."""
    default = scripts.default_user(g.script_user, g.script_group, g.enable_script_security)
    s = scripts.script_for(use.command, use.user, default, kind=use.kind, name=use.owner,
                           security=g.enable_script_security)  # fmt: skip
    return ScriptVerdict(s.user.name or str(s.user.uid), s.disabled, s.refusal, s.notes)


def gather() -> HostFacts:
    """This host's facts; raises OSError when netlink is unavailable."""
    return HostFacts(interfaces=netlink.interface_addresses(), script_check=script_verdict, path_kind=path_kind,
                     rt_tables=rt_tables() | {"main": 254, "local": 255, "default": 253},
                     kinds=vmac.interface_kinds())


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
