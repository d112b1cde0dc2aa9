"""Recording fakes of the daemon's OS adapters (`vrrpkit.daemon.ports`), for tests without root.

They implement the same protocols as the real adapters and remember every call, so tests assert on
what the daemon asked the system to do (addresses added, adverts sent, scripts run, in order)
instead of mocking the daemon's internals. File descriptors are real (pipes), so the asyncio loop
can watch them exactly as it watches raw sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any, TypeVar

from vrrpkit.core.config import IPAddress, IPInterface, Vip, VmacLink
from vrrpkit.core.effects import SendAdvert
from vrrpkit.core.packet import InvalidPacket
from vrrpkit.core.routing import Route, Rule
from vrrpkit.daemon.ports import Ports
from vrrpkit.io.routes import Gone
from vrrpkit.io.script_runner import ScriptResult
from vrrpkit.io.scripts import Script
from vrrpkit.io.stamped import Batch, Known, known_key
from vrrpkit.io.vmac import LinkState
from vrrpkit.io.vrrp_filter import FilterSpec
from vrrpkit.io.vrrp_socket import Datagram

T = TypeVar("T")


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
    journal: list[tuple[object, ...]] = field(default_factory=list)  # shared with the sockets: one order
    prepared: list[tuple[str, str]] = field(default_factory=list)  # prepare_vip calls (ifname, vip)
    remakes: dict[str, int] = field(default_factory=dict)  # name -> times deleted and made again (new index)

    def add_vip(self, ifname: str, vip: Vip) -> bool:
        self.calls.append(("add", ifname, str(vip)))
        self.journal.append(("add", ifname, str(vip)))
        self.addresses.setdefault(ifname, set()).add(vip.address)
        return True

    def prepare_vip(self, ifname: str, vip: Vip) -> None:
        self.prepared.append((ifname, str(vip)))

    def del_vip(self, ifname: str, vip: Vip) -> bool:
        self.calls.append(("del", ifname, str(vip)))
        self.journal.append(("del", ifname, str(vip)))
        held = self.addresses.setdefault(ifname, set())
        there = vip.address in held
        held.discard(vip.address)
        return there  # as the kernel's EADDRNOTAVAIL says: it was not there

    def has_address(self, ifname: str, address: IPAddress) -> bool:
        return address in self.addresses.get(ifname, set())

    def link_is_up(self, ifname: str) -> bool:
        return self.interfaces.get(ifname, False)

    def interface_exists(self, ifname: str) -> bool:
        return ifname in self.interfaces

    def primary_address(self, ifname: str, family: int, exclude: Iterable[IPAddress] = ()) -> IPAddress | None:
        address = self.primary.get((ifname, family))
        return None if address in set(exclude) else address

    def interface_names(self) -> list[str]:
        return sorted(self.interfaces)


    def interface_index(self, ifname: str) -> int | None:
        if ifname not in self.interfaces:
            return None
        return sorted(self.interfaces).index(ifname) + 2 + 100 * self.remakes.get(ifname, 0)

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


@dataclass
class FakeVmacs:
    """Links as the kernel would keep them; `refuse` makes create() fail (a kernel without ipvlan, ...)."""

    netlink: FakeNetlink
    links: dict[str, LinkState] = field(default_factory=dict)  # the non-VMAC ones are derived from netlink
    macs: dict[str, bytes] = field(default_factory=dict)  # interface -> MAC, 02:00:00:00:00:01 unless set
    calls: list[tuple[str, ...]] = field(default_factory=list)
    refuse: dict[str, OSError] = field(default_factory=dict)  # NAME (or "up:NAME") -> what create (set_up) raises

    def state(self, name: str) -> LinkState | None:
        if name in self.links:
            return self.links[name]
        if name in self.netlink.interfaces:
            return LinkState(name, 100 + sorted(self.netlink.interfaces).index(name), "veth", None, None,
                             b"\x02\0\0\0\0\x01", True)
        return None

    def create(self, link: VmacLink) -> None:
        self.calls.append(("create", link.name, link.base))
        if link.name in self.refuse:
            raise self.refuse[link.name]
        base = self.state(link.base)
        assert base is not None
        self.links[link.name] = LinkState(link.name, 200 + len(self.links), link.kind,
                                          "private" if link.kind == "macvlan" else None, base.index, link.mac, False)
        self.netlink.interfaces[link.name] = False

    def delete(self, name: str, kind: str) -> bool:
        self.calls.append(("delete", name))
        state = self.links.get(name)
        if state is None or state.kind != kind:
            return False
        del self.links[name]
        self.netlink.interfaces.pop(name, None)
        return True

    def set_up(self, name: str) -> None:
        self.calls.append(("up", name))
        if f"up:{name}" in self.refuse:
            raise self.refuse[f"up:{name}"]
        self.links[name] = dataclasses.replace(self.links[name], up=True)
        self.netlink.interfaces[name] = True

    def add_address(self, name: str, address: IPInterface) -> None:
        self.calls.append(("addr", name, str(address)))

    def mac(self, ifname: str) -> bytes:
        return self.macs.get(ifname, b"\x02\0\0\0\0\x01")


@dataclass
class FakeSysctl:
    """/proc/sys as a dict; unknown interface sysctls read as 0 while the interface exists."""

    netlink: FakeNetlink
    values: dict[str, int] = field(default_factory=dict)
    writes: list[tuple[str, int]] = field(default_factory=list)

    def read(self, name: str) -> int | None:
        if name in self.values:
            return self.values[name]
        parts = name.split("/")
        if len(parts) == 5 and parts[2] == "conf" and parts[3] not in ("all", "default") \
                and parts[3] not in self.netlink.interfaces:
            return None
        return 0

    def write(self, name: str, value: int) -> None:
        self.writes.append((name, value))
        self.values[name] = value


class FakeSocket(_Fd):
    def __init__(
        self, ifname: str, family: int, group: IPAddress | None, unicast: bool, journal: list[tuple[object, ...]]
    ) -> None:
        super().__init__()
        self.journal = journal
        self.ifname, self.family, self.group, self.unicast = ifname, family, group, unicast
        self.ifindex = 0  # set by the fake netlink's open_socket
        self.sent: list[tuple[bytes, IPAddress, IPAddress]] = []
        self.ttls: list[int] = []
        self.groups: list[IPAddress] = [group] if group is not None else []
        self.inbox: list[Datagram] = []
        self._parsed: dict[tuple[bytes, str, str, int], Datagram] = {}
        self.closed = False
        self.filters: list[FilterSpec] = []  # every kernel filter the daemon attached, in order
        self.filter: FilterSpec | None = None
        self.reads: list[int] = []  # how many datagrams each drain() returned
        self.bursts: list[int] = []  # how many adverts each send_many() carried
        self.rcvbuf = 0
        self.link_mtu: int | None = 1450  # not 1500, the fallback: tests see the MTU was read
        # lazy reading: off unless a test turns it on (`wakeable`), as an IPv6 socket has none
        self.wakeable = False
        self.wake_fd: _Fd | None = None
        self.stamped = False
        self.stamps: list[float] = []
        self.arrivals: list[float] = []  # with `stamped`: the arrival of each inbox datagram
        self.arrivals_asked = 0  # calls of arrived(): the kernel's receive time of the last read
        self.last_arrival: float | None = None

    def send(self, data: bytes, dst: IPAddress, src: IPAddress, ttl: int = 255) -> OSError | None:
        self.sent.append((data, dst, src))
        self.ttls.append(ttl)
        self.journal.append(("send", data[1], data[2]))  # VRID, priority
        return None

    def send_many(self, adverts: Sequence[SendAdvert]) -> list[OSError | None]:
        self.bursts.append(len(adverts))
        return [self.send(a.data, a.dst, a.src, a.ttl) for a in adverts]

    def join(self, group: IPAddress) -> None:
        self.groups.append(group)

    def set_rcvbuf(self, size: int) -> None:
        self.rcvbuf = size

    def mtu(self) -> int | None:
        return self.link_mtu

    def deliver(
        self, payload: bytes, src: str, dst: str = "224.0.0.18", ttl: int = 255, at: float | None = None
    ) -> None:
        """Queue a datagram; ``at``: when it arrived (monotonic; default now), what a stamped read says."""
        key = (payload, src, dst, ttl)
        datagram = self._parsed.get(key)  # the real socket's parse cache: the same bytes, the same objects
        if datagram is None:
            datagram = self._parsed[key] = Datagram(ip_address(src), ip_address(dst), ttl, payload, self.ifname)
        self.inbox.append(datagram)
        self.arrivals.append(time.monotonic() if at is None else at)
        self.wake()
        if self.wake_fd is not None and len(payload) > 2 and payload[2] == 0:
            self.wake_fd.wake()  # the goodbye socket's filter: priority 0 only

    def open_wake(self) -> int | None:
        if not self.wakeable:
            return None
        if self.wake_fd is None:
            self.wake_fd = _Fd()
        return self.wake_fd.fileno()

    def clear_wake(self) -> int:
        if self.wake_fd is not None:
            self.wake_fd._clear()
        return 0

    def close_wake(self) -> None:
        if self.wake_fd is not None:
            self.wake_fd.close()
            self.wake_fd = None
            self.journal.append(("eager", self.ifname))  # the goodbye socket goes with lazy reading

    def set_stamped(self, on: bool) -> None:
        self.stamped = on

    def drain(self, limit: int = 64) -> tuple[list[Datagram], list[InvalidPacket]]:
        out, self.inbox = self.inbox[:limit], self.inbox[limit:]
        stamps, self.arrivals = self.arrivals[:limit], self.arrivals[limit:]
        self.stamps = stamps if self.stamped else []
        if stamps:
            self.last_arrival = stamps[-1]
        if not self.inbox:
            self._clear()  # readable for as long as something is queued, as a socket is
        self.reads.append(len(out))
        if out:
            self.journal.append(("read", len(out)))
        return out, []

    def drain_known(
        self, limit: int, table: Mapping[bytes, Known[T]], check: Callable[[Iterable[Known[T]]], bool]
    ) -> Batch[T]:
        """The real socket's contract (io/stamped.py) on the inbox: a batch of nothing but known
        adverts (same addresses, payload and TTL) comes back as which came and when."""
        batch = self.inbox[:limit]
        seen = [table.get(known_key(d.src, d.dst, d.payload)) for d in batch] if self.stamped else []
        entries = [k for k, d in zip(seen, batch, strict=False) if k is not None and k.ttl == d.ttl]
        if batch and len(entries) == len(batch):
            last = dict(zip(entries, self.arrivals[: len(batch)], strict=True))
            if check(last):
                del self.inbox[: len(batch)], self.arrivals[: len(batch)]
                if not self.inbox:
                    self._clear()
                self.reads.append(len(batch))
                self.journal.append(("known", len(batch)))
                return Batch(len(batch), last, entries, [], [], [])
        good, bad = self.drain(limit)
        return Batch(len(good), None, [], good, bad, self.stamps)

    def set_filter(self, spec: FilterSpec) -> None:
        self.filters.append(spec)
        self.filter = spec

    def kernel_drops(self) -> int | None:
        return 0

    def arrived(self) -> float | None:
        """What SIOCGSTAMPNS says: when the last datagram read arrived (None before any)."""
        self.arrivals_asked += 1
        return self.last_arrival

    def close(self) -> None:
        self.closed = True
        self.close_wake()
        super().close()


@dataclass
class FakeAnnouncer:
    ifname: str
    announced: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)
    mac_reads: int = 0  # refresh_mac() calls
    ifindex: int = 0

    def announce(self, vips: Iterable[Vip], count: int) -> int:
        self.announced.append((tuple(str(v.address) for v in vips), count))
        return count

    def refresh_mac(self) -> None:
        self.mac_reads += 1

    def frame_for(self, address: IPAddress) -> bytes:
        return str(address).encode()

    def send_frame(self, frame: bytes) -> OSError | None:
        self.frames.append(frame)
        return None

    def close(self) -> None:
        self.closed = True

    closed: bool = False


@dataclass
class FakeProber:
    ifname: str
    family: int
    answers: frozenset[str] = frozenset()
    probes: list[IPAddress] = field(default_factory=list)
    rounds: int = 0
    ifindex: int = 0

    def probe_all(self, addresses: Iterable[IPAddress]) -> list[tuple[IPAddress, OSError]]:
        self.probes.extend(addresses)
        self.rounds += 1
        return []

    def finish(self, address: IPAddress) -> frozenset[str]:
        return self.answers

    def finish_all(self, addresses: Iterable[IPAddress]) -> list[frozenset[str]]:
        return [self.finish(a) for a in addresses]

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

    def configure(self, table: str, priority: int, counters: bool) -> None:
        self.log.append(("configure", table, str(priority), str(counters)))

    def add_vmac(self, vmac: str, base: str, family: int) -> None:
        self.log.append(("add_vmac", vmac, base, str(family)))

    def remove_vmac(self, vmac: str, base: str, family: int) -> None:
        self.log.append(("remove_vmac", vmac, base, str(family)))


class FakeTimer(_Fd):
    """The loop's protocol timer on the loop's own clock: readable from ``arm``'s time on."""

    def __init__(self) -> None:
        super().__init__()
        self.armed_at: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self.fired = 0

    def arm(self, when: float | None) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.armed_at = when
        if when is not None:
            self._handle = asyncio.get_running_loop().call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self.fired += 1
        self.wake()

    def clear(self) -> None:
        self._clear()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        super().close()


