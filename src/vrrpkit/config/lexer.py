"""keepalived.conf text -> a flat stream of statements, the way keepalived's reader sees it.

This is lib/parser.c's `read_line`, re-derived from its documented behaviour: comments (`#`, `!`,
anywhere outside double quotes, `\\#` escapes), `@id` / `@^id` line conditionals, `$NAME=value`
definitions (multi-line with a trailing backslash) and `$NAME` / `${NAME}` expansion (with `${_RANDOM}`,
`${_PWD}`, `${_INSTANCE}`, and the `~SEQ`/`~LST` generators of `generators.py`), `include` with
globs and brace expansion relative to the including file, and finally the split of every line at
each `{` and `}` so that `virtual_ipaddress { 10.0.0.1 }` reads as four lines. The block structure
is not decided here: keepalived decides it keyword by keyword, and so does `parser.py`.

Pure: files are read only through the injected loader.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from sys import intern

from vrrpkit.config.diagnostics import Location, Reporter
from vrrpkit.config.generators import GeneratorError, is_generator, random_value
from vrrpkit.config.generators import parse as parse_generator

Loader = Callable[[str], "str | None"]


class SkippedFile(OSError):
    """A loader refuses a file keepalived skips (a directory, not a regular file, executable); the
    message is keepalived's."""

MAX_INCLUDE_DEPTH = 32
MAX_GENERATED = 1 << 18  # lines made by ~SEQ/~LST in one file (keepalived's example: 65024 instances)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)[ \t]*=")


@dataclass(frozen=True)
class Word:
    text: str
    column: int  # 1-based column of the word in its physical line
    quoted: bool = False


@dataclass(frozen=True)
class Stmt:
    """One logical line after brace splitting: `words[0]` is the keyword (or a lone brace)."""

    words: tuple[Word, ...]
    file: str
    line: int

    @property
    def keyword(self) -> str:
        return self.words[0].text

    @property
    def args(self) -> list[str]:
        return [w.text for w in self.words[1:]]

    @property
    def loc(self) -> Location:
        return Location(self.file, self.line, self.words[0].column)

    def word_loc(self, index: int) -> Location:
        if index < len(self.words):
            return Location(self.file, self.line, self.words[index].column)
        return self.loc


