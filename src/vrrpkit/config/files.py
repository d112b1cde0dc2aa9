"""The only module of `vrrpkit.config` that touches the file system: reading files for includes.

Kept apart so that everything else in the package stays pure (text in, objects out) and can run
inside SimLan, the fuzzers and the tests without a disk.
"""

from __future__ import annotations

import glob
import os
import random
import socket
from collections.abc import Sequence

from vrrpkit.config.model import ParseResult


class FileLoader:
    """Loader for `include`: plain reads, and glob expansion the way keepalived globs (GLOB_MARK: no dirs)."""

    def __call__(self, path: str) -> str | None:
        try:
            if not os.path.isfile(path):
                return None
            with open(path, encoding="utf-8", errors="surrogateescape") as fh:
                return fh.read()
        except OSError:
            return None

    def expand(self, pattern: str) -> list[str]:
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))


def default_config_id() -> str:
    """keepalived's default config id: the host name up to the first dot."""
    return socket.gethostname().split(".", 1)[0]


def load_files(paths: Sequence[str], config_id: str | None = None) -> ParseResult:
    """Read and parse one configuration (the first path; the others are merged in as if included).

    `config_id` defaults to the host name, as keepalived's `-i` does. For several hosts' files checked
    as a cluster, parse each with `load_file` and use `vrrpkit.config.cluster.lint_cluster`.
    """
    from vrrpkit.config import load_string

    cid = config_id if config_id is not None else default_config_id()
    loader = FileLoader()
    if len(paths) == 1:
        text = loader(paths[0])
        if text is None:
            raise FileNotFoundError(paths[0])
        return load_string(text, filename=paths[0], config_id=cid, loader=loader, rand=random.randint)
    # Several paths: read them as one configuration, in order (keepalived -f takes one; this mirrors includes).
    texts = []
    for path in paths:
        if loader(path) is None:
            raise FileNotFoundError(path)
        texts.append(f"include {path}")
    return load_string("\n".join(texts), filename="<files>", config_id=cid, loader=loader, rand=random.randint)


def load_file(path: str, config_id: str | None = None) -> ParseResult:
    return load_files([path], config_id)
