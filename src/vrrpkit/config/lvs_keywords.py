"""The load-balancer half of keepalived.conf: its vocabulary, block by block, as keepalived 2.2.7 knows it.

vrrpkit does not run LVS (that is keepalived's checker, `keepalived --check`), but a file that mixes
VRRP and LVS deserves one trustworthy `check`, so the `virtual_server` part is linted as keepalived
reads it. Every set below was measured, not copied: each word of the keepalived 2.2.7 binary (Debian
12) was put inside each block and kept when `keepalived -t` did not call it an unknown keyword. The
sections' handler tables (`parse_lvs`, `parse_checkers`) must name exactly these words (a unit test
checks it), so a typo such as `nb_get_retry` in TCP_CHECK or `connetc_port` is reported on its line,
and a misspelt block keyword leaves its braces to the enclosing block, as in keepalived.
"""

from __future__ import annotations

from typing import Final


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Shared by the connection-based checkers (keepalived's install_checker_common_keywords + connect ones).
_COMMON = "alpha delay_before_retry delay_loop log_all_failures retry warmup"
_CONNECT = "bind_if bind_port bindto connect_ip connect_port connect_timeout fwmark"

CHECKERS: Final = ("HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "SMTP_CHECK", "DNS_CHECK", "UDP_CHECK",
                   "PING_CHECK", "FILE_CHECK", "BFD_CHECK")

#: section -> the keywords keepalived 2.2.7 accepts in it (`include` is the lexer's, everywhere).
LVS_KNOWN: Final[dict[str, frozenset[str]]] = {
    "SSL": _words("ca certificate key password"),
    "virtual_server": _words(
        """alpha connect_timeout delay_before_retry delay_loop flag-1 flag-2 flag-3 ha_suspend hashed
        hysteresis inhibit_on_failure ip_family lb_algo lb_kind lvs_method lvs_sched mh-fallback mh-port
        omega ops persistence_engine persistence_granularity persistence_timeout protocol quorum
        quorum_down quorum_up real_server retry sh-fallback sh-port smtp_alert snmp_name sorry_server
        sorry_server_inhibit sorry_server_lvs_method virtualhost warmup weight"""
    ),
    "real_server": _words(
        """alpha connect_timeout delay_before_retry delay_loop inhibit_on_failure lthreshold lvs_method
        notify_down notify_up retry smtp_alert snmp_name uthreshold virtualhost warmup weight"""
    ) | frozenset(CHECKERS),
    "HTTP_GET": _words(f"{_COMMON} {_CONNECT} enable_sni fast_recovery http_protocol nb_get_retry url virtualhost"),
    "SSL_GET": _words(f"{_COMMON} {_CONNECT} enable_sni fast_recovery http_protocol nb_get_retry url virtualhost"),
    "url": _words(
        """digest path regex regex_max_offset regex_min_offset regex_no_match regex_options regex_stack
        status_code virtualhost"""
    ),
    "TCP_CHECK": _words(f"{_COMMON} {_CONNECT}"),
    "MISC_CHECK": _words(f"{_COMMON} misc_dynamic misc_path misc_timeout user"),
    "SMTP_CHECK": _words(f"{_COMMON} {_CONNECT} helo_name host"),
    "host": _words(f"{_COMMON} {_CONNECT}"),  # SMTP_CHECK's `host { }`
    "DNS_CHECK": _words(f"{_COMMON} {_CONNECT} name type"),
    "UDP_CHECK": _words(f"{_COMMON} {_CONNECT} max_reply_length min_reply_length payload require_reply"),
    "PING_CHECK": _words(f"{_COMMON} {_CONNECT}"),
    "FILE_CHECK": _words("track_file weight"),
    "BFD_CHECK": _words("alpha name"),
}

#: keepalived's list of valid lb_algo/lvs_sched names.
SCHEDULERS: Final = frozenset({"rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq"})
FORWARDING: Final = frozenset({"NAT", "DR", "TUN"})
PROTOCOLS: Final = frozenset({"TCP", "UDP", "SCTP"})  # compared case-insensitively, as keepalived does
HTTP_PROTOCOLS: Final = frozenset({"1.0", "1.1", "1.0C", "1.0c"})
DNS_TYPES: Final = frozenset({"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY"})
#: lb_algo flags; the sh-/mh- ones only mean something with that scheduler (and keepalived says so).
SCHED_FLAGS: Final = {"ops": None, "flag-1": None, "flag-2": None, "flag-3": None,
                      "sh-port": "sh", "sh-fallback": "sh", "mh-port": "mh", "mh-fallback": "mh"}