class FakeLinkEvents(_Fd):
    def __init__(self) -> None:
        super().__init__()
        self.pending: list[tuple[str, bool]] = []
        self.overruns = 0

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
        self.overruns = 0

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
    timers: list[FakeTimer] = field(default_factory=list)
    prober_answers: frozenset[str] = frozenset()
    carrier: dict[str, bool] = field(default_factory=dict)  # linkbeat answers
    polls: list[tuple[str, str]] = field(default_factory=list)
    wakeable: bool = False  # sockets with a goodbye socket (lazy reading while all BACKUP)
    vmacs: FakeVmacs = field(init=False)
    sysctl: FakeSysctl = field(init=False)

    def __post_init__(self) -> None:
        self.vmacs = FakeVmacs(self.netlink)
        self.sysctl = FakeSysctl(self.netlink)

    def ports(self) -> Ports:
        def open_socket(ifname: str, family: int, group: IPAddress | None, unicast: bool) -> FakeSocket:
            if ifname not in self.netlink.interfaces:  # as if_nametoindex fails for the real socket
                raise OSError(errno.ENODEV, f"no such interface: {ifname}")
            sock = self.sockets[(ifname, family)] = FakeSocket(ifname, family, group, unicast, self.netlink.journal)
            sock.ifindex = self.netlink.interface_index(ifname) or 0
            sock.wakeable = self.wakeable
            return sock

        def announcer(ifname: str) -> FakeAnnouncer:
            made = self.announcers.get(ifname)
            if made is None or made.closed:  # a closed one was bound to an interface made anew
                index = self.netlink.interface_index(ifname) or 0
                made = self.announcers[ifname] = FakeAnnouncer(ifname, ifindex=index)
            return made

        def prober(ifname: str, family: int) -> FakeProber:
            index = self.netlink.interface_index(ifname) or 0
            made = self.probers.get((ifname, family))
            if made is None or made.ifindex != index:  # one bound to an interface made anew is replaced
                made = self.probers[(ifname, family)] = FakeProber(ifname, family, self.prober_answers, ifindex=index)
            return made

        def link_events() -> FakeLinkEvents:
            self.links = FakeLinkEvents()
            return self.links

        def carrier(ifname: str, kind: str) -> bool | None:
            self.polls.append((ifname, kind))
            return self.carrier.get(ifname, self.netlink.interfaces.get(ifname))

        def route_events() -> FakeRouteEvents:
            self.route_events = FakeRouteEvents()
            return self.route_events

        def timer() -> FakeTimer:
            self.timers.append(FakeTimer())
            return self.timers[-1]

        return Ports(
            netlink=self.netlink,
            open_socket=open_socket,
            announcer=announcer,
            prober=prober,
            firewall=lambda: self.firewall,
            link_events=link_events,
            vmacs=self.vmacs,
            sysctl=self.sysctl,
            carrier=carrier,
            route_events=route_events,
            timer=timer,
        )
