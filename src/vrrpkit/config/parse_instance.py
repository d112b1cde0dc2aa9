"""vrrp_instance: one handler per keyword, recording what the block says into a `WrittenInstance`.

Handlers check values the way keepalived's handlers do and record them; keepalived's completion
(defaults that depend on other keywords, strict mode, rounding, tracker resolution) happens later,
in `semantics`, because it needs the whole block and sometimes the whole file. Adding an instance
keyword is an entry in `KEYWORDS` (a small function, or one of the `_int`/`_flag`/`_timer` makers
for a per-instance override of a global setting) and its name in
`keywords.IMPLEMENTED["vrrp_instance"]`; `semantics` turns the new field into `InstanceConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vrrpkit.config import parse_vmac
from vrrpkit.config.diagnostics import Location
from vrrpkit.config.keywords import NOTIFY_EVENTS
from vrrpkit.config.lexer import Stmt
from vrrpkit.config.parse_items import notify_line, peer, track_ref, vip
from vrrpkit.config.parse_routes import route, rule
from vrrpkit.config.parser import IFNAMSIZ, Parser, bind
from vrrpkit.config.written import Written, WrittenInstance
from vrrpkit.core.config import TrackKind, Vip


@dataclass
class InstanceBlock:
    """What an instance keyword's handler works on: the parser, the file (scripts are noted file-wide), the instance."""

    p: Parser
    written: Written
    inst: WrittenInstance


InstanceHandler = Callable[[InstanceBlock, Stmt], None]


def _state(b: InstanceBlock, s: Stmt) -> None:
    a = b.p.arg(s)
    if a is None:
        return
    if a in ("MASTER", "BACKUP"):
        b.inst.state = a
    else:
        b.p.err(
            s.word_loc(1), "state-unknown",
            f"unknown state {a!r}: keepalived's `state` is case-sensitive and uses BACKUP "
            f"(write MASTER or BACKUP)",
        )
        b.inst.state = "BACKUP"


def _interface(b: InstanceBlock, s: Stmt) -> None:
    a = b.p.arg(s)
    if a == "lo":
        b.p.err(s.word_loc(1), "invalid-value",
                "VRRP cannot run on the loopback interface: keepalived ignores `interface lo` ('cannot use a "
                "loopback interface (lo) for vrrp - ignoring')")
        return
    if a is not None:
        if len(a) >= IFNAMSIZ:
            b.p.err(s.word_loc(1), "invalid-value", f"interface name {a!r} is longer than 15 characters")
        b.inst.interface = a


def _vrid(b: InstanceBlock, s: Stmt) -> None:
    b.inst.vrid_given = True
    b.inst.vrid = b.p.int_arg(s, 1, 255, what="virtual_router_id")


def _priority(b: InstanceBlock, s: Stmt) -> None:
    p = b.p.int_arg(s, 1, 255, what="priority")
    # An invalid value: keepalived says "Using default 100" (not the MASTER default of 255).
    b.inst.priority = p if p is not None else 100


def _advert_int(b: InstanceBlock, s: Stmt) -> None:
    b.inst.advert_int = b.p.float_arg(s, 0.01, 255)


def _version(b: InstanceBlock, s: Stmt) -> None:
    b.inst.version = b.p.int_arg(s, 2, 3)


# --- authentication { auth_type ...; auth_pass ... } -------------------------------------------


def _auth_type(b: InstanceBlock, a: Stmt) -> None:
    t = b.p.arg(a)
    if t is None:
        return
    if t == "PASS":
        b.inst.auth_type = "PASS"
    elif t == "AH":
        b.inst.auth_type = "AH"  # IPsec AH as keepalived speaks it (core/ah.py)
    else:
        b.p.err(a.word_loc(1), "invalid-value", f"unknown auth_type {t!r} (PASS or AH)")


def _auth_pass(b: InstanceBlock, a: Stmt) -> None:
    if len(a.words) < 2:
        b.p.arg(a)
        return
    raw = a.words[1].text.encode()
    if len(raw) > 8:
        b.p.err(a.word_loc(1), "auth-pass-truncated",
                f"auth_pass is {len(raw)} bytes; the VRRPv2 field holds 8, so only "
                f"{raw[:8].decode(errors='replace')!r} is used (keepalived truncates it too)")
    b.inst.auth_pass = raw[:8]
    b.inst.keywords.setdefault("auth_pass", a.loc)


