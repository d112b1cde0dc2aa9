"""Subcommand registry: every module `vrrpkit.cli.cmd_*` defines `register(subparsers)`.

Discovery keeps each command in its own file, so adding one never edits a shared list.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import vrrpkit.cli

Registrar = Callable[[Any], None]


def registrars() -> list[Registrar]:
    found: list[Registrar] = []
    for info in sorted(pkgutil.iter_modules(vrrpkit.cli.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"vrrpkit.cli.{info.name}")
            found.append(module.register)
    return found
