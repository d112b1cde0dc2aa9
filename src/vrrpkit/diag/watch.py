"""``vrrpkit watch``: who advertises which VRID on a link, and what is wrong with it.

``VridTable`` is pure: it is fed Sightings (from the tap, a pcap or a test) and keeps one row per
sender per VRID, raising flags as Findings with the same codes ``investigate`` uses, so the two
commands can never disagree about what an advert means. ``run_watch`` is the thin I/O loop.

What makes a flag, and why:

* two masters: only a master advertises, so two senders with non-zero priority whose adverts
  interleave (each sends at least twice after the other started) are two masters now. A pre-emption
  hand-over overlaps by one advert only and is not flagged.
* a foreign sender: adverts for our VRID listing other VIPs than ours (or, without a config,
  than the first sender's) come from another cluster (keepalived up to 2.3.2 drops them, so the
  backups time out: row 8 of the catalogue).
* TTL other than 255, another password / auth type / interval / version than configured, and bad
  checksums: each makes receivers discard the advert (catalogue rows 7, 9, 10, 11).

Everything here is fed by whoever can send on the link, so the work per packet and the memory are
bounded whatever they send: at most ``MAX_SENDERS`` senders per VRID (the one heard least recently
makes room, and is counted), a packet is compared with the other senders of its VRID only (never
every pair), and at most ``MAX_FLAGS`` flags are kept (the rest are counted). The configured
password is never part of a flag; a password from the wire is shown escaped.
"""

from __future__ import annotations

import bisect
import select
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vrrpkit.core.ah import verifies
from vrrpkit.core.config import InstanceConfig, IPAddress, apply_strict
from vrrpkit.core.packet import AUTH_AH, AUTH_SIMPLE
from vrrpkit.diag import findings as F
from vrrpkit.diag.decode import AUTH_NAMES, Sighting, printable, sight_ip
from vrrpkit.diag.findings import Finding, Severity

Key = tuple[str, int, int]  # (interface, family, vrid)
MAX_SENDERS = 32  # per VRID: a VRRP router has a handful; more means spoofing or a capture of many links
MAX_FLAGS = 256


@dataclass
class Sender:
    """One source advertising one VRID, as seen so far."""

    src: IPAddress
    mac: str
    ours: bool
    first: float
    last: float
    count: int = 0
    since: float = 0.0  # the first advert of its current run (reset after silence or priority 0)
    priority: int = 0
    interval: float = 0.0
    version: int = 0
    addresses: tuple[IPAddress, ...] = ()
    auth_type: int | None = None
    password: bytes = b""
    ttls: set[int] = field(default_factory=set)
    multicast: bool = True
    bad: dict[str, int] = field(default_factory=dict)
    times: deque[float] = field(default_factory=lambda: deque(maxlen=64))

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "src": str(self.src),
            "mac": self.mac,
            "ours": self.ours,
            "adverts": self.count,
            "priority": self.priority,
            "interval": self.interval,
            "version": self.version,
            "vips": [str(a) for a in self.addresses],
            "auth": AUTH_NAMES.get(self.auth_type, str(self.auth_type)) if self.auth_type is not None else None,
            "ttl": sorted(self.ttls),
            "mode": "multicast" if self.multicast else "unicast",
            "last_seen_ago": round(max(0.0, now - self.last), 3),
            "invalid": dict(self.bad),
        }


@dataclass
class VridRow:
    key: Key
    senders: dict[IPAddress, Sender] = field(default_factory=dict)
    evicted: int = 0  # senders forgotten to stay within MAX_SENDERS

    def make_room(self) -> None:
        """Forget the sender heard least recently (ours last), so a flood of spoofed sources costs
        a bounded table, never an unbounded one."""
        victim = min(self.senders.values(), key=lambda s: (not s.ours, s.last))
        del self.senders[victim.src]
        self.evicted += 1

    def masters(self, now: float, window: float) -> list[Sender]:
        """Senders that claim master now: non-zero priority, heard within ``window``."""
        return [s for s in self.senders.values() if s.priority > 0 and now - s.last <= window]


def _instance_map(instances: Iterable[InstanceConfig]) -> dict[Key, InstanceConfig]:
    out: dict[Key, InstanceConfig] = {}
    for cfg in instances:
        out[(cfg.interface, cfg.family, cfg.vrid)] = apply_strict(cfg)
    return out


