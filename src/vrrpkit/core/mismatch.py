"""What keepalived only logs about an advert it accepts: an interval or a VIP list that differs from
ours. Pure; the router counts and emits what this returns.
"""

from __future__ import annotations

from vrrpkit.core import effects as fx
from vrrpkit.core.config import PRIORITY_STOP, InstanceConfig, IPAddress
from vrrpkit.core.packet import Advertisement


def mismatches(
    cfg: InstanceConfig, vip_set: frozenset[IPAddress], adv: Advertisement, src: IPAddress, master: IPAddress | None
) -> list[fx.Mismatch]:
    """A VRRPv3 interval that is not ours; a VIP list that is not ours (not checked for priority 0,
    nor for the current master with skip_check_adv_addr)."""
    out = []
    if cfg.version == 3 and adv.interval_cs != cfg.advert_int_cs:
        detail = f"{adv.interval:g}s, mine {cfg.advert_int_cs / 100:g}s"
        out.append(fx.Mismatch(cfg.name, fx.MismatchKind.INTERVAL, src, detail))
    if adv.priority == PRIORITY_STOP or (cfg.skip_check_adv_addr and src == master):
        return out
    if frozenset(adv.addresses) != vip_set or len(adv.addresses) != len(vip_set):
        got = ",".join(map(str, adv.addresses)) or "none"
        out.append(fx.Mismatch(cfg.name, fx.MismatchKind.ADDRESS_LIST, src, f"advertised {got}"))
    return out
