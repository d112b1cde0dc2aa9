"""Who holds the VIP, over time, on several lab hosts: the measuring stick of chaos.py and failover.py.

A `HolderWatch` runs a watcher in each host (kernel address notifications, CLOCK_MONOTONIC stamps)
and collects its lines in background threads, so a benchmark can wait for a state ("h1 holds, h2
does not") and afterwards turn the events of a window into the numbers we compare: seconds without
exactly one holder, seconds with two or more, seconds with none, and how often the set of holders
changed. The watcher is bench/vipwatch.c built with gcc: it stamps a change microseconds after the
kernel sends it and takes no CPU worth naming from the daemons it judges. bench/vipwatch.py is the
fallback without a compiler (~0.2 ms of Python per notification: short double holdings then come
out distorted, see vipwatch.c).
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vrrpkit.lab import Lab

WATCHER = str(Path(__file__).with_name("vipwatch.py"))
WATCHER_C = Path(__file__).with_name("vipwatch.c")


@functools.cache
def watcher() -> list[str]:
    """The watcher's argv: the C one, built once per run, or the Python one without gcc."""
    if shutil.which("gcc") is None:
        return [sys.executable, WATCHER]
    where = tempfile.mkdtemp(prefix="vrrpkit-vipwatch-")
    atexit.register(shutil.rmtree, where, True)
    out = Path(where) / "vipwatch"
    subprocess.run(["gcc", "-O2", "-o", str(out), str(WATCHER_C)], check=True)
    return [str(out)]


@dataclass(frozen=True)
class Timeline:
    seconds: float
    without_one: float  # not exactly one holder
    several: float  # two or more holders (split brain)
    none: float  # nobody holds the VIP
    changes: int  # changes of the set of holders

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "without_one_s": round(self.without_one, 4),
            "several_s": round(self.several, 4),
            "none_s": round(self.none, 4),
            "changes": self.changes,
        }


class HolderWatch:
    def __init__(
        self, lab: Lab, hosts: Iterable[str], address: str, adverts_from: dict[str, str] | None = None
    ) -> None:
        """``adverts_from``: host -> source address whose adverts that host's watcher times too."""
        self.hosts = list(hosts)
        self.events: dict[str, list[tuple[float, bool]]] = {h: [] for h in self.hosts}
        self.adverts: dict[str, list[tuple[float, int]]] = {h: [] for h in self.hosts}
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[str]] = []
        self._threads: list[threading.Thread] = []
        for host in self.hosts:
            extra = ["--adverts-from", adverts_from[host]] if adverts_from and host in adverts_from else []
            proc = lab.popen(
                host,
                [*watcher(), address, *extra],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            self._procs.append(proc)
            thread = threading.Thread(target=self._read, args=(host, proc), daemon=True)
            thread.start()
            self._threads.append(thread)
        if not self.wait(lambda: all(self.events[h] for h in self.hosts), 10):
            self.close()
            raise RuntimeError("vipwatch did not start in every host")

    def _read(self, host: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                if "advert" in doc:
                    self.adverts[host].append((float(doc["t"]), int(doc["advert"])))
                else:
                    self.events[host].append((float(doc["t"]), bool(doc["held"])))

    def holders(self) -> set[str]:
        with self._lock:
            return {h for h, ev in self.events.items() if ev and ev[-1][1]}

    def wait(self, predicate: Any, timeout: float, interval: float = 0.01) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(interval)
        return bool(predicate())

    def wait_holders(self, want: set[str], timeout: float, stable: float = 0.0) -> bool:
        """Until exactly ``want`` holds the VIP, and has for ``stable`` seconds."""
        end = time.monotonic() + timeout
        since: float | None = None
        while time.monotonic() < end:
            if self.holders() == want:
                since = since or time.monotonic()
                if time.monotonic() - since >= stable:
                    return True
            else:
                since = None
            time.sleep(0.01)
        return False

    def first_change(self, host: str, after: float, held: bool) -> float | None:
        """When ``host`` first took (or dropped) the VIP after ``after``."""
        with self._lock:
            return next((t for t, h in self.events[host] if t > after and h == held), None)

    def last_advert(self, host: str, before: float) -> tuple[float, int] | None:
        """The last advert ``host`` heard before ``before`` (time, priority)."""
        with self._lock:
            heard = [a for a in self.adverts[host] if a[0] < before]
        return heard[-1] if heard else None

    def first_advert(self, host: str, after: float) -> tuple[float, int] | None:
        """The first advert ``host`` heard after ``after`` (time, priority)."""
        with self._lock:
            return next((a for a in self.adverts[host] if a[0] > after), None)

    def until_phase(self, host: str, interval: float, fraction: float) -> float:
        """Seconds to sleep so that what comes next falls `fraction` of an interval after an advert
        ``host`` heard (needs ``adverts_from`` for it). Two daemons' runs then meet a fault at the
        same place between two adverts; timed from anything else, the place depends on each
        daemon's advert timer (keepalived's period drifts, vrrpkit's does not)."""
        now = time.monotonic()
        last = self.last_advert(host, now)
        if last is None:
            return fraction * interval
        late = (now - last[0]) % interval
        return (fraction * interval - late) % interval

    def timeline(self, t0: float, t1: float) -> Timeline:
        with self._lock:
            events = {h: list(ev) for h, ev in self.events.items()}
        state = {h: False for h in self.hosts}
        merged: list[tuple[float, str, bool]] = []
        for host, ev in events.items():
            for t, held in ev:
                if t <= t0:
                    state[host] = held
                elif t <= t1:
                    merged.append((t, host, held))
        merged.sort()
        without = several = none = 0.0
        changes = 0
        last = t0

        def account(until: float) -> None:
            nonlocal without, several, none
            n = sum(state.values())
            span = until - last
            if n != 1:
                without += span
            if n >= 2:
                several += span
            if n == 0:
                none += span

        for t, host, held in merged:
            if state[host] == held:
                continue
            account(t)
            last = t
            state[host] = held
            changes += 1
        account(t1)
        return Timeline(t1 - t0, without, several, none, changes)

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
