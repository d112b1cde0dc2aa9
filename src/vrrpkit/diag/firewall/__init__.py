"""Would this host's firewall drop a VRRP advert (or traffic to a VIP)? Ruleset analysis, pure.

Why evaluate instead of grep: "is there a rule mentioning 112?" is the wrong question. An input
chain with ``policy drop`` and no accept for VRRP drops adverts without mentioning them, an earlier
``ct state established accept`` hides the problem for unicast but not for multicast (the catalogue's
acassen/keepalived#2643), and keepalived's strict mode drops *VIP* traffic with a rule on a set. So
both front ends (``nft.py`` for ``nft -j list ruleset``, ``iptables.py`` for ``iptables-save``) turn
the rules into one small model (``model.py``) of chains, conditions and verdicts, and a concrete
packet (an advert from a peer to 224.0.0.18, TTL 255, conntrack state new) is walked through every
base chain of its hook, following jumps and gotos.

Every condition evaluates to True, False or None (unknown: an ``xt`` match, ``fib``, a limit). A
drop reached only past unknown conditions is reported as uncertain, never silently dropped or
asserted; the verdict logic turns that into confidence.

Nothing here runs a program: ``diag.sysinfo.read_rulesets`` reads the host's rules and hands the
text to these parsers, so tests feed them captured rulesets.
"""

from vrrpkit.diag.firewall.iptables import parse_iptables_save
from vrrpkit.diag.firewall.model import (
    IN_HOOKS,
    OUT_HOOKS,
    PROTOCOLS,
    Block,
    Chain,
    Cond,
    Direction,
    Packet,
    Rule,
    Ruleset,
    Tri,
    accept_rule_for,
    dedupe_blocks,
    find_blocks,
    rule_matches,
    vip_packet,
    vrrp_packet,
)
from vrrpkit.diag.firewall.nft import parse_nft_json

__all__ = [
    "IN_HOOKS",
    "OUT_HOOKS",
    "PROTOCOLS",
    "Block",
    "Chain",
    "Cond",
    "Direction",
    "Packet",
    "Rule",
    "Ruleset",
    "Tri",
    "accept_rule_for",
    "dedupe_blocks",
    "find_blocks",
    "parse_iptables_save",
    "parse_nft_json",
    "rule_matches",
    "vip_packet",
    "vrrp_packet",
]
