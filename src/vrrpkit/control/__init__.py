"""The control socket: a Unix stream socket speaking one JSON object per line each way.

The daemon serves it (status, stats, reload); `vrrpkit status` and `investigate` are clients. Root
only: the socket is mode 0600 and the server also checks the peer's uid (SO_PEERCRED).
"""

from vrrpkit.control.client import ControlError, default_path, request
from vrrpkit.control.server import ControlServer

__all__ = ["ControlError", "ControlServer", "default_path", "request"]
