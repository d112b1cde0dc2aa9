"""What a VRRP socket does while the daemon reads it lazily (every instance on it BACKUP, see
daemon/cycle.py), for both families: a goodbye socket to wake on (io/wake.py), kernel receive
stamps, and batch reads that recognise known adverts by their bytes (io/stamped.py,
io/stamped6.py). The family supplies its reader (`_make_reader`) and the address a unicast
socket is bound to (`_bound`), which its goodbye socket binds too."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from vrrpkit.core.config import IPAddress
from vrrpkit.core.packet import InvalidPacket
from vrrpkit.io.stamped import Batch, Known, LazyReader
from vrrpkit.io.wake import GoodbyeSocket

if TYPE_CHECKING:
    from vrrpkit.io.vrrp_socket import Datagram

T = TypeVar("T")
SO_TIMESTAMPNS = 35  # SO_TIMESTAMPNS_OLD: a struct timespec of two longs per datagram


class LazyReading:
    sock: socket.socket
    ifname: str
    family: int
    stamps: list[float]
    _groups: list[IPAddress]
    _bound: IPAddress | None = None
    _wake: GoodbyeSocket | None = None
    _stamped = False
    _reader: LazyReader | None = None  # made when first read lazily (~80 KB, IPv6 ~260 KB)

    def open_wake(self) -> int | None:
        """The fd of the goodbye socket shadowing this one (made on first use)."""
        if self._wake is None:
            self._wake = GoodbyeSocket(self.ifname, self._groups, None if self._groups else self._bound, self.family)
        return self._wake.fileno()

    def clear_wake(self) -> int:
        return self._wake.clear() if self._wake is not None else 0

    def close_wake(self) -> None:
        if self._wake is not None:
            self._wake.close()
            self._wake = None

    def _joined(self, group: IPAddress) -> None:
        """Another group joined: the next open_wake joins every group."""
        self._groups.append(group)
        self.close_wake()

    def set_stamped(self, on: bool) -> None:
        """Kernel receive timestamps on every datagram (`stamps`), for reads that come late on purpose."""
        if on != self._stamped:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, int(on))
            self._stamped = on
            self.stamps = []
            if on:
                self._lazy().mark()  # the first read looks for a clock step since now
            else:
                self._reader = None

    def _drain_stamped(self, limit: int) -> tuple[list[Datagram], list[InvalidPacket]]:
        """A drain with each datagram's kernel receive time in `stamps` (monotonic clock): read
        late on purpose, a BACKUP's adverts still count from when they arrived."""
        good, bad, self.stamps = self._lazy().drain(self.sock.fileno(), limit)
        return good, bad

    def drain_known(
        self, limit: int, table: Mapping[bytes, Known[T]], check: Callable[[Iterable[Known[T]]], bool]
    ) -> Batch[T]:
        """A lazy read that only says which known adverts came when all of them are
        (io/stamped.py); otherwise the datagrams, in the batch."""
        batch = self._lazy().drain_known(self.sock.fileno(), limit, table, check)
        self.stamps = batch.stamps
        return batch

    def _lazy(self) -> LazyReader:
        if self._reader is None:
            self._reader = self._make_reader()
        return self._reader

    def _make_reader(self) -> LazyReader:
        raise NotImplementedError
