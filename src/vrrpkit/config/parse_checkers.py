"""The health checkers of a real_server (HTTP_GET, SSL_GET, TCP_CHECK, ... BFD_CHECK), linted as keepalived reads them.

Each checker is a block with its own keyword table (`TABLES`, whose keys are exactly
`lvs_keywords.LVS_KNOWN`'s words for it). The values are checked by the readers of
`parse_lvs_values`; what keepalived checks when a block closes (an HTTP_GET without a url, a url
without a path, a MISC_CHECK without misc_path, a FILE_CHECK without track_file) is reported on the
closing brace, the line keepalived names. Nothing here is kept: vrrpkit does not run checkers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vrrpkit.config.diagnostics import Location
from vrrpkit.config.lexer import Stmt
from vrrpkit.config.lvs_keywords import DNS_TYPES, HTTP_PROTOCOLS
from vrrpkit.config.parse_lvs_values import (
    Reader,
    address,
    choice,
    flag,
    hex_string,
    number,
    string,
    timer,
    truefalse,
    uint,
)
from vrrpkit.config.parser import Parser
from vrrpkit.config.written import Written

LONG = 1.8e13  # keepalived's unsigned-long microseconds, in seconds

COMMON: dict[str, Reader] = {
    "alpha": truefalse,
    "log_all_failures": truefalse,
    "delay_loop": timer(True, LONG),
    "delay_before_retry": timer(False, LONG),
    "warmup": timer(False, LONG),
    "retry": uint(0),
}
CONNECT: dict[str, Reader] = {
    "connect_ip": address,
    "bindto": address,
    "connect_port": uint(1, 65535),
    "bind_port": uint(1, 65535),
    "bind_if": string(),
    "connect_timeout": timer(True, 4294.967295),
    "fwmark": uint(0),
}


def _nb_get_retry(p: Parser, s: Stmt) -> object | None:
    p.err(s.loc, "deprecated", "nb_get_retry is deprecated: keepalived reads it as `retry` (write `retry`)")
    return uint(0)(p, s)


def _digest(p: Parser, s: Stmt) -> str | None:
    text = p.arg(s)
    assert text is not None
    if len(text) != 32 or any(c not in "0123456789abcdefABCDEF" for c in text):
        p.err(s.word_loc(1), "invalid-value",
              f"digest {text!r}: an MD5 digest is 32 hex digits; keepalived ignores it")
        return None
    return text


def _status_code(p: Parser, s: Stmt) -> bool:
    """`status_code N [N-M ...]`: HTTP codes 100-599."""
    for i in range(1, len(s.words)):
        lo, _, hi = s.words[i].text.partition("-")
        codes = [lo, hi] if hi else [lo]
        if not all(c.isdigit() and 100 <= int(c) <= 599 for c in codes):
            p.err(s.word_loc(i), "invalid-value",
                  f"status_code {s.words[i].text!r}: HTTP status codes are 100-599; keepalived ignores it")
    return True


def _dns_name(p: Parser, s: Stmt) -> str | None:
    text = p.arg(s)
    assert text is not None
    if text != "." and "" in text.rstrip(".").split("."):
        p.err(s.word_loc(1), "invalid-value", f"DNS_CHECK name {text!r} has an empty label; keepalived ignores it")
        return None
    return text


def _reply_length(p: Parser, s: Stmt) -> int | None:
    p.arg(s)
    return number(p, s, 1, 0, 65535)


def _file_weight(p: Parser, s: Stmt) -> int | None:
    if p.arg(s, missing="keepalived ignores the line ('track file weight missing')") is None:
        return None
    w = number(p, s, 1, -(2**31 - 1), 2**31 - 1)
    for i in range(2, len(s.words)):
        if s.words[i].text != "reverse":
            p.err(s.word_loc(i), "invalid-value", f"FILE_CHECK weight: unknown option {s.words[i].text!r}")
    return w


_HTTP: dict[str, Reader] = {
    **COMMON, **CONNECT,
    "nb_get_retry": _nb_get_retry,
    "virtualhost": string("keepalived ignores the line ('HTTP_GET virtualhost name missing')"),
    "http_protocol": lambda p, s: (None if p.arg(s, missing="keepalived ignores the line") is None
                                   else choice(HTTP_PROTOCOLS, "http_protocol version")(p, s)),
    "enable_sni": truefalse,
    "fast_recovery": truefalse,
}
URL: dict[str, Reader] = {
    "path": string(),
    "digest": _digest,
    "status_code": _status_code,
    "virtualhost": string("keepalived ignores the line ('Missing HTTP_GET virtualhost name')"),
    "regex": flag, "regex_no_match": flag, "regex_options": flag, "regex_stack": flag,
    "regex_min_offset": flag, "regex_max_offset": flag,
}

#: checker -> keyword -> reader (a block keyword, `url` and `host`, is handled by `read_checker`).
TABLES: dict[str, dict[str, Reader]] = {
    "HTTP_GET": _HTTP,
    "SSL_GET": _HTTP,
    "TCP_CHECK": {**COMMON, **CONNECT},
    "PING_CHECK": {**COMMON, **CONNECT},
    "MISC_CHECK": {
        **COMMON,
        "misc_path": string("keepalived drops the checker ('No script path has been specified')"),
        "misc_timeout": uint(0),
        "misc_dynamic": flag,
        "user": string("keepalived ignores the line ('No user specified for misc checker script')"),
    },
    "SMTP_CHECK": {**COMMON, **CONNECT, "helo_name": string("ignored ('SMTP_CHECK helo name missing')")},
    "host": {**COMMON, **CONNECT},
    "DNS_CHECK": {**COMMON, **CONNECT, "name": _dns_name, "type": choice(DNS_TYPES, "DNS check type")},
    "UDP_CHECK": {
        **COMMON, **CONNECT,
        "payload": hex_string("payload"),
        "require_reply": hex_string("reply"),
        "min_reply_length": _reply_length,
        "max_reply_length": _reply_length,
    },
    "FILE_CHECK": {"weight": _file_weight},
    "BFD_CHECK": {"alpha": truefalse, "name": string()},
    "url": URL,
}
#: Keywords of a checker block that open a block of their own.
SUB_BLOCKS = {"HTTP_GET": "url", "SSL_GET": "url", "SMTP_CHECK": "host"}


@dataclass
class CheckerBlock:
    """What was seen in one checker block: the keywords given, and how many url blocks had a path."""

    kind: str
    given: dict[str, Location] = field(default_factory=dict)
    urls: int = 0


def _handlers(p: Parser, table: dict[str, Reader], given: dict[str, Location]) -> dict[str, Callable[[Stmt], None]]:
    def bind(kw: str, read: Reader) -> Callable[[Stmt], None]:
        def handle(s: Stmt) -> None:
            if read(p, s) is not None:
                given.setdefault(kw, s.loc)

        return handle

    return {kw: bind(kw, read) for kw, read in table.items()}


def _closing(st: Stmt, end: int | None) -> Location:
    return st.loc if end is None else Location(st.file, end, 1)


def read_checker(p: Parser, written: Written, st: Stmt) -> None:
    """One checker block of a real_server, up to its closing brace."""
    b = CheckerBlock(st.keyword)
    handlers = _handlers(p, TABLES[st.keyword], b.given)
    sub = SUB_BLOCKS.get(st.keyword)
    if sub == "url":
        handlers["url"] = lambda s: _url(p, b, s)
    elif sub == "host":
        handlers["host"] = lambda s: _host(p, s)
    if st.keyword == "FILE_CHECK":
        handlers["track_file"] = lambda s: _file_check_track(p, written, b, s)
    if st.keyword == "MISC_CHECK":
        read_path = handlers["misc_path"]

        def misc_path(s: Stmt) -> None:
            read_path(s)
            written.note_script(s.loc)  # a script keepalived runs: script security applies

        handlers["misc_path"] = misc_path
    end = p.block(st.keyword, handlers, 3, st)
    where = _closing(st, end)
    if sub == "url" and b.urls == 0:
        p.err(where, "lvs-dropped",
              f"{st.keyword} (line {st.line}) has no url with a path: keepalived ignores the checker "
              f"('checker has no urls specified'; 2.2.7 may even crash on it)")
    elif st.keyword == "MISC_CHECK" and "misc_path" not in b.given:
        p.err(where, "lvs-dropped", f"MISC_CHECK (line {st.line}) has no misc_path: keepalived drops the checker")
    elif st.keyword == "FILE_CHECK" and "track_file" not in b.given:
        p.err(where, "lvs-dropped",
              f"FILE_CHECK (line {st.line}) names no existing track_file: keepalived ignores the checker")
    elif st.keyword == "BFD_CHECK" and "name" not in b.given:
        p.err(where, "lvs-dropped", f"BFD_CHECK (line {st.line}) has no name: keepalived skips the checker")


def _url(p: Parser, b: CheckerBlock, st: Stmt) -> None:
    given: dict[str, Location] = {}
    end = p.block("url", _handlers(p, URL, given), 4, st)
    if "path" in given:
        b.urls += 1
    else:
        p.err(_closing(st, end), "lvs-dropped", f"url (line {st.line}) has no path: keepalived ignores this url")


def _host(p: Parser, st: Stmt) -> None:
    p.block("host", _handlers(p, TABLES["host"], {}), 4, st)


def _file_check_track(p: Parser, written: Written, b: CheckerBlock, s: Stmt) -> None:
    """FILE_CHECK's track_file must name a track_file block defined before it (keepalived looks it up then)."""
    name = p.arg(s)
    if name is None:
        return
    if name not in written.track_files:
        p.err(s.word_loc(1), "track-file-undefined",
              f"FILE_CHECK track_file {name}: no track_file block of that name before this line; keepalived "
              f"ignores it")
        return
    b.given.setdefault("track_file", s.loc)
