"""global_defs: the settings that change VRRP behaviour, one table entry per keyword.

Each entry reads its value the way keepalived's handler reads it and stores it under the
`GlobalDefs` field it sets; what the file leaves out keeps `GlobalDefs`' default, applied by
`semantics`. Adding a global setting is an entry in `KEYWORDS`, its name in
`keywords.IMPLEMENTED["global_defs"]` and its field in `model.GlobalDefs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from vrrpkit.config.lexer import Stmt
from vrrpkit.config.model import FifoConfig
from vrrpkit.config.parse_vmac import read_garp_extra_if, valid_ifname
from vrrpkit.config.parser import Parser, bind
from vrrpkit.config.written import Written, WrittenGlobals


@dataclass
class GlobalsBlock:
    """The global_defs block being read (keepalived merges every global_defs of a file into one)."""

    p: Parser
    g: WrittenGlobals


GlobalHandler = Callable[[GlobalsBlock, Stmt], None]
Read = Callable[[Parser, Stmt], object | None]


def _setting(key: str, read: Read) -> GlobalHandler:
    """A keyword that sets one `GlobalDefs` field; an invalid value leaves the field as it was."""

    def handle(b: GlobalsBlock, s: Stmt) -> None:
        value = read(b.p, s)
        if value is not None:
            b.g.set(key, value, s.loc)

    return handle


def _flag(key: str) -> GlobalHandler:
    return _setting(key, Parser.bool_arg)


def _bare(key: str) -> GlobalHandler:
    """A switch keepalived 2.2.7 reads without a value (a word after it is ignored)."""
    return _setting(key, Parser.bare_flag)


def _int(key: str, lo: int, hi: int) -> GlobalHandler:
    return _setting(key, lambda p, s: p.int_arg(s, lo, hi))


def _timer(key: str, lo: float, hi: float) -> GlobalHandler:
    return _setting(key, lambda p, s: p.timer_cs(s, lo, hi))


def _seconds(key: str, lo: int, hi: int) -> GlobalHandler:
    return _setting(key, lambda p, s: p.seconds_cs(s, lo, hi))


def _group4(p: Parser, s: Stmt) -> IPv4Address | None:
    a = p.arg(s)
    addr = None if a is None else p.address(a, s.word_loc(1), s.keyword)
    if addr is not None and (addr.version != 4 or not addr.is_multicast):
        p.err(s.word_loc(1), "invalid-address", f"{s.keyword}: {a} is not an IPv4 multicast address")
        return None
    return addr if isinstance(addr, IPv4Address) else None


def _group6(p: Parser, s: Stmt) -> IPv6Address | None:
    a = p.arg(s)
    addr = None if a is None else p.address(a, s.word_loc(1), s.keyword)
    if addr is not None and (addr.version != 6 or not addr.is_multicast):
        p.err(s.word_loc(1), "invalid-address", f"{s.keyword}: {a} is not an IPv6 multicast address")
        return None
    return addr if isinstance(addr, IPv6Address) else None


def _script_user(b: GlobalsBlock, s: Stmt) -> None:
    """`script_user USER [GROUP]`: a later line without GROUP clears an earlier one's."""
    user = b.p.arg(s, missing="keepalived logs 'No script username specified' and ignores the line")
    if user is not None:
        b.g.set("script_user", user, s.loc)
        b.g.set("script_group", s.words[2].text if len(s.words) > 2 else None, s.loc)


def _prefix(key: str, what: str) -> GlobalHandler:
    """vmac_prefix / vmac_addr_prefix: the first one given wins, as in keepalived."""

    def handle(b: GlobalsBlock, s: Stmt) -> None:
        text = b.p.arg(s)
        if text is None:
            return
        if key in b.g.values:
            b.p.err(s.loc, "invalid-value", f"{what} has already been specified - ignoring {text}")
            return
        if not valid_ifname(f"{text}.255"):
            b.p.err(s.word_loc(1), "invalid-value", f"{s.keyword} {text!r}: interface names made from it would be "
                                                    f"invalid or longer than 15 characters")
            return
        b.g.set(key, text, s.loc)

    return handle


def _user_group(s: Stmt) -> tuple[str | None, str | None]:
    return (s.words[2].text if len(s.words) > 2 else None, s.words[3].text if len(s.words) > 3 else None)


def _fifo(key: str) -> GlobalHandler:
    """`notify_fifo PATH [USER [GROUP]]`: the FIFO keepalived writes its INSTANCE/GROUP lines to."""

    def handle(b: GlobalsBlock, s: Stmt) -> None:
        path = b.p.arg(s)
        if path is None:
            return
        if not path.startswith("/"):
            b.p.err(s.word_loc(1), "invalid-value",
                    f"{s.keyword} {path!r} is not an absolute path: it would depend on the daemon's directory")
        user, group = _user_group(s)
        old = b.g.values.get(key)
        script = old if isinstance(old, FifoConfig) else None
        b.g.set(key, FifoConfig(path, user, group, script.script if script else None,
                                 script.script_user if script else None, script.script_group if script else None),
                s.loc)

    return handle


