"""keepalived's line generators (`~SEQ`, `~SEQx`, `~LST`) and `${_RANDOM}`, as keepalived 2.2.7 expands them.

A line `~SEQ(var, start, step, end) rest` is read once per value, with `$var` defined as that value;
`~SEQx` writes the value in hexadecimal (lower case, no 0x); `~LST(var, a, b)` takes the values
from the list, and `~LST({A, B}, {1, 2}, {3, 4})` sets several variables at a time. Several on one
line nest, the first outermost. Measured on keepalived 2.2.7 (`keepalived -t` names each generated
line): start defaults to 1 (or -1 for a negative end), step to 1 (or -1 counting down), the last
value of a `~SEQ` variable stays defined after the line, and anything else starting with `~` is an
ordinary (unknown) keyword. `${_RANDOM [MIN [MAX]]}` is a random integer in [MIN, MAX] (0 and 32767
by default; a MIN above MAX gives MIN).

Pure: this module only computes the values; the lexer defines the variables and re-reads the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: At most this many lines from one generator line: keepalived's own example makes 65024.
MAX_LINES = 1 << 17

_HEAD = re.compile(r"~(SEQx|SEQ|LST)\(")


@dataclass(frozen=True)
class Generator:
    """One `~SEQ(...)`/`~LST(...)`: the variables it sets and, for each pass, their values."""

    names: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]
    rest: int  # index in the line where the text it repeats starts


class GeneratorError(ValueError):
    """keepalived: "Invalid ~SEQ definition" / "Invalid ~LST specification"; the line is skipped."""


def is_generator(text: str) -> bool:
    return _HEAD.match(text) is not None


def parse(text: str) -> Generator:
    """The generator at the start of `text` (which `is_generator`)."""
    m = _HEAD.match(text)
    assert m is not None
    kind = m.group(1)
    close = _matching_paren(text, m.end() - 1)
    if close < 0:
        raise GeneratorError(f"~{kind}: no closing ')'")
    args = _split(text[m.end() : close])
    rest = close + 1
    while rest < len(text) and text[rest] in " \t":
        rest += 1
    if kind == "LST":
        return _lst(args, rest)
    return _seq(args, rest, hexa=kind == "SEQx")


def _matching_paren(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split(inner: str) -> list[str]:
    """Comma-separated, commas inside {...} kept."""
    out, depth, last = [], 0, 0
    for i, c in enumerate(inner):
        depth += (c == "{") - (c == "}")
        if c == "," and depth == 0:
            out.append(inner[last:i].strip())
            last = i + 1
    out.append(inner[last:].strip())
    return out


def _name(word: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", word):
        raise GeneratorError(f"{word!r} is not a variable name")
    return word


def _seq(args: list[str], rest: int, hexa: bool) -> Generator:
    if not 2 <= len(args) <= 4:
        raise GeneratorError(f"~SEQ takes 2 to 4 values, not {len(args)}")
    name = _name(args[0])
    try:
        nums = [int(a, 0) for a in args[1:]]
    except ValueError as exc:
        raise GeneratorError(f"~SEQ: {exc}") from None
    if len(nums) == 1:
        end = nums[0]
        start = 1 if end >= 0 else -1
        step = 1 if end >= start else -1
    elif len(nums) == 2:
        start, end = nums
        step = 1 if end >= start else -1
    else:
        start, step, end = nums
    if step == 0 or (step > 0 and start > end) or (step < 0 and start < end):
        raise GeneratorError(f"~SEQ({', '.join(args)}) never reaches its end")
    count = (end - start) // step + 1
    if count > MAX_LINES:
        raise GeneratorError(f"~SEQ makes {count} lines (more than {MAX_LINES})")
    fmt: Callable[[int], str] = (lambda v: format(v, "x")) if hexa else str
    return Generator((name,), tuple((fmt(start + i * step),) for i in range(count)), rest)


def _braced(word: str) -> list[str]:
    if word.startswith("{") and word.endswith("}"):
        return [w.strip() for w in word[1:-1].split(",")]
    return [word]


def _lst(args: list[str], rest: int) -> Generator:
    if len(args) < 2:
        raise GeneratorError("~LST needs a variable and at least one value")
    names = tuple(_name(n) for n in _braced(args[0]))
    values = tuple(tuple(_braced(a)) for a in args[1:])
    if any(len(v) != len(names) for v in values):
        raise GeneratorError(f"~LST: each value must give {len(names)} item(s)")
    return Generator(names, values, rest)


def random_value(spec: str, rand: Callable[[int, int], int] | None) -> str | None:
    """`_RANDOM [MIN [MAX]]` -> the value; None if `spec` is not that. Without `rand`, MIN (repeatable)."""
    words = spec.split()
    if not words or words[0] != "_RANDOM" or len(words) > 3 or not all(w.isdigit() for w in words[1:]):
        return None
    lo = int(words[1]) if len(words) > 1 else 0
    hi = int(words[2]) if len(words) > 2 else 32767
    if hi <= lo:
        return str(lo)
    return str(rand(lo, hi) if rand is not None else lo)
