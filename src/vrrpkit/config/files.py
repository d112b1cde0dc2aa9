"""The only module of `vrrpkit.config` that touches the file system: reading files for includes.

Kept apart so that everything else in the package stays pure (text in, objects out) and can run
inside SimLan, the fuzzers and the tests without a disk.
"""

from __future__ import annotations

import errno
import glob
import os
import socket
import stat
from collections.abc import Sequence

from vrrpkit.config.lexer import SkippedFile
from vrrpkit.config.model import ParseResult


class FileLoader:
    """Loader for `include`, reading what keepalived reads and skipping what it skips.

    keepalived 2.2.7 (measured) skips a directory ("is a directory - skipping") and anything that is
    not a regular file or has an execute bit ("is not a regular non-executable file - skipping"),
    and follows symlinks. The file is opened non-blocking and checked on the open descriptor, so a
    FIFO put in a config directory (or swapped in between a check and the read) is refused, never
    waited on. An include that cannot be opened is skipped, as keepalived skips it, but the reason
    is kept (`why`), so that the diagnostic says "Permission denied" rather than "no file matched".
    """

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def read(self, path: str) -> str:
        """The file's text. OSError (with filename and strerror) says why it cannot be read;
        SkippedFile (an OSError too) that keepalived would skip it."""
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise SkippedFile(f"Configuration file '{path}' is a directory - skipping")
            if not stat.S_ISREG(mode) or mode & 0o111:
                raise SkippedFile(f"Configuration file '{path}' is not a regular non-executable file - skipping")
            os.set_blocking(fd, True)
            with os.fdopen(fd, encoding="utf-8", errors="surrogateescape") as fh:
                fd = -1
                return fh.read()
        finally:
            if fd >= 0:
                os.close(fd)

    def __call__(self, path: str) -> str | None:
        try:
            return self.read(path)
        except SkippedFile:
            raise
        except OSError as exc:
            if exc.errno != errno.ENOENT:  # missing is the ordinary case: "no file matched"
                self.errors[path] = exc.strerror or str(exc)
            return None

    def why(self, path: str) -> str | None:
        """Why `path` exists but could not be read (None if missing, never tried, or read)."""
        return self.errors.get(path)

    def expand(self, pattern: str) -> list[str]:
        """glob as keepalived globs it; directories stay in, so that they are reported as skipped."""
        return sorted(glob.glob(pattern))


def cannot_read(exc: OSError) -> str:
    """'cannot read FILE: reason' for an OSError from `load_files` or `FileLoader.read`."""
    if exc.filename is None:  # SkippedFile: keepalived's own words name the file and say why
        return str(exc)
    return f"cannot read {exc.filename}: {exc.strerror or exc}"


def default_config_id() -> str:
    """keepalived's default config id: the host name up to the first dot."""
    return socket.gethostname().split(".", 1)[0]


def load_files(paths: Sequence[str], config_id: str | None = None) -> ParseResult:
    """Read and parse one configuration (the first path; the others are merged in as if included).

    Raises OSError (with ``filename`` and ``strerror``; see `cannot_read`) when a named file cannot
    be read, SkippedFile where keepalived would skip it. A missing `include` is a diagnostic
    instead, as in keepalived. `config_id` defaults to the host name, as keepalived's `-i` does.
    For several hosts' files checked as a cluster, parse each with `load_file` and use
    `vrrpkit.config.cluster.lint_cluster`.
    """
    from vrrpkit.config import load_string

    cid = config_id if config_id is not None else default_config_id()
    loader = FileLoader()
    if len(paths) == 1:
        text = loader.read(paths[0])  # OSError says why (missing, permission, a directory)
        return load_string(text, filename=paths[0], config_id=cid, loader=loader, rand=_randint)
    # Several paths: read them as one configuration, in order (keepalived -f takes one; this mirrors includes).
    texts = []
    for path in paths:
        loader.read(path)
        texts.append(f"include {path}")
    return load_string("\n".join(texts), filename="<files>", config_id=cid, loader=loader, rand=_randint)


def load_file(path: str, config_id: str | None = None) -> ParseResult:
    return load_files([path], config_id)


def _randint(low: int, high: int) -> int:
    """random.randint, imported when a file first asks for ${_RANDOM}: not in every daemon for nothing."""
    import random

    return random.randint(low, high)
