"""Recording fakes of the daemon's OS adapters (`vrrpkit.daemon.ports`), for tests without root.

They implement the same protocols as the real adapters and remember every call, so tests assert on
what the daemon asked the system to do (addresses added, adverts sent, scripts run, in order)
instead of mocking the daemon's internals. File descriptors are real (pipes), so the asyncio loop
can watch them exactly as it watches raw sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from vrrpkit.core.config import IPAddress, Vip
from vrrpkit.core.packet import InvalidPacket
from vrrpkit.core.routing import Route, Rule
from vrrpkit.daemon.ports import Ports
from vrrpkit.io.routes import Gone
from vrrpkit.io.script_runner import ScriptResult
from vrrpkit.io.scripts import Script
from vrrpkit.io.vrrp_socket import Datagram


class _Fd:
    """A real, readable-on-demand fd: `wake()` makes the loop call the reader."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)

    def fileno(self) -> int:
        return self._r

    def wake(self) -> None:
        os.write(self._w, b"x")

    def _clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._r, 4096):
                pass

    def close(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


@dataclass
class FakeNetlink:
    interfaces: dict[str, bool] = field(default_factory=lambda: {"eth0": True})  # name -> up
    primary: dict[tuple[str, int], IPAddress] = field(
        default_factory=lambda: {("eth0", 4): ip_address("192.0.2.1"), ("eth0", 6): ip_address("fe80::1")}
    )
    addresses: dict[str, set[IPAddress]] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    routes: set[Route] = field(default_factory=set)
    rules: set[Rule] = field(default_factory=set)
    tables: dict[str, int] = field(default_factory=lambda: {"vrrp": 100})
    refuse: set[str] = field(default_factory=set)  # str(route|rule) the kernel refuses (EINVAL)

    def add_vip(self, ifname: str, vip: Vip) -> bool:
        self.calls.append(("add", ifname, str(vip)))
        self.addresses.setdefault(ifname, set()).add(vip.address)
        return True

    def del_vip(self, ifname: str, vip: Vip) -> bool:
        self.calls.append(("del", ifname, str(vip)))
        self.addresses.setdefault(ifname, set()).discard(vip.address)
        return True

    def has_address(self, ifname: str, address: IPAddress) -> bool:
        return address in self.addresses.get(ifname, set())

    def link_is_up(self, ifname: str) -> bool:
        return self.interfaces.get(ifname, False)

    def interface_exists(self, ifname: str) -> bool:
        return ifname in self.interfaces

    def primary_address(self, ifname: str, family: int, exclude: Iterable[IPAddress] = ()) -> IPAddress | None:
        address = self.primary.get((ifname, family))
        return None if address in set(exclude) else address

    def interface_index(self, ifname: str) -> int | None:
        return sorted(self.interfaces).index(ifname) + 2 if ifname in self.interfaces else None

    def _kernel(self, op: str, item: Route | Rule, held: set[Any]) -> bool:
        self.calls.append((op, type(item).__name__.lower(), str(item)))
        if str(item) in self.refuse:
            raise OSError(22, f"Invalid argument: {item}")
        if op.startswith("add"):
            changed = item not in held
            held.add(item)
        else:
            changed = item in held
            held.discard(item)
        return changed

    def add_route(self, route: Route) -> bool:
        return self._kernel("add-route", route, self.routes)

    def del_route(self, route: Route) -> bool:
        return self._kernel("del-route", route, self.routes)

    def add_rule(self, rule: Rule) -> bool:
        return self._kernel("add-rule", rule, self.rules)

    def del_rule(self, rule: Rule) -> bool:
        return self._kernel("del-rule", rule, self.rules)

    def resolve_table(self, table: int | str) -> int:
        if isinstance(table, int):
            return table
        if table not in self.tables:
            raise LookupError(f"routing table {table!r} is not in rt_tables")
        return self.tables[table]


class FakeSocket(_Fd):
    def __init__(self, ifname: str, family: int, group: IPAddress | None, unicast: bool) -> None:
        super().__init__()
        self.ifname, self.family, self.group, self.unicast = ifname, family, group, unicast
        self.sent: list[tuple[bytes, IPAddress, IPAddress]] = []
        self.inbox: list[Datagram] = []
        self.closed = False

    def send(self, data: bytes, dst: IPAddress, src: IPAddress) -> OSError | None:
        self.sent.append((data, dst, src))
        return None

    def deliver(self, payload: bytes, src: str, dst: str = "224.0.0.18", ttl: int = 255) -> None:
        self.inbox.append(Datagram(ip_address(src), ip_address(dst), ttl, payload, self.ifname))
        self.wake()

    def drain(self) -> tuple[list[Datagram], list[InvalidPacket]]:
        self._clear()
        out, self.inbox = self.inbox, []
        return out, []

    def close(self) -> None:
        self.closed = True
        super().close()


@dataclass
class FakeAnnouncer:
    ifname: str
    announced: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)

    def announce(self, vips: Iterable[Vip], count: int) -> int:
        self.announced.append((tuple(str(v.address) for v in vips), count))
        return count

    def frame_for(self, address: IPAddress) -> bytes:
        return str(address).encode()

    def send_frame(self, frame: bytes) -> OSError | None:
        self.frames.append(frame)
        return None

    def close(self) -> None:
        pass


