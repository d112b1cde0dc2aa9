"""The reader: comments, @id, $definitions, includes and brace splitting, as keepalived's read_line."""

from __future__ import annotations

import os
from pathlib import Path

from vrrpkit.config import DictLoader, load_string
from vrrpkit.config.diagnostics import Reporter
from vrrpkit.config.files import FileLoader
from vrrpkit.config.lexer import Lexer, brace_expand


def stmts(text: str, config_id: str | None = None, files: dict[str, str] | None = None) -> list[tuple[int, list[str]]]:
    lexer = Lexer(Reporter(), DictLoader(files or {}), config_id)
    return [(s.line, [w.text for w in s.words]) for s in lexer.statements(text, "k.conf")]


def test_comments_anywhere_and_escapes() -> None:
    out = stmts('a 1 # c\nb 2 ! c\n! whole\n# whole\nc "x # not a comment"\nd \\#hash\n// e\n')
    assert out == [(1, ["a", "1"]), (2, ["b", "2"]), (5, ["c", "x # not a comment"]), (6, ["d", "#hash"]),
                   (7, ["//", "e"])]


def test_braces_split_lines_like_keepalived() -> None:
    assert stmts("virtual_ipaddress { 10.0.0.1 }") == [
        (1, ["virtual_ipaddress"]), (1, ["{"]), (1, ["10.0.0.1"]), (1, ["}"])]
    assert stmts('script "a { b }" {') == [(1, ["script", "a { b }"]), (1, ["{"])]


def test_columns_are_one_based() -> None:
    lexer = Lexer(Reporter(), None, None)
    (st,) = list(lexer.statements("   priority  100", "k"))
    assert [w.column for w in st.words] == [4, 14]


def test_config_id_lines() -> None:
    text = "@h1 a 1\n@^h1 b 2\n@h2 c 3\n"
    assert stmts(text, "h1") == [(1, ["a", "1"])]
    assert stmts(text, "h2") == [(2, ["b", "2"]), (3, ["c", "3"])]
    assert stmts(text, None) == [(2, ["b", "2"])]


def test_definitions_expand_recursively_and_multiline() -> None:
    text = "$A=eth0\n$B=${A} x\n$M=one \\\n  two\n\nk $B\nv ${A}\nu $UNDEF\n$M\n"
    assert stmts(text) == [(6, ["k", "eth0", "x"]), (7, ["v", "eth0"]), (8, ["u", "$UNDEF"]), (9, ["one"]),
                           (9, ["two"])]


def test_instance_builtin() -> None:
    assert stmts("router_id ${_INSTANCE}", "lb7") == [(1, ["router_id", "lb7"])]


def test_include_glob_relative_to_including_file() -> None:
    files = {"etc/conf.d/a.conf": "a 1\n", "etc/conf.d/b.conf": "b 2\n", "etc/other.conf": "o 3\n"}
    lexer = Lexer(Reporter(), DictLoader(files), None)
    out = [(s.file, s.line, s.keyword) for s in lexer.statements("x 0\ninclude conf.d/*.conf\ny 9", "etc/k.conf")]
    assert out == [("etc/k.conf", 1, "x"), ("etc/conf.d/a.conf", 1, "a"), ("etc/conf.d/b.conf", 1, "b"),
                   ("etc/k.conf", 3, "y")]


def test_include_missing_is_a_warning() -> None:
    res = load_string("include nothere.conf\n", "k.conf", loader=DictLoader({}))
    (d,) = [d for d in res.diagnostics if d.rule == "include-missing"]
    assert (d.line, d.severity) == (1, "warning")
    assert res.ok


def test_include_loop_is_bounded() -> None:
    res = load_string("include k.conf\n", "k.conf", loader=DictLoader({"k.conf": "include k.conf\n"}))
    assert any(d.rule == "syntax" and "nesting" in d.message for d in res.diagnostics)


def test_brace_expand() -> None:
    assert brace_expand("a{b,c}d{1,2}") == ["abd1", "abd2", "acd1", "acd2"]
    assert brace_expand("plain") == ["plain"]


def test_unterminated_quote_is_syntax_error() -> None:
    res = load_string('vrrp_script s {\n  script "/bin/true\n}\n', "k.conf")
    assert any(d.rule == "syntax" and d.line == 2 for d in res.diagnostics)
    assert not res.ok


def test_includes_skip_what_keepalived_skips(tmp_path: Path) -> None:
    """keepalived 2.2.7 (measured with -t): a directory, an executable file and a FIFO are skipped
    with its words; a symlink is followed; nothing ever blocks on the FIFO."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.conf").write_text("a 1\n")
    (d / "x.conf").write_text("x 2\n")
    (d / "x.conf").chmod(0o755)
    (d / "sub").mkdir()
    os.mkfifo(tmp_path / "fifo.conf")
    (tmp_path / "target.conf").write_text("t 3\n")
    (tmp_path / "link.conf").symlink_to(tmp_path / "target.conf")
    top = tmp_path / "k.conf"
    top.write_text(f"include {d}/*\ninclude {tmp_path}/fifo.conf\ninclude {tmp_path}/link.conf\n")
    lexer = Lexer(Reporter(), FileLoader(), None)
    out = [s.keyword for s in lexer.statements(top.read_text(), str(top))]
    assert out == ["a", "t"]
    skipped = sorted((d.line, d.message) for d in lexer.reporter.items if d.rule == "include-skipped")
    assert skipped == [
        (1, f"Configuration file '{d}/sub' is a directory - skipping"),
        (1, f"Configuration file '{d}/x.conf' is not a regular non-executable file - skipping"),
        (2, f"Configuration file '{tmp_path}/fifo.conf' is not a regular non-executable file - skipping"),
    ]