NFT_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


def _nftables(b: GlobalsBlock, s: Stmt) -> None:
    """`nftables [TABLE]`: the firewall is nftables (vrrpkit's always is); TABLE names its tables."""
    if len(s.words) < 2:
        return
    name = s.words[1].text
    if not NFT_TABLE.match(name):
        b.p.err(s.word_loc(1), "invalid-value", f"nftables table name {name!r}: nft refuses it; vrrpkit keeps "
                                                f"'{b.g.values.get('nftables_table', 'vrrpkit')}'", "warning")
        return
    b.g.set("nftables_table", name, s.loc)


def _nft_priority(p: Parser, s: Stmt) -> int | None:
    n = p.int_arg(s, -(2**31), 2**31 - 1, what="nftables_priority")
    if n is None:
        p.err(s.word_loc(1), "invalid-value", f"invalid nftables chain priority '{s.words[1].text}'")
    return n


def _garp_extra_if(b: GlobalsBlock, s: Stmt) -> None:
    result = read_garp_extra_if(b.p, s, "")
    if result is not None:
        b.g.set("garp_extra_if_s", result[0], s.loc)
        b.g.set("garp_extra_if_all", result[1], s.loc)


def _dynamic_interfaces(b: GlobalsBlock, s: Stmt) -> None:
    """`dynamic_interfaces [allow_if_changes]`: instances may start before their interface exists."""
    if len(s.words) > 1 and s.words[1].text != "allow_if_changes":
        b.p.err(s.word_loc(1), "invalid-value", f"dynamic_interfaces: unknown option {s.words[1].text!r}")
    b.g.set("dynamic_interfaces", True, s.loc)


def _fifo_script(key: str) -> GlobalHandler:
    """`notify_fifo_script CMD [USER [GROUP]]`: run at start with the FIFO path appended, to read it."""

    def handle(b: GlobalsBlock, s: Stmt) -> None:
        cmd = b.p.arg(s)
        if cmd is None:
            return
        user, group = _user_group(s)
        old = b.g.values.get(key)
        path = old.path if isinstance(old, FifoConfig) else ""
        keep = old if isinstance(old, FifoConfig) else FifoConfig(path)
        b.g.values[key] = FifoConfig(keep.path, keep.user, keep.group, cmd, user, group)
        b.g.locs.setdefault(key, s.loc)
        b.g.locs[key + "_script"] = s.loc

    return handle


def _emails(b: GlobalsBlock, s: Stmt) -> None:
    """`notification_email { ADDR ... }`: one address per line; a later block adds to the list."""
    emails = list(b.g.values.get("notification_email", ()))  # type: ignore[call-overload]
    for item in b.p.values(s):
        emails.extend(w.text for w in item.words)
    b.g.set("notification_email", tuple(emails), s.loc)


def _smtp_server(p: Parser, s: Stmt) -> tuple[str, int] | None:
    """`smtp_server HOST [PORT]`: an address or a name (looked up when a mail is sent), port 25 by default."""
    host = p.arg(s)
    if host is None:
        return None
    port = 25
    if len(s.words) > 2:
        n = p.int_value(s.words[2].text, s.word_loc(2), 1, 65535, "smtp_server port")
        if n is None:
            return None
        port = n
    return host, port


def _rx_bufs_policy(b: GlobalsBlock, s: Stmt) -> None:
    """`vrrp_rx_bufs_policy MTU|ADVERT|SIZE...`, as keepalived 2.2.7 reads it: the words add to what
    earlier lines set; a size wins over a policy, MTU over ADVERT; a size is read from the first
    word whatever its place (so `MTU 5000` is 'Invalid vrrp_rx_bufs_policy 5000')."""
    if len(s.words) < 2:
        b.p.err(s.loc, "syntax", "vrrp_rx_bufs_policy missing")
        return
    earlier = b.g.values.get("rx_bufs_policy")
    bits: set[str] = {earlier} if isinstance(earlier, str) else set()
    for i, word in enumerate(s.words[1:], 1):
        if word.text.upper() in ("MTU", "ADVERT"):
            bits.add(word.text.lower())
        elif (n := _uint(s.words[1].text)) is None:
            b.p.err(s.word_loc(i), "invalid-value", f"Invalid vrrp_rx_bufs_policy {word.text}")
        else:
            b.g.set("rx_bufs_size", n, s.loc)
            bits.add("size")
    if "size" in bits and bits & {"mtu", "advert"}:
        b.p.err(s.loc, "option-ignored", "Cannot set vrrp_rx_bufs_policy size and policy, ignoring policy")
        bits = {"size"}
    elif {"mtu", "advert"} <= bits:
        b.p.err(s.loc, "option-ignored", "Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring ADVERT")
        bits = {"mtu"}
    if bits:
        b.g.set("rx_bufs_policy", bits.pop(), s.loc)


def _uint(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) <= 2**32 - 1 else None