@dataclass
class FakeProber:
    ifname: str
    family: int
    answers: frozenset[str] = frozenset()
    probes: list[IPAddress] = field(default_factory=list)

    def probe(self, address: IPAddress) -> OSError | None:
        self.probes.append(address)
        return None

    def finish(self, address: IPAddress) -> frozenset[str]:
        return self.answers

    def close(self) -> None:
        pass


@dataclass
class FakeFirewall:
    log: list[tuple[str, ...]] = field(default_factory=list)

    def setup(self) -> None:
        self.log.append(("setup",))

    def add(self, ifname: str, addresses: Iterable[IPAddress]) -> None:
        self.log.append(("add", ifname, *map(str, addresses)))

    def remove(self, ifname: str, addresses: Iterable[IPAddress]) -> None:
        self.log.append(("remove", ifname, *map(str, addresses)))

    def teardown(self) -> None:
        self.log.append(("teardown",))


class FakeLinkEvents(_Fd):
    def __init__(self) -> None:
        super().__init__()
        self.pending: list[tuple[str, bool]] = []

    def push(self, ifname: str, up: bool) -> None:
        self.pending.append((ifname, up))
        self.wake()

    def drain(self) -> list[tuple[str, bool]]:
        self._clear()
        out, self.pending = self.pending, []
        return out


class FakeRouteEvents(_Fd):
    """Deletions "someone else" made: `push` them and the daemon's reader sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Gone] = []

    def push(self, *events: Gone) -> None:
        self.pending.extend(events)
        self.wake()

    def drain(self) -> list[Gone]:
        self._clear()
        out, self.pending = self.pending, []
        return out


class FakeRunner:
    """Records notify scripts in the order they were queued, and completes each at once."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, list[str]]] = []
        self.terminated = False

    def notify(self, key: str, script: Script, args: Sequence[str] = ()) -> asyncio.Task[Any]:
        self.queued.append((key, script.command(args)))

        async def done() -> ScriptResult:
            return ScriptResult(returncode=0)

        return asyncio.get_running_loop().create_task(done())

    def terminate_all(self) -> None:
        self.terminated = True


@dataclass
class FakeOs:
    """One fake host: every adapter the daemon can ask for, and what it asked."""

    netlink: FakeNetlink = field(default_factory=FakeNetlink)
    sockets: dict[tuple[str, int], FakeSocket] = field(default_factory=dict)
    announcers: dict[str, FakeAnnouncer] = field(default_factory=dict)
    probers: dict[tuple[str, int], FakeProber] = field(default_factory=dict)
    firewall: FakeFirewall = field(default_factory=FakeFirewall)
    links: FakeLinkEvents | None = None
    route_events: FakeRouteEvents | None = None
    prober_answers: frozenset[str] = frozenset()

    def ports(self) -> Ports:
        def open_socket(ifname: str, family: int, group: IPAddress | None, unicast: bool) -> FakeSocket:
            sock = self.sockets[(ifname, family)] = FakeSocket(ifname, family, group, unicast)
            return sock

        def announcer(ifname: str) -> FakeAnnouncer:
            return self.announcers.setdefault(ifname, FakeAnnouncer(ifname))

        def prober(ifname: str, family: int) -> FakeProber:
            return self.probers.setdefault((ifname, family), FakeProber(ifname, family, self.prober_answers))

        def link_events() -> FakeLinkEvents:
            self.links = FakeLinkEvents()
            return self.links

        def route_events() -> FakeRouteEvents:
            self.route_events = FakeRouteEvents()
            return self.route_events

        return Ports(
            netlink=self.netlink,
            open_socket=open_socket,
            announcer=announcer,
            prober=prober,
            firewall=lambda: self.firewall,
            link_events=link_events,
            route_events=route_events,
        )
