"""Turns the core's effects into system calls, log lines, notify scripts, FIFO lines and mails.

Everything here is decided already: the router said what to send, add, remove or run. This part
only picks the adapter (socket by interface and family, announcer by interface, the no_accept
firewall when an instance does not accept VIP traffic) and says it in keepalived's words, so that
people who grep for "Entering MASTER STATE" find us. Around the VIPs it keeps keepalived's order:
VIPs, then virtual routes and rules on the way in; rules and routes, then VIPs on the way out
(`routes.RouteKeeper`). A state notification goes to the scripts, then the notify FIFOs, then
mail, as vrrp_notify.c sends them. A failing adapter costs one effect, never the loop (the caller
catches and logs).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from vrrpkit.config.model import GlobalDefs, InstanceExtras, InterfaceSettings
from vrrpkit.core import effects as fx
from vrrpkit.core.config import InstanceConfig, SyncGroupConfig, Vip
from vrrpkit.core.packet import AUTH_AH, DropReason
from vrrpkit.core.state import Event, State
from vrrpkit.core.sync import SyncGroup
from vrrpkit.daemon.ahsessions import AhSessions
from vrrpkit.daemon.fifo import NotifyFifos
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.logsetup import DETAIL, fields
from vrrpkit.daemon.mail import Mailer
from vrrpkit.daemon.notify import Notifier, group_commands, instance_commands
from vrrpkit.daemon.ports import AH_SOCKET, Announcer, Firewall, Ports, VrrpSocket
from vrrpkit.daemon.routes import RouteKeeper
from vrrpkit.daemon.scriptset import ScriptSet

if TYPE_CHECKING:
    from vrrpkit.io.vrrp_socket import Datagram

log = logging.getLogger("vrrpkit")
detail = logging.getLogger(DETAIL)  # keepalived's -D lines

SocketKey = tuple[str, int]  # (interface, family)
MISMATCH_LOG_EVERY = 100
MAC_FRESH = 0.5  # seconds a GARP sender's MAC is trusted before it is read again
DROP_LOG_WINDOW = 60.0  # seconds: one line per kind of dropped advert and instance, then a count
# Drops that are the protocol working as designed, not a problem worth a log line.
_QUIET_DROPS = frozenset(
    {DropReason.NOT_RUNNING, DropReason.OWN_ADVERT, DropReason.OWNER_IGNORES, DropReason.WRONG_GROUP}
)
_LIVE_STATES = frozenset({State.MASTER, State.BACKUP, State.FAULT})
_NOTIFY_STATE = {fx.NotifyKind.MASTER: State.MASTER, fx.NotifyKind.BACKUP: State.BACKUP,
                 fx.NotifyKind.FAULT: State.FAULT, fx.NotifyKind.STOP: State.INIT}


class EffectApplier:
    def __init__(
        self,
        ports: Ports,
        sockets: Mapping[SocketKey, VrrpSocket],
        notifier: Notifier,
        *,
        call_later: Callable[[float, Callable[..., Any], Any], Any],
        wall_clock: Callable[[], float],
        on_state_change: Callable[[], None] = lambda: None,
        routes: RouteKeeper | None = None,
        fifos: NotifyFifos | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        self.ports = ports
        self.sockets = sockets
        self.notifier = notifier
        self.call_later = call_later
        self.wall_clock = wall_clock
        self.on_state_change = on_state_change
        self.globals = GlobalDefs()
        self.groups: dict[str, SyncGroupConfig] = {}
        self.scripts = ScriptSet()
        self.firewall: Firewall | None = None
        self.announcers: dict[str, Announcer] = {}
        self._mac_read: dict[str, float] = {}  # interface -> when its announcer last read its MAC
        self.release_vips = True  # False at shutdown with keepalived's -V/--dont-release-vrrp
        self._drop_windows: dict[tuple[str, DropReason], list[int]] = {}  # -> [drops not logged]
        self.routes = routes if routes is not None else RouteKeeper(ports.netlink)
        self.fifos = fifos if fifos is not None else NotifyFifos()
        self.mailer = mailer if mailer is not None else Mailer()
        self.extras: dict[str, InstanceExtras] = {}
        self._last_burst: tuple[tuple[int, ...], dict[SocketKey, list[fx.SendAdvert]], list[fx.SendAdvert]] = (
            (),
            {},
            [],
        )
        self.interfaces = InterfaceSettings()
        self._garp_free: dict[tuple[str, int], float] = {}  # (pacing group, family) -> when the next frame may go
        self._prepared: dict[str, InstanceConfig] = {}  # instance -> the config its VIP requests are built for
        self.ah = AhSessions()  # auth_type AH instances' sequence counters
        # instance -> (its MASTER term, the release that ends it, the VIPs act_ahead removed)
        self._gone_ahead: dict[str, tuple[int, int, tuple[Vip, ...]]] = {}


    def prepare(self, instances: Iterable[Instance]) -> None:
        """Build ahead what a takeover or a stop sends first: the adverts (the router's) and the
        VIPs' netlink requests (once per config). Built when needed, by code that has not run for
        a while, they cost ~0.3 ms between Master_Down and the VIP (measured at 10 ms adverts)."""
        prepared = {}
        for inst in instances:
            inst.router.prepare_adverts()
            cfg = inst.cfg
            if self._prepared.get(inst.name) is not cfg:
                # only a head start: the real request meets (and logs) the same error
                with contextlib.suppress(Exception):
                    self.prepare_vips(inst)
            prepared[inst.name] = cfg
        self._prepared = prepared

    def prepare_vips(self, inst: Instance) -> None:
        """Build, or look up when built, the VIP requests a takeover of `inst` sends (nothing is
        sent): ahead of need (`prepare`), and just before a takeover, so that their code and data
        are in the CPU's caches (Cycle._wait_for_takeover)."""
        cfg = inst.cfg
        for vip in cfg.vips + cfg.excluded_vips:
            self.ports.netlink.prepare_vip(cfg.device_of(vip), vip)
        for device in cfg.devices(cfg.vips + cfg.excluded_vips):
            self._announcer(device)  # its socket and MAC (~0.15 ms at a first takeover otherwise)
            self._fresh_mac(device, force=True)

    def _fresh_mac(self, ifname: str, force: bool = False) -> None:
        """Read the interface's MAC again unless read within MAC_FRESH: it can change under us (a
        bond's fail_over_mac, an operator), and a GARP with the old one sends the neighbours to a
        MAC no longer there; keepalived 2.2.7 follows the change (measured). A takeover's burst
        finds it read by the rehearsal a moment before: no system call between its VIP and its
        next read."""
        now = time.monotonic()
        if force or now - self._mac_read.get(ifname, -MAC_FRESH) >= MAC_FRESH:
            self._announcer(ifname).refresh_mac()
            self._mac_read[ifname] = now

    def configure(
        self,
        globals_: GlobalDefs,
        groups: Mapping[str, SyncGroupConfig],
        extras: Mapping[str, InstanceExtras] | None = None,
        scripts: ScriptSet | None = None,
        interfaces: InterfaceSettings | None = None,
    ) -> None:
        """What a (re)load decided: GARP pacing (global and garp_group), the sync groups, FIFO priority
        lines, the notify commands as resolved."""
        self.globals = globals_
        self.groups = dict(groups)
        self.extras = dict(extras or {})
        self.scripts = scripts if scripts is not None else ScriptSet()
        self.interfaces = interfaces or InterfaceSettings()

    def act(self, inst: Instance, effect: fx.AddVips | fx.DelVips | fx.SendGarp) -> Callable[[], None]:
        """The system calls of a VIP change or a GARP round now; what is said of it (its log
        lines) is returned, for the caller to say when the loop has time: after a takeover, the
        old master's answer is read first (Cycle, daemon/sayings.py)."""
        if isinstance(effect, fx.AddVips):
            return self._add_vips(inst, effect)
        if isinstance(effect, fx.DelVips):
            return self._del_vips(inst, effect)
        return self._garp(inst, effect)

    def apply(self, inst: Instance, effect: fx.Effect) -> None:
        if isinstance(effect, fx.SendAdvert):
            self._send(inst, effect)
        elif isinstance(effect, (fx.AddVips, fx.DelVips, fx.SendGarp)):
            self.act(inst, effect)()
        elif isinstance(effect, fx.StateChanged):
            self._state_changed(inst, effect)
        elif isinstance(effect, fx.Notify):
            if effect.src is not None:  # keepalived's line, word for word (log-based alerts match it)
                election = "" if inst.cfg.lower_prio_no_advert else ", forcing new election"
                log.info("(%s) Received advert from %s with lower priority %d, ours %d%s", inst.name, effect.src,
                         effect.heard, effect.priority, election, extra=_fields(inst))  # fmt: skip
                if inst.cfg.auth_type == AUTH_AH:  # the counter moved when it was heard (`AhSessions.heard`)
                    log.info("(%s) IPSEC-AH : Syncing seq_num - Increment seq", inst.name, extra=_fields(inst))
            notify = self.scripts.notify_of("instance", inst.name)
            commands = instance_commands(notify, inst.name, effect.state, effect.priority)
            self.notifier.run(inst.name, commands)
            self.fifos.instance(inst.name, effect.state.value, effect.priority)
            if effect.state is not fx.NotifyKind.MASTER_RX_LOWER_PRI:
                self.mailer.changed("instance", inst.name, _NOTIFY_STATE[effect.state])
        elif isinstance(effect, fx.PacketDropped):
            if effect.reason not in _QUIET_DROPS:
                self._dropped(inst, effect)
        elif isinstance(effect, fx.Mismatch):
            self._mismatch(inst, effect)
        elif isinstance(effect, fx.Remarked):
            log.info("(%s) %s", inst.name, effect.text(), extra=_fields(inst))
        elif isinstance(effect, fx.ClaimAnswered):
            # vrrpkit's own line (keepalived would have taken over here, and given the VIP back)
            log.warning("(%s) Master %s (priority %s) silent for a Master_Down interval, then answered our claim: "
                        "staying BACKUP (its adverts were lost or it stalled)", inst.name, effect.master,
                        effect.priority, extra=_fields(inst))  # fmt: skip
        elif isinstance(effect, fx.PriorityChanged):
            log.info("(%s) Changing effective priority from %d to %d", inst.name, effect.old, effect.new,
                     extra=_fields(inst, priority=effect.new))
            extras = self.extras.get(inst.name)
            if extras is not None and extras.notify_priority_changes:
                word = "MASTER_PRIORITY" if effect.state is State.MASTER else "BACKUP_PRIORITY"
                self.fifos.instance(inst.name, word, effect.new)
        elif isinstance(effect, fx.SyncGroupChanged):
            self.group_changed(effect)

    def group_said(self, effect: fx.SyncGroupChanged) -> None:
        """The group's line: keepalived logs it as the group starts to move its members, before
        their lines, and runs the group's scripts after them (`group_changed(said=True)`); none
        for its first BACKUP (measured), none at a stop."""
        if effect.new is not State.INIT and (effect.old, effect.new) != (State.INIT, State.BACKUP):
            log.info("VRRP_Group(%s) Syncing instances to %s state", effect.group, effect.new.value,
                     extra=fields(group=effect.group, state=effect.new.value))  # fmt: skip

    def group_changed(self, effect: fx.SyncGroupChanged, said: bool = False) -> None:
        """vrrp_sync_group notify_*: once per group transition, with `GROUP name STATE 0`; then the
        FIFO line and the mail (a group that stops: notify_stop and `GROUP "G" STOP 0`, as keepalived)."""
        stop = effect.new is State.INIT
        if stop and effect.old is State.INIT:
            return
        if not said:
            self.group_said(effect)
        word = "STOP" if stop else effect.new.value
        if effect.group in self.groups:
            commands = group_commands(self.scripts.notify_of("group", effect.group), effect.group, word)
            self.notifier.run(f"group:{effect.group}", commands)
        self.fifos.group(effect.group, word)
        self.mailer.changed("group", effect.group, effect.new)

    def write_states(self, instances: Iterable[Instance], groups: Iterable[SyncGroup]) -> None:
        """fifo_write_vrrp_states_on_reload: every instance's and group's state, again, on the FIFOs."""
        for inst in instances:
            state = inst.router.state
            if state in _LIVE_STATES:
                self.fifos.instance(inst.name, state.value, inst.router.priority)
        for group in groups:
            if group.state in _LIVE_STATES:
                self.fifos.group(group.name, group.state.value)

    def counters(self) -> dict[str, int]:
        """What can fail without stopping anything, counted for `status` and the metrics."""
        r, f, m = self.routes.stats, self.fifos.stats, self.mailer.stats
        return {
            "routes_installed": r.installed, "routes_removed": r.removed, "routes_failed": r.failed,
            "static_addresses_restored": r.restored, "route_resignations": r.resigned,
            "fifo_lines_written": f.written, "fifo_lines_dropped": f.dropped, "fifos_refused": f.refused,
            "mails_sent": m.sent, "mails_failed": m.failed,
        }  # fmt: skip

    def accept_changed(self, inst: Instance, old: InstanceConfig) -> None:
        """A reload turned accept on or off on a master: its VIPs stay, the no_accept drop set moves."""
        cfg = inst.cfg
        if cfg.accept_mode:
            if self.firewall is not None:
                self.firewall.remove(cfg.interface, [v.address for v in old.vips + old.excluded_vips])
        else:
            self._firewall().add(cfg.interface, [v.address for v in cfg.vips + cfg.excluded_vips])

    def close(self) -> None:
        for announcer in self.announcers.values():
            announcer.close()
        self.announcers.clear()

    def forget_interfaces(self, names: list[str]) -> None:
        """These interfaces were made anew (a VMAC): their ARP/NA senders are bound to the old index."""
        for name in names:
            announcer = self.announcers.pop(name, None)
            if announcer is not None:
                announcer.close()

    def forget_moved(self, ifname: str, index: int | None) -> None:
        """`ifname` now has this index (None: gone). An ARP/NA sender bound to another one sends
        nowhere (the kernel drops the frames; measured: a VIP's `dev` deleted and made again, no
        GARP reached the new link while keepalived's did): it goes, and the next burst opens one."""
        announcer = self.announcers.get(ifname)
        if announcer is not None and announcer.ifindex != index:
            self.forget_interfaces([ifname])

    def firewall_handle(self) -> Firewall:
        """The one firewall (set up on first use), shared with the VMAC rules of `daemon.links`."""
        return self._firewall()

    def clear_leftover_firewall(self, g: GlobalDefs) -> None:
        """At start, before anything is set up: the tables a crashed run left (named as configured)."""
        leftover = self.ports.firewall()
        leftover.configure(g.nftables_table, g.nftables_priority, g.nftables_counters)
        leftover.teardown()

    def teardown_firewall(self) -> None:
        if self.firewall is not None:
            self.firewall.teardown()
            self.firewall = None

    # --- one method per effect --------------------------------------------------------------------

    def send_advert(self, inst: Instance, effect: fx.SendAdvert, quiet: bool = False) -> OSError | None:
        """`apply` for the effect of every tick; never raises (the socket returns its errors).
        `quiet`: a stop's goodbyes, whose log lines (`said`) wait until every goodbye is out."""
        key: SocketKey = (effect.interface, effect.src.version)
        if inst.cfg.auth_type == AUTH_AH:  # each advert its own AH sequence number and ICV
            key, effect = (effect.interface, AH_SOCKET), self.ah.seal(inst, effect)
        sock = self.sockets.get(key)
        if sock is None:
            return None
        error = sock.send(effect.data, effect.dst, effect.src, effect.ttl)
        if not quiet:
            self.said(inst, effect, error)
        return error

    def said(self, inst: Instance, effect: fx.SendAdvert, error: OSError | None) -> None:
        """The log line of one advert `send_advert` sent (or could not send)."""
        if error is not None:
            log.warning("(%s) send advert error %s (%s) dst=%s", inst.name, error.errno, error.strerror, effect.dst)
        elif effect.priority == 0 and effect.said:
            log.info("(%s) sent 0 priority", inst.name, extra=_fields(inst))

    _send = send_advert

    def send_adverts(self, burst: list[fx.SendAdvert]) -> None:
        """A tick's adverts: one call per socket (sendmmsg where it can), errors logged per advert.
        (A tick never says goodbye: priority-0 adverts go one by one, `Cycle._farewell`.)"""
        ids = tuple(map(id, burst))
        if ids == self._last_burst[0]:  # the same adverts as last tick (a steady MASTER): same sockets
            groups = self._last_burst[1]
        else:
            groups = {}
            for effect in burst:
                groups.setdefault((effect.interface, effect.src.version), []).append(effect)
            self._last_burst = (ids, groups, burst)  # the burst keeps its objects (and so their ids)
        for sock_key, adverts in groups.items():
            sock = self.sockets.get(sock_key)
            if sock is None:
                continue
            errors = sock.send_many(adverts)
            if errors.count(None) == len(errors):  # all sent: nothing to say per advert (the usual tick)
                continue
            for effect, error in zip(adverts, errors, strict=True):
                if error is not None:
                    name = effect.instance
                    log.warning("(%s) send advert error %s (%s) dst=%s", name, error.errno, error.strerror, effect.dst)
                elif effect.priority == 0 and effect.said:
                    log.info("(%s) sent 0 priority", effect.instance)

    def act_ahead(self, first: Datagram, routes: list[list[Instance]], now: float) -> None:
        """What a MASTER does with a batch's first datagram before the batch is handled, when its
        router has decided it already: the answer to a rival it answered before
        (`VirtualRouter.answer_first`), or the VIPs' removal that the answer of the master it
        followed until it took over asks for (`step_down_first`). Either ends a double holding
        when it reaches the wire or the kernel. Only for one instance on the VRID, so the router
        has seen nothing else since it decided; the batch is then handled as usual, in
        keepalived's order, without asking the kernel for these VIPs again (`_removed_ahead`):
        routes and rules go first when there are any, so then none is done ahead."""
        src, dst, ttl, payload, _ifname = first
        targets = routes[payload[1] if len(payload) > 1 else 0]
        if len(targets) != 1:
            return
        inst = targets[0]
        router = inst.router
        try:
            for effect in router.answer_first(payload, src, dst, ttl, now) or ():
                self.send_advert(inst, effect)
            gone = router.step_down_first(payload, src, dst, ttl)
            if gone is None or not self.release_vips:
                return
            held = self.routes.held.get(inst.name)
            if not (held and (held.routes or held.rules)):
                for vip in gone.vips:
                    self.ports.netlink.del_vip(inst.cfg.device_of(vip), vip)
                stats = router.stats
                self._gone_ahead[inst.name] = (stats.become_master, stats.release_master + 1, gone.vips)
        except Exception:  # the batch is then handled the usual way: never the loop
            log.exception("(%s) error while acting ahead", inst.name)

    def _add_vips(self, inst: Instance, effect: fx.AddVips) -> Callable[[], None]:
        for vip in effect.vips:
            self.ports.netlink.add_vip(inst.cfg.device_of(vip), vip)
        if not inst.cfg.accept_mode:
            self._firewall().add(effect.interface, [v.address for v in effect.vips])
        # a reload's additions: the routes are RouteKeeper.configure's
        extras = self.routes.became_master(inst.name) if effect.cause is fx.VipCause.STATE else ()

        def say() -> None:  # keepalived's words (its -D line), with the addresses: the line people look for
            for what, vips in _vip_lines(inst, effect.vips):
                log.info("(%s) setting %s. (%s)", inst.name, what, vips, extra=_fields(inst, vips=vips))
            for kind in extras:
                log.info("(%s) setting Virtual %s", inst.name, kind)

        return say

    def _del_vips(self, inst: Instance, effect: fx.DelVips) -> Callable[[], None]:
        kept = not self.release_vips  # keepalived -V: VIPs and virtual routes stay when the daemon stops
        extras: tuple[str, ...] = ()
        if not kept:
            ahead: tuple[Vip, ...] = ()
            if effect.cause is fx.VipCause.STATE:  # leaving MASTER, not a reload trimming the list
                extras = self.routes.leaving_master(inst.name)
                ahead = self._removed_ahead(inst)
            for vip in effect.vips:
                if vip not in ahead:
                    self.ports.netlink.del_vip(inst.cfg.device_of(vip), vip)
            if self.firewall is not None and not inst.cfg.accept_mode:
                self.firewall.remove(effect.interface, [v.address for v in effect.vips])

        def say() -> None:
            vips = " ".join(map(str, effect.vips))
            if kept:
                log.info("(%s) leaving VIPs in place (--dont-release-vrrp): %s", inst.name, vips,
                         extra=_fields(inst, vips=vips))  # fmt: skip
            else:
                for kind in extras:
                    log.info("(%s) removing Virtual %s", inst.name, kind)
                for what, some in _vip_lines(inst, effect.vips):
                    log.info("(%s) removing %s. (%s)", inst.name, what, some, extra=_fields(inst, vips=some))

        return say

    def _removed_ahead(self, inst: Instance) -> tuple[Vip, ...]:
        """The VIPs `act_ahead` removed for the step-down now under way: asking the kernel again
        costs a round trip and an ioctl per VIP (not there: the index is looked up anew). Only
        for the leaving of the very MASTER term it acted in (a step-down that never came, by a
        bug, leaves a mark no later term matches)."""
        mark = self._gone_ahead.pop(inst.name, None)
        stats = inst.router.stats
        if mark is None or mark[:2] != (stats.become_master, stats.release_master):
            return ()
        return mark[2]

    def _garp(self, inst: Instance, effect: fx.SendGarp) -> Callable[[], None]:
        announcer = self._announcer(effect.interface)
        self._fresh_mac(effect.interface)
        v6 = bool(effect.vips) and effect.vips[0].address.version == 6
        spacing, key = self._garp_spacing(effect.interface, v6)
        if spacing <= 0:
            announcer.announce(effect.vips, effect.count)
        else:  # vrrp_garp_interval / garp_group: pace the frames (switches rate-limit them)
            frames = [announcer.frame_for(v.address) for _ in range(effect.count) for v in effect.vips]
            # frames for interfaces of one garp_group share one pace (one switch behind them all)
            start = max(0.0, self._garp_free.get(key, 0.0) - self.wall_clock())
            for i, frame in enumerate(frames):
                self.call_later(start + i * spacing, announcer.send_frame, frame)
            self._garp_free[key] = self.wall_clock() + start + len(frames) * spacing

        def say() -> None:
            addresses = " ".join(str(v.address) for v in effect.vips)
            log.info(
                "(%s) Sending/queueing %s on %s for %s",
                inst.name,
                "Unsolicited Neighbour Adverts" if v6 else "gratuitous ARPs",
                effect.interface,
                addresses,
                extra=_fields(inst, interface=effect.interface, vips=addresses),
            )
            for vip in effect.vips:
                detail.info("Sending %s on %s for %s (x%d)", "unsolicited Neighbour Advert" if v6 else "gratuitous ARP",
                            effect.interface, vip.address, effect.count)  # fmt: skip

        return say

    def _announcer(self, ifname: str) -> Announcer:
        announcer = self.announcers.get(ifname)
        if announcer is None:
            announcer = self.announcers[ifname] = self.ports.announcer(ifname)
        return announcer

    def _garp_spacing(self, ifname: str, v6: bool) -> tuple[float, tuple[str, int]]:
        """Seconds between two GARPs (NAs) on `ifname`, and the pace they share: its garp_group, else its own."""
        group = self.interfaces.garp_group_of(ifname)
        family = 6 if v6 else 4
        if group is not None:
            us = group.gna_interval_us if v6 else group.garp_interval_us
            if us is not None:
                return us / 1_000_000, (" ".join(group.interfaces), family)
        cs = self.globals.gna_interval_cs if v6 else self.globals.garp_interval_cs
        return cs / 100, (ifname, family)

    def _state_changed(self, inst: Instance, effect: fx.StateChanged) -> None:
        """keepalived's lines, in its order: the cause first, then "(VI_1) Entering MASTER STATE"
        (with "(init)" on the first BACKUP), exactly, because people grep for them. vrrpkit's own
        reason travels in the REASON= journal field and in `vrrpkit status`."""
        inst.record(effect, self.wall_clock())
        extra = _fields(inst, state=effect.new.value, old_state=effect.old.value, event=effect.event.name,
                        reason=effect.reason)  # fmt: skip
        router = inst.router
        if effect.event is Event.MASTER_DOWN or effect.event is Event.STARTUP_OWNER:  # an owner: its 1 µs timer
            log.info("(%s) Receive advertisement timeout", inst.name, extra=extra)
        elif effect.event is Event.HIGHER_PRIORITY and router.master_address is not None:
            log.info("(%s) Master received advert from %s with higher priority %s, ours %d", inst.name,
                     router.master_address, router.master_priority, router.priority, extra=extra)  # fmt: skip
        if effect.new in _LIVE_STATES:
            # keepalived: "(init)" at start, none for an instance that waited for its scripts, and
            # after a reload that ends a fault (it starts the instance anew; measured)
            first = effect.new is State.BACKUP and (
                (effect.old is State.INIT and effect.reason == "startup") or effect.reason == "fault cleared by reload"
            )
            suffix = " (init)" if first else ""
            level = logging.WARNING if effect.new is State.FAULT else logging.INFO
            log.log(level, "(%s) Entering %s STATE%s", inst.name, effect.new.value, suffix, extra=extra)
            if effect.new is State.FAULT:
                log.info("(%s) fault: %s", inst.name, router.fault_reason or effect.reason, extra=extra)
        self.on_state_change()

    def _dropped(self, inst: Instance, effect: fx.PacketDropped) -> None:
        """The first drop of a kind per instance is logged; the next ones within DROP_LOG_WINDOW are
        counted and said once, as a number, when the window ends (and a flood that goes on gets one
        such line per window). Every drop is counted in the metrics whether logged or not. Without
        this, anyone on the link writes a line per packet and journald's rate limit then drops the
        daemon's real messages (keepalived 2.2.7 logs every one: 300 bad-TTL packets, 300 lines)."""
        key = (inst.name, effect.reason)
        window = self._drop_windows.get(key)
        if window is not None:
            window[0] += 1
            return
        log.warning("(%s) dropped advert from %s: %s %s", inst.name, effect.src, effect.reason.value, effect.detail,
                    extra=_fields(inst, reason=effect.reason.value))  # fmt: skip
        self._open_drop_window(key)

    def _open_drop_window(self, key: tuple[str, DropReason]) -> None:
        self._drop_windows[key] = [0]
        self.call_later(DROP_LOG_WINDOW, self._close_drop_window, key)

    def _close_drop_window(self, key: tuple[str, DropReason]) -> None:
        window = self._drop_windows.pop(key, None)
        if window is None or not window[0]:
            return
        log.warning("(%s) %d more adverts dropped as %s in the last %g s (not logged one by one; see "
                    "vrrpkit_packets_dropped)", key[0], window[0], key[1].value, DROP_LOG_WINDOW)  # fmt: skip
        self._open_drop_window(key)

    def _mismatch(self, inst: Instance, effect: fx.Mismatch) -> None:
        if inst.count_mismatch(effect.kind) % MISMATCH_LOG_EVERY:
            return
        if effect.kind is fx.MismatchKind.OLD_CHECKSUM:
            log.info("(%s) %s: %s", inst.name, effect.src, effect.detail)
        elif effect.kind is fx.MismatchKind.ADDRESS_LIST:
            log.warning(
                "(%s) ip address associated with VRID %d not present in MASTER advert from %s: %s",
                inst.name,
                inst.cfg.vrid,
                effect.src,
                effect.detail,
                extra=_fields(inst),
            )
        else:
            log.warning("(%s) advertisement interval mismatch with %s: %s", inst.name, effect.src, effect.detail,
                        extra=_fields(inst))

    def _firewall(self) -> Firewall:
        if self.firewall is None:
            self.firewall = self.ports.firewall()
            g = self.globals
            self.firewall.configure(g.nftables_table, g.nftables_priority, g.nftables_counters)
            self.firewall.setup()
        return self.firewall


def _vip_lines(inst: Instance, vips: tuple[Vip, ...]) -> list[tuple[str, str]]:
    """keepalived's two lines: 'VIPs' for the advertised addresses, 'E-VIPs' for the excluded ones
    (virtual_ipaddress_excluded), each with its addresses; one 'VIPs' line when there is no E-VIP."""
    excluded = inst.cfg.excluded_vips
    shown = [v for v in vips if v not in excluded] if excluded else list(vips)
    hidden = [v for v in vips if v in excluded] if excluded else []
    lines = [("VIPs", " ".join(map(str, shown)))] if shown or not hidden else []
    return [*lines, ("E-VIPs", " ".join(map(str, hidden)))] if hidden else lines


def _fields(inst: Instance, **more: object) -> dict[str, dict[str, str]]:
    """The journal fields of a line about `inst`: INSTANCE, VRID, INTERFACE, plus `more`."""
    return fields(**{"instance": inst.name, "vrid": inst.cfg.vrid, "interface": inst.cfg.interface, **more})
