"""Statements -> keepalived's configuration, section by section, with keepalived's defaults and quirks.

The block structure is decided the way keepalived's `process_stream` decides it: a keyword opens a
block only if keepalived's keyword table says it has one, so a misspelt block keyword leaves its
`{ ... }` to be read as part of the enclosing block, exactly as keepalived would (and the
diagnostics land on the same lines `keepalived -t` names). Values are checked as keepalived's
handlers check them; the instance is then completed as `vrrp_complete_instance` does (defaults,
strict mode, rounding), reporting every change it makes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_interface

from vrrpkit.config.diagnostics import Location, Reporter, Severity
from vrrpkit.config.keywords import classify
from vrrpkit.config.lexer import Stmt
from vrrpkit.config.model import GlobalDefs, InstanceSource, ScriptConfig, TrackFileConfig
from vrrpkit.core.config import (
    InstanceConfig,
    IPAddress,
    IPInterface,
    SyncGroupConfig,
    TrackKind,
    UnicastPeer,
    Vip,
)

TRUE_WORDS = {"true", "on", "yes"}
FALSE_WORDS = {"false", "off", "no"}
SCOPES = {"site", "link", "host", "nowhere", "global"}
VIP_FLAGS = {"home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "no_track", "use_vmac"}
VIP_OPTIONS = {"brd", "broadcast", "dev", "scope", "label", "peer", "preferred_lft", "track_group"}
NOTIFY_EVENTS = {
    "notify_master": "master",
    "notify_backup": "backup",
    "notify_fault": "fault",
    "notify_stop": "stop",
    "notify": "notify",
    "notify_deleted": "deleted",
    "notify_master_rx_lower_pri": "master_rx_lower_pri",
}
IFNAMSIZ = 16


class _Stream:
    def __init__(self, it: Iterator[Stmt]) -> None:
        self._it = it
        self._peeked: Stmt | None = None

    def next(self) -> Stmt | None:
        if self._peeked is not None:
            st, self._peeked = self._peeked, None
            return st
        return next(self._it, None)

    def peek(self) -> Stmt | None:
        if self._peeked is None:
            self._peeked = next(self._it, None)
        return self._peeked


@dataclass
class _TrackRef:
    name: str
    kind: TrackKind
    weight: int | None
    reverse: bool | None
    loc: Location


@dataclass
class _Instance:
    """An instance as written, before keepalived's completion (defaults, strict, rounding)."""

    name: str
    loc: Location
    keywords: dict[str, Location] = field(default_factory=dict)
    end_line: int | None = None
    state: str | None = None
    interface: str | None = None
    vrid: int | None = None
    vrid_given: bool = False
    priority: int | None = None
    advert_int: float | None = None
    version: int | None = None
    auth_type: str | None = None
    auth_pass: bytes = b""
    vips: list[tuple[Vip, Location]] = field(default_factory=list)
    excluded: list[tuple[Vip, Location]] = field(default_factory=list)
    unicast_src: IPAddress | None = None
    peers: list[tuple[UnicastPeer, Location]] = field(default_factory=list)
    mcast_src: IPAddress | None = None
    tracks: list[_TrackRef] = field(default_factory=list)
    nopreempt: bool = False
    preempt_delay: float | None = None
    notify: list[tuple[str, str]] = field(default_factory=list)
    strict: bool | None = None
    accept: bool | None = None
    bools: dict[str, bool] = field(default_factory=dict)
    ints: dict[str, int] = field(default_factory=dict)
    timers_cs: dict[str, int] = field(default_factory=dict)


@dataclass
class _Group:
    name: str
    loc: Location
    members: list[tuple[str, Location]] = field(default_factory=list)
    notify: list[tuple[str, str]] = field(default_factory=list)
    tracks: list[_TrackRef] = field(default_factory=list)
    tracking_weight: bool = False


@dataclass
class Parsed:
    instances: list[InstanceConfig]
    sources: dict[str, InstanceSource]
    groups: list[SyncGroupConfig]
    scripts: dict[str, ScriptConfig]
    track_files: dict[str, TrackFileConfig]
    globals: GlobalDefs
    script_locs: dict[str, Location]


