"""Per-instance counters, named after keepalived's statistics (vrrp_print.c) so users can compare."""

from __future__ import annotations

from dataclasses import dataclass, field

from vrrpkit.core.packet import DropReason

_COUNTER_OF_REASON: dict[DropReason, str] = {
    DropReason.TOO_SHORT: "packet_len_err",
    DropReason.LENGTH_MISMATCH: "packet_len_err",
    DropReason.ZERO_COUNT: "packet_len_err",
    DropReason.BAD_IP_HEADER: "packet_len_err",
    DropReason.BAD_TYPE: "invalid_type_rcvd",
    DropReason.BAD_TTL: "ip_ttl_err",
    DropReason.INTERVAL_MISMATCH: "advert_interval_err",
    DropReason.ZERO_INTERVAL: "advert_interval_err",
    DropReason.BAD_AUTH_TYPE: "invalid_authtype",
    DropReason.AUTH_TYPE_MISMATCH: "authtype_mismatch",
    DropReason.BAD_PASSWORD: "auth_failure",
    DropReason.BAD_ICV: "auth_failure",
    DropReason.BAD_SPI: "auth_failure",
    DropReason.REPLAYED: "auth_failure",
    DropReason.BAD_CHECKSUM: "checksum_err",
    DropReason.BAD_VERSION: "version_err",
    DropReason.VERSION_MISMATCH: "version_err",
}


@dataclass
class Stats:
    advert_rcvd: int = 0
    advert_sent: int = 0
    become_master: int = 0
    release_master: int = 0
    packet_len_err: int = 0
    ip_ttl_err: int = 0
    invalid_type_rcvd: int = 0
    advert_interval_err: int = 0
    addr_list_err: int = 0
    invalid_authtype: int = 0
    authtype_mismatch: int = 0
    auth_failure: int = 0
    checksum_err: int = 0
    version_err: int = 0
    pri_zero_rcvd: int = 0
    pri_zero_sent: int = 0
    lower_prio_unanswered: int = 0  # lower-priority adverts after two answers within an interval
    claims_sent: int = 0  # a BACKUP's advert before its takeover, asking a silent master (vrrpkit's own)
    claims_answered: int = 0  # ... and that master was heard before the takeover was due: no takeover
    dropped: dict[str, int] = field(default_factory=dict)

    def count_drop(self, reason: DropReason) -> None:
        self.dropped[reason.value] = self.dropped.get(reason.value, 0) + 1
        counter = _COUNTER_OF_REASON.get(reason)
        if counter is not None:
            setattr(self, counter, getattr(self, counter) + 1)

    def as_dict(self) -> dict[str, object]:
        return {name: (dict(value) if isinstance(value, dict) else value) for name, value in vars(self).items()}
