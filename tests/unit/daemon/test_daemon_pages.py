"""The status page's routes, over a daemon running on fakes: `/` shows the instance the loop runs,
`/status.json` is the Snapshot, and reading them changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from test_daemon_loop import conf, drive, state, until

from vrrpkit.control.snapshot import Snapshot
from vrrpkit.daemon.app import Daemon
from vrrpkit.daemon.pages import status_routes


def test_the_page_and_the_document_show_what_the_loop_runs(tmp_path: Path) -> None:
    seen: dict[str, tuple[str, bytes]] = {}

    async def body(d: Daemon, fake: object, runner: object) -> None:
        await until(lambda: state(d) == "MASTER", 6.0)
        routes = status_routes(d.snapshot, wall_clock=lambda: 1_764_000_000.0)
        before = d.snapshot().instances[0].counters
        seen.update({path: route() for path, route in routes.items()})
        assert d.snapshot().instances[0].counters == before

    drive(tmp_path, conf(priority=150), body)
    ctype, html = seen["/"]
    assert ctype == "text/html; charset=utf-8"
    page = html.decode()
    assert 'id="instance-VI_1"' in page and "MASTER" in page and "192.0.2.99/24" in page and "<svg" in page
    ctype, doc = seen["/status.json"]
    assert ctype == "application/json"
    snap = Snapshot.from_json(json.loads(doc))
    assert snap.instances[0].name == "VI_1" and snap.instances[0].state == "MASTER"
    assert [(t.old, t.new) for t in snap.instances[0].transitions] == [("INIT", "BACKUP"), ("BACKUP", "MASTER")]