class VridTable:
    """Per-VRID view of a link, fed one Sighting at a time; flags come back as Findings.

    ``own`` holds our addresses and MACs, so our adverts are marked even in a pcap (where the
    outgoing direction is lost). Each flag is raised once per (code, VRID, sender).
    """

    def __init__(
        self,
        instances: Iterable[InstanceConfig] = (),
        own_addresses: Iterable[IPAddress] = (),
        own_macs: Iterable[str] = (),
    ) -> None:
        self.instances = _instance_map(instances)
        self.own_addresses = set(own_addresses)
        self.own_macs = {m.lower() for m in own_macs}
        self.rows: dict[Key, VridRow] = {}
        self.flags: list[Finding] = []
        self._raised: set[tuple[str, ...]] = set()
        self.probes = 0
        self.invalid = 0
        self.flags_dropped = 0  # flags not kept beyond MAX_FLAGS

    # -- feeding --

    def feed(self, s: Sighting) -> list[Finding]:
        """Account for one sighting; returns the flags it raised (already added to ``self.flags``)."""
        if s.probe is not None:
            self.probes += 1
            return []
        if s.raw is None or not s.raw.present(8):
            self.invalid += 1
            return []
        key = (s.ifname, s.family, s.raw.vrid)
        row = self.rows.setdefault(key, VridRow(key))
        ours = s.outgoing or s.src in self.own_addresses or (bool(s.mac) and s.mac.lower() in self.own_macs)
        sender = row.senders.get(s.src)
        if sender is None:
            if len(row.senders) >= MAX_SENDERS:
                row.make_room()
            sender = row.senders[s.src] = Sender(s.src, s.mac, ours, s.time, s.time, since=s.time)
        elif s.time - sender.last > self.window(row) or sender.priority == 0:
            sender.since = s.time
        sender.last = s.time
        sender.count += 1
        sender.times.append(s.time)
        sender.ttls.add(s.ttl)
        sender.multicast = s.multicast
        if s.mac:
            sender.mac = s.mac
        r = s.raw
        sender.priority, sender.version, sender.interval = r.priority, r.version, r.interval
        if s.incomplete:  # a cut or fragmented advert: who and when, but its content is not all there
            cut = self._check_masters(row, sender, s.time)
            self.flags += cut
            return cut
        sender.addresses, sender.auth_type, sender.password = r.addresses, r.auth_type, s.password
        if s.error:
            sender.bad[s.error] = sender.bad.get(s.error, 0) + 1
        new: list[Finding] = []
        if not ours:
            new += self._check_sender(row, sender, s)
        new += self._check_masters(row, sender, s.time)
        self.flags += new
        return new

    def _raise(self, key: tuple[str, ...], finding: Finding) -> list[Finding]:
        if key in self._raised:
            return []
        if len(self._raised) >= MAX_FLAGS:
            self.flags_dropped += 1
            return []
        self._raised.add(key)
        return [finding]

    def _reference(self, row: VridRow, sender: Sender) -> tuple[str, InstanceConfig | None, Sender | None]:
        cfg = self.instances.get(row.key)
        if cfg is not None:
            return "config", cfg, None
        others = [o for o in row.senders.values() if o is not sender]
        if not others:
            return "none", None, None
        return "first-sender", None, min(others, key=lambda o: o.first)

    def _check_sender(self, row: VridRow, sender: Sender, s: Sighting) -> list[Finding]:
        out: list[Finding] = []
        ifname, _family, vrid = row.key
        ev = {"interface": ifname, "vrid": vrid, "src": str(sender.src), "mac": sender.mac}
        tag = (str(vrid), str(sender.src))
        if s.ttl != 255 and s.multicast:
            out += self._raise(
                (F.TTL_NOT_255, *tag),
                Finding(
                    F.TTL_NOT_255,
                    Severity.ERROR,
                    f"adverts for VRID {vrid} from {sender.src} arrive with TTL {s.ttl}, not 255: every VRRP "
                    "receiver discards them (keepalived logs 'invalid TTL/HL')",
                    {**ev, "ttl": s.ttl},
                ),
            )
        if s.error == "bad-checksum":
            out += self._raise(
                (F.BAD_CHECKSUM, *tag),
                Finding(
                    F.BAD_CHECKSUM,
                    Severity.ERROR,
                    f"adverts for VRID {vrid} from {sender.src} fail every checksum form (NAT in the path, or "
                    "v3_checksum_as_v2 on one side only)",
                    {**ev, "checksum": f"0x{s.raw.checksum:04x}" if s.raw else None},
                ),
            )
        how, cfg, ref = self._reference(row, sender)
        if how == "none":
            return out
        mine = set(cfg.advertised_addresses()) if cfg else set(ref.addresses if ref else ())
        theirs = set(sender.addresses)
        if mine != theirs and sender.priority > 0:
            out += self._raise(
                (F.VRID_COLLISION, *tag),
                Finding(
                    F.VRID_COLLISION,
                    Severity.ERROR,
                    f"{sender.src} advertises VRID {vrid} with other VIPs ({_addrs(theirs)}) than "
                    f"{'ours' if cfg else 'the first sender ' + str(ref.src if ref else '')} ({_addrs(mine)}): "
                    "another cluster uses the same VRID on this link",
                    {**ev, "their_vips": _addrs_list(theirs), "our_vips": _addrs_list(mine), "reference": how,
                     "their_priority": sender.priority},
                ),
            )
            return out  # a foreign router's auth and interval are its own business
        want_version = cfg.version if cfg else (ref.version if ref else sender.version)
        if sender.version != want_version:
            out += self._raise(
                (F.VERSION_MISMATCH, *tag),
                Finding(
                    F.VERSION_MISMATCH,
                    Severity.ERROR,
                    f"{sender.src} sends VRRPv{sender.version} for VRID {vrid}, {how} says v{want_version}",
                    {**ev, "theirs": sender.version, "ours": want_version},
                ),
            )
            return out
        if sender.version == 2:
            want_type = cfg.auth_type if cfg else (ref.auth_type if ref else 0)
            want_pass = cfg.auth_pass if cfg else (ref.password if ref else b"")
            ah_wrong = (want_type == AUTH_AH and sender.auth_type == AUTH_AH and cfg is not None and s.ah_packet
                        and not verifies(s.ah_packet, want_pass, cfg.unicast))  # fmt: skip
            ours = _auth(want_type, want_pass, cfg is not None)
            said: tuple[str, str] | None = None  # (the finding's words, how the sender authenticates)
            if ah_wrong:  # the password is not on the wire: the ICV says it differs
                said = (f"{sender.src} authenticates VRID {vrid} with AH under another auth_pass than the "
                        "configuration's: its adverts' ICV does not verify with ours, so each side discards the "
                        "other's (keepalived logs 'IPSEC-AH : invalid IPSEC HMAC-MD5 value')",
                        "AH (ICV does not verify)")  # fmt: skip
            elif (sender.auth_type or 0) != want_type or (want_type == AUTH_SIMPLE and sender.password != want_pass):
                their_auth = _auth(sender.auth_type, sender.password)
                said = (f"{sender.src} authenticates VRID {vrid} with {their_auth}, {how} has {ours}: each side "
                        "discards the other's adverts (keepalived logs 'received an invalid passwd')",
                        their_auth)  # fmt: skip
            if said is not None:
                finding = Finding(F.AUTH_MISMATCH, Severity.ERROR, said[0], {**ev, "theirs": said[1], "ours": ours})
                out += self._raise((F.AUTH_MISMATCH, *tag), finding)
        want_interval = cfg.advert_int_cs / 100 if cfg else (ref.interval if ref else sender.interval)
        if abs(sender.interval - want_interval) > 1e-9:
            out += self._raise(
                (F.INTERVAL_MISMATCH, *tag),
                Finding(
                    F.INTERVAL_MISMATCH,
                    Severity.ERROR,
                    f"{sender.src} advertises VRID {vrid} every {sender.interval:g} s, {how} says "
                    f"{want_interval:g} s"
                    + (": VRRPv2 receivers discard such adverts" if sender.version == 2 else ""),
                    {**ev, "theirs": sender.interval, "ours": want_interval, "version": sender.version},
                ),
            )
        return out

    def _check_masters(self, row: VridRow, sender: Sender, now: float) -> list[Finding]:
        """Two masters at once: the sender of this packet and those it interleaves with (one pass
        over the VRID's senders, not every pair)."""
        window = self.window(row)
        if sender.priority <= 0 or now - sender.last > window:
            return []
        others = [m for m in row.masters(now, window) if m is not sender and _interleaved(sender, m)]
        if not others:
            return []
        concurrent = [sender, *others]
        ifname, _family, vrid = row.key
        names = sorted(str(m.src) for m in concurrent)
        return self._raise(
            (F.SPLIT_BRAIN, str(vrid), *names),
            Finding(
                F.SPLIT_BRAIN,
                Severity.ERROR,
                f"{len(concurrent)} masters advertise VRID {vrid} at the same time: {', '.join(names)}",
                {
                    "interface": ifname,
                    "vrid": vrid,
                    "masters": [{"src": str(m.src), "mac": m.mac, "priority": m.priority, "ours": m.ours,
                                 "became_master": round(m.since, 6)} for m in concurrent],
                    "since": round(max(m.since for m in concurrent), 6),
                },
            ),
        )

    def window(self, row: VridRow) -> float:
        """3 intervals plus a little: a master missing this long has stopped advertising."""
        longest = max((s.interval for s in row.senders.values()), default=1.0) or 1.0
        return 3 * longest + 0.5

    # -- reading --

    def table(self, now: float | None = None) -> list[dict[str, Any]]:
        now = time.time() if now is None else now
        out = []
        for key in sorted(self.rows, key=lambda k: (k[0], k[1], k[2])):
            row = self.rows[key]
            masters = row.masters(now, self.window(row))
            cfg = self.instances.get(key)
            out.append(
                {
                    "interface": key[0],
                    "family": key[1],
                    "vrid": key[2],
                    "instance": cfg.name if cfg else None,
                    "masters": sorted(str(m.src) for m in masters),
                    "senders_evicted": row.evicted,
                    "senders": [s.as_dict(now) for s in sorted(row.senders.values(), key=lambda s: str(s.src))],
                }
            )
        return out

    def sender(self, key: Key, src: IPAddress) -> Sender | None:
        row = self.rows.get(key)
        return row.senders.get(src) if row else None


