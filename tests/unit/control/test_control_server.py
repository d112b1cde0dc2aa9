"""The control socket under hostile or broken clients: every malformed request is answered with an
error, size and nesting are bounded, a client that does not send or does not read is cut off, the
number of clients is capped, and the process umask never changes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from vrrpkit.control import server as srv
from vrrpkit.control.server import ControlServer
from vrrpkit.control.snapshot import InstanceStatus, ScriptStatus, Snapshot, SocketStatus, TrackStatus, TransitionRecord


def serve(tmp_path: Path, body: Callable[[str], Awaitable[None]], handler: Any = None, timeout: float = 0.3) -> None:
    path = str(tmp_path / "ctl.sock")

    def default(message: dict[str, Any]) -> dict[str, Any]:
        if message.get("cmd") == "boom":
            raise RuntimeError("boom")
        return {"ok": True, "echo": message.get("cmd"), "big": "x" * int(message.get("big", 0))}

    async def main() -> None:
        server = ControlServer(path, handler or default, timeout=timeout)
        await server.start()
        try:
            await body(path)
        finally:
            await server.close()

    asyncio.run(main())


async def ask(path: str, data: bytes) -> dict[str, Any] | None:
    reader, writer = await asyncio.open_unix_connection(path, limit=2**24)
    writer.write(data)
    if not data.endswith(b"\n"):
        writer.write_eof()
    await writer.drain()
    try:
        line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    return json.loads(line) if line else None


def test_every_malformed_request_gets_an_error(tmp_path: Path) -> None:
    cases = {
        b"not json\n": "one JSON object per line",
        b"[1, 2]\n": "one JSON object per line",
        b"\xff\xfe\n": "not UTF-8",
        b'{"cmd": ' + b"[" * 5000 + b"]" * 5000 + b"}\n": "nested deeper than 16",
        b"{" + b'"a": "' + b"x" * (srv.MAX_REQUEST + 10) + b'"}\n': f"longer than {srv.MAX_REQUEST}",
        b'{"cmd": "boom"}\n': "internal error: boom",
        b'{"cmd": "x"}': "",  # no newline, then EOF: still answered
    }

    async def body(path: str) -> None:
        for data, expected in cases.items():
            reply = await ask(path, data)
            assert reply is not None, data[:40]
            if expected:
                assert expected in reply["error"], (data[:40], reply)
            else:
                assert reply["ok"] is True

    serve(tmp_path, body)


def test_strings_with_brackets_are_not_nesting() -> None:
    assert srv.nesting('{"a": "[[[[{{{{\\"]]]"}') == 1
    assert srv.parse_request(b'{"cmd": "status", "x": "' + b"[" * 100 + b'"}')[0] is not None


def test_a_silent_client_is_answered_with_a_timeout(tmp_path: Path) -> None:
    async def body(path: str) -> None:
        reader, writer = await asyncio.open_unix_connection(path)
        line = await asyncio.wait_for(reader.readline(), 3)
        writer.close()
        assert "timed out" in json.loads(line)["error"]

    serve(tmp_path, body)


def test_a_client_that_does_not_read_is_cut_off(tmp_path: Path) -> None:
    async def body(path: str) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(path)
        sock.sendall(b'{"cmd": "status", "big": 8000000}\n')  # an 8 MB answer it never reads
        await asyncio.sleep(1.0)  # timeout is 0.3 s
        sock.setblocking(False)
        received = 0
        with pytest.raises(OSError):  # reset by the server, or closed before the whole answer
            while True:
                await asyncio.sleep(0.01)
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionResetError("closed")
                received += len(chunk)
        sock.close()
        assert received < 8_000_000
        assert (await ask(path, b'{"cmd": "ping"}\n')) == {"ok": True, "echo": "ping", "big": ""}

    serve(tmp_path, body)


def test_clients_beyond_the_cap_are_told_busy(tmp_path: Path) -> None:
    async def body(path: str) -> None:
        idle = [await asyncio.open_unix_connection(path) for _ in range(srv.MAX_CLIENTS)]
        await asyncio.sleep(0.05)
        reply = await ask(path, b'{"cmd": "ping"}\n')
        assert reply is not None and reply["error"].startswith("busy")
        for _reader, writer in idle:
            writer.close()

    serve(tmp_path, body, timeout=2.0)


def test_socket_is_0600_and_the_umask_never_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real(mask))

    async def body(path: str) -> None:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ctl.sock"]  # the staging directory is gone

    serve(tmp_path, body)
    assert calls == []


def _status() -> Snapshot:
    """A status of 200 instances, every kind of value a real one carries (nested dataclasses too)."""
    moves = [TransitionRecord(1_764_000_000.0 + i, "BACKUP", "MASTER", "advert", "master down") for i in range(3)]
    instances = [_instance(n, moves) for n in range(1, 201)]
    return Snapshot(pid=1, hostname="h1", uptime=2.0, reloads=0, unknown_vrid_packets=0,
                    scripts={"chk": ScriptStatus(True, 0)}, instances=instances,
                    sockets=[SocketStatus("eth0", 4, received=9)])  # fmt: skip


def _instance(n: int, moves: list[TransitionRecord]) -> InstanceStatus:
    return InstanceStatus(
        name=f"VI_{n}", vrid=n, interface="eth0", version=3, state="BACKUP", base_priority=100,
        effective_priority=100, address="192.0.2.1", master="192.0.2.2", master_priority=200,
        vips=[f"198.51.100.{n}/32"], advert_int=0.1, master_advert_int=0.1, mode="multicast", peers=[],
        time_in_state=1.5, fault_reason=None, counters={"advert_rcvd": n, "dropped": {"bad-ttl": 1}},
        mismatches={"address-list": 0}, split_brain=[], split_brain_events=0, transitions=moves,
        sync_group=None, tracks=[TrackStatus("chk", "script", 10, True)],
    )  # fmt: skip


def test_a_status_is_sent_in_pieces_and_reads_as_the_whole() -> None:
    """The daemon encodes a status one instance at a time (the whole text at once cost it ~2 MB
    for good at 200 instances); a client must read exactly what `to_json` says."""
    snap = _status()
    pieces = list(srv.encode_reply(snap.to_reply()))
    assert len(pieces) > 200 and max(map(len, pieces)) < 2000
    text = b"".join(pieces)
    assert text.endswith(b"\n") and text.count(b"\n") == 1
    assert json.loads(text) == json.loads(json.dumps(snap.to_json()))
    assert Snapshot.from_json(json.loads(text)) == snap


def test_a_status_crosses_the_socket_whole(tmp_path: Path) -> None:
    snap = _status()

    async def body(path: str) -> None:
        reply = await ask(path, b'{"cmd": "status"}\n')
        assert reply is not None and Snapshot.from_json(reply) == snap

    serve(tmp_path, body, handler=lambda message: snap.to_reply())
