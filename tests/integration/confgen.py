"""keepalived.conf text for namespace tests (the same text runs under vrrpkit and keepalived),
and the wait every such test needs: until exactly these hosts hold the VIP."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from vrrpkit.lab import Lab, wait_until

VIP = "192.0.2.100"


def instance(
    priority: int,
    *,
    name: str = "VI_1",
    state: str = "BACKUP",
    vrid: int = 51,
    version: int | None = None,
    advert_int: str = "1",
    vips: Sequence[str] = (f"{VIP}/24",),
    auth_pass: str | None = None,
    unicast_src: str | None = None,
    peers: Iterable[str] = (),
    extra: str = "",
    interface: str = "eth0",
) -> str:
    lines = [
        f"vrrp_instance {name} {{",
        f"    state {state}",
        f"    interface {interface}",
        f"    virtual_router_id {vrid}",
        f"    priority {priority}",
        f"    advert_int {advert_int}",
    ]
    if version is not None:
        lines.append(f"    version {version}")
    if auth_pass is not None:
        lines += ["    authentication {", "        auth_type PASS", f"        auth_pass {auth_pass}", "    }"]
    if unicast_src:
        lines.append(f"    unicast_src_ip {unicast_src}")
        lines += ["    unicast_peer {", *[f"        {p}" for p in peers], "    }"]
    lines += ["    virtual_ipaddress {", *[f"        {v}" for v in vips], "    }"]
    if extra:
        lines += [f"    {line}" for line in extra.strip().splitlines()]
    lines.append("}")
    return "\n".join(lines) + "\n"


def config(*instances: str, globals_: str = "", scripts: str = "") -> str:
    head = "global_defs {\n    router_id lab\n" + "".join(f"    {g}\n" for g in globals_.strip().splitlines()) + "}\n"
    return head + scripts + "".join(instances)


def wait_holders(lab: Lab, expected: set[str], timeout: float, vip: str = VIP) -> float:
    """Seconds until exactly `expected` hold `vip`; fails with every daemon's log tail if never."""
    start = time.monotonic()
    if not wait_until(lambda: lab.vip_holders(vip) == expected or None, timeout, interval=0.02):
        logs = "\n".join(f"--- {p.host} {p.kind}\n{p.log()[-2500:]}" for p in lab.processes())
        raise AssertionError(f"VIP {vip} held by {lab.vip_holders(vip)}, expected {expected}\n{logs}")
    return time.monotonic() - start
