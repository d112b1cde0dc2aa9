"""Blocking client for the control socket (the CLI and diagnostics are not asyncio programs)."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

DEFAULT_PATH = "/run/vrrpkit/vrrpkit.sock"


class ControlError(Exception):
    """The daemon could not be reached or answered with an error."""


def default_path(explicit: str | None = None) -> str:
    """--control, else $VRRPKIT_CONTROL, else /run/vrrpkit/vrrpkit.sock (design.md)."""
    return explicit or os.environ.get("VRRPKIT_CONTROL") or DEFAULT_PATH


def request(path: str, command: str, timeout: float = 5.0, **args: Any) -> dict[str, Any]:
    message = json.dumps({"cmd": command, **args}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(message)
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except OSError as exc:
        raise ControlError(f"cannot reach vrrpkit at {path}: {exc.strerror or exc}") from exc
    try:
        reply = json.loads(buf)
    except ValueError as exc:
        raise ControlError(f"bad reply from {path}") from exc
    if not isinstance(reply, dict):
        raise ControlError(f"bad reply from {path}")
    if reply.get("error"):
        raise ControlError(str(reply["error"]))
    return reply
