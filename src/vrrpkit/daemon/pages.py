"""The status page's routes for the daemon's HTTP server: `/` (HTML) and `/status.json` (the Snapshot).

Both are read-only renderings of `Daemon.snapshot()`, taken on the loop between two events (so they
are consistent) and only when someone asks: nothing here runs per advert. The HTTP server caps how
often a route is rendered and how long a client may take, so a page can never hold the loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from vrrpkit.control.snapshot import Snapshot
from vrrpkit.report.status import status_page

Route = Callable[[], tuple[str, bytes]]

HTML = "text/html; charset=utf-8"
JSON = "application/json"


def status_routes(snapshot: Callable[[], Snapshot], wall_clock: Callable[[], float] = time.time) -> dict[str, Route]:
    def page() -> tuple[str, bytes]:
        return HTML, status_page(snapshot(), wall_clock()).encode()

    def document() -> tuple[str, bytes]:
        return JSON, (json.dumps(snapshot().to_json(), sort_keys=True) + "\n").encode()

    return {"/": page, "/status.json": document}
