"""Headless Chromium, run where a user's browser would be: inside a lab host, or with no network.

The status page and the reports are meant for a browser, so their tests render them in one (Debian's
`chromium`, not installed by default: `apt-get install chromium`) and read back the DOM it built
(`--dump-dom`) or a picture of it (`--screenshot`). Each run gets a fresh profile directory, removed
afterwards, and every background service Chromium has (sync, component updates, metrics) is off:
inside a lab host it can only reach the lab, and a file is rendered in a namespace with no network
at all (`unshare --net`), so a browser test never sends a packet from the root namespace.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from vrrpkit.lab import process, system
from vrrpkit.lab.system import LabError

FLAGS = (
    "--headless",
    "--no-sandbox",  # root, in a namespace: the sandbox needs user namespaces of its own
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-crash-reporter",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
)
SIZE = (1280, 900)


def chromium() -> str:
    """The browser's path, or LabError saying how to get it."""
    found = shutil.which("chromium") or shutil.which("chromium", path="/usr/bin:/bin")
    if found is None:
        raise LabError("chromium not found; install it (apt-get install -y --no-install-recommends chromium)")
    return found


def argv(url: str, profile: Path, *, screenshot: Path | None = None, size: tuple[int, int] = SIZE) -> list[str]:
    """Chromium printing the DOM of `url` once loaded, or writing a PNG of it to `screenshot`."""
    out = [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"]
    out += [f"--screenshot={screenshot}"] if screenshot is not None else ["--dump-dom"]
    return [*out, url]


def dump_dom(netns: str, url: str, timeout: float = 60.0) -> str:
    """The DOM Chromium built for `url`, browsing from inside `netns` (a lab host's namespace)."""
    return _browse(process.netns_command(netns, []), url, None, SIZE, timeout)


def screenshot(netns: str, url: str, path: Path, size: tuple[int, int] = SIZE, timeout: float = 60.0) -> Path:
    """A PNG of `url` as Chromium in `netns` shows it in a `size` window."""
    _browse(process.netns_command(netns, []), url, path, size, timeout)
    return path


def dump_dom_offline(page: Path, timeout: float = 60.0) -> str:
    """The DOM of a local page, rendered with no network at all (a page that fetches anything breaks)."""
    return _browse([system.tool("unshare"), "--net"], page.resolve().as_uri(), None, SIZE, timeout)


def screenshot_offline(page: Path, path: Path, size: tuple[int, int] = SIZE, timeout: float = 60.0) -> Path:
    _browse([system.tool("unshare"), "--net"], page.resolve().as_uri(), path, size, timeout)
    return path


def _browse(prefix: Sequence[str], url: str, shot: Path | None, size: tuple[int, int], timeout: float) -> str:
    profile = Path(tempfile.mkdtemp(prefix="vrrpkit-chromium-"))
    try:
        cmd = [*prefix, *argv(url, profile, screenshot=shot.resolve() if shot else None, size=size)]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)  # fmt: skip
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            system.send_signal(proc.pid, signal.SIGKILL, group=True)
            proc.communicate()
            raise LabError(f"chromium did not finish {url} within {timeout:g} s") from None
        if proc.returncode != 0 or (shot is not None and not shot.exists()):
            tail = "\n".join(line for line in err.splitlines() if "dbus" not in line.lower())[-800:]
            raise LabError(f"chromium failed on {url} (exit {proc.returncode}): {tail}")
        return out
    finally:
        shutil.rmtree(profile, ignore_errors=True)