AUTH_KEYWORDS: dict[str, InstanceHandler] = {"auth_type": _auth_type, "auth_pass": _auth_pass}


def _authentication(b: InstanceBlock, s: Stmt) -> None:
    b.p.block("authentication", bind(AUTH_KEYWORDS, b), 2, s)


# --- addresses ---------------------------------------------------------------------------------


def _vips(target: Callable[[WrittenInstance], list[tuple[Vip, Location]]]) -> InstanceHandler:
    """virtual_ipaddress / virtual_ipaddress_excluded: one address per line; a bad line is dropped alone."""

    def handle(b: InstanceBlock, s: Stmt) -> None:
        for item in b.p.values(s):
            v = vip(b.p, item)
            if v is not None:
                target(b.inst).append((v, item.loc))

    return handle


def _unicast_src(b: InstanceBlock, s: Stmt) -> None:
    _unicast_keyword(b, s)
    a = b.p.arg(s)
    if a is not None:
        b.inst.unicast_src = b.p.address(a, s.word_loc(1), "unicast_src_ip")


def _mcast_src(b: InstanceBlock, s: Stmt) -> None:
    a = b.p.arg(s)
    if a is not None:
        b.inst.mcast_src = b.p.address(a, s.word_loc(1), "mcast_src_ip")


def _unicast_peer(b: InstanceBlock, s: Stmt) -> None:
    _unicast_keyword(b, s)
    for item in b.p.values(s):
        pr = peer(b.p, item)
        if pr is not None:
            b.inst.peers.append((pr, item.loc))


def _tracks(kind: TrackKind, limit: int) -> InstanceHandler:
    """track_interface / track_script / track_file: `limit` bounds the weights keepalived accepts."""

    def handle(b: InstanceBlock, s: Stmt) -> None:
        for item in b.p.values(s):
            b.inst.tracks.append(track_ref(b.p, item, kind, limit))

    return handle


# --- preemption, notify, modes -----------------------------------------------------------------


def _nopreempt(b: InstanceBlock, s: Stmt) -> None:
    b.inst.nopreempt = True


def _preempt(b: InstanceBlock, s: Stmt) -> None:
    b.inst.nopreempt = False


def _preempt_delay(b: InstanceBlock, s: Stmt) -> None:
    b.inst.preempt_delay = b.p.float_arg(s, 0, 1000)



def _notify(b: InstanceBlock, s: Stmt) -> None:
    """One script per event: keepalived keeps the first line and ignores the others."""
    if len(s.words) < 2:
        if s.keyword == "notify_deleted":  # keepalived reads it as "no script" and says nothing
            b.p.err(s.loc, "syntax", "notify_deleted without a script: keepalived ignores the line", "warning")
        else:
            b.p.arg(s)
        return
    if not b.p.first_wins(b.inst.notify_lines, s, f"{s.keyword} (a script for this event)"):
        return
    b.inst.notify.append(notify_line(s, NOTIFY_EVENTS[s.keyword]))
    b.written.note_script(s.loc)


def _virtual_routes(b: InstanceBlock, s: Stmt) -> None:
    for item in b.p.values(s):
        r = route(b.p, item, static=False)
        if r is not None:
            b.inst.virtual_routes.append((r, item.loc))


def _virtual_rules(b: InstanceBlock, s: Stmt) -> None:
    for item in b.p.values(s):
        r = rule(b.p, item, b.written.next_rule_priority)
        if r is not None:
            b.inst.virtual_rules.append((r, item.loc))


def _notify_priority_changes(b: InstanceBlock, s: Stmt) -> None:
    b.inst.notify_priority_changes = b.p.bool_arg(s)


def _smtp_alert(b: InstanceBlock, s: Stmt) -> None:
    b.inst.smtp_alert = b.p.bool_arg(s)


def _accept(b: InstanceBlock, s: Stmt) -> None:
    b.inst.accept = True


def _no_accept(b: InstanceBlock, s: Stmt) -> None:
    b.inst.accept = False


def _check_unicast_src(b: InstanceBlock, s: Stmt) -> None:
    _unicast_keyword(b, s)
    _flag("check_unicast_src")(b, s)


def _strict_mode(b: InstanceBlock, s: Stmt) -> None:
    v = b.p.bool_arg(s)
    if v is not None:
        b.inst.strict = v


