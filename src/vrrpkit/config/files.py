"""The only module of `vrrpkit.config` that touches the file system: reading files for includes.

Kept apart so that everything else in the package stays pure (text in, objects out) and can run
inside SimLan, the fuzzers and the tests without a disk.
"""

from __future__ import annotations

import errno
import glob
import os
import random
import socket
from collections.abc import Sequence

from vrrpkit.config.model import ParseResult


class FileLoader:
    """Loader for `include`: plain reads, and glob expansion the way keepalived globs (GLOB_MARK: no dirs).

    An include that cannot be read is skipped, as keepalived skips it, but the reason is kept
    (`why`) so that the diagnostic can say "Permission denied" rather than "no file matched".
    """

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def read(self, path: str) -> str:
        """The file's text; OSError (with filename and strerror) says why it cannot be read."""
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()

    def __call__(self, path: str) -> str | None:
        try:
            return self.read(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:  # missing is the ordinary case: "no file matched"
                self.errors[path] = exc.strerror or str(exc)
            return None

    def why(self, path: str) -> str | None:
        """Why `path` exists but could not be read (None if missing, never tried, or read)."""
        return self.errors.get(path)

    def expand(self, pattern: str) -> list[str]:
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))


def cannot_read(exc: OSError) -> str:
    """'cannot read FILE: reason' for an OSError from `load_files` or `FileLoader.read`."""
    name = exc.filename if exc.filename is not None else "the file"
    return f"cannot read {name}: {exc.strerror or exc}"


def default_config_id() -> str:
    """keepalived's default config id: the host name up to the first dot."""
    return socket.gethostname().split(".", 1)[0]


def load_files(paths: Sequence[str], config_id: str | None = None) -> ParseResult:
    """Read and parse one configuration (the first path; the others are merged in as if included).

    Raises OSError (with ``filename`` and ``strerror``; see `cannot_read`) when a named file cannot
    be read. A missing `include` is a diagnostic instead, as in keepalived.

    `config_id` defaults to the host name, as keepalived's `-i` does. For several hosts' files checked
    as a cluster, parse each with `load_file` and use `vrrpkit.config.cluster.lint_cluster`.
    """
    from vrrpkit.config import load_string

    cid = config_id if config_id is not None else default_config_id()
    loader = FileLoader()
    if len(paths) == 1:
        text = loader.read(paths[0])  # OSError says why (missing, permission, a directory)
        return load_string(text, filename=paths[0], config_id=cid, loader=loader, rand=random.randint)
    # Several paths: read them as one configuration, in order (keepalived -f takes one; this mirrors includes).
    texts = []
    for path in paths:
        loader.read(path)
        texts.append(f"include {path}")
    return load_string("\n".join(texts), filename="<files>", config_id=cid, loader=loader, rand=random.randint)


def load_file(path: str, config_id: str | None = None) -> ParseResult:
    return load_files([path], config_id)
