"""keepalived.conf blocks the side-by-side interop tests give both daemons: one instance on eth0
(state BACKUP, 1 s adverts, VIP 198.51.100.<vrid>/32) and a sync group of VI_1 and VI_2."""

from __future__ import annotations

GROUP = "vrrp_sync_group G1 {\n group {\n  VI_1\n  VI_2\n }\n}\n"


def inst(name: str, vrid: int, prio: int, extra: str = "") -> str:
    """`extra`: more lines for the block, each starting with a space and ending with a newline."""
    return (f"vrrp_instance {name} {{\n state BACKUP\n interface eth0\n virtual_router_id {vrid}\n"
            f" priority {prio}\n advert_int 1\n virtual_ipaddress {{\n  198.51.100.{vrid}/32\n }}\n"
            f"{extra}}}\n")  # fmt: skip
