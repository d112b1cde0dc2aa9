"""One line of a value block: a virtual address, a unicast peer, a tracked object.

keepalived reads these lines word by word (`alloc_ipaddress`, `alloc_unicast_peer`, the track_*
parsers); a word it does not know is skipped with a complaint and the rest of the line still counts,
which is what these functions do. Instances and sync groups both list trackers and notify commands,
so the line readers live here rather than in either section's module.
"""

from __future__ import annotations

from ipaddress import ip_interface

from vrrpkit.config.lexer import Stmt
from vrrpkit.config.parser import IFNAMSIZ, Parser
from vrrpkit.config.written import NotifyLine, TrackRef
from vrrpkit.core.config import IPInterface, TrackKind, UnicastPeer, Vip

SCOPES = {"site", "link", "host", "nowhere", "global"}
VIP_FLAGS = {"home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "no_track", "use_vmac"}
VIP_OPTIONS = {"brd", "broadcast", "dev", "scope", "label", "peer", "preferred_lft", "track_group"}


def vip(p: Parser, item: Stmt, *, static: bool = False) -> Vip | None:
    """`<ip>[/len] [brd X] [dev IF] [scope S] [label L] [flags...]` (keepalived alloc_ipaddress);
    `track_group G` only on a static address (parse_static reads it)."""
    text = item.keyword
    addr_text, _, plen = text.partition("/")
    addr = p.address(addr_text, item.loc, "virtual_ipaddress")
    if addr is None:
        return None
    maxlen = 32 if addr.version == 4 else 128
    prefix = maxlen
    if plen:
        n = p.int_value(plen, item.loc, 0, maxlen, f"prefix length of {text}")
        if n is None:
            p.err(item.loc, "invalid-address", f"invalid prefix length in {text}: keepalived uses /{maxlen}")
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
        if w in VIP_OPTIONS and (static or w != "track_group"):
            if i + 1 >= len(words):
                p.err(loc, "syntax", f"`{w}` needs a value in {text}")
                break
            value = words[i + 1].text
            if w == "scope" and value not in SCOPES and not value.isdigit():
                p.err(item.word_loc(i + 2), "vip-option", f"invalid scope {value!r} for {text} - ignored")
            elif w == "label" and len(value) >= IFNAMSIZ:
                p.err(item.word_loc(i + 2), "vip-option",
                      f"label {value!r} is longer than 15 characters: keepalived removes {text}", "error")
                ok = False
            elif w in ("brd", "broadcast"):
                if value not in ("+", "-"):
                    p.address(value, item.word_loc(i + 2), f"brd of {text}")
                opts["brd"] = value
            elif w == "peer":
                p.address(value, item.word_loc(i + 2), f"peer of {text}")
            else:
                opts[w] = value
            i += 2
            continue
        p.err(loc, "vip-option", f"unknown option {w!r} for virtual address {text} - ignored")
        i += 1
    if not ok:
        return None
    return Vip(iface, dev=opts.get("dev"), brd=opts.get("brd"), scope=opts.get("scope"),
               label=opts.get("label"), flags=tuple(flags))


def peer(p: Parser, item: Stmt) -> UnicastPeer | None:
    """`<ip> [min_ttl N] [max_ttl N]`; a bad address drops the peer, a bad option only itself."""
    addr = p.address(item.keyword, item.loc, "unicast_peer")
    if addr is None:
        return None
    ttl: dict[str, int] = {}
    words = item.words[1:]
    i = 0
    while i < len(words):
        w = words[i].text
        if w in ("min_ttl", "max_ttl") and i + 1 < len(words):
            n = p.int_value(words[i + 1].text, item.word_loc(i + 2), 0, 255, w)
            if n is not None:
                ttl[w] = n
            i += 2
            continue
        p.err(item.word_loc(i + 1), "invalid-value", f"unknown unicast_peer option {w!r}")
        i += 1
    return UnicastPeer(addr, ttl.get("min_ttl"), ttl.get("max_ttl"))


def track_ref(p: Parser, item: Stmt, kind: TrackKind, limit: int) -> TrackRef:
    """`<name> [weight N] [reverse|noreverse]`; whether NAME exists is checked once every block is read."""
    weight: int | None = None
    reverse: bool | None = None
    words = item.words[1:]
    i = 0
    while i < len(words):
        w = words[i].text
        if w == "weight" and i + 1 < len(words):
            weight = p.int_value(words[i + 1].text, item.word_loc(i + 2), -limit, limit, "weight")
            i += 2
            continue
        if w in ("reverse", "noreverse"):
            reverse = w == "reverse"
            i += 1
            continue
        p.err(item.word_loc(i + 1), "invalid-value", f"unknown option {w!r} for tracked {kind.value}")
        i += 1
    return TrackRef(item.keyword, kind, weight, reverse, item.loc)


def notify_line(s: Stmt, event: str) -> NotifyLine:
    """`notify_* "COMMAND" [USER [GROUP]]`: keepalived runs the command as that user; words after
    the group are ignored, as keepalived ignores them."""
    return (event, s.words[1].text, tuple(w.text for w in s.words[2:4]), s.loc)
