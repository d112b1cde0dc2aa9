"""The block machinery and value checks every section of keepalived.conf shares.

The block structure is decided the way keepalived's `process_stream` decides it: a keyword opens a
block only if keepalived's keyword table says it has one, so a misspelt block keyword leaves its
`{ ... }` to be read as part of the enclosing block, exactly as keepalived would (and the
diagnostics land on the same lines `keepalived -t` names). Values are checked as keepalived's
handlers check them. What each keyword of a section means lives in that section's module
(`parse_globals`, `parse_instance`, `parse_sync_group`, `parse_trackers`), as a table of handlers
that `Parser.block` dispatches to; `parse_top` is the entry point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from ipaddress import ip_address
from typing import TypeVar

from vrrpkit.config.diagnostics import Location, Reporter, Severity
from vrrpkit.config.keywords import UNSUPPORTED, classify
from vrrpkit.config.lexer import Stmt
from vrrpkit.core.config import IPAddress

TRUE_WORDS = {"true", "on", "yes"}
FALSE_WORDS = {"false", "off", "no"}
IFNAMSIZ = 16

Handler = Callable[[Stmt], None]
Block = TypeVar("Block")


class StopReading(Exception):
    """keepalived stops reading the file here (`keepalived -t` exits 2): nothing after this line counts.

    Raised by `Parser.arg` for a missing parameter that keepalived's handler reads without checking
    (its `strvec_slot` logs "*** Configuration line starting ... is missing a parameter" and exits);
    `parse_top.parse` catches it and the rest of the file is neither read nor completed.
    """

    def __init__(self, where: Location) -> None:
        super().__init__(f"{where.file}:{where.line}")
        self.where = where


def bind(table: Mapping[str, Callable[[Block, Stmt], None]], block: Block) -> dict[str, Handler]:
    """A section's keyword table (module-level, so a keyword is one entry) bound to the block being read."""
    return {kw: partial(fn, block) for kw, fn in table.items()}


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


class Parser:
    """A cursor over the statement stream that reports, on the reporter, what keepalived would complain about."""

    def __init__(self, stmts: Iterator[Stmt], reporter: Reporter) -> None:
        self.s = _Stream(stmts)
        self.r = reporter
        self.last_values_end: int | None = None  # closing line of the last value block `values` read

    # --- diagnostics helpers --------------------------------------------------------------------

    def err(self, loc: Location, rule: str, msg: str, severity: Severity | None = None) -> None:
        self.r.add(loc, rule, msg, severity)

    def arg(self, st: Stmt, i: int = 1, missing: str | None = None) -> str | None:
        """Word `i` of the line. Missing: with `missing` (keepalived's own complaint for a handler that
        checks), an error and None; without, keepalived stops reading the file and so do we."""
        if len(st.words) > i:
            return st.words[i].text
        if missing is not None:
            self.err(st.loc, "syntax", f"`{st.keyword}` is missing a parameter: {missing}")
            return None
        self.err(st.loc, "syntax",
                 f"`{st.keyword}` is missing a parameter: keepalived stops reading the file here "
                 f"(keepalived -t exits 2) and nothing after this line is read")
        raise StopReading(st.loc)

    def first_wins(self, seen: dict[str, Location], st: Stmt, what: str | None = None) -> bool:
        """keepalived keeps the first of some repeated keywords ("already specified - ignoring")."""
        prior = seen.get(st.keyword)
        if prior is None:
            seen[st.keyword] = st.loc
            return True
        self.err(st.loc, "repeated-keyword",
                 f"{what or st.keyword} is already given on line {prior.line}: keepalived keeps the first "
                 f"and ignores this one ('already specified - ignoring')")
        return False

    def bare_flag(self, st: Stmt) -> bool:
        """A keyword keepalived 2.2.7 reads without a value: any word after it is ignored, so
        `vrrp_strict no` still turns strict mode on. Say so when the word looks like `off`."""
        if len(st.words) > 1 and st.words[1].text.lower() in FALSE_WORDS | {"0"}:
            self.err(st.word_loc(1), "ignored-value",
                     f"`{st.keyword}` takes no value: keepalived ignores {st.words[1].text!r} and turns it on")
        return True

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

    def seconds_cs(self, st: Stmt, lo: int, hi: int) -> int | None:
        """Whole seconds (keepalived 2.2.7 reads these timers as integers: '1.5' is invalid), in cs."""
        value = self.int_arg(st, lo, hi)
        return None if value is None else value * 100

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

    def named(self, st: Stmt) -> str:
        """The NAME of `keyword NAME {`; a nameless block still gets read, under a name no other can have."""
        if len(st.words) < 2:
            self.err(st.loc, "syntax", f"`{st.keyword}` needs a name")
            return f"<unnamed@{st.line}>"
        if len(st.words) > 2:
            self.err(st.word_loc(2), "syntax", f"`{st.keyword} {st.words[1].text}`: extra text {st.words[2].text!r}")
        return st.words[1].text

    # --- block machinery (keepalived's process_stream / alloc_value_block) -----------------------

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
        self.last_values_end = None
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
                self.last_values_end = v.line
                return items
            if v.keyword == "{":
                self.err(v.loc, "syntax", f"unexpected '{{' inside `{st.keyword}`")
                continue
            items.append(v)
