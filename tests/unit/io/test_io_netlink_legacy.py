"""The pyroute2 < 0.9.1 path (Debian 12's 0.7.2): AsyncIPRoute's surface over the sync IPRoute."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from vrrpkit.io import consts, netlink


class RecordingIPRoute:
    """pyroute2's synchronous IPRoute as the adapter uses it: calls recorded, dumps as lists."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.threads: set[str] = set()
        self.closed = False

    def _record(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        self.calls.append((name, args, kwargs))
        self.threads.add(threading.current_thread().name)
        return [{"name": name, "n": i} for i in range(2)]

    def addr(self, *args: Any, **kwargs: Any) -> list[Any]:
        return self._record("addr", args, kwargs)

    def get_links(self) -> list[Any]:
        return self._record("get_links", (), {})

    def get_addr(self) -> list[Any]:
        return self._record("get_addr", (), {})

    def close(self) -> None:
        self.closed = True


def test_lifetimes_move_into_cacheinfo_where_old_pyroute2_reads_them() -> None:
    """0.7.x/0.8.x ignore preferred_lft/valid_lft keywords: an address added through the threaded
    adapter with lifetimes (as keepalived deprecates a /128 VIP) would stay preferred. VIPs themselves
    go out as raw rtnetlink messages (VipRequest.add_body), which carry IFA_CACHEINFO directly."""
    kwargs = {"index": 3, "address": "2001:db8::101", "prefixlen": 128, "family": 10, "preferred_lft": 0}
    legacy = netlink.legacy_addr_kwargs(kwargs)
    assert "preferred_lft" not in legacy and "valid_lft" not in legacy
    assert legacy["cacheinfo"] == {"preferred": 0, "valid": consts.INFINITY_LIFE_TIME}
    assert {k: v for k, v in legacy.items() if k != "cacheinfo"} == {
        k: v for k, v in kwargs.items() if k not in ("preferred_lft", "valid_lft")
    }
    plain = {"index": 3, "address": "192.0.2.1"}
    assert netlink.legacy_addr_kwargs(plain) is plain


def test_threaded_iproute_runs_calls_off_the_loop_and_iterates_like_asynciproute() -> None:
    sync = RecordingIPRoute()
    ipr = netlink.ThreadedIPRoute(sync)

    async def main() -> list[Any]:
        seen = [m async for m in await ipr.addr("dump", family=10, index=3)]
        seen += [m async for m in await ipr.get_links()]
        await ipr.addr("add", index=3, address="2001:db8::1", preferred_lft=0, valid_lft=5)
        return seen

    seen = asyncio.run(main())
    assert [m["name"] for m in seen] == ["addr", "addr", "get_links", "get_links"]
    assert sync.calls[0] == ("addr", ("dump",), {"family": 10, "index": 3})
    assert sync.calls[2][2] == {"index": 3, "address": "2001:db8::1", "cacheinfo": {"preferred": 0, "valid": 5}}
    assert threading.main_thread().name not in sync.threads
    ipr.close()
    assert sync.closed
