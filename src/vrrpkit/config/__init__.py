"""keepalived.conf -> frozen configuration objects and diagnostics (pure: text in, data out).

    from vrrpkit.config import load_string
    res = load_string(text, filename="keepalived.conf")
    res.instances, res.sync_groups, res.scripts, res.track_files, res.globals, res.diagnostics, res.ok

Includes are read through `loader(path) -> str | None` (a `DictLoader` for in-memory files, or
`vrrpkit.config.files.FileLoader` for real ones; with `loader=None` the file loader is used).
`config_id` selects `@id` lines; None means no id (keepalived's default, the host name, is what
`vrrpkit.config.files.default_config_id()` returns and what the CLI passes).
"""

from __future__ import annotations

from collections.abc import Callable

from vrrpkit.config.diagnostics import RULES, Diagnostic, Location, Reporter
from vrrpkit.config.lexer import DictLoader, Lexer, Loader
from vrrpkit.config.model import GlobalDefs, InstanceSource, ParseResult, ScriptConfig, TrackFileConfig
from vrrpkit.config.parse_top import parse
from vrrpkit.config.semantics import complete
from vrrpkit.config.written import Written


def load_string(
    text: str, filename: str = "<string>", config_id: str | None = None, loader: Loader | None = None,
    rand: Callable[[int, int], int] | None = None,
) -> ParseResult:
    """Parse keepalived.conf text as keepalived would, and report everything it would complain about.

    `rand(lo, hi)` draws `${_RANDOM lo hi}`; without it the parse is repeatable and uses `lo`.
    """
    if loader is None:
        from vrrpkit.config.files import FileLoader

        loader = FileLoader()
    reporter = Reporter()
    lexer = Lexer(reporter, loader, config_id, rand)
    written = parse(lexer.statements(text, filename), reporter)
    # Where keepalived stops reading, it exits: nothing is completed, so no completion diagnostics either.
    parsed = complete(written if written.stopped_at is None else Written(), reporter)
    order = {f: i for i, f in enumerate(dict.fromkeys(lexer.files))}
    diags = sorted(reporter.items, key=lambda d: (order.get(d.file, len(order)), d.line, d.column))
    return ParseResult(
        instances=tuple(parsed.instances),
        sync_groups=tuple(parsed.groups),
        scripts=dict(parsed.scripts),
        track_files=dict(parsed.track_files),
        globals=parsed.globals,
        diagnostics=tuple(dict.fromkeys(diags)),
        sources=dict(parsed.sources),
        files=tuple(dict.fromkeys(lexer.files)),
        config_id=config_id,
        script_locs=dict(parsed.script_locs),
        interfaces=parsed.interfaces,
        track_groups=dict(parsed.track_groups),
        interface_refs=parsed.interface_refs,
        notify_locs=dict(parsed.notify_locs),
        track_processes=parsed.track_processes,
        extras=parsed.extras,
        group_smtp_alert=parsed.group_smtp_alert,
        static=parsed.static,
        fifo_locs=parsed.fifo_locs,
        static_locs=parsed.static_locs,
        stopped_at=written.stopped_at,
    )


def load_files(paths: list[str], config_id: str | None = None) -> ParseResult:
    from vrrpkit.config.files import load_files as _load_files

    return _load_files(paths, config_id)


__all__ = [
    "RULES",
    "Diagnostic",
    "DictLoader",
    "GlobalDefs",
    "InstanceSource",
    "Location",
    "ParseResult",
    "ScriptConfig",
    "TrackFileConfig",
    "load_files",
    "load_string",
]