Handler = Callable[[Stmt], None]


class Parser:
    """One pass over the statement stream; `parse()` returns the completed configuration."""

    def __init__(self, stmts: Iterator[Stmt], reporter: Reporter) -> None:
        self.s = _Stream(stmts)
        self.r = reporter
        self.g: dict[str, object] = {}
        self.global_locs: dict[str, Location] = {}
        self.raw_instances: list[_Instance] = []
        self.raw_groups: list[_Group] = []
        self.scripts: dict[str, ScriptConfig] = {}
        self.script_locs: dict[str, Location] = {}
        self.track_files: dict[str, TrackFileConfig] = {}
        self.first_script_loc: Location | None = None

    # --- diagnostics helpers --------------------------------------------------------------------

    def err(self, loc: Location, rule: str, msg: str, severity: Severity | None = None) -> None:
        self.r.add(loc, rule, msg, severity)

    def arg(self, st: Stmt, i: int = 1) -> str | None:
        if len(st.words) <= i:
            self.err(st.loc, "syntax", f"`{st.keyword}` is missing a parameter (keepalived stops reading the file)")
            return None
        return st.words[i].text

    def int_arg(self, st: Stmt, lo: int, hi: int, i: int = 1, what: str | None = None) -> int | None:
        text = self.arg(st, i)
        if text is None:
            return None
        return self.int_value(text, st.word_loc(i), lo, hi, what or st.keyword)

    def int_value(self, text: str, loc: Location, lo: int, hi: int, what: str) -> int | None:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            self.err(loc, "invalid-value", f"{what}: invalid number {text!r}")
            return None
        if not lo <= value <= hi:
            self.err(loc, "out-of-range", f"{what} {value} outside range [{lo}, {hi}]")
            return None
        return value

    def float_arg(self, st: Stmt, lo: float, hi: float, i: int = 1) -> float | None:
        text = self.arg(st, i)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            self.err(st.word_loc(i), "invalid-value", f"{st.keyword}: invalid number {text!r}")
            return None
        if not math.isfinite(value) or not lo <= value <= hi:
            self.err(st.word_loc(i), "out-of-range", f"{st.keyword} {text} outside range [{lo:g}, {hi:g}] seconds")
            return None
        return value

    def timer_cs(self, st: Stmt, lo: float = 0.0, hi: float = 4294.0) -> int | None:
        value = self.float_arg(st, lo, hi)
        return None if value is None else round(value * 100)

    def bool_arg(self, st: Stmt) -> bool | None:
        """A bare flag means true; otherwise on/off, true/false, yes/no."""
        if len(st.words) < 2:
            return True
        word = st.words[1].text
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        self.err(st.word_loc(1), "invalid-value", f"{st.keyword}: expected on/off, true/false or yes/no, got {word!r}")
        return None

    def address(self, text: str, loc: Location, what: str) -> IPAddress | None:
        try:
            return ip_address(text)
        except ValueError:
            self.err(loc, "invalid-address", f"{what}: {text!r} is not an IP address")
            return None

    # --- block machinery (keepalived's process_stream / alloc_value_block) -----------------------

    def parse(self) -> Parsed:
        self.block("top", self.top_handlers(), 0, None)
        return self.complete()

    def block(self, section: str, handlers: dict[str, Handler], depth: int, opener: Stmt | None) -> int | None:
        """Read statements of one section until its `}`; returns the closing brace's line."""
        need_bob = depth > 0
        while True:
            st = self.s.next()
            if st is None:
                if opener is not None:
                    msg = f"block `{opener.keyword}` opened here is never closed: missing '}}'"
                    self.err(opener.loc, "syntax", msg)
                return None
            kw = st.keyword
            if need_bob:
                need_bob = False
                if kw == "{":
                    continue
                assert opener is not None
                self.err(st.loc, "syntax", f"missing '{{' after `{opener.keyword}`")
            elif kw == "{":
                self.err(st.loc, "syntax", "unexpected '{' - keepalived ignores it")
                continue
            if kw == "}":
                if depth > 0:
                    return st.line
                self.err(st.loc, "syntax", "extra '}' - no block is open here")
                continue
            self.keyword(section, st, handlers)

    def keyword(self, section: str, st: Stmt, handlers: dict[str, Handler]) -> None:
        kw = st.keyword
        kind = classify(section, kw)
        if kind == "implemented" and kw in handlers:
            handlers[kw](st)
            return
        if kind in ("implemented", "unsupported"):
            from vrrpkit.config.keywords import UNSUPPORTED

            why = UNSUPPORTED.get(section, {}).get(kw, "not implemented")
            self.err(st.loc, "unsupported-keyword", f"`{kw}` in {section}: not supported, ignored ({why})")
            self.skip_block()
            return
        hint = ""
        nxt = self.s.peek()
        if nxt is not None and nxt.keyword == "{":
            hint = "; keepalived then reads its '{ ... }' as part of the enclosing block"
        where = "at the top level" if section == "top" else f"in {section}"
        self.err(st.loc, "unknown-keyword", f"unknown keyword `{kw}` {where}, ignored{hint}")

    def skip_block(self) -> None:
        """Skip a `{ ... }` that follows an ignored keyword (balanced)."""
        nxt = self.s.peek()
        if nxt is None or nxt.keyword != "{":
            return
        opener = self.s.next()
        depth = 0
        while True:
            st = self.s.next()
            if st is None:
                assert opener is not None
                self.err(opener.loc, "syntax", "block opened here is never closed: missing '}'")
                return
            if st.keyword == "{":
                depth += 1
            elif st.keyword == "}":
                if depth == 0:
                    return
                depth -= 1

    def values(self, st: Stmt) -> list[Stmt]:
        """A value block (`virtual_ipaddress`, `unicast_peer`, `track_*`, `group`): one item per line."""
        if len(st.words) > 1:
            self.err(st.word_loc(1), "syntax", f"block `{st.keyword}` has extra parameters {st.words[1].text!r}")
        items: list[Stmt] = []
        need_bob = True
        while True:
            v = self.s.next()
            if v is None:
                self.err(st.loc, "syntax", f"block `{st.keyword}` opened here is never closed: missing '}}'")
                return items
            if need_bob:
                need_bob = False
                if v.keyword == "{":
                    continue
                self.err(v.loc, "syntax", f"'{{' missing at the beginning of block `{st.keyword}`")
            if v.keyword == "}":
                return items
            if v.keyword == "{":
                self.err(v.loc, "syntax", f"unexpected '{{' inside `{st.keyword}`")
                continue
            items.append(v)

    # --- top level ------------------------------------------------------------------------------

    def top_handlers(self) -> dict[str, Handler]:
        return {
            "global_defs": self.global_defs,
            "vrrp_script": self.vrrp_script,
            "vrrp_instance": self.vrrp_instance,
            "vrrp_sync_group": self.vrrp_sync_group,
            "track_file": self.track_file_block,
            "vrrp_track_file": self.track_file_block,
        }

    def named(self, st: Stmt) -> str:
        if len(st.words) < 2:
            self.err(st.loc, "syntax", f"`{st.keyword}` needs a name")
            return f"<unnamed@{st.line}>"
        if len(st.words) > 2:
            self.err(st.word_loc(2), "syntax", f"`{st.keyword} {st.words[1].text}`: extra text {st.words[2].text!r}")
        return st.words[1].text

    # --- global_defs ----------------------------------------------------------------------------

    def global_defs(self, st: Stmt) -> None:
        g = self.g

        def setter(key: str, fn: Callable[[Stmt], object | None]) -> Handler:
            def handle(s: Stmt) -> None:
                value = fn(s)
                if value is not None:
                    g[key] = value
                    self.global_locs[key] = s.loc

            return handle

        def flag(s: Stmt) -> bool | None:
            return self.bool_arg(s)

        def group4(s: Stmt) -> IPv4Address | None:
            a = self.arg(s)
            addr = None if a is None else self.address(a, s.word_loc(1), s.keyword)
            if addr is not None and (addr.version != 4 or not addr.is_multicast):
                self.err(s.word_loc(1), "invalid-address", f"{s.keyword}: {a} is not an IPv4 multicast address")
                return None
            return addr if isinstance(addr, IPv4Address) else None

        def group6(s: Stmt) -> IPv6Address | None:
            a = self.arg(s)
            addr = None if a is None else self.address(a, s.word_loc(1), s.keyword)
            if addr is not None and (addr.version != 6 or not addr.is_multicast):
                self.err(s.word_loc(1), "invalid-address", f"{s.keyword}: {a} is not an IPv6 multicast address")
                return None
            return addr if isinstance(addr, IPv6Address) else None

        def script_user(s: Stmt) -> None:
            user = self.arg(s)
            if user is not None:
                g["script_user"] = user
                g["script_group"] = s.words[2].text if len(s.words) > 2 else None

        def router_id(s: Stmt) -> str | None:
            return self.arg(s)

        h: dict[str, Handler] = {
            "router_id": setter("router_id", router_id),
            "vrrp_strict": setter("strict", flag),
            "vrrp_version": setter("version", lambda s: self.int_arg(s, 2, 3)),
            "vrrp_mcast_group4": setter("mcast_group4", group4),
            "vrrp_mcast_group6": setter("mcast_group6", group6),
            "vrrp_garp_master_delay": setter("garp_master_delay_cs", lambda s: self.timer_cs(s, 0, 255)),
            "vrrp_garp_master_repeat": setter("garp_master_repeat", lambda s: self.int_arg(s, 1, 255)),
            "vrrp_garp_master_refresh": setter("garp_master_refresh_cs", lambda s: self.timer_cs(s, 0, 2**31)),
            "vrrp_garp_master_refresh_repeat": setter("garp_master_refresh_repeat", lambda s: self.int_arg(s, 1, 255)),
            "vrrp_garp_lower_prio_delay": setter("garp_lower_prio_delay_cs", lambda s: self.timer_cs(s, 0, 255)),
            "vrrp_garp_lower_prio_repeat": setter("garp_lower_prio_repeat", lambda s: self.int_arg(s, 0, 255)),
            "vrrp_garp_interval": setter("garp_interval_cs", lambda s: self.timer_cs(s, 0, 1)),
            "vrrp_gna_interval": setter("gna_interval_cs", lambda s: self.timer_cs(s, 0, 1)),
            "vrrp_min_garp": setter("min_garp", flag),
            "vrrp_skip_check_adv_addr": setter("skip_check_adv_addr", flag),
            "vrrp_check_unicast_src": setter("check_unicast_src", flag),
            "enable_script_security": setter("enable_script_security", flag),
            "script_user": script_user,
            "vrrp_startup_delay": setter("vrrp_startup_delay_cs", lambda s: self.timer_cs(s, 0, 3600)),
            "vrrp_delay_after_boot": setter("vrrp_delay_after_boot_cs", lambda s: self.timer_cs(s, 0, 3600)),
            "vrrp_lower_prio_no_advert": setter("lower_prio_no_advert", flag),
            "vrrp_higher_prio_send_advert": setter("higher_prio_send_advert", flag),
            "vrrp_down_timer_adverts": setter("down_timer_adverts", lambda s: self.int_arg(s, 1, 100)),
            "vrrp_owner_ignore_adverts": setter("owner_ignore_adverts", flag),
        }
        self.block("global_defs", h, 1, st)

    def globals_obj(self) -> GlobalDefs:
        g = dict(self.g)
        if g.get("min_garp"):
            g.setdefault("garp_master_repeat", 1)
            g.setdefault("garp_master_delay_cs", 0)
        return GlobalDefs(**g)  # type: ignore[arg-type]

    # --- vrrp_script ----------------------------------------------------------------------------

    def vrrp_script(self, st: Stmt) -> None:
        name = self.named(st)
        v: dict[str, object] = {}

        def script(s: Stmt) -> None:
            if len(s.words) < 2:
                self.arg(s)
                return
            v["script"] = " ".join(w.text for w in s.words[1:])
            v["script_loc"] = s.loc

        def timer(key: str) -> Handler:
            def handle(s: Stmt) -> None:
                cs = self.timer_cs(s, 0.01 if key == "interval_cs" else 0, 4294)
                if cs is not None:
                    v[key] = cs

            return handle

        def weight(s: Stmt) -> None:
            w = self.int_arg(s, -253, 253)
            if w is not None:
                v["weight"] = w
            if len(s.words) > 2:
                if s.words[2].text in ("reverse", "noreverse"):
                    v["reverse"] = s.words[2].text == "reverse"
                else:
                    self.err(s.word_loc(2), "invalid-value", f"weight: unknown option {s.words[2].text!r}")

        def count(key: str) -> Handler:
            def handle(s: Stmt) -> None:
                n = self.int_arg(s, 1, 2**31 - 1)
                if n is not None:
                    v[key] = n

            return handle

        def user(s: Stmt) -> None:
            u = self.arg(s)
            if u is not None:
                v["user"] = u
                v["group"] = s.words[2].text if len(s.words) > 2 else None

        def init_fail(s: Stmt) -> None:
            v["init_fail"] = True

        h: dict[str, Handler] = {
            "script": script,
            "interval": timer("interval_cs"),
            "timeout": timer("timeout_cs"),
            "weight": weight,
            "rise": count("rise"),
            "fall": count("fall"),
            "user": user,
            "init_fail": init_fail,
        }
        self.block("vrrp_script", h, 1, st)
        if "script" not in v:
            self.err(st.loc, "syntax", f"vrrp_script {name} has no `script`; keepalived drops it")
            return
        loc = v.pop("script_loc")
        assert isinstance(loc, Location)
        self.scripts[name] = ScriptConfig(**v)  # type: ignore[arg-type]
        self.script_locs[name] = st.loc
        self.first_script_loc = self.first_script_loc or loc

    # --- track_file -----------------------------------------------------------------------------

    def track_file_block(self, st: Stmt) -> None:
        name = self.named(st)
        v: dict[str, object] = {}

        def file(s: Stmt) -> None:
            p = self.arg(s)
            if p is not None:
                v["path"] = p

        def weight(s: Stmt) -> None:
            w = self.int_arg(s, -254, 254)
            if w is not None:
                v["weight"] = w

        def init_file(s: Stmt) -> None:
            value = 0
            if len(s.words) > 1 and s.words[1].text != "overwrite":
                n = self.int_arg(s, -254, 254)
                value = n if n is not None else 0
            v["init_file"] = value
            v["init_overwrite"] = any(w.text == "overwrite" for w in s.words[1:])

        self.block("track_file", {"file": file, "weight": weight, "init_file": init_file}, 1, st)
        if "path" not in v:
            self.err(st.loc, "syntax", f"track_file {name} has no `file`; keepalived drops it")
            return
        self.track_files[name] = TrackFileConfig(**v)  # type: ignore[arg-type]

    # --- vrrp_instance --------------------------------------------------------------------------

    def vrrp_instance(self, st: Stmt) -> None:
        inst = _Instance(self.named(st), st.loc)
        seen = inst.keywords

        def mark(s: Stmt) -> None:
            seen.setdefault(s.keyword, s.loc)

        def state(s: Stmt) -> None:
            a = self.arg(s)
            if a is None:
                return
            if a in ("MASTER", "BACKUP"):
                inst.state = a
            else:
                self.err(
                    s.word_loc(1), "state-unknown",
                    f"unknown state {a!r}: keepalived's `state` is case-sensitive and uses BACKUP "
                    f"(write MASTER or BACKUP)",
                )
                inst.state = "BACKUP"

        def interface(s: Stmt) -> None:
            a = self.arg(s)
            if a is not None:
                if len(a) >= IFNAMSIZ:
                    self.err(s.word_loc(1), "invalid-value", f"interface name {a!r} is longer than 15 characters")
                inst.interface = a

        def vrid(s: Stmt) -> None:
            inst.vrid_given = True
            inst.vrid = self.int_arg(s, 1, 255, what="virtual_router_id")

        def priority(s: Stmt) -> None:
            p = self.int_arg(s, 1, 255, what="priority")
            # An invalid value: keepalived says "Using default 100" (not the MASTER default of 255).
            inst.priority = p if p is not None else 100

        def advert(s: Stmt) -> None:
            inst.advert_int = self.float_arg(s, 0.01, 255)

        def version(s: Stmt) -> None:
            inst.version = self.int_arg(s, 2, 3)

        def auth(s: Stmt) -> None:
            def auth_type(a: Stmt) -> None:
                t = self.arg(a)
                if t is None:
                    return
                if t == "PASS":
                    inst.auth_type = "PASS"
                elif t == "AH":
                    self.err(a.word_loc(1), "unsupported-keyword",
                             "auth_type AH (IPsec AH, IPv4 only): not supported, ignored; vrrpkit will not "
                             "interoperate with hosts that use it")
                else:
                    self.err(a.word_loc(1), "invalid-value", f"unknown auth_type {t!r} (PASS or AH)")

            def auth_pass(a: Stmt) -> None:
                if len(a.words) < 2:
                    self.arg(a)
                    return
                raw = a.words[1].text.encode()
                if len(raw) > 8:
                    self.err(a.word_loc(1), "auth-pass-truncated",
                             f"auth_pass is {len(raw)} bytes; the VRRPv2 field holds 8, so only "
                             f"{raw[:8].decode(errors='replace')!r} is used (keepalived truncates it too)")
                inst.auth_pass = raw[:8]
                seen.setdefault("auth_pass", a.loc)

            self.block("authentication", {"auth_type": auth_type, "auth_pass": auth_pass}, 2, s)

        def vips(target: list[tuple[Vip, Location]]) -> Handler:
            def handle(s: Stmt) -> None:
                for item in self.values(s):
                    vip = self.vip(item, inst)
                    if vip is not None:
                        target.append((vip, item.loc))

            return handle

        def unicast_src(s: Stmt) -> None:
            a = self.arg(s)
            if a is not None:
                inst.unicast_src = self.address(a, s.word_loc(1), "unicast_src_ip")

        def mcast_src(s: Stmt) -> None:
            a = self.arg(s)
            if a is not None:
                inst.mcast_src = self.address(a, s.word_loc(1), "mcast_src_ip")

        def peers(s: Stmt) -> None:
            for item in self.values(s):
                peer = self.peer(item)
                if peer is not None:
                    inst.peers.append((peer, item.loc))

        def tracks(kind: TrackKind, limit: int) -> Handler:
            def handle(s: Stmt) -> None:
                for item in self.values(s):
                    ref = self.track_ref(item, kind, limit)
                    if ref is not None:
                        inst.tracks.append(ref)

            return handle

        def nopreempt(s: Stmt) -> None:
            inst.nopreempt = True

        def preempt(s: Stmt) -> None:
            inst.nopreempt = False

        def preempt_delay(s: Stmt) -> None:
            inst.preempt_delay = self.float_arg(s, 0, 1000)

        def notify(s: Stmt) -> None:
            if len(s.words) < 2:
                self.arg(s)
                return
            inst.notify.append((NOTIFY_EVENTS[s.keyword], s.words[1].text))
            self.first_script_loc = self.first_script_loc or s.loc

        def timer(key: str, hi: float) -> Handler:
            def handle(s: Stmt) -> None:
                cs = self.timer_cs(s, 0, hi)
                if cs is not None:
                    inst.timers_cs[key] = cs

            return handle

        def integer(key: str, lo: int, hi: int) -> Handler:
            def handle(s: Stmt) -> None:
                n = self.int_arg(s, lo, hi)
                if n is not None:
                    inst.ints[key] = n

            return handle

        def boolean(key: str) -> Handler:
            def handle(s: Stmt) -> None:
                b = self.bool_arg(s)
                if b is not None:
                    inst.bools[key] = b

            return handle

        def accept(s: Stmt) -> None:
            inst.accept = True

        def no_accept(s: Stmt) -> None:
            inst.accept = False

        def strict(s: Stmt) -> None:
            b = self.bool_arg(s)
            if b is not None:
                inst.strict = b

        raw: dict[str, Handler] = {
            "state": state,
            "interface": interface,
            "virtual_router_id": vrid,
            "priority": priority,
            "advert_int": advert,
            "version": version,
            "authentication": auth,
            "virtual_ipaddress": vips(inst.vips),
            "virtual_ipaddress_excluded": vips(inst.excluded),
            "unicast_src_ip": unicast_src,
            "unicast_peer": peers,
            "mcast_src_ip": mcast_src,
            "track_interface": tracks(TrackKind.INTERFACE, 253),
            "track_script": tracks(TrackKind.SCRIPT, 253),
            "track_file": tracks(TrackKind.FILE, 254),
            "nopreempt": nopreempt,
            "preempt": preempt,
            "preempt_delay": preempt_delay,
            **{k: notify for k in NOTIFY_EVENTS},
            "garp_master_delay": timer("garp_master_delay_cs", 255),
            "garp_master_repeat": integer("garp_master_repeat", 1, 255),
            "garp_master_refresh": timer("garp_master_refresh_cs", 2**31),
            "garp_master_refresh_repeat": integer("garp_master_refresh_repeat", 1, 255),
            "garp_lower_prio_delay": timer("garp_lower_prio_delay_cs", 255),
            "garp_lower_prio_repeat": integer("garp_lower_prio_repeat", 0, 255),
            "down_timer_adverts": integer("down_timer_adverts", 1, 100),
            "accept": accept,
            "no_accept": no_accept,
            "strict_mode": strict,
            "skip_check_adv_addr": boolean("skip_check_adv_addr"),
            "lower_prio_no_advert": boolean("lower_prio_no_advert"),
            "higher_prio_send_advert": boolean("higher_prio_send_advert"),
            "check_unicast_src": boolean("check_unicast_src"),
            "owner_ignore_adverts": boolean("owner_ignore_adverts"),
        }

        def wrap(fn: Handler) -> Handler:
            def handle(s: Stmt) -> None:
                mark(s)
                fn(s)

            return handle

        inst.end_line = self.block("vrrp_instance", {k: wrap(f) for k, f in raw.items()}, 1, st)
        self.raw_instances.append(inst)

    def vip(self, item: Stmt, inst: _Instance) -> Vip | None:
        """`<ip>[/len] [brd X] [dev IF] [scope S] [label L] [flags...]` (keepalived alloc_ipaddress)."""
        text = item.keyword
        addr_text, _, plen = text.partition("/")
        addr = self.address(addr_text, item.loc, "virtual_ipaddress")
        if addr is None:
            return None
        maxlen = 32 if addr.version == 4 else 128
        prefix = maxlen
        if plen:
            n = self.int_value(plen, item.loc, 0, maxlen, f"prefix length of {text}")
            if n is None:
                self.err(item.loc, "invalid-address", f"invalid prefix length in {text}: keepalived uses /{maxlen}")
            else:
                prefix = n
        iface: IPInterface = ip_interface(f"{addr}/{prefix}")
        opts: dict[str, str] = {}
        flags: list[str] = []
        words = item.words[1:]
        i = 0
        ok = True
        while i < len(words):
            w = words[i].text
            loc = item.word_loc(i + 1)
            if w in VIP_FLAGS:
                flags.append(w)
                i += 1
                continue
            if w in VIP_OPTIONS:
                if i + 1 >= len(words):
                    self.err(loc, "syntax", f"`{w}` needs a value in {text}")
                    break
                value = words[i + 1].text
                if w == "scope" and value not in SCOPES and not value.isdigit():
                    self.err(item.word_loc(i + 2), "vip-option",
                             f"invalid scope {value!r} for {text} - ignored")
                elif w == "label" and len(value) >= IFNAMSIZ:
                    self.err(item.word_loc(i + 2), "vip-option",
                             f"label {value!r} is longer than 15 characters: keepalived removes {text}", "error")
                    ok = False
                elif w in ("brd", "broadcast"):
                    if value not in ("+", "-"):
                        self.address(value, item.word_loc(i + 2), f"brd of {text}")
                    opts["brd"] = value
                elif w == "peer":
                    self.address(value, item.word_loc(i + 2), f"peer of {text}")
                else:
                    opts[w] = value
                i += 2
                continue
            self.err(loc, "vip-option", f"unknown option {w!r} for virtual address {text} - ignored")
            i += 1
        if not ok:
            return None
        return Vip(iface, dev=opts.get("dev"), brd=opts.get("brd"), scope=opts.get("scope"),
                   label=opts.get("label"), flags=tuple(flags))

    def peer(self, item: Stmt) -> UnicastPeer | None:
        addr = self.address(item.keyword, item.loc, "unicast_peer")
        if addr is None:
            return None
        ttl: dict[str, int] = {}
        words = item.words[1:]
        i = 0
        while i < len(words):
            w = words[i].text
            if w in ("min_ttl", "max_ttl") and i + 1 < len(words):
                n = self.int_value(words[i + 1].text, item.word_loc(i + 2), 0, 255, w)
                if n is not None:
                    ttl[w] = n
                i += 2
                continue
            self.err(item.word_loc(i + 1), "invalid-value", f"unknown unicast_peer option {w!r}")
            i += 1
        return UnicastPeer(addr, ttl.get("min_ttl"), ttl.get("max_ttl"))

    def track_ref(self, item: Stmt, kind: TrackKind, limit: int) -> _TrackRef | None:
        weight: int | None = None
        reverse: bool | None = None
        words = item.words[1:]
        i = 0
        while i < len(words):
            w = words[i].text
            if w == "weight" and i + 1 < len(words):
                weight = self.int_value(words[i + 1].text, item.word_loc(i + 2), -limit, limit, "weight")
                i += 2
                continue
            if w in ("reverse", "noreverse"):
                reverse = w == "reverse"
                i += 1
                continue
            self.err(item.word_loc(i + 1), "invalid-value", f"unknown option {w!r} for tracked {kind.value}")
            i += 1
        return _TrackRef(item.keyword, kind, weight, reverse, item.loc)

    # --- vrrp_sync_group ------------------------------------------------------------------------

    def vrrp_sync_group(self, st: Stmt) -> None:
        grp = _Group(self.named(st), st.loc)

        def group(s: Stmt) -> None:
            for item in self.values(s):
                for w in item.words:
                    grp.members.append((w.text, Location(item.file, item.line, w.column)))

        def notify(s: Stmt) -> None:
            if len(s.words) < 2:
                self.arg(s)
                return
            grp.notify.append((NOTIFY_EVENTS[s.keyword], s.words[1].text))
            self.first_script_loc = self.first_script_loc or s.loc

        def tracks(kind: TrackKind, limit: int) -> Handler:
            def handle(s: Stmt) -> None:
                for item in self.values(s):
                    ref = self.track_ref(item, kind, limit)
                    if ref is not None:
                        grp.tracks.append(ref)

            return handle

        def tracking_weight(s: Stmt) -> None:
            grp.tracking_weight = True

        h: dict[str, Handler] = {
            "group": group,
            **{k: notify for k in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")},
            "track_interface": tracks(TrackKind.INTERFACE, 253),
            "track_script": tracks(TrackKind.SCRIPT, 253),
            "track_file": tracks(TrackKind.FILE, 254),
            "sync_group_tracking_weight": tracking_weight,
        }
        self.block("vrrp_sync_group", h, 1, st)
        self.raw_groups.append(grp)

    # --- completion (keepalived's vrrp_complete_instance and friends) ---------------------------

    def complete(self) -> Parsed:
        from vrrpkit.config.semantics import complete

        return complete(self)

