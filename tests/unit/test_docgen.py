"""vrrpkit(8) and the bash completion come from the argparse definitions: nothing may be missing."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from vrrpkit.cli.docgen import bash_completion, command_tree, manpage
from vrrpkit.cli.main import build_parser


def test_manpage_has_a_section_per_subcommand_and_every_option() -> None:
    parser = build_parser()
    text = manpage(parser, date="2026-01-01")
    tree = command_tree(parser)
    paths = [" ".join(c.words) for c in tree.walk() if c.words]
    assert {"run", "check", "lab", "lab down", "lab up", "status", "investigate"} <= set(paths)
    for path in paths:
        assert f'.SS "vrrpkit {path}"' in text, path
    for cmd in tree.walk():
        for action in cmd.parser._actions:
            for option in action.option_strings:
                if action.help != "==SUPPRESS==" and not isinstance(action, argparse._HelpAction):
                    assert f"\\fB{option.replace('-', chr(92) + '-')}\\fR" in text, (cmd.words, option)
    assert text.startswith('.TH VRRPKIT 8 "2026-01-01"')
    sections = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "SIGNALS", "FILES", "EXIT STATUS", "SEE ALSO")
    assert all(f".SH {section}\n" in text for section in sections)


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_manpage_renders_without_groff_warnings(tmp_path: Path) -> None:
    page = tmp_path / "vrrpkit.8"
    page.write_text(manpage(build_parser()))
    done = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def complete(script: Path, *words: str, cwd: Path | None = None) -> list[str]:
    """Run the completion function as bash would for `words` (the last one is being typed)."""
    quoted = " ".join(f"'{w}'" for w in words)
    program = (f"source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); "
               "_vrrpkit; printf '%s\\n' \"${COMPREPLY[@]}\"")  # fmt: skip
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True, cwd=cwd)
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completion_completes_commands_options_choices_and_files(tmp_path: Path) -> None:
    script = tmp_path / "vrrpkit"
    script.write_text(bash_completion(build_parser()))
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert "run" in complete(script, "vrrpkit", "") and complete(script, "vrrpkit", "ch") == ["check"]
    assert "--log-facility" in complete(script, "vrrpkit", "run", "--log-")
    assert complete(script, "vrrpkit", "lab", "d") == ["down"]
    assert "--all" in complete(script, "vrrpkit", "lab", "down", "--")
    assert complete(script, "vrrpkit", "run", "--log-level", "w") == ["warning"]
    assert complete(script, "vrrpkit", "lab", "--name", "x", "fa") == ["fault"]
    (tmp_path / "keepalived.conf").write_text("")
    assert complete(script, "vrrpkit", "check", "-f", "keep", cwd=tmp_path) == ["keepalived.conf"]
