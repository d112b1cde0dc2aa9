"""The status page's routes, over a daemon running on fakes: `/` shows the instance the loop runs,
`/status.json` is the Snapshot, and reading them changes nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from daemon_fakes import FakeOs, FakeRunner
from prometheus_client import CONTENT_TYPE_LATEST
from test_daemon_loop import conf, drive, state, until

from vrrpkit.config import load_string
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


def test_the_daemon_serves_the_pages_beside_metrics_on_its_http_address(tmp_path: Path) -> None:
    """`--metrics ADDR` serves /metrics (unchanged), / and /status.json from the daemon's loop."""
    answers: dict[str, bytes] = {}

    async def get(port: int, path: str) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return data

    async def main() -> None:
        result = load_string(conf(priority=150), filename="keepalived.conf")
        daemon = Daemon(result, files=[], config_id=None, control_path=str(tmp_path / "ctl.sock"),
                        metrics=("127.0.0.1", 0), ports=FakeOs().ports(), runner=FakeRunner())  # fmt: skip
        await daemon.start()
        try:
            await until(lambda: state(daemon) == "MASTER", 6.0)
            assert daemon.http is not None
            for path in ("/", "/status.json", "/metrics"):
                answers[path] = await get(daemon.http.port, path)
        finally:
            await daemon.shutdown()

    asyncio.run(main())
    head, _, body = answers["/"].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Type: text/html; charset=utf-8" in head
    assert b'id="instance-VI_1"' in body and b"MASTER" in body
    head, _, body = answers["/status.json"].partition(b"\r\n\r\n")
    assert b"Content-Type: application/json" in head
    assert Snapshot.from_json(json.loads(body)).instances[0].state == "MASTER"
    head, _, body = answers["/metrics"].partition(b"\r\n\r\n")
    assert f"Content-Type: {CONTENT_TYPE_LATEST}".encode() in head and b'vrrpkit_instance_state{' in body
