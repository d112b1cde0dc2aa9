"""The control socket: a Unix stream socket speaking one JSON object per line each way.

The daemon serves it (status, stats, reload); `vrrpkit status` and `investigate` are clients. Root
only: the socket is mode 0600 and the server also checks the peer's uid (SO_PEERCRED).

The server (asyncio) is imported only by whoever asks for it: a client, or `vrrpkit.control.snapshot`
read by the CLI, must not pull the event loop in.
"""

from typing import Any

from vrrpkit.control.client import ControlError, default_path, request

__all__ = ["ControlError", "ControlServer", "default_path", "request"]


def __getattr__(name: str) -> Any:
    if name == "ControlServer":
        from vrrpkit.control.server import ControlServer

        return ControlServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
