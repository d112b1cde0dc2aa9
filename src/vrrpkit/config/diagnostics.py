"""Diagnostics: what `vrrpkit check` prints, and the catalogue of rules it can raise.

Every rule has one name (shown in brackets after the message, as linters do) and a default
severity. The catalogue is data so that `docs/`, `--json` consumers and tests can enumerate it,
and so that a rule cannot be raised without being documented here first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]

#: rule name -> (default severity, one-line description). Keep sorted by topic, not alphabet.
RULES: dict[str, tuple[Severity, str]] = {
    # syntax and vocabulary
    "syntax": ("error", "braces, quotes or missing values: keepalived cannot read the line as written"),
    "unknown-keyword": ("error", "keepalived does not know this keyword here and ignores it (often a typo)"),
    "unsupported-keyword": ("warning", "keepalived knows it, vrrpkit does not implement it: not supported, ignored"),
    "deprecated-keyword": ("warning", "keepalived still reads it but says it is deprecated, and names the new one"),
    "include-missing": ("warning", "an include matched no file; keepalived logs it and goes on"),
    "include-skipped": ("warning", "an included directory, executable or non-regular file: keepalived skips it"),
    "invalid-value": ("error", "a value that is not a number, boolean or known word where one is needed"),
    "out-of-range": ("error", "vrid, priority, advert_int, weights and other numbers outside keepalived's range"),
    "repeated-keyword": ("error", "a keyword given twice where keepalived keeps the first and ignores the others"),
    "ignored-value": ("warning", "a value keepalived ignores: the keyword takes none (`vrrp_strict no` is strict)"),
    "deprecated": ("warning", "keepalived accepts it and says it is deprecated"),
    "invalid-address": ("error", "an IP address or prefix that does not parse; keepalived skips it"),
    # instance semantics
    "interface-missing": ("error", "a vrrp_instance without `interface`"),
    "vrid-missing": ("error", "a vrrp_instance without a valid virtual_router_id: keepalived exits"),
    "vrid-duplicate": ("error", "two instances with the same VRID and family on one interface"),
    "vip-duplicate": ("warning", "the same virtual address in two places"),
    "vip-family-mismatch": ("error", "an instance's addresses mix IPv4 and IPv6; keepalived drops the odd ones"),
    "vip-option": ("warning", "a virtual_ipaddress option keepalived ignores or rejects (scope, label, ...)"),
    "no-vips": ("warning", "an instance without virtual addresses"),
    "state-unknown": ("warning", "`state` is case-sensitive: anything but MASTER or BACKUP means BACKUP"),
    "nopreempt-needs-backup": ("warning", "nopreempt only works with state BACKUP; keepalived clears it"),
    "preempt-delay-needs-backup": ("warning", "preempt_delay only works with state BACKUP and preemption on"),
    "advert-int-rounded": ("warning", "v2 adverts carry whole seconds, v3 centiseconds: the interval is rounded"),
    "auth-pass-truncated": ("warning", "auth_pass is 8 bytes on the wire; keepalived truncates longer ones"),
    "auth-ignored-v3": ("warning", "VRRPv3 has no authentication; keepalived ignores the block"),
    "auth-no-password": ("warning", "authentication without auth_pass; keepalived ignores the block"),
    "ah-ipv6": ("warning", "auth_type AH is IPv4 only; keepalived ignores the block on an IPv6 instance"),
    "ah-initial-master": ("warning", "state MASTER with auth_type AH (not the owner): keepalived starts as BACKUP"),
    "v2-over-ipv6": ("warning", "version 2 on IPv6: keepalived's own VRRPv2 over IPv6, which RFC peers do not hear"),
    "accept-v2": ("warning", "accept mode with VRRPv2 in strict mode does not comply with RFC 3768"),
    "unicast-peer-is-self": ("warning", "a unicast peer is this host's own source address"),
    "unicast-without-peers": ("warning", "a unicast keyword without unicast_peer: keepalived falls back to multicast"),
    "option-ignored": ("warning", "an option keepalived resets because another one (or its absence) rules it out"),
    "vmac-ignored": ("warning", "a use_vmac/use_ipvlan setting keepalived ignores, or one that means FAULT"),
    "vmac-unicast-xmit-base": ("warning", "use_vmac with unicast peers: keepalived turns on vmac_xmit_base"),
    "track-script-undefined": ("error", "track_script names a vrrp_script that does not exist"),
    "track-file-undefined": ("error", "track_file names a track_file block that does not exist"),
    "track-process-undefined": ("error", "track_process names a vrrp_track_process block that does not exist"),
    "track-own-interface": ("error", "tracking the instance's own interface: ignored, and keepalived -t fails"),
    "weight-zero-means-fault": ("info", "a tracker with weight 0 puts the instance in FAULT when it fails"),
    "sync-group-unknown-instance": ("error", "a vrrp_sync_group names an instance that does not exist"),
    "sync-group-single": ("warning", "a sync group with fewer than two instances does nothing"),
    "sync-group-ignores-weights": ("info", "keepalived ignores track weights of sync-group members"),
    "script-security": ("warning", "scripts are configured without enable_script_security"),
    "multicast-may-be-dropped": ("info", "multicast adverts: clouds and some switches drop them"),
    # routes, rules, FIFOs, mail
    "route-invalid": ("error", "a virtual/static route keepalived cannot read: it drops the route"),
    "route-option": ("warning", "a route option keepalived ignores, resets or warns about (the route stays)"),
    "rule-invalid": ("error", "a virtual/static rule keepalived cannot read: it drops the rule"),
    "rule-option": ("warning", "a rule option keepalived ignores or resets (the rule stays)"),
    "rule-no-preference": ("warning", "a rule without a preference: keepalived numbers it down from 16384"),
    "smtp-incomplete": ("warning", "smtp_alert without notification_email or smtp_server: no mail is sent"),
    # strict mode (keepalived.md section 2)
    "strict-forbids-unicast": ("error", "vrrp_strict/strict_mode does not allow unicast peers"),
    "strict-drops-auth": ("warning", "strict mode ignores the authentication block"),
    "strict-no-accept": ("warning", "strict mode without `accept`: the VIP drops all traffic sent to it"),
    "strict-needs-vips": ("error", "strict mode requires at least one virtual address"),
    "strict-state-reset": ("warning", "strict mode: state MASTER only for the address owner (priority 255)"),
    "strict-ipv6-link-local": ("error", "strict mode: the first IPv6 virtual address must be link-local"),
    "strict-resets-option": ("warning", "strict mode resets preempt_delay, GARP and advert options it forbids"),
    # LVS (virtual_server and its checkers: linted as keepalived reads them, run by keepalived's checker)
    "lvs-checker-only": ("info", "virtual_server blocks are for keepalived's checker (keepalived -C); vrrpkit: VRRP"),
    "lvs-dropped": ("error", "a virtual/real server or checker keepalived drops (no real server, no url path, ...)"),
    "lvs-default": ("warning", "keepalived fills in what the block leaves out (protocol UDP, scheduler wlc, NAT)"),
    # host (not with --offline)
    "host-interface-missing": ("warning", "the interface does not exist on this host"),
    "host-address-missing": ("warning", "a source address is not configured on this host"),
    "host-script-missing": ("warning", "a command's program is not found or not accessible here: disabled"),
    "host-script-user-missing": ("warning", "the user a command runs as does not exist here: disabled"),
    "host-script-disabled": ("warning", "keepalived disables the command here: not executable, unsafe, wrong type"),
    "host-script-insecure": ("warning", "a command run as root that others can modify (refused by script security)"),
    "host-script-no-shebang": ("warning", "a script without #!: run by sh here, never run by Debian's keepalived"),
    "host-script-path-search": ("info", "a command given by name, found on PATH: keepalived asks for a full path"),
    "host-vmac-name-taken": ("warning", "a use_vmac name is an existing interface that is not a macvlan"),
    "host-fifo-not-fifo": ("error", "a notify FIFO path exists but is not a FIFO (keepalived would write into it)"),
    "host-table-unknown": ("warning", "a route or rule names a routing table not in rt_tables on this host"),
    # cluster (several -f files)
    "cluster-mismatch": ("error", "hosts of one virtual router disagree on version, advert_int, auth or VIPs"),
    "cluster-mode-mismatch": ("error", "some hosts of one virtual router use unicast, others multicast"),
    "cluster-peers": ("error", "a unicast peer list does not name every other host"),
    "cluster-priority-tie": ("warning", "two hosts of one virtual router have the same priority"),
    "cluster-multiple-masters": ("error", "more than one host starts as MASTER"),
}


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding, located like a compiler's: file, 1-based line and column."""

    file: str
    line: int
    column: int
    severity: Severity
    rule: str
    message: str

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"undocumented rule {self.rule!r}: add it to vrrpkit.config.diagnostics.RULES")

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.rule}]"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "rule": self.rule,
            "message": self.message,
        }


@dataclass(frozen=True)
class Location:
    """Where something was written: used to anchor later (semantic, cross-file) diagnostics."""

    file: str
    line: int
    column: int = 1


class Reporter:
    """Collects diagnostics; severity defaults to the rule's so call sites cannot drift from RULES."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, loc: Location, rule: str, message: str, severity: Severity | None = None) -> None:
        sev = severity or RULES[rule][0]
        self.items.append(Diagnostic(loc.file, loc.line, loc.column, sev, rule, message))
