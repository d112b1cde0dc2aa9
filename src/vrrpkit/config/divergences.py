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
        key="lower-priority-answer-limit",
        direction="runtime",
        vrrpkit="a MASTER answers lower-priority adverts (advert, re-GARP, notify_master_rx_lower_pri, the "
        "'Received advert from ... with lower priority' line) at most twice in any advert interval; the "
        "others are counted (lower_prio_unanswered)",
        keepalived_2_2_7="answers, and logs, every lower-priority advert",
        why="a flood of lower-priority adverts must not make the master a flood of adverts and GARPs, while a "
        "rival advertising every interval, jitter and all, is answered every time, and so is a BACKUP's takeover "
        "right after its claim (takeover-claim) when the answer to the claim was lost (docs/reliability.md)",
    ),
    Divergence(
        key="backup-lower-priority-line",
        direction="runtime",
        vrrpkit="a BACKUP that may preempt logs '(VI_x) received lower priority (N) advert from A - discarding' "
        "at most twice in any advert interval",
        keepalived_2_2_7="logs the line for every lower-priority advert it discards",
        why="a master advertising every interval is said every time (as keepalived), a flood of lower-priority "
        "adverts is not a flood of log lines (drop-log-rate-limit)",
    ),
    Divergence(
        key="priority-change-advert",
        direction="runtime",
        vrrpkit="a MASTER whose effective priority changes (a track weight) advertises the new priority at once, "
        "and its next adverts an interval apart from then",
        keepalived_2_2_7="at its next advert (measured: 150 to 90 at 5.00 s, advertised at 5.43 s)",
        why="a rise reaches a backup whose Master_Down is running out (it discarded our lower adverts) before it "
        "takes over: measured, keepalived's backup took the VIP 20 ms after the rise and gave it back at the "
        "master's answer; a fall changes nothing for a backup (it discards the lower advert either way)",
    ),
    Divergence(
        key="group-resign-notify",
        direction="runtime",
        vrrpkit="a sync group whose members resign (a VIP or tracked route deleted) is BACKUP until they are "
        "MASTER again: 'Syncing instances to BACKUP state', the group's notify with BACKUP, then MASTER",
        keepalived_2_2_7="each member resigns on its own; the group says nothing and runs no BACKUP notify, then "
        "runs its MASTER notify again at the re-election (measured: GROUP G1 MASTER at 3.43 and 5.42 s, "
        "nothing at 5.01 s when the VIPs went)",
        why="the VIPs are gone from the host for the Skew_Time: a group's notify_backup script (conntrackd's, a "
        "service to stop) hears so, and a notify_master script runs once per mastership",
    ),
    Divergence(
        key="reload-priority-line",
        direction="runtime",
        vrrpkit="a reload that changes an instance's effective priority logs 'configuration changed, state kept: "
        "priority 151 -> 152' and 'Changing effective priority from 141 to 142' (the old and new effective values)",
        keepalived_2_2_7="logs 'Changing effective priority from 152 to 142' (the new base to the new effective "
        "value: 152 was never in force) and nothing when a script's weight does not apply (150 -> 151 unsaid; "
        "measured)",
        why="the line says what the instance advertised before and what it advertises now; a priority that changes "
        "is worth a line whether a weight or the configuration changed it",
    ),
    Divergence(
        key="reload-garp",
        direction="runtime",
        vrrpkit="a reload that adds VIPs to a MASTER sends gratuitous ARPs / NAs for the added ones; the "
        "takeover's garp_master_delay burst, if still to come, still comes",
        keepalived_2_2_7="logs 'setting VIPs.' at every reload; when the VIP list changed, it sends GARPs for every "
        "VIP of the instance, and a pending garp_master_delay burst does not come (measured: a VIP moved to another "
        "dev, 5 GARPs for it and 5 for the unchanged one at the reload, none 5 s after the takeover)",
        why="a VIP that did not move needs no new GARP, and the reload does not undo the takeover that the delayed "
        "burst is for (a switch that missed the first burst learns the VIP from it)",
    ),
    Divergence(
        key="startup-delay-lower-master",
        direction="runtime",
        vrrpkit="vrrp_startup_delay D: the instances start D seconds late, and a BACKUP beside a lower-priority "
        "master takes over one Master_Down after that, as when alone (D + 3.41 s at priority 150, 1 s adverts)",
        keepalived_2_2_7="the same alone (5.43 s at D = 2); beside a lower-priority master it took over at 4.87, "
        "7.32 and 10.74 s for D = 1, 2, 3 (measured): up to 4.3 s after D + Master_Down",
        why="the delay is the one configured; a lower-priority master is what preemption is for, and the extra "
        "wait grows with the delay for no reason keepalived documents",
    ),
    Divergence(
        key="takeover-claim",
        direction="runtime",
        vrrpkit="a BACKUP whose master outranks it sends its own advert half its skew time before "
        "Master_Down_Interval ends (30 ms at 0.1 s adverts and priority 100; 2 ms at least) (the claim) and "
        "takes over when the interval ends only if that master did not answer; an answer is "
        "logged ('... answered our claim: staying BACKUP'), counted (vrrpkit_takeover_claims_answered_total) "
        "and reported by vrrpkit investigate (claims-answered: the master's adverts are being lost, or it stalls)",
        keepalived_2_2_7="takes over when the interval ends (VIP, GARPs, notify_master); a master that was alive "
        "answers that advert and takes the VIP back (notify_backup)",
        why="a master whose adverts were lost is alive and answers a lower priority at once (keepalived and "
        "vrrpkit do), so asking first keeps the VIP where it is, with no ARP caches flipped and no notify "
        "scripts run, while a dead master's takeover comes exactly when it would have (docs/reliability.md)",
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
        key="leading-inet6",
        direction="laxer",
        vrrpkit="a route or rule written `inet6 ...` is read as `ip -6 route/rule add` reads it",
        keepalived_2_2_7=(
            "the word after `inet6` is skipped: 'Route must have a destination' or 'Unknown rule option', and the "
            "line is dropped (measured)"
        ),
        why="a parsing slip in 2.2.7's alloc_route and alloc_rule (each steps over the word twice)",
        keepalived_message=r"Route must have a destination|Unknown rule option [0-9a-fA-F.:]+(/\d+)?$",
    ),
    Divergence(
        key='rule-single-port',
        direction='laxer',
        vrrpkit='`sport N` / `dport N` in a rule mean the range N-N, as in `ip rule`',
        keepalived_2_2_7="'invalid sport/dport range N' and the option is ignored (the rule is installed without it)",
        why=(
            '2.2.7 rejects a single port by mistake; installing the rule without its port selector would match more '
            'traffic than written'
        ),
        keepalived_message=r'invalid [sd]port range \d+$',
    ),
    Divergence(
        key='route-table-name-at-install',
        direction='laxer',
        vrrpkit=(
            'a routing table name is looked up in rt_tables when the route is installed; `check` warns '
            '(host-table-unknown) on the host'
        ),
        keepalived_2_2_7="'Routing table NAME not found' at parse time and the route or rule is dropped",
        why="parsing stays pure (no file reads); the host check and the daemon's log report the same name",
        keepalived_message=r'Routing table \S+ not found',
    ),
    Divergence(
        key='fifo-not-a-fifo',
        direction='stricter',
        vrrpkit=(
            'a notify FIFO path that exists but is not a FIFO (a regular file, a symlink...) is refused: error '
            'host-fifo-not-fifo in check, nothing written at run time'
        ),
        keepalived_2_2_7='opens the regular file and writes the lines into it (measured)',
        why='writing into whatever file the path names fills a disk or corrupts a file; a reader never sees the lines',
        rule='host-fifo-not-fifo',
    ),
    Divergence(
        key='track-process-in-namespace',
        direction='runtime',
        vrrpkit=(
            'vrrp_track_process works in any network namespace (a container): kernel process events where they exist,'
            ' else a /proc scan every 0.5 s'
        ),
        keepalived_2_2_7=(
            "inside a network namespace: 'Failed to set/clear process event listen - errno 111' and every tracked "
            'process counts as absent (priority drops at start, measured)'
        ),
        why=(
            'the proc connector only answers the initial network namespace; a cached /proc scan is cheap '
            '(bench/procscan.py)'
        ),
    ),
    Divergence(
        key='track-process-delays',
        direction='runtime',
        vrrpkit='fork_delay holds back any gain of quorum, terminate_delay any loss',
        keepalived_2_2_7=(
            'fork_delay only for a gain by fork, terminate_delay only for a loss by exit (an exec or rename acts at '
            'once)'
        ),
        why='a /proc scan cannot tell a fork from an exec; the delays exist to ride out restarts, which both cover',
    ),
    Divergence(
        key='reload-keeps-master-silence',
        direction='runtime',
        vrrpkit=(
            "a reload leaves a BACKUP's Master_Down counting from its master's last advert (with the new priority "
            'for a changed instance; a VRRPv2 interval change restarts it, as keepalived)'
        ),
        keepalived_2_2_7=(
            "restarts every BACKUP's Master_Down at any reload, changed or not (measured: master killed 1.5 s "
            'before a reload, takeover 3.63 s after the reload, 10.24 s, also for an instance the reload left '
            'alone; vrrpkit 3.63 s after the last advert, 8.21-8.23 s)'
        ),
        why="the master's silence began at its last advert: a reload at a master's death adds no outage, and a "
        'reload storm cannot hold the takeover off',
    ),
    Divergence(
        key='track-file-polled-too',
        direction='runtime',
        vrrpkit=(
            'a track_file is read when inotify reports its directory changed (a closed write, a rename, a '
            'deletion), and every 0.5 s besides'
        ),
        keepalived_2_2_7=(
            'reads on inotify events only (measured: a write held open is not read until it is closed), so a file '
            'whose changes inotify does not report (procfs, sysfs, network filesystems) is not read again'
        ),
        why='the same moment as keepalived for every change inotify sees; the poll keeps other files tracked',
    ),
    Divergence(
        key='smtp-stop-mail',
        direction='runtime',
        vrrpkit="the 'Stopping' mails are sent at stop, waiting at most 3 s for the server",
        keepalived_2_2_7='queues them and exits before they are sent (none arrives, measured)',
        why='a stop is a state change people asked to be mailed about',
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
        key="vmac-sysctls-restored",
        direction="runtime",
        vrrpkit="on stop, every sysctl changed for use_vmac goes back to its value before the start, including "
        "the base interface's arp_ignore and arp_filter",
        keepalived_2_2_7="restores all/default rp_filter, promote_secondaries and igmp_link_local_mcast_reports, "
        "but leaves the base interface at arp_ignore=1 arp_filter=1 (measured here)",
        why="keepalived's own code means to restore them (reset_interface_parameters); a stopped daemon should "
        "leave the host as it found it. After a crash (SIGKILL) both start from what the crash left",
    ),
    Divergence(
        key="vmac-retried",
        direction="runtime",
        vrrpkit="a VMAC or ipvlan that cannot be made is logged once, counted (status vmac_errors) and tried "
        "again every 5 s; the instance waits in FAULT, the daemon runs on",
        keepalived_2_2_7="tries once at start ('Unable to create ipvlan interface ipv52', the instance stays in "
        "FAULT until a restart); a VMAC deleted under it is made again at once (both measured here)",
        why="a refusal can be transient (a name freed, a module loaded); retrying costs one netlink request "
        "every 5 s and saves a restart",
    ),
    Divergence(
        key="unknown-vrid-log-rate",
        direction="runtime",
        vrrpkit="log_unknown_vrids: one line per (interface, family, VRID) per minute, with the count so far",
        keepalived_2_2_7="one line per advert",
        why="an advert every second (or a flood) for a VRID nobody here runs would drown the log; the count is "
        "in `status` (unknown_vrid_packets)",
    ),
    Divergence(
        key="script-file-test-with-command",
        direction="runtime",
        vrrpkit='a script line "</path WORDS..." is disabled (only a bare "</path" file test runs)',
        keepalived_2_2_7="runs the whole line through /bin/sh without any check: the words after the file test run "
        "as the script user, root by default (measured)",
        why="a file test needs no command after it; running one unchecked bypasses enable_script_security",
    ),
    Divergence(
        key="script-without-shebang",
        direction="runtime",
        vrrpkit="a script file without #! runs as `/bin/sh FILE ARGS` after the same checks",
        keepalived_2_2_7="Debian's build has no libmagic: execve fails (ENOEXEC), the child exits 0 and the script "
        "is reported as succeeded without having run (measured)",
        why="what keepalived does when built with libmagic (system()), and what the author meant",
    ),
    Divergence(
        key="drop-log-rate-limit",
        direction="runtime",
        vrrpkit="the first dropped advert of a kind per instance is logged, the rest counted and said once a minute "
        "(every drop stays in vrrpkit_packets_dropped)",
        keepalived_2_2_7="one log line per dropped packet (measured: 340 bad-TTL packets, 340 lines)",
        why="anyone on the link could otherwise fill the journal and have journald drop the daemon's real messages",
    ),
    Divergence(
        key="capabilities",
        direction="runtime",
        vrrpkit="keeps CAP_NET_RAW, CAP_NET_ADMIN, CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_CHOWN, CAP_DAC_READ_SEARCH "
        "only, bounding set included, so root scripts have only these (--keep-capabilities: all)",
        keepalived_2_2_7="keeps every capability; root scripts have all of them",
        why="a daemon that parses packets from the network needs no other privilege (docs/security.md)",
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
