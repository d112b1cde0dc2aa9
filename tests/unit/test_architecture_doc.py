"""docs/architecture.md is the map: the parts of it that can drift without anyone noticing are
checked here (the state diagram is the state table's own drawing; named modules exist; no document
points outside the repository)."""

from __future__ import annotations

import re
from pathlib import Path

from vrrpkit.core.state import mermaid

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def test_state_diagram_is_the_state_table() -> None:
    assert f"```mermaid\n{mermaid()}\n```" in DOC


def test_every_module_the_map_names_exists() -> None:
    named = set(re.findall(r"`((?:core|config|io|control|daemon|diag|lab|cli|testing|report)/[\w/]+\.py)`", DOC))
    assert named, "the map names no module"
    missing = sorted(m for m in named if not (ROOT / "src" / "vrrpkit" / m).exists())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_every_daemon_module_is_on_the_map() -> None:
    modules = {p.name for p in (ROOT / "src" / "vrrpkit" / "daemon").glob("*.py") if p.name != "__init__.py"}
    unmapped = sorted(m for m in modules if f"daemon/{m}" not in DOC)
    assert not unmapped, f"daemon modules missing from docs/architecture.md: {unmapped}"


def test_docs_point_at_nothing_outside_the_repository() -> None:
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert "../shared" not in path.read_text(), f"{path.name} points outside the repository"
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()
