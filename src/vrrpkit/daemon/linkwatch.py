"""Where instances learn whether a link is up: netlink events, or a poll of the driver for linkbeat
interfaces, both through keepalived's up/down debouncing.

`linkbeat_interfaces` (and `linkbeat_use_polling`, top-level for every interface instances use, or
in an instance for its own) replace netlink for those interfaces with a carrier poll once a second
(keepalived's polling period); `interface_up_down_delays` hold a change back until it has lasted
the delay (`core.debounce`), and a VMAC inherits its base interface's delays as in keepalived.
"""

from __future__ import annotations

from collections.abc import Iterable

from vrrpkit.config.model import InterfaceSettings
from vrrpkit.core.config import InstanceConfig
from vrrpkit.core.debounce import LinkDebouncer
from vrrpkit.daemon.ports import Ports

POLL_INTERVAL = 1.0

Change = tuple[str, bool]


def watched(cfg: InstanceConfig) -> tuple[str, ...]:
    """The links an instance's own state depends on: its interface and, with use_vmac, its VMAC."""
    return (cfg.interface, cfg.vmac.name) if cfg.vmac is not None else (cfg.interface,)


class LinkWatch:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.debouncer = LinkDebouncer({})
        self.polled: dict[str, str] = {}  # ifname -> preferred linkbeat method ("" = MII, ETHTOOL, IOCTL)

    def configure(self, settings: InterfaceSettings, instances: Iterable[InstanceConfig]) -> None:
        """Which interfaces are polled and which are debounced, for this configuration."""
        configs = list(instances)
        polled = dict(settings.linkbeat)
        for cfg in configs:
            if cfg.linkbeat_polled:  # the deprecated per-instance linkbeat_use_polling: its own interface
                polled.setdefault(cfg.interface, "")
            if settings.linkbeat_all:
                used = [cfg.interface, *(t.name for t in cfg.tracks if t.kind.value == "interface")]
                polled.update({name: polled.get(name, "") for name in used})
        self.polled = polled
        delays = dict(settings.delays_us)
        for cfg in configs:
            for link in cfg.vmac_links:
                if link.base in delays:
                    delays.setdefault(link.name, delays[link.base])
        self.debouncer.delays_us = delays

    def _read(self, ifname: str) -> bool:
        if ifname in self.polled:
            return bool(self.ports.carrier(ifname, self.polled[ifname]))
        return self.ports.netlink.link_is_up(ifname)

    def is_up(self, ifname: str) -> bool:
        """What instances were last told (reading the link the first time it is asked about)."""
        known = self.debouncer.reported(ifname)
        if known is None:
            known = self._read(ifname)
            self.debouncer.initial(ifname, known)
        return known

    def instance_up(self, cfg: InstanceConfig) -> bool:
        """An instance's own links are up: its interface and, with use_vmac, its VMAC (which must exist)."""
        return all(self.ports.netlink.interface_exists(n) and self.is_up(n) for n in watched(cfg))

    def refresh(self, ifname: str) -> bool:
        """Read a link again at once, no debouncing (a VMAC just made, or gone)."""
        up = self._read(ifname)
        self.debouncer.initial(ifname, up)
        return up

    def netlink_events(self, events: Iterable[Change], now: float) -> list[Change]:
        """Link events from netlink, minus the polled interfaces', through the debouncer."""
        out: list[Change] = []
        for ifname, up in events:
            if ifname not in self.polled:
                out += self.debouncer.changed(ifname, up, now)
        return out

    def poll(self, now: float) -> list[Change]:
        out: list[Change] = []
        for ifname, kind in self.polled.items():
            out += self.debouncer.changed(ifname, bool(self.ports.carrier(ifname, kind)), now)
        return out

    def get_timer(self) -> float | None:
        return self.debouncer.get_timer()

    def handle_timer(self, now: float) -> list[Change]:
        return self.debouncer.handle_timer(now)
