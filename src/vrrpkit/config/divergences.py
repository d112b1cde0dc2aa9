"""The one table of where vrrpkit deliberately differs from keepalived 2.2.7 (Debian 12).

vrrpkit follows current keepalived (2.4) where releases differ. Where that makes `vrrpkit check`
stricter or laxer than `keepalived -t` on 2.2.7 (what the interop tests run), the difference is
listed here, and the differential test (tests/interop/test_keepalived_check.py) uses this table as
its only allow-list. docs/divergences.md is the same table for humans: keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Divergence:
    key: str
    direction: Literal["stricter", "laxer", "runtime"]
    vrrpkit: str
    keepalived_2_2_7: str
    why: str
    rule: str | None = None  # our rule that fires where 2.2.7 is silent (stricter)
    keepalived_message: str | None = None  # regex of 2.2.7's complaint vrrpkit does not echo (laxer)


DIVERGENCES: tuple[Divergence, ...] = (
    Divergence(
        key="strict-unicast",
        direction="stricter",
        vrrpkit="error strict-forbids-unicast: vrrp_strict/strict_mode with unicast_peer",
        keepalived_2_2_7="accepted silently (keepalived -t exits 0)",
        why="keepalived 2.3+ rejects the config ('Unicast peers are not supported in strict mode'); strict mode "
        "is an RFC-conformance mode and the RFCs only know multicast",
        rule="strict-forbids-unicast",
    ),
    Divergence(
        key="vip-mismatch-not-dropped",
        direction="runtime",
        vrrpkit="an advert whose VIP list differs from ours is logged and counted, not dropped",
        keepalived_2_2_7="drops the advert ('ip address associated with VRID not present in MASTER advert')",
        why="keepalived 2.3.3 (commit af103930) stopped dropping; RFC 5798 says MAY check, never drop for v3",
    ),
    Divergence(
        key="script-interval-fraction",
        direction="laxer",
        vrrpkit="vrrp_script interval/timeout accept fractions of a second",
        keepalived_2_2_7="'invalid number' and the script's interval is ignored",
        why="keepalived 2.4 reads these timers with millisecond resolution",
        keepalived_message=r"invalid number '\d*\.\d+'|vrrp script (interval|timeout) '\d*\.\d+'",
    ),
    Divergence(
        key="newer-keywords",
        direction="laxer",
        vrrpkit="accepts keywords added after 2.2.7: preempt, owner_ignore_adverts, vrrp_owner_ignore_adverts, "
        "vrrp_delay_after_boot, no_virtual_ipaddress, auth_hmac, v3_checksum_as_v2",
        keepalived_2_2_7="'Unknown keyword'",
        why="vrrpkit follows keepalived 2.4's vocabulary",
        keepalived_message=r"Unknown keyword '(preempt|owner_ignore_adverts|vrrp_owner_ignore_adverts|"
        r"vrrp_delay_after_boot|no_virtual_ipaddress|auth_hmac|v3_checksum_as_v2)'",
    ),
    Divergence(
        key="unicast-without-interface",
        direction="laxer",
        vrrpkit="warning interface-missing when unicast_src_ip and unicast_peer are set but `interface` is not",
        keepalived_2_2_7="refuses the instance ('Unknown interface!')",
        why="keepalived 2.4 finds the interface from unicast_src_ip; vrrpkit still warns, so a 2.2 host is not "
        "surprised",
        rule="interface-missing",
    ),
    Divergence(
        key="bfd-check-names",
        direction="laxer",
        vrrpkit="BFD_CHECK's `name` is not looked up: vrrpkit does not read bfd_instance blocks",
        keepalived_2_2_7="'BFD_CHECK - BFD NAME not configured' when no bfd_instance has that name",
        why="BFD is not implemented (bfd_instance is 'not supported, ignored'); the checker is keepalived's",
        keepalived_message=r"BFD_CHECK - BFD \S+ not configured",
    ),
    Divergence(
        key="http-get-without-url",
        direction="stricter",
        vrrpkit="error lvs-dropped: an HTTP_GET/SSL_GET without a url that has a path",
        keepalived_2_2_7="logs 'checker has no urls specified - ignoring' and then crashes (SIGSEGV, exit 139) "
        "on some such files",
        why="measured: a url block without `path` in the only url makes keepalived -t 2.2.7 segfault; an error "
        "is the honest answer (no allow-list entry needed: keepalived does not exit 0 there)",
    ),
    Divergence(
        key="routes-rules-not-linted",
        direction="laxer",
        vrrpkit="virtual_routes, virtual_rules, static_ipaddress/static_routes/static_rules: 'not supported, "
        "ignored' on the block keyword; the lines inside are not read",
        keepalived_2_2_7="reads every route and rule: missing nexthop interfaces, invalid addresses, deprecated "
        "'or'/'gw', rules without a preference",
        why="routes and rules are issue 11's (another branch implements them); until it lands, the line-level "
        "complaints inside these blocks are misses of the differential test, listed here",
        keepalived_message=r"for VROUTE nexthop doesn't exist|cannot track route|for routes is deprecated|"
        r"Rule has no preference|Invalid rule |VRRP parsed invalid IP|WARNING - interface \S+ for ip address",
    ),
)


def by_key(key: str) -> Divergence:
    for d in DIVERGENCES:
        if d.key == key:
            return d
    raise KeyError(key)


def stricter_rules() -> frozenset[str]:
    """Error rules vrrpkit may raise on configs 2.2.7 accepts."""
    return frozenset(d.rule for d in DIVERGENCES if d.direction == "stricter" and d.rule)


def laxer_messages() -> tuple[str, ...]:
    """2.2.7 complaints vrrpkit deliberately does not echo (regexes)."""
    return tuple(d.keepalived_message for d in DIVERGENCES if d.direction == "laxer" and d.keepalived_message)