class DictLoader:
    """A loader over an in-memory {path: text} map, with glob matching: for tests and SimLan."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)

    def __call__(self, path: str) -> str | None:
        return self.files.get(path)

    def expand(self, pattern: str) -> list[str]:
        return sorted(p for p in self.files if fnmatch.fnmatchcase(p, pattern))


def brace_expand(pattern: str) -> list[str]:
    """GLOB_BRACE: `a{b,c}d` -> [abd, acd] (nested braces allowed)."""
    depth, start = 0, -1
    for i, ch in enumerate(pattern):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                inner, parts, level, last = pattern[start + 1 : i], [], 0, 0
                for j, c in enumerate(inner):
                    level += c == "{"
                    level -= c == "}"
                    if c == "," and level == 0:
                        parts.append(inner[last:j])
                        last = j + 1
                parts.append(inner[last:])
                if len(parts) == 1:
                    continue
                out: list[str] = []
                for part in parts:
                    out.extend(brace_expand(pattern[:start] + part + pattern[i + 1 :]))
                return out
    return [pattern]


def _has_magic(path: str) -> bool:
    return any(c in path for c in "*?[")


@dataclass
class _Def:
    value: str
    multiline: bool


class Lexer:
    """Reads one top file (and its includes) into statements; diagnostics go to the reporter."""

    def __init__(self, reporter: Reporter, loader: Loader | None, config_id: str | None,
                 rand: Callable[[int, int], int] | None = None) -> None:
        self.reporter = reporter
        self.loader = loader
        self.config_id = config_id
        self.rand = rand  # for ${_RANDOM}; None: its minimum, so that a pure parse is repeatable
        self._generated = 0
        self.defs: dict[str, _Def] = {}
        self.files: list[str] = []
        self._file = "<string>"
        self._pending_def: _Def | None = None

    # --- public -------------------------------------------------------------------------------

    def statements(self, text: str, filename: str, depth: int = 0) -> Iterator[Stmt]:
        """Every statement of `text`, includes expanded in place."""
        self.files.append(filename)
        outer, self._file = self._file, filename
        try:
            for lineno, raw in enumerate(text.splitlines(), start=1):
                self._file = filename
                yield from self._physical(raw, filename, lineno, depth)
            self._pending_def = None  # a definition does not continue into the next file
        finally:
            self._file = outer

    # --- one physical line ----------------------------------------------------------------------

    def _physical(self, raw: str, file: str, lineno: int, depth: int) -> Iterator[Stmt]:
        text, cols = self._decomment(raw.rstrip("\r\n"), file, lineno)
        if self._pending_def is not None:
            self._continue_def(text)
            return
        if not text:
            return
        yield from self._logical(text, cols, file, lineno, depth, 0)

    def _continue_def(self, text: str) -> None:
        pending = self._pending_def
        assert pending is not None
        if text.endswith("\\"):
            body = text[:-1].rstrip(" \t")
            if body:
                pending.value += body + "\n"
        else:
            if text:
                pending.value += text
            pending.value = pending.value.rstrip("\n")
            if "\n" not in pending.value:
                pending.multiline = False
            self._pending_def = None

    def _decomment(self, raw: str, file: str, lineno: int) -> tuple[str, list[int]]:
        """Strip comments and surrounding blanks; return the text and each char's 1-based column."""
        chars: list[tuple[str, int]] = []
        quote = False
        i = 0
        n = len(raw)
        while i < n and raw[i] in " \t":
            i += 1
        while i < n:
            ch = raw[i]
            if ch == '"':
                quote = not quote
            elif ch == "\\":
                if i + 1 < n:
                    if not quote and raw[i + 1] in "#!":
                        chars.append((raw[i + 1], i + 2))
                    else:
                        chars.append((ch, i + 1))
                        chars.append((raw[i + 1], i + 2))
                    i += 2
                    continue
                chars.append((ch, i + 1))  # a trailing backslash: continuation of a definition
                i += 1
                continue
            elif not quote and ch in "#!":
                break
            chars.append((ch, i + 1))
            i += 1
        if quote:
            self.reporter.add(Location(file, lineno, 1), "syntax", "unterminated quote: the line ends inside \"...\"")
        while chars and chars[-1][0] in " \t":
            chars.pop()
        if len(chars) >= 2 and chars[-1][0] == "\\":  # blanks before a trailing backslash go too
            back = chars.pop()
            while chars and chars[-1][0] in " \t":
                chars.pop()
            chars.append(back)
        return "".join(c for c, _ in chars), [c for _, c in chars]

    # --- a logical line: @id, $definitions, ~SEQ, $expansion, include, brace split ---------------

    def _logical(self, text: str, cols: list[int], file: str, lineno: int, depth: int, rounds: int) -> Iterator[Stmt]:
        if text.startswith("@"):
            negate = text.startswith("@^")
            ofs = 2 if negate else 1
            m = re.search(r"[ \t]", text[ofs:])
            if m is None:
                return
            ident = text[ofs : ofs + m.start()]
            matches = self.config_id is not None and ident == self.config_id
            if matches == negate:
                return
            rest = ofs + m.start()
            while rest < len(text) and text[rest] in " \t":
                rest += 1
            text, cols = text[rest:], cols[rest:]
        if text.startswith("$"):
            m = _DEF.match(text)
            if m:
                value = text[m.end() :].lstrip(" \t")
                if value.endswith("\\"):
                    body = value[:-1].rstrip(" \t")
                    d = _Def(body + "\n" if body else "", True)
                    self._pending_def = d
                else:
                    d = _Def(value, False)
                self.defs[m.group(1)] = d
                return
        if is_generator(text):
            yield from self._generate(text, cols, file, lineno, depth, rounds)
            return
        if "${_ENV" in text:
            self.reporter.add(
                Location(file, lineno, cols[text.index("${_ENV")]), "syntax",
                "keepalived 2.2.7 has no ${_ENV ...}: it reads the text as written, and its braces open and "
                "close blocks (write the value, or define $NAME=value)",
            )
        if "$" in text and rounds < 50:
            expanded = self._expand(text, cols)
            if expanded is not None:
                first, more = expanded
                yield from self._logical(first[0], first[1], file, lineno, depth, rounds + 1)
                for extra in more:
                    col = cols[0] if cols else 1
                    yield from self._logical(extra, [col] * len(extra), file, lineno, depth, rounds + 1)
                return
        words = self._words(text, cols, file, lineno)
        if words and words[0].text == "include" and len(words) == 2:
            yield from self._include(words[1].text, Location(file, lineno, words[0].column), depth)
            return
        yield from self._split(text, cols, file, lineno)

    def _generate(self, text: str, cols: list[int], file: str, lineno: int, depth: int,
                  rounds: int) -> Iterator[Stmt]:
        """`~SEQ(...)`/`~LST(...) rest`: `rest` once per value, its variables defined (and left defined)."""
        try:
            gen = parse_generator(text)
        except GeneratorError as exc:
            self.reporter.add(Location(file, lineno, cols[0] if cols else 1), "syntax",
                              f"{exc}: keepalived skips the line ('Invalid ~SEQ definition')")
            return
        rest, rcols = text[gen.rest :], cols[gen.rest :]
        for values in gen.values:
            if self._generated >= MAX_GENERATED:
                self.reporter.add(Location(file, lineno, cols[0] if cols else 1), "syntax",
                                  f"more than {MAX_GENERATED} generated lines; the rest are not read")
                return
            for name, value in zip(gen.names, values, strict=True):
                self.defs[name] = _Def(value, False)
            self._generated += 1
            if rest:
                yield from self._logical(rest, rcols, file, lineno, depth, rounds)

    def _expand(self, text: str, cols: list[int]) -> tuple[tuple[str, list[int]], list[str]] | None:
        """Replace defined $NAME / ${NAME}; None when nothing was replaced (undefined stays as-is)."""
        out: list[str] = []
        ocols: list[int] = []
        extra: list[str] = []
        i = 0
        changed = False
        while i < len(text):
            if text.startswith("${_RANDOM", i):
                close = text.find("}", i)
                value = random_value(text[i + 2 : close], self.rand) if close > 0 else None
                if value is not None:
                    out.append(value)
                    ocols.extend([cols[i]] * len(value))
                    i = close + 1
                    changed = True
                    continue
            if text.startswith(("${_HASH}", "${_BANG}"), i):
                # 2.2.7 expands them after it has looked for comments... and then reads them as one:
                # the rest of the line is dropped (`E${_HASH}x` reads as `E`).
                changed = True
                break
            if text[i] == "$" and i + 1 < len(text):
                braces = text[i + 1] == "{"
                m = _NAME.match(text, i + 2 if braces else i + 1)
                if m:
                    end = m.end()
                    closes = end < len(text) and text[end] == "}"
                    ends = end == len(text) or text[end] in " \t,)"
                    ok = closes if braces else ends
                    name = m.group(0)
                    d = self._lookup(name)
                    stop = end + 1 if braces else end
                    at_end = stop == len(text)
                    if ok and d is not None and (not d.multiline or at_end):
                        lines = d.value.split("\n")
                        out.append(lines[0])
                        ocols.extend([cols[i]] * len(lines[0]))
                        extra.extend(x for x in lines[1:] if x.strip())
                        i = stop
                        changed = True
                        continue
            out.append(text[i])
            ocols.append(cols[i])
            i += 1
        if not changed:
            return None
        return ("".join(out), ocols), extra

    def _lookup(self, name: str) -> _Def | None:
        if name in self.defs:
            return self.defs[name]
        if name == "_INSTANCE" and self.config_id is not None:
            return _Def(self.config_id, False)
        if name == "_PWD":
            return _Def(posixpath.dirname(self._file) or ".", False)
        return None

    # --- words and braces ---------------------------------------------------------------------

    def _words(self, text: str, cols: list[int], file: str, lineno: int) -> list[Word]:
        """keepalived's alloc_strvec: blank-separated words; a word starting with `"` runs to the next `"`.

        Each word is interned: what outlives the parse (keywords as the keys of every instance's
        source map, interface names, states) is then one string per spelling, not one per line
        (~100 KB at 200 instances in the running daemon)."""
        words: list[Word] = []
        i, n = 0, len(text)
        while i < n:
            while i < n and text[i] in " \t\f\v":
                i += 1
            if i >= n:
                break
            if text[i] == '"':
                j = text.find('"', i + 1)
                if j < 0:
                    self.reporter.add(Location(file, lineno, cols[i]), "syntax", f"unmatched quote in {text!r}")
                    break
                words.append(Word(intern(text[i + 1 : j]), cols[i], True))
                i = j + 1
            else:
                j = i
                while j < n and text[j] not in ' \t\f\v"':
                    j += 1
                words.append(Word(intern(text[i:j]), cols[i]))
                i = j
        return words

    def _split(self, text: str, cols: list[int], file: str, lineno: int) -> Iterator[Stmt]:
        """Split at each `{` / `}` outside quotes: each brace becomes a statement of its own."""
        while text:
            pos = -1
            if text[0] in "{}":
                pos = 0
            else:
                quote = False
                for k, ch in enumerate(text):
                    if ch == '"':
                        quote = not quote
                    elif not quote and ch in "{}":
                        pos = k
                        break
            if pos < 0:
                head, hcols, text, cols = text, cols, "", []
            elif pos == 0:
                head, hcols = text[0], cols[:1]
                k = 1
                while k < len(text) and text[k] in " \t":
                    k += 1
                text, cols = text[k:], cols[k:]
            else:
                head, hcols = text[:pos].rstrip(" \t"), cols[:pos]
                text, cols = text[pos:], cols[pos:]
            words = self._words(head, hcols, file, lineno)
            if words:
                yield Stmt(tuple(words), file, lineno)

    # --- include ------------------------------------------------------------------------------

    def _include(self, pattern: str, where: Location, depth: int) -> Iterator[Stmt]:
        if depth >= MAX_INCLUDE_DEPTH:
            self.reporter.add(where, "syntax", f"include nesting deeper than {MAX_INCLUDE_DEPTH} (a loop?): {pattern}")
            return
        base = posixpath.dirname(where.file)
        paths: list[str] = []
        for pat in brace_expand(pattern):
            full = pat if posixpath.isabs(pat) or not base else posixpath.join(base, pat)
            if _has_magic(full):
                expand = getattr(self.loader, "expand", None)
                paths.extend(expand(full) if expand is not None else [])
            else:
                paths.append(full)
        found = False
        for path in paths:
            try:
                text = self.loader(path) if self.loader is not None else None
            except SkippedFile as exc:
                self.reporter.add(where, "include-skipped", str(exc))
                continue
            if text is None:
                continue
            found = True
            yield from self.statements(text, path, depth + 1)
        if not found:
            why = getattr(self.loader, "why", None)
            unreadable = [f"{p}: {r}" for p in paths if why is not None and (r := why(p))]
            how = "no loader was given" if self.loader is None else "no file matched"
            if unreadable:
                how = f"cannot read {'; '.join(unreadable)}"
            self.reporter.add(
                where, "include-missing",
                f"include {pattern}: {how}; keepalived logs 'Config files missing' and goes on without it",
            )