def _interleaved(a: Sender, b: Sender) -> bool:
    """Both sent at least twice since the later of the two started its current run (the times
    are in arrival order, so this is two binary searches)."""
    start = max(a.times[0], b.times[0])
    return all(len(s.times) - bisect.bisect_left(s.times, start) >= 2 for s in (a, b))


def _addrs(addrs: Iterable[IPAddress]) -> str:
    return ", ".join(_addrs_list(addrs)) or "none"


def _addrs_list(addrs: Iterable[IPAddress]) -> list[str]:
    return sorted(str(a) for a in addrs)


def _auth(auth_type: int | None, password: bytes, configured: bool = False) -> str:
    """How a sender authenticates, for a flag. A password from the wire is shown escaped (anyone
    on the link can read it anyway); the configured one is never shown."""
    if not auth_type:
        return "no authentication"
    if auth_type == AUTH_SIMPLE:
        if configured:
            length = len(password.rstrip(bytes(1)))
            return f"the configured password ({length} characters, not shown)"
        return f'password "{printable(password)}"'
    if auth_type == AUTH_AH:
        return "AH (the configured auth_pass, not shown)" if configured else "AH"
    return f"auth type {auth_type}"


# --- the I/O loop -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchEvent:
    sighting: Sighting
    flags: list[Finding]


