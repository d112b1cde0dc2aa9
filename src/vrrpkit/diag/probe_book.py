"""``vrrpkit probe``'s bookkeeping and responder rules, apart from the sockets.

``ProbeBook.on_vrrp`` / ``on_udp`` take one received packet (source, destination, TTL, bytes) and
return what to send back; the sockets stay in ``diag.probe``. That keeps every rule the network can
exercise testable, and fuzzable, without a socket:

* anything that is not a well-formed probe of our format is ignored (``decode`` raises, is caught);
* a request is answered only by the path it arrived on: one that came to the multicast group is
  answered to the group, one that came to our address is answered to its source; a request whose
  path field disagrees with how it arrived is ignored (so one multicast request cannot make every
  probe host unicast to a spoofed source, nor a unicast one make us multicast);
* only sources on the interface's subnets (IPv6 link-local included) or listed with --peer are
  answered, each at most ``rate`` requests a second (a token bucket; ``MAX_SOURCES`` buckets);
* replies are signed (``probe_wire.pair_key``) and a reply is counted only when its tag verifies
  under the key of the address it came from (the first public key seen from an address is kept);
* state is bounded whatever arrives: ``MAX_UNLISTED`` unlisted hosts, ``MAX_HEARD`` sequence
  numbers per path, ``MAX_SESSIONS`` run ids per host, ``MAX_KEYS`` derived keys, and at most
  ``KEY_RATE`` new key derivations a second (each costs an X25519 operation).
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6, IPAddress
from vrrpkit.diag import probe_wire as pw
from vrrpkit.diag.probe_wire import Kind, Path, ProbeMessage

MAX_UNLISTED = 16
MAX_HEARD = 4096
MAX_SESSIONS = 8
MAX_SOURCES = 1024
MAX_KEYS = 256
KEY_RATE = 50.0
Send = tuple[bytes, "IPAddress | None"]  # (payload, unicast destination; None: the group)


@dataclass
class PathStats:
    """One path to one peer."""

    sent: int = 0
    rtt_ms: dict[int, float] = field(default_factory=dict)  # seq answered -> round trip
    ttl_at_peer: set[int] = field(default_factory=set)  # TTL our requests arrived with, per the replies
    heard: set[int] = field(default_factory=set)  # the peer's request seqs we received (at most MAX_HEARD)
    heard_ttl: set[int] = field(default_factory=set)
    seen_any: bool = False  # anything from the peer on this path, warm-up included

    @property
    def received(self) -> int:
        return len(self.rtt_ms)

    @property
    def loss(self) -> float:
        return 0.0 if not self.sent else round(100.0 * (self.sent - self.received) / self.sent, 1)

    def as_dict(self) -> dict[str, Any]:
        rtt = None
        if self.rtt_ms:
            values = list(self.rtt_ms.values())
            rtt = {"min": round(min(values), 3), "avg": round(sum(values) / len(values), 3),
                   "max": round(max(values), 3)}  # fmt: skip
        return {
            "sent": self.sent,
            "received": self.received,
            "loss_pct": self.loss,
            "rtt_ms": rtt,
            "ttl_at_peer": sorted(self.ttl_at_peer),
            "heard": len(self.heard),
            "heard_ttl": sorted(self.heard_ttl),
        }


@dataclass
class PeerResult:
    address: IPAddress
    listed: bool  # given with --peer (else: an unlisted host that probed too)
    paths: dict[Path, PathStats] = field(default_factory=lambda: {p: PathStats() for p in Path})
    sessions: set[int] = field(default_factory=set)  # the peer's run ids, the same on every path
    authenticated: bool = False  # a reply from it carried a valid tag

    def absorb(self, other: PeerResult) -> None:
        """Fold in what arrived from another address of the same host (IPv6: link-local multicast)."""
        for path, theirs in other.paths.items():
            mine = self.paths[path]
            mine.rtt_ms = {**theirs.rtt_ms, **mine.rtt_ms}
            mine.ttl_at_peer |= theirs.ttl_at_peer
            mine.heard |= theirs.heard
            mine.heard_ttl |= theirs.heard_ttl
            mine.seen_any = mine.seen_any or theirs.seen_any
        self.sessions |= other.sessions
        self.authenticated = self.authenticated or other.authenticated

    def as_dict(self) -> dict[str, Any]:
        return {"peer": str(self.address), "listed": self.listed, "authenticated": self.authenticated,
                "paths": {p.label: s.as_dict() for p, s in self.paths.items()}}  # fmt: skip


@dataclass
class ProbeReport:
    interface: str
    source: IPAddress | None
    session: int
    vrid: int
    count: int
    interval: float
    peers: list[PeerResult]
    vrids_in_use: list[int]
    warnings: list[str]
    duration: float
    auth: str = "session"  # "psk": replies signed under --key-file; "session": under per-run keys
    ignored: dict[str, int] = field(default_factory=dict)  # packets not answered, by why

    @property
    def lossy(self) -> bool:
        return any(s.sent and s.received < s.sent for p in self.peers if p.listed for s in p.paths.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "format_version": pw.FORMAT_VERSION,
            "interface": self.interface,
            "source": str(self.source) if self.source else None,
            "session": self.session,
            "vrid": self.vrid,
            "count": self.count,
            "interval": self.interval,
            "duration_s": round(self.duration, 3),
            "udp": {"port": pw.UDP_PORT, "group4": str(pw.UDP_GROUP4), "group6": str(pw.UDP_GROUP6)},
            "peers": [p.as_dict() for p in self.peers],
            "vrids_in_use": self.vrids_in_use,
            "warnings": self.warnings,
            "auth": self.auth,
            "ignored": self.ignored,
            "ok": not self.lossy,
        }




class TokenBuckets:
    """Per-key token buckets, the least recently used forgotten beyond ``size``."""

    def __init__(self, rate: float, burst: float, size: int) -> None:
        self.rate, self.burst, self.size = rate, burst, size
        self._buckets: OrderedDict[object, tuple[float, float]] = OrderedDict()

    def take(self, key: object, now: float) -> bool:
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        ok = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if ok else tokens, now)
        if len(self._buckets) > self.size:
            self._buckets.popitem(last=False)
        return ok

    def __len__(self) -> int:
        return len(self._buckets)


class ProbeBook:
    """What one run heard and answered, and the rules for answering (see the module docstring)."""

    def __init__(self, peers: Iterable[IPAddress], count: int, interval: float, session: int, private: bytes,
                 psk: bytes | None = None, vrid: int = pw.DEFAULT_VRID) -> None:  # fmt: skip
        self.count, self.vrid, self.session = count, vrid, session
        self.private, self.public = private, pw.public_key(private)
        self.psk = psk
        self.results: dict[IPAddress, PeerResult] = {p: PeerResult(p, True) for p in peers}
        self.own: set[IPAddress] = set()
        self.subnets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.vrids: set[int] = set()
        self.warnings: list[str] = []
        self.ignored: dict[str, int] = {}
        rate = max(50.0, 8.0 / interval)  # a peer probing at our interval sends 4 paths x 2 a round at most
        self.limiter = TokenBuckets(rate, 2 * rate, MAX_SOURCES)
        self.key_budget = TokenBuckets(KEY_RATE, KEY_RATE, 1)
        self.peer_keys: dict[IPAddress, bytes] = {}  # the public key kept for each address
        self._keys: OrderedDict[bytes, bytes] = OrderedDict()  # peer public key -> pair key

    # -- admission --

    def admits(self, src: IPAddress) -> bool:
        """Listed, or on one of the interface's subnets (an IPv6 link-local address always is)."""
        if src in self.results and self.results[src].listed:
            return True
        if src.version == 6 and src.is_link_local:
            return True
        return any(src in net for net in self.subnets if net.version == src.version)

    def _ignore(self, why: str) -> None:
        self.ignored[why] = self.ignored.get(why, 0) + 1

    def _peer(self, addr: IPAddress) -> PeerResult | None:
        if addr in self.own:
            return None
        if addr not in self.results:
            if sum(1 for r in self.results.values() if not r.listed) >= MAX_UNLISTED:
                return None
            self.results[addr] = PeerResult(addr, False)
        return self.results[addr]

    def _pair_key(self, src: IPAddress, public: bytes, now: float) -> bytes | None:
        """The key shared with the host at ``src``, if ``public`` is the key kept for it."""
        kept = self.peer_keys.setdefault(src, public) if len(self.peer_keys) < MAX_SOURCES else self.peer_keys.get(src)
        if kept != public:
            note = f"{src}: a second public key claims this address (forged, or its probe restarted); ignored"
            if note not in self.warnings:
                self.warnings.append(note)
            return None
        key = self._keys.get(public)
        if key is None:
            if not self.key_budget.take("all", now):
                return None
            try:
                key = pw.pair_key(self.private, self.public, public, self.psk)
            except ValueError:
                return None
            self._keys[public] = key
            if len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)
        return key

    # -- one packet --

    def handle(self, src: IPAddress, ttl: int, msg: ProbeMessage, now_ns: int, *, arrived_multicast: bool,
               now: float = 0.0) -> ProbeMessage | None:  # fmt: skip
        """Account for one received probe; returns the reply to send (signed), if any."""
        if msg.session == self.session:
            return None  # our own, looped back
        if msg.path.multicast != arrived_multicast:
            self._ignore("path-mismatch")
            return None
        if not self.admits(src):
            self._ignore("foreign-source")
            return None
        if msg.kind is Kind.REQUEST:
            if not self.limiter.take(src, now):
                self._ignore("rate-limited")
                return None
            key = self._pair_key(src, msg.public_key, now)
            if key is None:
                self._ignore("no-key")
                return None
            peer = self._peer(src)
            if peer is not None:
                self._note(peer, msg)
                stats = peer.paths[msg.path]
                if msg.seq and len(stats.heard) < MAX_HEARD:
                    stats.heard.add(msg.seq)
                    stats.heard_ttl.add(ttl & 0xFF)
            return pw.reply_to(msg, self.session, ttl, self.public, key)
        if msg.requester != self.session:
            return None  # another host's round trip
        key = self._pair_key(src, msg.public_key, now)
        if key is None or not pw.verify(key, msg):
            self._ignore("bad-tag")
            return None
        peer = self._peer(src)
        if peer is None:
            return None
        self._note(peer, msg)
        peer.authenticated = True
        stats = peer.paths[msg.path]
        if msg.seq not in stats.rtt_ms and 1 <= msg.seq <= self.count:
            stats.rtt_ms[msg.seq] = max(0.0, (now_ns - msg.time_ns) / 1e6)
            stats.ttl_at_peer.add(msg.ttl)
        return None

    def _note(self, peer: PeerResult, msg: ProbeMessage) -> None:
        if len(peer.sessions) < MAX_SESSIONS:
            peer.sessions.add(msg.session)
        peer.paths[msg.path].seen_any = True

    def on_vrrp(self, src: IPAddress, dst: IPAddress, ttl: int, payload: bytes, now_ns: int,
                now: float = 0.0, verify_checksum: bool = True) -> list[Send]:  # fmt: skip
        """One protocol-112 datagram: a VRID seen on the link, or a probe to answer."""
        if not pw.is_probe(payload):
            if len(payload) >= 2:
                self.vrids.add(payload[1])
            return []
        try:
            msg = pw.decode_vrrp(payload, verify_checksum=verify_checksum)
        except pw.NotAProbe:
            self._ignore("malformed")
            return []
        if not msg.path.vrrp:
            self._ignore("path-mismatch")
            return []
        multicast = dst in (VRRP_GROUP4, VRRP_GROUP6)
        if not multicast and dst not in self.own and self.own:
            self._ignore("not-for-us")
            return []
        reply = self.handle(src, ttl, msg, now_ns, arrived_multicast=multicast, now=now)
        if reply is None:
            return []
        return [(pw.encode_vrrp(reply), None if multicast else src)]

    def on_udp(self, src: IPAddress, dst: IPAddress | None, ttl: int, data: bytes, now_ns: int,
               now: float = 0.0) -> list[Send]:  # fmt: skip
        """One UDP datagram on the probe port (``dst``: where it was addressed, from IP_PKTINFO)."""
        try:
            msg = pw.decode_body(data)
        except pw.NotAProbe:
            self._ignore("malformed")
            return []
        if msg.path.vrrp or dst is None:
            self._ignore("path-mismatch")
            return []
        multicast = dst in (pw.UDP_GROUP4, pw.UDP_GROUP6)
        reply = self.handle(src, ttl, msg, now_ns, arrived_multicast=multicast, now=now)
        if reply is None:
            return []
        return [(pw.encode_body(reply), None if multicast else src)]

    def merged(self) -> list[PeerResult]:
        """Listed peers first; an unlisted address whose public key is a listed peer's is that peer.

        Over IPv6 the same host sends multicast from its link-local address and unicast from the
        address we listed; its per-run public key, the same on every path, ties the two together
        (a session id would not do: it travels in clear, anyone could claim a listed peer's).
        """
        listed = [r for r in self.results.values() if r.listed]
        others: list[PeerResult] = []
        for r in self.results.values():
            if r.listed:
                continue
            key = self.peer_keys.get(r.address)
            owner = next((p for p in listed if key is not None and self.peer_keys.get(p.address) == key), None)
            if owner is not None:
                owner.absorb(r)
            else:
                others.append(r)
        return listed + others

    def request(self, path: Path, seq: int, time_ns: int) -> ProbeMessage:
        return ProbeMessage(Kind.REQUEST, path, self.session, seq, time_ns, vrid=self.vrid, public_key=self.public)

    def state_size(self) -> dict[str, Any]:
        """How much the network made us keep (for tests and --json)."""
        return {"results": len(self.results), "sources": len(self.limiter), "keys": len(self._keys),
                "peer_keys": len(self.peer_keys)}  # fmt: skip
