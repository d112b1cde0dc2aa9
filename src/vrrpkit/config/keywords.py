"""keepalived's configuration vocabulary, section by section, and what vrrpkit does with it.

`KNOWN` is every keyword keepalived accepts in a section: the keepalived 2.2.7 binary was probed
keyword by keyword with `keepalived -t` (Debian 12), then the 2.3/2.4 additions from the man page were
added (`NEWER`). Anything outside `KNOWN` is an unknown keyword (keepalived ignores it and
`keepalived -t` fails). `UNSUPPORTED` is the one table of keywords that keepalived knows and vrrpkit
does not implement: each is reported as "not supported, ignored", never dropped silently.
"""

from __future__ import annotations

from typing import Final

from vrrpkit.config.lvs_keywords import LVS_KNOWN

_LVS = "a load-balancer setting: keepalived's checker (keepalived --check) reads it, vrrpkit runs VRRP (docs/lvs.md)"
_BFD = "BFD is not implemented"
_SNMP = "SNMP and D-Bus interfaces are not implemented (use `vrrpkit status --json` or the metrics)"
_MAIL = "checker e-mail alerts belong to LVS health checkers, which vrrpkit does not have"
_PROC = "process tuning of keepalived's child processes does not apply to vrrpkit's single process"
_FIFO = "the LVS notify FIFO belongs to health checkers, which vrrpkit does not have"
_NFT = "vrrpkit's firewall (no_accept, VMAC rules) is nftables only: iptables chains are not used (see `nftables`)"
_NS = "network namespaces are chosen by how vrrpkit is started, not in the config"
_RELOAD = "reload orchestration keywords are not implemented"
_MISC = "not implemented"

def _words(text: str) -> frozenset[str]:
    """A keyword list written as blank-separated words (easier to diff against keepalived's)."""
    return frozenset(text.split())


SECTIONS: Final = (
    "top", "global_defs", "vrrp_script", "vrrp_instance", "vrrp_sync_group", "track_file", "vrrp_track_process",
    "garp_group", "track_group",
)

