"""Fixtures for root tests on real network namespaces, built on vrrpkit.lab (one lab for the whole project).

`make_lab(hosts=3, **kw)` returns a lab that is already up and is torn down when the test ends, pass
or fail; logs, configs and pcaps go to the test's tmp_path so they outlive the lab for inspection.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vrrpkit.lab import Lab

_names = itertools.count(1)


def _can_run_labs() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "nft"):
        if not (shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")):
            return f"needs {tool}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `root`-marked tests (with the reason) where namespaces cannot be made."""
    reason = _can_run_labs()
    if reason is None:
        return
    for item in items:
        if "root" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def unique_lab_name() -> str:
    """A lab name unique per test process and call (<= 10 chars), so parallel runs never collide."""
    return f"t{os.getpid():x}{next(_names)}"


@pytest.fixture
def lab_name() -> str:
    """A fresh lab name for tests that build (or crash) a lab themselves."""
    return unique_lab_name()


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    """Factory for labs that are up; every lab it made is torn down in `finally`."""
    labs: list[Lab] = []

    def make(hosts: int = 3, **kwargs: Any) -> Lab:
        name = kwargs.pop("name", None) or unique_lab_name()
        workdir = kwargs.pop("workdir", None) or tmp_path / name
        lab = Lab(name=name, hosts=hosts, workdir=workdir, **kwargs).up()  # up() cleans up after itself
        labs.append(lab)  # only labs we built: never tear down someone else's lab of the same name
        return lab

    try:
        yield make
    finally:
        for lab in reversed(labs):
            lab.down()


@pytest.fixture
def lab(make_lab: Callable[..., Lab]) -> Lab:
    """A three-host lab (h1..h3 on 192.0.2.1-3/24 and 2001:db8::1-3/64), multicast flowing."""
    return make_lab(3)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the suite nothing of ours may remain: no namespace, no lab run directory, no daemon.

    A leftover breaks the next run and CI, so it fails this run, naming what was left.
    """
    if os.geteuid() != 0 or not shutil.which("ip", path="/usr/sbin:/usr/bin:/sbin:/bin"):
        return
    import subprocess

    mine = f"t{os.getpid():x}"
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    left = [line.split()[0] for line in out.splitlines() if line.startswith((mine, f"vkc-{os.getpid()}"))]
    procs = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if re.search(rf"/{mine}\d+[/ -]", cmdline):  # a lab's run dir or workdir (t<pid><n>)
                procs.append(f"{entry.name}: {cmdline[:120]}")
    if left or procs:
        print(f"\nLEFTOVERS after the suite: namespaces {left}, processes {procs}")
        session.exitstatus = 1