def _rx_bufs_multiplier(b: GlobalsBlock, s: Stmt) -> None:
    if len(s.words) != 2:
        b.p.err(s.loc, "invalid-value", "Invalid vrrp_rx_bufs_multiplier")
        return
    n = _uint(s.words[1].text)
    if not n:
        b.p.err(s.word_loc(1), "invalid-value", f"Invalid vrrp_rx_bufs_multiplier {s.words[1].text}")
        return
    b.g.set("rx_bufs_multiplier", n, s.loc)


KEYWORDS: dict[str, GlobalHandler] = {
    "router_id": _setting("router_id", lambda p, s: p.arg(s, missing="ignored ('routerid name missing')")),
    "vrrp_strict": _bare("strict"),
    "vrrp_version": _int("version", 2, 3),
    "vrrp_mcast_group4": _setting("mcast_group4", _group4),
    "vrrp_mcast_group6": _setting("mcast_group6", _group6),
    "vrrp_garp_master_delay": _seconds("garp_master_delay_cs", 0, 255),
    "vrrp_garp_master_repeat": _int("garp_master_repeat", 1, 255),
    "vrrp_garp_master_refresh": _seconds("garp_master_refresh_cs", 0, 2**31),
    "vrrp_garp_master_refresh_repeat": _int("garp_master_refresh_repeat", 1, 255),
    "vrrp_garp_lower_prio_delay": _seconds("garp_lower_prio_delay_cs", 0, 255),
    "vrrp_garp_lower_prio_repeat": _int("garp_lower_prio_repeat", 0, 255),
    # keepalived: 1 µs at least ("vrrp_garp_interval '0' is invalid"), at most 4294.967295 s.
    "vrrp_garp_interval": _timer("garp_interval_cs", 0.000001, 4294.967295),
    "vrrp_gna_interval": _timer("gna_interval_cs", 0.000001, 4294.967295),
    "vrrp_min_garp": _flag("min_garp"),
    "vrrp_skip_check_adv_addr": _bare("skip_check_adv_addr"),
    "vrrp_check_unicast_src": _bare("check_unicast_src"),
    "enable_script_security": _bare("enable_script_security"),
    "script_user": _script_user,
    "vrrp_startup_delay": _timer("vrrp_startup_delay_cs", 0.001, 4294.967295),
    "vrrp_delay_after_boot": _timer("vrrp_delay_after_boot_cs", 0, 3600),
    "vrrp_lower_prio_no_advert": _flag("lower_prio_no_advert"),
    "vrrp_higher_prio_send_advert": _flag("higher_prio_send_advert"),
    "vrrp_down_timer_adverts": _int("down_timer_adverts", 1, 100),
    "vrrp_owner_ignore_adverts": _flag("owner_ignore_adverts"),
    "notify_fifo": _fifo("notify_fifo"),
    "notify_fifo_script": _fifo_script("notify_fifo"),
    "vrrp_notify_fifo": _fifo("vrrp_notify_fifo"),
    "vrrp_notify_fifo_script": _fifo_script("vrrp_notify_fifo"),
    "vrrp_notify_priority_changes": _flag("vrrp_notify_priority_changes"),
    "fifo_write_vrrp_states_on_reload": _flag("fifo_write_vrrp_states_on_reload"),
    "notification_email": _emails,
    "notification_email_from": _setting("notification_email_from", Parser.arg),
    "smtp_server": _setting("smtp_server", _smtp_server),
    "smtp_connect_timeout": _int("smtp_connect_timeout", 1, 3600),
    "smtp_helo_name": _setting("smtp_helo_name", Parser.arg),
    "smtp_alert": _flag("smtp_alert"),
    "smtp_alert_vrrp": _flag("smtp_alert_vrrp"),
    "no_email_faults": _flag("no_email_faults"),
    "nftables": _nftables,
    "nftables_priority": _setting("nftables_priority", _nft_priority),
    "nftables_counters": _bare("nftables_counters"),
    "nftables_ifindex": _bare("nftables_ifindex"),
    "default_interface": _setting(
        "default_interface", lambda p, s: p.arg(s, missing="ignored ('default_interface requires interface name')")
    ),
    "vmac_prefix": _prefix("vmac_prefix", "vmac prefix"),
    "vmac_addr_prefix": _prefix("vmac_addr_prefix", "vmac_addr prefix"),
    "vrrp_garp_extra_if": _garp_extra_if,
    "vrrp_vmac_garp_intvl": _garp_extra_if,
    "v3_checksum_as_v2": _bare("v3_checksum_as_v2"),
    "log_unknown_vrids": _bare("log_unknown_vrids"),
    "disable_local_igmp": _bare("disable_local_igmp"),
    "dynamic_interfaces": _dynamic_interfaces,
    "vrrp_rx_bufs_policy": _rx_bufs_policy,
    "vrrp_rx_bufs_multiplier": _rx_bufs_multiplier,
}


def parse_global_defs(p: Parser, written: Written, st: Stmt) -> None:
    p.block("global_defs", bind(KEYWORDS, GlobalsBlock(p, written.globals)), 1, st)