#: Keywords keepalived knows, per section (2.2.7 probed, plus NEWER).
KNOWN: Final[dict[str, frozenset[str]]] = {
    "top": _words(
        """SSL bfd_instance child_wait_time garp_group global_defs include instance
        interface_up_down_delays linkbeat_interfaces linkbeat_use_polling namespace_with_ipsets
        net_namespace net_namespace_ipvs static_ipaddress static_routes static_rules track_file
        track_group use_pid_dir virtual_server virtual_server_group vrrp_instance vrrp_script
        vrrp_sync_group vrrp_track_file vrrp_track_process"""
    ),
    "global_defs": _words(
        """bfd_cpu_affinity bfd_no_swap bfd_priority bfd_process_name bfd_rlimit_rtime
        bfd_rlimit_rttime bfd_rt_priority checker_cpu_affinity checker_log_all_failures
        checker_no_swap checker_priority checker_process_name checker_rlimit_rtime
        checker_rlimit_rttime checker_rt_priority config_save_dir data_use_instance
        dbus_service_name default_interface disable_local_igmp dynamic_interfaces enable_dbus
        enable_script_security enable_snmp_checker enable_snmp_keepalived enable_snmp_rfc
        enable_snmp_rfcv2 enable_snmp_rfcv3 enable_snmp_vrrp enable_traps
        fifo_write_vrrp_states_on_reload include include_check log_unknown_vrids lvs_flush
        lvs_flush_on_stop lvs_flush_onstop lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force
        lvs_netlink_monitor_rcv_bufs lvs_netlink_monitor_rcv_bufs_force lvs_notify_fifo
        lvs_notify_fifo_script lvs_process_name lvs_sync_daemon lvs_timeouts max_auto_priority
        min_auto_priority_delay nftables nftables_counters nftables_ifindex nftables_ipvs
        nftables_ipvs_priority nftables_ipvs_start_fwmark nftables_priority no_checker_emails
        no_email_faults notification_email notification_email_from notify_fifo notify_fifo_script
        process_monitor_rcv_bufs process_monitor_rcv_bufs_force process_name process_names
        random_seed reload_check_config reload_file reload_repeat reload_time_file router_id
        rs_init_notifies script_user shutdown_script shutdown_script_timeout smtp_alert
        smtp_alert_checker smtp_alert_vrrp smtp_connect_timeout smtp_helo_name smtp_server
        snmp_socket startup_script startup_script_timeout tmp_config_directory umask
        vmac_addr_prefix vmac_prefix vrrp_check_unicast_src vrrp_cpu_affinity
        vrrp_down_timer_adverts vrrp_garp_extra_if vrrp_garp_interval vrrp_garp_lower_prio_delay
        vrrp_garp_lower_prio_repeat vrrp_garp_master_delay vrrp_garp_master_refresh
        vrrp_garp_master_refresh_repeat vrrp_garp_master_repeat vrrp_gna_interval
        vrrp_higher_prio_send_advert vrrp_iptables vrrp_lower_prio_no_advert vrrp_mcast_group4
        vrrp_mcast_group6 vrrp_min_garp vrrp_netlink_cmd_rcv_bufs vrrp_netlink_cmd_rcv_bufs_force
        vrrp_netlink_monitor_rcv_bufs vrrp_netlink_monitor_rcv_bufs_force vrrp_no_swap
        vrrp_notify_fifo vrrp_notify_fifo_script vrrp_notify_priority_changes vrrp_priority
        vrrp_process_name vrrp_rlimit_rtime vrrp_rlimit_rttime vrrp_rt_priority
        vrrp_rx_bufs_multiplier vrrp_rx_bufs_policy vrrp_skip_check_adv_addr vrrp_startup_delay
        vrrp_strict vrrp_version vrrp_vmac_garp_intvl"""
    ),
    "vrrp_script": _words(
        """fall include init_fail interval rise script timeout user weight"""
    ),
    "vrrp_instance": _words(
        """accept advert_int authentication check_unicast_src debug dont_track_primary
        down_timer_adverts garp_extra_if garp_lower_prio_delay garp_lower_prio_repeat
        garp_master_delay garp_master_refresh garp_master_refresh_repeat garp_master_repeat
        higher_prio_send_advert include interface kernel_rx_buf_size linkbeat_use_polling
        lower_prio_no_advert lvs_sync_daemon_interface mcast_dst_ip mcast_src_ip native_ipv6
        no_accept nopreempt notify notify_backup notify_deleted notify_fault notify_master
        notify_master_rx_lower_pri notify_priority_changes notify_stop old_unicast_checksum
        preempt_delay priority promote_secondaries skip_check_adv_addr smtp_alert state strict_mode
        track_bfd track_file track_interface track_process track_script track_src_ip
        unicast_fault_no_peer unicast_peer unicast_src_ip unicast_ttl use_ipvlan use_vmac
        use_vmac_addr version virtual_ipaddress virtual_ipaddress_excluded virtual_router_id
        virtual_routes virtual_rules vmac_garp_intvl vmac_xmit_base vrf"""
    ),
    "vrrp_sync_group": _words(
        """global_tracking group include notify notify_backup notify_fault notify_master
        notify_priority_changes notify_stop smtp_alert sync_group_tracking_weight track_bfd
        track_file track_interface track_process track_script"""
    ),
    "track_file": _words(
        """file include init_file weight"""
    ),
    "vrrp_track_process": _words(
        """delay fork_delay full_command include param_match process quorum quorum_max terminate_delay weight"""
    ),
    "authentication": _words(
        """auth_type auth_pass"""
    ),
    "garp_group": _words(
        """garp_interval gna_interval include interface interfaces"""
    ),
    "track_group": _words(
        """group include"""
    ),
}

