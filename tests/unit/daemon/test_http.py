"""The daemon's HTTP server (``daemon.http``) under idle, slow and broken clients: answers are
bounded in time, memory and connections, and the loop it shares with the protocol never waits."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable

from vrrpkit.daemon.http import HttpServer


def run(body: Callable[[HttpServer], Awaitable[None]], **kw: object) -> HttpServer:
    calls = {"n": 0}

    def page() -> tuple[str, bytes]:
        calls["n"] += 1
        return "text/plain; version=0.0.4", b"metric 1\n" * 2000  # 18 kB: more than a socket buffer holds

    server = HttpServer({"/metrics": page}, **kw)  # type: ignore[arg-type]

    async def main() -> None:
        await server.start("127.0.0.1", 0)
        try:
            await body(server)
        finally:
            await server.close()

    asyncio.run(main())
    server.routes["calls"] = lambda: ("", str(calls["n"]).encode())  # for the caller to read
    return server


async def get(port: int, raw: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    status = int(data.split(b" ", 2)[1]) if data else 0
    return status, data


def test_routes_methods_and_malformed_requests() -> None:
    async def body(s: HttpServer) -> None:
        status, data = await get(s.port, b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
        assert status == 200 and b"Content-Type: text/plain; version=0.0.4" in data and data.endswith(b"metric 1\n")
        assert (await get(s.port, b"GET /nope HTTP/1.1\r\n\r\n"))[0] == 404
        status, data = await get(s.port, b"POST /metrics HTTP/1.1\r\n\r\n")
        assert status == 405 and b"Allow: GET" in data
        assert (await get(s.port, b"garbage\r\n\r\n"))[0] == 400
        assert (await get(s.port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n"))[0] == 431

    run(body)


def test_an_idle_client_gets_a_timeout() -> None:
    async def body(s: HttpServer) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        data = await asyncio.wait_for(reader.read(), 3)
        writer.close()
        assert data.startswith(b"HTTP/1.1 408")

    run(body, timeout=0.2)


def test_300_idle_clients_no_thread_bounded_connections_and_a_scrape_still_answered() -> None:
    async def body(s: HttpServer) -> None:
        threads = threading.active_count()
        idle = [await asyncio.open_connection("127.0.0.1", s.port) for _ in range(300)]
        await asyncio.sleep(0.2)
        assert threading.active_count() == threads
        assert s.clients <= s.max_clients and s.refused >= 300 - s.max_clients
        for _reader, writer in idle:
            writer.close()
        await asyncio.sleep(0.1)
        assert (await get(s.port, b"GET /metrics HTTP/1.1\r\n\r\n"))[0] == 200

    run(body, max_clients=8, timeout=2.0)


def test_a_slow_reader_is_dropped_and_never_stalls_the_loop() -> None:
    async def body(s: HttpServer) -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        _reader, writer = await asyncio.open_connection("127.0.0.1", s.port, limit=1)
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        writer.transport.pause_reading()  # reads nothing: the server's buffer fills
        writer.write(b"GET /metrics HTTP/1.1\r\n\r\n")
        await asyncio.sleep(0.6)
        assert s.clients == 0  # dropped after its timeout
        task.cancel()
        writer.close()
        assert ticks >= 40  # 0.6 s of 10 ms ticks: the loop ran on

    run(body, timeout=0.3)


def test_a_flood_of_requests_renders_once_per_interval() -> None:
    async def body(s: HttpServer) -> None:
        for _ in range(20):
            assert (await get(s.port, b"GET /metrics HTTP/1.1\r\n\r\n"))[0] == 200

    s = run(body, cache_for=60.0)
    assert s.routes["calls"]() == ("", b"1")
