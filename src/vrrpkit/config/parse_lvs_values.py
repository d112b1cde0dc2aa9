"""Value readers for the load-balancer blocks, with keepalived's rules for each kind of value.

keepalived's checker reads its values with a handful of helpers (`read_timer`, `read_unsigned_strvec`,
`check_true_false`, address parsing); their limits and complaints were measured with `keepalived -t`
2.2.7 on every keyword of every block (0, -1, abc, 1.5, 2^32, missing). A reader here takes the parser
and the line, reports what keepalived would complain about on that line, and returns the value or
None when keepalived ignores it. A reader whose keyword keepalived reads without checking that a
value is there stops the file (`Parser.arg`), as keepalived does; the others carry their own
"missing" complaint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from ipaddress import ip_address

from vrrpkit.config.lexer import Stmt
from vrrpkit.config.parser import FALSE_WORDS, TRUE_WORDS, Parser

Reader = Callable[[Parser, Stmt], object | None]

UINT_MAX = 2**32 - 1
_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


def timer(min_positive: bool, hi: float) -> Reader:
    """Seconds with a fraction (keepalived keeps microseconds); `min_positive`: 0 is invalid (1 µs at least)."""

    def read(p: Parser, s: Stmt) -> float | None:
        text = p.arg(s)
        assert text is not None
        loc = s.word_loc(1)
        if text.startswith("-"):
            p.err(loc, "out-of-range", f"{s.keyword} {text}: negative; keepalived ignores the line")
            return None
        if not _NUMBER.fullmatch(text):
            p.err(loc, "invalid-value", f"{s.keyword}: invalid number {text!r}; keepalived ignores the line")
            return None
        value = float(text)
        if (min_positive and value < 0.000001) or value > hi:
            lo = "0.000001" if min_positive else "0"
            p.err(loc, "out-of-range", f"{s.keyword} {text} outside [{lo}, {hi:g}] seconds; keepalived ignores it")
            return None
        return value

    return read


def uint(lo: int, hi: int = UINT_MAX, fallback: str = "keepalived ignores it") -> Reader:
    """A whole number in [lo, hi]."""

    def read(p: Parser, s: Stmt) -> int | None:
        text = p.arg(s)
        assert text is not None
        return number(p, s, 1, lo, hi, fallback)

    return read


def number(p: Parser, s: Stmt, i: int, lo: int, hi: int, fallback: str = "keepalived ignores it") -> int | None:
    """Word `i` as keepalived's read_unsigned: digits only, then the range."""
    text = s.words[i].text
    loc = s.word_loc(i)
    if not text.lstrip("-").isdigit():
        p.err(loc, "invalid-value", f"{s.keyword}: invalid number {text!r}; {fallback}")
        return None
    value = int(text)
    if not lo <= value <= hi:
        p.err(loc, "out-of-range", f"{s.keyword} {value} outside [{lo}, {hi}]; {fallback}")
        return None
    return value


def truefalse(p: Parser, s: Stmt) -> bool | None:
    """keepalived's check_true_false: bare means true; then only true/false, on/off, yes/no (not 1/0)."""
    if len(s.words) < 2:
        return True
    word = s.words[1].text.lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    p.err(s.word_loc(1), "invalid-value",
          f"{s.keyword}: expected true/false, on/off or yes/no, got {s.words[1].text!r}; keepalived ignores the line")
    return None


def flag(p: Parser, s: Stmt) -> bool:
    """A switch without a value (words after it are ignored by keepalived)."""
    return True


def choice(words: Collection[str], what: str, fold: bool = False) -> Reader:
    """One word of a fixed set (`fold`: compared case-insensitively, as keepalived's protocol)."""

    def read(p: Parser, s: Stmt) -> str | None:
        text = p.arg(s)
        assert text is not None
        if (text.upper() if fold else text) in words:
            return text.upper() if fold else text
        p.err(s.word_loc(1), "invalid-value",
              f"{s.keyword}: unknown {what} {text!r} (one of {', '.join(sorted(words))}); keepalived ignores it")
        return None

    return read


def address(p: Parser, s: Stmt) -> str | None:
    text = p.arg(s)
    assert text is not None
    try:
        ip_address(text)
    except ValueError:
        p.err(s.word_loc(1), "invalid-address", f"{s.keyword}: {text!r} is not an IP address; keepalived ignores it")
        return None
    return text


def string(missing: str | None = None) -> Reader:
    """A free word (a path, a name): only its presence is checked."""

    def read(p: Parser, s: Stmt) -> str | None:
        return p.arg(s, missing=missing)

    return read


def script(p: Parser, s: Stmt) -> str | None:
    """A notify/quorum script: the rest of the line (keepalived reads it without checking it is there)."""
    p.arg(s)
    return " ".join(w.text for w in s.words[1:])


def hex_string(what: str) -> Reader:
    """UDP_CHECK payload/require_reply: hex digits (keepalived pads an odd count)."""

    def read(p: Parser, s: Stmt) -> str | None:
        if len(s.words) < 2:
            if what == "payload":
                p.err(s.loc, "syntax", "UDP_CHECK payload without a value; keepalived ignores the line")
            return None
        text = "".join(w.text for w in s.words[1:])
        if not re.fullmatch(r"[0-9A-Fa-f]*", text):
            p.err(s.word_loc(1), "invalid-value", f"UDP_CHECK {what}: invalid hex string; keepalived ignores it")
            return None
        return text

    return read


def endpoint(p: Parser, s: Stmt, what: str) -> tuple[str, int | None] | None:
    """`IP [PORT]` of a real or sorry server (keepalived skips the server when either is invalid)."""
    text = p.arg(s)
    assert text is not None
    try:
        ip_address(text)
    except ValueError:
        p.err(s.word_loc(1), "invalid-address", f"{what} {text!r} is not an IP address; keepalived skips it")
        return None
    port = None
    if len(s.words) > 2:
        port = number(p, s, 2, 0, 65535, "keepalived skips the server")
        if port is None:
            return None
    return text, port
