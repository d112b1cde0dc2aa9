"""Completing the long tail of an instance's options, as keepalived 2.2.7 checks them at the end of
the block: native_ipv6 against the family, mcast_dst_ip's family, unicast keywords without peers,
unicast_ttl, garp_extra_if and old_unicast_checksum; the rest goes to `InstanceConfig` as given.

Kept apart from `semantics` so that the instance's core (family, VIPs, version, priorities) reads
in one place there and these keepalived-specific resets read in one place here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vrrpkit.config.diagnostics import Location, Reporter
from vrrpkit.config.model import GlobalDefs
from vrrpkit.config.written import WrittenInstance
from vrrpkit.core.config import ChecksumCompat, IPAddress, UnicastPeer


@dataclass(frozen=True)
class LongTail:
    mcast_dst: IPAddress | None  # None: the global group
    fault_no_peer: bool

    def fields(self, raw: WrittenInstance, g: GlobalDefs, family: int | None, strict: bool) -> dict[str, Any]:
        """The `InstanceConfig` fields of the long tail."""
        b = raw.bools
        garp_extra_s, garp_extra_all = raw.garp_extra_if or (g.garp_extra_if_s, g.garp_extra_if_all)
        old_checksum = {"always": ChecksumCompat.ALWAYS, "never": ChecksumCompat.NEVER}.get(
            raw.old_checksum or "", ChecksumCompat.AUTO
        )
        return {
            "garp_extra_if_s": garp_extra_s,
            "garp_extra_if_all": garp_extra_all,
            "dont_track_primary": b.get("dont_track_primary", False),
            "unicast_fault_no_peer": self.fault_no_peer,
            "kernel_rx_buf_size": raw.ints.get("kernel_rx_buf_size", 0),
            "track_src_ip": b.get("track_src_ip", False),
            "promote_secondaries": b.get("promote_secondaries", False),
            "native_ipv6": family == 6,
            "v3_checksum_as_v2": b.get("v3_checksum_as_v2", g.v3_checksum_as_v2),
            "old_unicast_checksum": old_checksum,
            "no_virtual_ipaddress": b.get("no_virtual_ipaddress", False) and not strict,
            "linkbeat_polled": b.get("linkbeat_use_polling", False),
        }


def check_long_tail(
    r: Reporter, raw: WrittenInstance, family: int | None, peers: list[UnicastPeer], end: Location
) -> tuple[LongTail, int | None]:
    """keepalived's complaints about the long tail, and what stays of it (with unicast_ttl, reset without peers)."""
    def loc(keyword: str) -> Location:
        return raw.keywords.get(keyword, raw.loc)

    if raw.bools.get("native_ipv6") and family == 4:
        r.add(loc("native_ipv6"), "option-ignored", f"({raw.name}) Cannot specify native_ipv6 with IPv4 addresses")
    mcast_dst = raw.mcast_dst
    if mcast_dst is not None and family is not None and mcast_dst.version != family:
        r.add(loc("mcast_dst_ip"), "vip-family-mismatch",
              f"({raw.name}) mcast dest address {mcast_dst} MUST match VRRP instance family. Skipping...")
        mcast_dst = None
    fault_no_peer = raw.bools.get("unicast_fault_no_peer", False)
    if raw.unicast_keyword is not None and not peers and not fault_no_peer:
        r.add(raw.unicast_keyword, "unicast-without-peers",
              f"({raw.name}) A unicast keyword has been specified without any unicast peers. Defaulting to "
              f"multicast. This usage is deprecated - please update your configuration.")
    unicast_ttl = raw.ints.get("unicast_ttl")
    if unicast_ttl is not None and not peers:
        r.add(end, "option-ignored", f"({raw.name}): Cannot use unicast_ttl without unicast peers - resetting")
        unicast_ttl = None
    return LongTail(mcast_dst, fault_no_peer), unicast_ttl
