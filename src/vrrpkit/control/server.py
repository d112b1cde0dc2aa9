"""asyncio server side of the control socket: one JSON object per line in, one out, root only.

Every request gets an answer or a closed connection within a bounded time and memory, whatever
the client sends: a request longer than ``MAX_REQUEST`` bytes, nested deeper than ``MAX_DEPTH``,
not UTF-8, not JSON or not an object is answered with an error; a client that sends nothing for
``TIMEOUT`` seconds, or does not read its answer within ``TIMEOUT``, is cut off; at most
``MAX_CLIENTS`` are served at once (the next ones are told "busy"). The socket is created 0600 in
a private directory and renamed into place, so the process umask is never changed (a script
started meanwhile would inherit it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]] | dict[str, Any]]

MAX_REQUEST = 64 * 1024
MAX_DEPTH = 16
MAX_CLIENTS = 16
TIMEOUT = 5.0
log = logging.getLogger("vrrpkit")


class ControlServer:
    def __init__(self, path: str, handler: Handler, timeout: float = TIMEOUT) -> None:
        self.path = path
        self.handler = handler
        self.timeout = timeout
        self._server: asyncio.AbstractServer | None = None
        self._clients = 0

    async def start(self) -> None:
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o755, exist_ok=True)
        # what tempfile.mkdtemp does (a fresh name, 0700: nobody else can reach it), without importing
        # tempfile and the random module into the daemon for this one call
        private = os.path.join(directory, f".vrrpkit-ctl-{os.urandom(8).hex()}")
        os.mkdir(private, 0o700)
        staging = os.path.join(private, "s")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(staging)
            os.chmod(staging, 0o600)
            os.replace(staging, self.path)
            sock.listen(64)
            self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_REQUEST)
        except BaseException:
            sock.close()
            raise
        finally:
            with contextlib.suppress(OSError):
                os.unlink(staging)
            os.rmdir(private)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients += 1
        try:
            if self._clients > MAX_CLIENTS:
                reply: dict[str, Any] = {"error": "busy: too many control clients, try again"}
            else:
                reply = await self._answer(reader, writer)
            if reply:
                for piece in encode_reply(reply):
                    writer.write(piece)
                await asyncio.wait_for(writer.drain(), self.timeout)
        except (TimeoutError, ConnectionError):
            writer.transport.abort()  # a client that does not read its answer is dropped
        finally:
            self._clients -= 1
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> dict[str, Any]:
        sock = writer.get_extra_info("socket")
        if sock is not None and _peer_uid(sock) not in (0, os.geteuid()):
            return {"error": "permission denied: root only"}
        try:
            line = await asyncio.wait_for(reader.readuntil(b"\n"), self.timeout)
        except TimeoutError:
            return {"error": f"timed out: no request within {self.timeout:g} s"}
        except asyncio.LimitOverrunError:
            return {"error": f"bad request: longer than {MAX_REQUEST} bytes"}
        except asyncio.IncompleteReadError as exc:
            if not exc.partial.strip():
                return {}  # connected and left: nothing to answer
            line = exc.partial
        message, problem = parse_request(line)
        if message is None:
            return {"error": f"bad request: {problem}"}
        try:
            result = self.handler(message)
            return await result if asyncio.iscoroutine(result) else result  # type: ignore[return-value]
        except Exception as exc:  # a bug in one command must not cost the daemon, nor go unanswered
            log.exception("control request %r failed", message.get("cmd"))
            return {"error": f"internal error: {exc}"}


def encode_reply(reply: dict[str, Any]) -> Iterator[bytes]:
    """``reply`` as one line of JSON, in pieces: a list's elements (a status's instances) are
    encoded one at a time, dataclasses among them only then turned into dicts. A status of 200
    instances is about half a megabyte of text; built whole, with every instance's dict alive at
    once, it left the daemon some 2 MB bigger for good (the allocators keep what a peak took)."""
    yield b"{"
    for n, (key, value) in enumerate(reply.items()):
        yield (", " if n else "").encode() + json.dumps(str(key)).encode() + b": "
        if isinstance(value, list):
            yield b"["
            for i, item in enumerate(value):
                yield (", " if i else "").encode() + json.dumps(item, default=_plain).encode()
            yield b"]"
        else:
            yield json.dumps(value, default=_plain).encode()
    yield b"}\n"


def _plain(value: Any) -> Any:
    """What JSON cannot say directly: a dataclass as its fields, anything else as its text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def parse_request(line: bytes) -> tuple[dict[str, Any] | None, str]:
    """One request line as a JSON object, or None and why not. Bounded before parsing: the JSON
    parser recurses per nesting level."""
    if len(line) > MAX_REQUEST:
        return None, f"longer than {MAX_REQUEST} bytes"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    if text.count("[") + text.count("{") > MAX_DEPTH and nesting(text) > MAX_DEPTH:
        return None, f"nested deeper than {MAX_DEPTH} levels"
    try:
        message = json.loads(text)
    except ValueError:
        return None, "one JSON object per line expected"
    if not isinstance(message, dict):
        return None, "one JSON object per line expected"
    return message, ""


def nesting(text: str) -> int:
    """The deepest nesting of JSON arrays/objects in ``text`` (brackets inside strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)
