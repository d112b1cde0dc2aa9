"""Findings and the verdict: what ``investigate`` (and ``watch``) return instead of printing.

A Finding is one observed problem or fact with its evidence and a concrete fix. The Report's
verdict is the most fundamental problem found, ranked by RANK: a root cause (a firewall rule, a
cloud that eats multicast, a foreign router on our VRID) explains the symptom (split brain), so a
cause always wins over ``split-brain``, and ``split-brain`` is the verdict only when no cause was
found from this host. Codes are stable strings: scripts and tests match on them (docs/json.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # a problem: the verdict, exit 1
    WARNING = "warning"  # suspicious, or a problem that only bites later
    INFO = "info"  # a fact worth knowing


class Confidence(StrEnum):
    HIGH = "high"  # the cause was observed directly (rule matched, packet seen, owner answered)
    MEDIUM = "medium"  # consistent evidence, one link inferred
    LOW = "low"  # little evidence; mostly the absence of something


# Verdict codes. The first eleven are the contract of issue 5; the others name causes that the
# catalogue (root-causes.md) lists and that we can prove from one host.
HEALTHY = "healthy"
CONFIG_ERROR = "config-error"
INTERFACE_DOWN = "interface-down"
FIREWALL_DROPS_VRRP = "firewall-drops-vrrp"
RP_FILTER = "rp-filter-drops-vrrp"
HOST_DROPS_VRRP = "host-drops-vrrp"
GROUP_NOT_JOINED = "group-not-joined"
ADVERTS_NOT_SENT = "adverts-not-sent"
TTL_NOT_255 = "ttl-not-255"
AUTH_MISMATCH = "auth-mismatch"
INTERVAL_MISMATCH = "interval-mismatch"
VERSION_MISMATCH = "version-mismatch"
BAD_CHECKSUM = "bad-checksum"
VRID_COLLISION = "vrid-collision"
MULTICAST_BLOCKED = "multicast-blocked"
ADVERTS_LOST = "adverts-lost"
PEER_DOWN = "peer-down"
STRICT_MODE_BLOCKS_VIP = "strict-mode-blocks-vip"
FIREWALL_BLOCKS_VIP = "firewall-blocks-vip"
SPLIT_BRAIN = "split-brain"
NO_MASTER = "no-master"
NO_VRRP_HERE = "no-vrrp-here"  # no daemon and no configuration on this host: nothing to judge
INCONCLUSIVE = "inconclusive"  # the evidence is too thin for any verdict: the finding says what to run next
# facts (info/warning only, never a verdict on their own)
NO_DAEMON = "no-daemon"
DAEMON = "daemon"
MULTICAST_OK = "multicast-works"
PEER_UP = "peer-up"
KEEPALIVED_STATE = "keepalived-state"  # keepalived's own word on an instance (its data and stats files)
# the timeline of a link (watch, watch -r): warnings and facts, never a verdict on their own
MASTER_GAP = "master-gap"  # no master advertised for longer than Master_Down_Interval
HANDOVER = "priority-0-handover"  # a master sent priority 0 (stopping, or leaving MASTER)
# what a running vrrpkit counted (its control socket): warnings, never a verdict on their own
CLAIMS_ANSWERED = "claims-answered"  # the master fell silent for Master_Down, then answered our claim

RANK: tuple[str, ...] = (
    CONFIG_ERROR,
    INTERFACE_DOWN,
    FIREWALL_DROPS_VRRP,
    RP_FILTER,
    GROUP_NOT_JOINED,
    ADVERTS_NOT_SENT,
    HOST_DROPS_VRRP,
    TTL_NOT_255,
    AUTH_MISMATCH,
    VERSION_MISMATCH,
    INTERVAL_MISMATCH,
    BAD_CHECKSUM,
    VRID_COLLISION,
    MULTICAST_BLOCKED,
    ADVERTS_LOST,
    PEER_DOWN,
    STRICT_MODE_BLOCKS_VIP,
    FIREWALL_BLOCKS_VIP,
    NO_MASTER,
    SPLIT_BRAIN,
    NO_VRRP_HERE,
    INCONCLUSIVE,
)


@dataclass
class Finding:
    """One problem or fact. ``evidence`` is JSON-able data (what was seen, counted, matched)."""

    code: str
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str = ""
    confidence: Confidence = Confidence.HIGH
    basis: list[str] = field(default_factory=list)  # why this confidence, in words

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "evidence": self.evidence,
            "fix": self.fix,
            "confidence": self.confidence.value,
        }


@dataclass
class Report:
    verdict: str
    confidence: Confidence
    basis: list[str]
    findings: list[Finding]
    summary: dict[str, Any] = field(default_factory=dict)  # host, interfaces, window, instances

    @property
    def problem(self) -> bool:
        return self.verdict != HEALTHY

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "confidence": self.confidence.value,
            "basis": self.basis,
            "findings": [f.as_dict() for f in self.findings],
            **self.summary,
        }


def rank(code: str) -> int:
    try:
        return RANK.index(code)
    except ValueError:
        return len(RANK)


def conclude(findings: list[Finding], healthy_basis: list[str], healthy_confidence: Confidence) -> Report:
    """The verdict from the findings: the best-ranked error, else healthy.

    Findings come back sorted: errors by rank first, then warnings, then info, so a human reading
    top-down meets the cause before its symptoms.
    """
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    ordered = sorted(findings, key=lambda f: (order[f.severity], rank(f.code)))
    errors = [f for f in ordered if f.severity is Severity.ERROR]
    if not errors:
        return Report(HEALTHY, healthy_confidence, healthy_basis, ordered)
    top = errors[0]
    return Report(top.code, top.confidence, top.basis or [top.message], ordered)