# --- per-instance overrides of global_defs settings (keyed by their InstanceConfig field) -------


def _timer(key: str, hi: int) -> InstanceHandler:
    """Whole seconds: keepalived 2.2.7 reads the per-instance GARP timers as integers."""

    def handle(b: InstanceBlock, s: Stmt) -> None:
        cs = b.p.seconds_cs(s, 0, hi)
        if cs is not None:
            b.inst.timers_cs[key] = cs

    return handle


def _int(key: str, lo: int, hi: int) -> InstanceHandler:
    def handle(b: InstanceBlock, s: Stmt) -> None:
        n = b.p.int_arg(s, lo, hi)
        if n is not None:
            b.inst.ints[key] = n

    return handle


def _flag(key: str) -> InstanceHandler:
    def handle(b: InstanceBlock, s: Stmt) -> None:
        v = b.p.bool_arg(s)
        if v is not None:
            b.inst.bools[key] = v

    return handle


# --- the long tail: options keepalived sets with a bare keyword -----------------------------------


def _set(key: str, unicast: bool = False) -> InstanceHandler:
    """A bare keyword (keepalived's handler takes no value: `dont_track_primary off` still sets it)."""

    def handle(b: InstanceBlock, s: Stmt) -> None:
        if unicast:
            _unicast_keyword(b, s)
        b.inst.bools[key] = b.p.bare_flag(s)

    return handle


def _unicast_keyword(b: InstanceBlock, s: Stmt) -> None:
    """keepalived's VRRP_FLAG_UNICAST_CONFIGURED: the keywords that mean "this instance is unicast"."""
    if b.inst.unicast_keyword is None:
        b.inst.unicast_keyword = s.loc


def _mcast_dst_ip(b: InstanceBlock, s: Stmt) -> None:
    """`mcast_dst_ip GROUP`: IPv4 multicast, or IPv6 link-local multicast (ffX2::)."""
    a = b.p.arg(s)
    addr = None if a is None else b.p.address(a, s.word_loc(1), "mcast_dst_ip")
    if addr is None:
        return
    b.inst.mcast_dst_family = addr.version
    ok = addr.is_multicast and (addr.version == 4 or addr.packed[1] & 0x0F == 2)
    if not ok:
        b.p.err(s.word_loc(1), "invalid-address",
                f"({b.inst.name}) mcast_dst_ip {a} not{' link-local' if addr.version == 6 else ''} multicast. "
                f"Skipping...")
        return
    b.inst.mcast_dst = addr


def _unicast_ttl(b: InstanceBlock, s: Stmt) -> None:
    n = b.p.int_arg(s, 0, 255, what=f"({b.inst.name}): unicast_ttl")
    if n is not None:
        b.inst.ints["unicast_ttl"] = n


def _kernel_rx_buf_size(b: InstanceBlock, s: Stmt) -> None:
    """The SO_RCVBUF share of this instance on its socket (keepalived sums the instances')."""
    text = s.words[1].text if len(s.words) == 2 else ""
    if not text.isdigit() or int(text) > 2**32 - 1:
        b.p.err(s.loc, "invalid-value", f"({b.inst.name}) invalid kernel_rx_buf_size specified")
        return
    b.inst.ints["kernel_rx_buf_size"] = int(text)


def _old_unicast_checksum(b: InstanceBlock, s: Stmt) -> None:
    """`old_unicast_checksum [never]`: send keepalived <= 1.3.6's checksums, or never switch to them."""
    _unicast_keyword(b, s)
    if len(s.words) < 2:
        b.inst.old_checksum = "always"
    elif s.words[1].text == "never":
        b.inst.old_checksum = "never"
    else:
        b.p.err(s.word_loc(1), "invalid-value",
                f"({b.inst.name}) Unknown old_unicast_chksum mode {s.words[1].text} - ignoring")


def _linkbeat(b: InstanceBlock, s: Stmt) -> None:
    b.p.err(s.loc, "deprecated-keyword",
            f"({b.inst.name}) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block")
    b.inst.bools["linkbeat_use_polling"] = True


def _debug(b: InstanceBlock, s: Stmt) -> None:
    """`debug 0..4`: keepalived reads and checks it, and does nothing with it ("not implemented yet")."""
    b.p.int_arg(s, 0, 4, what=f"({b.inst.name}) debug")