#: Keywords added after 2.2.7 (keepalived 2.3/2.4 man page). 2.2.7 calls them unknown; see divergences.
NEWER: Final[dict[str, frozenset[str]]] = {
    "global_defs": frozenset({"vrrp_owner_ignore_adverts", "vrrp_delay_after_boot", "v3_checksum_as_v2"}),
    "vrrp_instance": frozenset(
        {"preempt", "no_virtual_ipaddress", "owner_ignore_adverts", "v3_checksum_as_v2", "auth_hmac"}
    ),
}

#: The one table of what vrrpkit does not implement: section -> keyword -> why. Reported as
#: "not supported, ignored" (rule unsupported-keyword).
UNSUPPORTED: Final[dict[str, dict[str, str]]] = {
    "top": {
        "bfd_instance": _BFD,
        "net_namespace": _NS, "net_namespace_ipvs": _NS, "namespace_with_ipsets": _NS,
        "child_wait_time": _PROC, "use_pid_dir": _PROC,
        "instance": "keepalived `instance` (pid/namespace naming) does not apply to vrrpkit",
    },
    "global_defs": {},  # filled below: everything known that vrrpkit does not read
    "vrrp_script": {},
    "vrrp_instance": {
        "track_bfd": _BFD, "lvs_sync_daemon_interface": _LVS,
        "auth_hmac": "auth_hmac (keepalived 2.4's own HMAC-SHA256 trailer, not in any RFC nor in 2.2.7) " + _MISC,
        "vrf": "VRF binding only applies to an instance without `interface`, which vrrpkit does not run",
    },
    "vrrp_sync_group": {
        "track_bfd": _BFD,
    },
    "track_file": {},
    "vrrp_track_process": {},
    "authentication": {},
    "garp_group": {},
    "track_group": {},
}

#: What the parser reads, per section (the rest of KNOWN/NEWER goes to UNSUPPORTED).
IMPLEMENTED: Final[dict[str, frozenset[str]]] = {
    "top": frozenset({"global_defs", "vrrp_script", "vrrp_instance", "vrrp_sync_group", "track_file",
                      "vrrp_track_file", "include", "virtual_server", "virtual_server_group", "SSL",
                      "vrrp_track_process", "static_ipaddress", "static_routes", "static_rules",
                      "linkbeat_interfaces", "linkbeat_use_polling", "interface_up_down_delays", "garp_group",
                      "track_group"}),
    "global_defs": _words(
        """router_id vrrp_strict vrrp_version vrrp_mcast_group4 vrrp_mcast_group6
        vrrp_garp_master_delay vrrp_garp_master_repeat vrrp_garp_master_refresh
        vrrp_garp_master_refresh_repeat vrrp_garp_lower_prio_delay vrrp_garp_lower_prio_repeat
        vrrp_garp_interval vrrp_gna_interval vrrp_min_garp vrrp_skip_check_adv_addr
        vrrp_check_unicast_src enable_script_security script_user vrrp_startup_delay
        vrrp_delay_after_boot vrrp_lower_prio_no_advert vrrp_higher_prio_send_advert
        vrrp_down_timer_adverts vrrp_owner_ignore_adverts include notify_fifo notify_fifo_script
        vrrp_notify_fifo vrrp_notify_fifo_script vrrp_notify_priority_changes fifo_write_vrrp_states_on_reload
        notification_email notification_email_from smtp_server smtp_connect_timeout smtp_helo_name
        smtp_alert smtp_alert_vrrp no_email_faults default_interface vmac_prefix vmac_addr_prefix vrrp_garp_extra_if
        nftables nftables_priority nftables_counters nftables_ifindex
        vrrp_vmac_garp_intvl v3_checksum_as_v2 log_unknown_vrids disable_local_igmp dynamic_interfaces
        vrrp_rx_bufs_policy vrrp_rx_bufs_multiplier"""
    ),
    "vrrp_script": _words(
        """script interval timeout weight rise fall user init_fail include"""
    ),
    "vrrp_instance": _words(
        """state interface virtual_router_id priority advert_int authentication virtual_ipaddress
        virtual_ipaddress_excluded unicast_src_ip unicast_peer mcast_src_ip track_interface
        track_script track_file nopreempt preempt preempt_delay notify_master notify_backup
        notify_fault notify_stop notify notify_deleted notify_master_rx_lower_pri garp_master_delay
        garp_master_repeat garp_master_refresh garp_master_refresh_repeat garp_lower_prio_delay
        garp_lower_prio_repeat version accept no_accept strict_mode skip_check_adv_addr
        lower_prio_no_advert higher_prio_send_advert down_timer_adverts check_unicast_src
        owner_ignore_adverts include virtual_routes virtual_rules track_process notify_priority_changes
        smtp_alert use_vmac use_ipvlan vmac_xmit_base use_vmac_addr garp_extra_if vmac_garp_intvl
        dont_track_primary track_src_ip promote_secondaries native_ipv6 no_virtual_ipaddress
        unicast_fault_no_peer mcast_dst_ip unicast_ttl kernel_rx_buf_size old_unicast_checksum v3_checksum_as_v2
        linkbeat_use_polling debug"""
    ),
    "vrrp_sync_group": _words(
        """group notify_master notify_backup notify_fault notify_stop notify track_interface
        track_script track_file sync_group_tracking_weight include track_process notify_priority_changes
        smtp_alert global_tracking"""
    ),
    "track_file": _words(
        """file weight init_file include"""
    ),
    "vrrp_track_process": _words(
        """process param_match weight quorum quorum_max fork_delay terminate_delay delay full_command include"""
    ),
    "authentication": _words(
        """auth_type auth_pass"""
    ),
    "garp_group": _words(
        """garp_interval gna_interval interface interfaces include"""
    ),
    "track_group": _words(
        """group include"""
    ),
}


