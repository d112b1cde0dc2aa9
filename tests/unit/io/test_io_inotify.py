"""DirWatch against a real directory (no root): what a track file's writer does is reported by
path, as keepalived's inotify sees it (measured in a lab: a closed write, a rename over the file,
a deletion, a new file; not a write still open)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from vrrpkit.io.inotify import DirWatch


def test_a_directory_reports_the_files_written_renamed_and_removed(tmp_path: Path) -> None:
    watch = DirWatch()
    try:
        watch.watch(str(tmp_path))
        track = tmp_path / "track"
        assert watch.changed() == set()
        track.write_text("1\n")  # created, written, closed
        assert watch.changed() == {str(track)}
        staged = tmp_path / "staged"
        staged.write_text("0\n")
        os.rename(staged, track)
        assert watch.changed() == {str(staged), str(track)}
        with open(track, "w") as held:  # opened for writing, written, not yet closed
            held.write("1\n")
            held.flush()
            assert watch.changed() == set()
        assert watch.changed() == {str(track)}
        track.unlink()
        assert watch.changed() == {str(track)}
    finally:
        watch.close()
    watch.close()  # twice is harmless


def test_a_missing_directory_cannot_be_watched(tmp_path: Path) -> None:
    watch = DirWatch()
    try:
        with pytest.raises(OSError) as info:
            watch.watch(str(tmp_path / "absent"))
        assert info.value.errno == errno.ENOENT
    finally:
        watch.close()
