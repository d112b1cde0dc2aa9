"""A small HTTP/1.1 server on the daemon's own asyncio loop: metrics today, a status page tomorrow.

Why not prometheus_client's server: it starts a thread per connection with no read timeout and no
cap (300 idle local clients took the daemon from 3 to 303 threads), and its collector read the
daemon's state from those threads while the loop changed it. Here every connection is a coroutine
on the loop that runs the protocol, so a page is rendered from one consistent state between two
events, and the costs are bounded whatever clients do:

* at most ``max_clients`` connections are open; one more is answered 503 and closed at once (it is
  accepted, so the listen queue never fills and a real scrape is never stuck behind it);
* the request head must arrive within ``timeout`` and fit in ``max_request`` bytes (431 otherwise);
* the answer must be taken within ``timeout`` (a client reading a byte a second is dropped); the
  loop only ever appends to a socket buffer, it never waits on a client;
* GET only (405), one request per connection (``Connection: close``), no body read;
* each route is rendered at most once per ``cache_for`` seconds, so a flood of requests costs the
  loop one rendering per interval, not one per request.

A route is a function returning (content type, body); adding a page is one more entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

Route = Callable[[], tuple[str, bytes]]
log = logging.getLogger("vrrpkit")

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class HttpServer:
    def __init__(
        self,
        routes: Mapping[str, Route],
        *,
        max_clients: int = 32,
        timeout: float = 5.0,
        max_request: int = 8192,
        cache_for: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.routes = dict(routes)
        self.max_clients = max_clients
        self.timeout = timeout
        self.max_request = max_request
        self.cache_for = cache_for
        self.clock = clock
        self.clients = 0
        self.refused = 0  # connections answered 503 because of the cap
        self._server: asyncio.Server | None = None
        self._cache: dict[str, tuple[float, str, bytes]] = {}

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, limit=self.max_request, backlog=128)

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    def render(self, path: str) -> tuple[str, bytes]:
        """The route's page, from the cache when it is fresh."""
        now = self.clock()
        cached = self._cache.get(path)
        if cached is not None and now - cached[0] < self.cache_for:
            return cached[1], cached[2]
        ctype, body = self.routes[path]()
        self._cache[path] = (now, ctype, body)
        return ctype, body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients += 1
        try:
            if self.clients > self.max_clients:
                self.refused += 1
                status, ctype, body = 503, "text/plain", b"too many clients\n"
            else:
                status, ctype, body = await self._answer(reader)
            head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n")  # fmt: skip
            if status == 405:
                head += "Allow: GET\r\n"
            writer.write(head.encode() + b"\r\n" + body)
            await asyncio.wait_for(writer.drain(), self.timeout)
        except (TimeoutError, ConnectionError):
            writer.transport.abort()
        finally:
            self.clients -= 1
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, str, bytes]:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
        except TimeoutError:
            return 408, "text/plain", b"request timeout\n"
        except asyncio.LimitOverrunError:
            return 431, "text/plain", b"request too large\n"
        except asyncio.IncompleteReadError:
            return 400, "text/plain", b"incomplete request\n"
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            return 400, "text/plain", b"bad request line\n"
        method, target = parts[0], parts[1].decode("latin-1")
        if method != b"GET":
            return 405, "text/plain", b"GET only\n"
        path = target.split("?", 1)[0]
        if path not in self.routes:
            return 404, "text/plain", b"not found\n"
        try:
            ctype, body = self.render(path)
        except Exception:  # a bug in one page must cost that answer, never the loop
            log.exception("rendering %s failed", path)
            return 500, "text/plain", b"internal error\n"
        return 200, ctype, body
