"""Subcommand registry: every module `vrrpkit.cli.cmd_*` defines `register(subparsers)`.

Discovery keeps each command in its own file, so adding one never edits a shared list. A command
line that names its command loads only that command's module: `vrrpkit run` (the daemon) carries
none of the diagnostics, lab or converter code in its memory.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import vrrpkit.cli

Registrar = Callable[[Any], None]


def registrars(only: str | None = None) -> list[Registrar]:
    """Every command's ``register``, or just ``cmd_<only>``'s when that module exists."""
    names = sorted(m.name for m in pkgutil.iter_modules(vrrpkit.cli.__path__) if m.name.startswith("cmd_"))
    if only is not None and f"cmd_{only}" in names:
        names = [f"cmd_{only}"]
    return [importlib.import_module(f"vrrpkit.cli.{name}").register for name in names]