def run_watch(
    ifname: str,
    table: VridTable,
    duration: float | None,
    stop: Callable[[], bool] = lambda: False,
    tick: Callable[[], None] | None = None,
) -> Iterator[WatchEvent]:
    """Tap ``ifname`` and yield every protocol-112 packet with the flags it raised.

    Runs ``duration`` seconds (None: until ``stop()`` or KeyboardInterrupt). ``tick`` is called about
    once a second, for a live display. Raises OSError when the tap cannot be opened.
    """
    from vrrpkit.io.tap import PacketTap  # io import here: the table above stays importable anywhere

    deadline = None if duration is None else time.monotonic() + duration
    next_tick = time.monotonic() + 1.0
    with PacketTap(ifname) as tap:
        while not stop():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            wait = min(next_tick - now, (deadline - now) if deadline is not None else 1.0)
            readable, _, _ = select.select([tap.fileno()], [], [], max(0.0, wait))
            if readable:
                for pkt in tap.read():
                    s = sight_ip(
                        pkt.data,
                        time=pkt.time,
                        mac=":".join(f"{b:02x}" for b in pkt.mac),
                        outgoing=pkt.outgoing,
                        ifname=ifname,
                    )
                    if s is not None:
                        yield WatchEvent(s, table.feed(s))
            if tick is not None and time.monotonic() >= next_tick:
                tick()
                next_tick = time.monotonic() + 1.0


def run_replay(decoded: Iterable[tuple[Sighting, float]], table: VridTable, ifname: str) -> Iterator[WatchEvent]:
    """Feed the table from a capture instead of a tap: (sighting, capture time) pairs in file order.

    The capture's timestamps are the clock (the table's windows and the split-brain interleaving are
    judged in capture time), and every sighting is filed under ``ifname`` (the interface the capture
    was taken on, so a configuration's instances match it).
    """
    from dataclasses import replace

    for s, when in decoded:
        s = replace(s, ifname=ifname, time=when)
        yield WatchEvent(s, table.feed(s))