#: The notify keywords of vrrp_instance -> the event their script runs for (a sync group has the first five).
NOTIFY_EVENTS: Final[dict[str, str]] = {
    "notify_master": "master",
    "notify_backup": "backup",
    "notify_fault": "fault",
    "notify_stop": "stop",
    "notify": "notify",
    "notify_deleted": "deleted",
    "notify_master_rx_lower_pri": "master_rx_lower_pri",
}


def _fill_unsupported() -> None:
    """Every known keyword is either implemented or in UNSUPPORTED: the table is complete by construction."""
    for section, known in KNOWN.items():
        table = UNSUPPORTED[section]
        for kw in sorted(known | NEWER.get(section, frozenset())):
            if kw not in IMPLEMENTED[section] and kw not in table:
                if section == "global_defs":
                    table[kw] = _global_reason(kw)
                else:
                    table[kw] = _MISC


def _global_reason(kw: str) -> str:
    if kw.startswith(("lvs_", "checker_", "nftables_ipvs")) or kw in {"rs_init_notifies"}:
        return _LVS
    if kw.startswith("bfd_"):
        return _BFD
    if "snmp" in kw or "dbus" in kw or kw == "enable_traps":
        return _SNMP
    if kw.startswith(("smtp_", "notification_email", "no_email", "no_checker_emails")):
        return _MAIL
    if "fifo" in kw:
        return _FIFO
    if kw.startswith(("nftables", "vrrp_iptables")):
        return _NFT
    if kw.startswith("reload") or kw in {"config_save_dir", "tmp_config_directory"}:
        return _RELOAD
    return _PROC if ("process" in kw or "rlimit" in kw or "priority" in kw or "swap" in kw or "cpu" in kw
                     or "bufs" in kw or kw == "umask") else _MISC


def _add_lvs() -> None:
    """The load-balancer blocks are linted (parse_lvs, parse_checkers), never run: all their words are read."""
    for section, words in LVS_KNOWN.items():
        KNOWN[section] = words
        IMPLEMENTED[section] = words | {"include"}
        UNSUPPORTED[section] = {}


_add_lvs()
_fill_unsupported()


def classify(section: str, keyword: str) -> str:
    """'implemented', 'unsupported' or 'unknown' for a keyword in a section."""
    if keyword in IMPLEMENTED.get(section, frozenset()):
        return "implemented"
    if keyword in UNSUPPORTED.get(section, {}):
        return "unsupported"
    return "unknown"
