"""Fixes built from more than the finding itself: the unicast conversion and the advert flags' fixes (pure).

``watch``'s VridTable flags a bad advert without knowing this host's configuration file or its
peers; ``fix_advert_flag`` fills in the exact command from the facts. The unicast conversion line is
the fix both for adverts a router rewrote (TTL) and for multicast a network eats, so it is here
once.
"""

from __future__ import annotations

from ipaddress import ip_address

from vrrpkit.core.config import InstanceConfig, IPAddress
from vrrpkit.diag import findings as F
from vrrpkit.diag.facts import Facts
from vrrpkit.diag.findings import Finding

CLOUD_NOTE = (
    "On a cloud, gratuitous ARP does not move an address: pair unicast VRRP with the platform's own VIP "
    "mechanism - Aliyun HaVip associated with every host's ENI, AWS a secondary private IP moved from "
    "notify_master (aws ec2 assign-private-ip-addresses --allow-reassignment), GCP an alias IP or route "
    "moved from notify_master (or an internal passthrough load balancer), Azure an internal Standard "
    "Load Balancer with floating IP. Run the same conversion on every host, each with its own peers."
)


def convert_line(facts: Facts, cfg: InstanceConfig, peers: list[IPAddress]) -> str:
    """The ``vrrpkit convert --to-unicast`` command for this host, with the peers filled in when known."""
    src = facts.primary(cfg.interface, cfg.family)
    file = facts.config_file()
    peer_text = ",".join(str(p) for p in peers) if peers else "PEER_IP[,PEER_IP...]"
    line = f"vrrpkit convert --to-unicast -f {file} --peer {peer_text}"
    if src is not None:
        line += f" --src {src}"
    line += f" -o {file}.unicast"
    if not peers:
        line += "  (the other hosts' addresses: give them with --peer)"
    return line


def fix_advert_flag(flag: Finding, facts: Facts) -> None:
    """Fill in the flag's fix; a "VRID collision" with a peer of ours is a configuration mismatch, and says so."""
    ev = flag.evidence
    cfg = next((c for c in facts.instances if c.vrid == ev.get("vrid") and c.interface == ev.get("interface")), None)
    name = cfg.name if cfg else "VI_?"
    file = facts.config_file()
    if flag.code == F.TTL_NOT_255:
        peers = facts.cluster_peers(cfg, []) if cfg else []
        flag.fix = (
            f"keep every host of the cluster on one L2 segment (nothing may route or rewrite adverts), or go "
            f"unicast, where keepalived skips the TTL check: {convert_line(facts, cfg, peers) if cfg else ''}"
        )
    elif flag.code == F.AUTH_MISMATCH:
        kind = "AH" if str(ev.get("ours", "")).startswith("AH") else "PASS"
        flag.fix = (f"use the same authentication {{ auth_type {kind}; auth_pass ... }} block in vrrp_instance {name} "
                    f"on every host ({file} here has {ev.get('ours')}, {ev.get('src')} sends {ev.get('theirs')})")
    elif flag.code == F.INTERVAL_MISMATCH:
        flag.fix = (f"set the same `advert_int` in vrrp_instance {name} on every host ({file} here: "
                    f"{ev.get('ours')}; {ev.get('src')} sends {ev.get('theirs')})")
    elif flag.code == F.VERSION_MISMATCH:
        flag.fix = f"set the same `version` (vrrp_version) on every host ({ev.get('src')} sends v{ev.get('theirs')})"
    elif flag.code == F.VRID_COLLISION:
        known = facts.peers.get(ip_address(str(ev.get("src"))))
        if known is not None and known.source in ("flag", "config"):
            theirs, ours = ", ".join(ev.get("their_vips", [])), ", ".join(ev.get("our_vips", []))
            flag.message = (f"peer {ev.get('src')} advertises VRID {ev.get('vrid')} with other VIPs ({theirs}) than "
                            f"this host ({ours}): the cluster's configurations differ (keepalived before 2.3.3 "
                            "discards such adverts)")  # fmt: skip
            flag.fix = f"use the same virtual_ipaddress block in vrrp_instance {name} on every host, then reload"
            return
        used = sorted({k[2] for k in facts.vrids()})
        free = next((v for v in range(1, 256) if v not in used), 1)
        flag.fix = (f"another cluster ({ev.get('src')}, VIPs {', '.join(ev.get('their_vips', []))}) uses VRID "
                    f"{ev.get('vrid')} on this link: set `virtual_router_id {free}` (unused here) in vrrp_instance "
                    f"{name} on every host of this cluster, or go unicast")
    elif flag.code == F.BAD_CHECKSUM:
        flag.fix = ("make both sides compute the VRRPv3 checksum the same way (drop v3_checksum_as_v2 on one side, "
                    "or remove the NAT between them)")