def _vmac(read: parse_vmac.Handler) -> InstanceHandler:
    def handle(b: InstanceBlock, s: Stmt) -> None:
        read(b.p, b.inst, s)

    return handle


KEYWORDS: dict[str, InstanceHandler] = {
    "state": _state,
    "interface": _interface,
    "virtual_router_id": _vrid,
    "priority": _priority,
    "advert_int": _advert_int,
    "version": _version,
    "authentication": _authentication,
    "virtual_ipaddress": _vips(lambda inst: inst.vips),
    "virtual_ipaddress_excluded": _vips(lambda inst: inst.excluded),
    "unicast_src_ip": _unicast_src,
    "unicast_peer": _unicast_peer,
    "mcast_src_ip": _mcast_src,
    "track_interface": _tracks(TrackKind.INTERFACE, 253),
    "track_script": _tracks(TrackKind.SCRIPT, 253),
    "track_file": _tracks(TrackKind.FILE, 254),
    "track_process": _tracks(TrackKind.PROCESS, 254),
    "virtual_routes": _virtual_routes,
    "virtual_rules": _virtual_rules,
    "notify_priority_changes": _notify_priority_changes,
    "smtp_alert": _smtp_alert,
    "nopreempt": _nopreempt,
    "preempt": _preempt,
    "preempt_delay": _preempt_delay,
    **{k: _notify for k in NOTIFY_EVENTS},
    "garp_master_delay": _timer("garp_master_delay_cs", 255),
    "garp_master_repeat": _int("garp_master_repeat", 1, 255),
    "garp_master_refresh": _timer("garp_master_refresh_cs", 2**31),
    "garp_master_refresh_repeat": _int("garp_master_refresh_repeat", 1, 255),
    "garp_lower_prio_delay": _timer("garp_lower_prio_delay_cs", 255),
    "garp_lower_prio_repeat": _int("garp_lower_prio_repeat", 0, 255),
    "down_timer_adverts": _int("down_timer_adverts", 1, 100),
    "accept": _accept,
    "no_accept": _no_accept,
    "strict_mode": _strict_mode,
    "skip_check_adv_addr": _flag("skip_check_adv_addr"),
    "lower_prio_no_advert": _flag("lower_prio_no_advert"),
    "higher_prio_send_advert": _flag("higher_prio_send_advert"),
    "check_unicast_src": _check_unicast_src,
    "owner_ignore_adverts": _flag("owner_ignore_adverts"),
    # virtual MAC
    "use_vmac": _vmac(parse_vmac.use_vmac),
    "use_ipvlan": _vmac(parse_vmac.use_ipvlan),
    "vmac_xmit_base": _set("vmac_xmit_base"),
    "use_vmac_addr": _set("use_vmac_addr"),
    "garp_extra_if": _vmac(parse_vmac.garp_extra_if),
    "vmac_garp_intvl": _vmac(parse_vmac.garp_extra_if),
    # the long tail
    "dont_track_primary": _set("dont_track_primary"),
    "track_src_ip": _set("track_src_ip"),
    "promote_secondaries": _set("promote_secondaries"),
    "native_ipv6": _set("native_ipv6"),
    "no_virtual_ipaddress": _set("no_virtual_ipaddress"),
    "unicast_fault_no_peer": _set("unicast_fault_no_peer", unicast=True),
    "mcast_dst_ip": _mcast_dst_ip,
    "unicast_ttl": _unicast_ttl,
    "kernel_rx_buf_size": _kernel_rx_buf_size,
    "old_unicast_checksum": _old_unicast_checksum,
    "v3_checksum_as_v2": _flag("v3_checksum_as_v2"),
    "linkbeat_use_polling": _linkbeat,
    "debug": _debug,
}


def parse_vrrp_instance(p: Parser, written: Written, st: Stmt) -> None:
    inst = WrittenInstance(p.named(st), st.loc)
    b = InstanceBlock(p, written, inst)

    def handle(s: Stmt) -> None:
        inst.keywords.setdefault(s.keyword, s.loc)  # the first line of each keyword, for diagnostics
        KEYWORDS[s.keyword](b, s)

    inst.end_line = p.block("vrrp_instance", dict.fromkeys(KEYWORDS, handle), 1, st)
    written.instances.append(inst)
