"""``vrrpkit investigate``: the seed's whole investigation on this host, as data.

``collect`` gathers facts (files, /proc, firewall rules, then a window of 3 advert intervals + 2 s
during which it taps the link, listens on a protocol-112 socket, asks the network who holds each
VIP, pings the peers and asks them by IGMP whether they are in the VRRP group); ``verdict.decide``
turns them into findings. Nothing here prints: progress goes to a callback the CLI renders.

What is sent, and to whom (all of it stays on the instance's link, and only goes to addresses the
user gave or configured, or to the link's own groups):

* ARP probes (RFC 5227, sender 0.0.0.0) / DAD neighbour solicitations for each VIP: poison no cache;
* ICMP echo to each peer (``--peer`` and ``unicast_peer``);
* unless ``--passive``: one IGMPv3 group-specific query for 224.0.0.18 (changes no host's IGMP mode)
  and, for IPv6 instances, one MLDv2 query for ff02::12 (``igmp_reporters`` then holds the MLD
  reporters too),
  and two protocol-112 ``vrrpkit probe`` packets by unicast to each peer, whose only possible answer
  is ICMP "protocol unreachable" from a host where no VRRP daemon runs.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from ipaddress import IPv4Address, IPv6Address, ip_interface
from typing import Any

from vrrpkit.control.snapshot import Snapshot
from vrrpkit.core.ah import AH_LEN, IP_LEN
from vrrpkit.core.config import VRRP_GROUP4, VRRP_GROUP6, InstanceConfig, IPAddress
from vrrpkit.core.packet import AUTH_AH
from vrrpkit.diag import kadata, probe_wire, sysinfo
from vrrpkit.diag.decode import sight, sight_ip
from vrrpkit.diag.facts import DEFAULT_CONFIG, Facts, PeerFacts
from vrrpkit.diag.findings import Report
from vrrpkit.diag.verdict import decide
from vrrpkit.io.icmp import EchoReply, IcmpProber
from vrrpkit.io.igmp import mld_report_groups

Progress = Callable[[str, float], None]
IGMP = 2
HOP_BY_HOP = 0  # IPv6 next header of MLD reports (they carry Router Alert)
ICMP_COUNT = 3
SPREAD = 0.6  # probes and echoes go out over the first 0.6 s of the window


class EnvironmentProblem(Exception):
    """Not root, no such interface, no config: the CLI prints it on one line and exits 2."""


@dataclass
class Options:
    files: list[str] | None = None
    iface: str | None = None
    peers: list[IPAddress] = field(default_factory=list)
    duration: float | None = None
    passive: bool = False
    control: str | None = None
    config_id: str | None = None
    signal_keepalived: bool = False  # SIGUSR1/SIGUSR2 before and after the window (keepalived rewrites its files)


def default_duration(instances: list[InstanceConfig]) -> float:
    """3 advert intervals of the slowest instance + 2 s: a live master is heard at least 3 times."""
    longest = max((c.advert_int_cs for c in instances), default=100) / 100
    return 3 * longest + 2.0


def investigate(opts: Options, progress: Progress | None = None) -> Report:
    return decide(collect(opts, progress))


def _load_config(opts: Options, facts: Facts) -> list[InstanceConfig]:
    files = opts.files or []
    if not files:
        if os.path.exists(DEFAULT_CONFIG):
            files = [DEFAULT_CONFIG]
        elif opts.iface is None:
            raise EnvironmentProblem(f"no configuration: {DEFAULT_CONFIG} does not exist; give -f FILE or -i IFACE")
        else:
            facts.notes.append(f"no configuration ({DEFAULT_CONFIG} missing): VRIDs are learned from the link")
            return []
    try:
        from vrrpkit.config import load_files
        from vrrpkit.config.files import cannot_read
    except ImportError as exc:
        raise EnvironmentProblem(f"the keepalived.conf parser is not available in this build ({exc})") from exc
    try:
        result = load_files(files, opts.config_id)
    except OSError as exc:
        raise EnvironmentProblem(cannot_read(exc)) from exc
    facts.config_files = list(files)
    for d in result.diagnostics:
        facts.diagnostics.append(
            {
                "file": d.file,
                "line": d.line,
                "column": d.column,
                "severity": str(getattr(d.severity, "value", d.severity)),
                "rule": d.rule,
                "message": d.message,
                "text": str(d),
            }
        )
    instances = list(result.instances)
    if opts.iface is not None:
        others = [c.name for c in instances if c.interface != opts.iface]
        if others:
            facts.notes.append(f"instances on other interfaces not examined: {', '.join(others)}")
        instances = [c for c in instances if c.interface == opts.iface]
    return instances


def collect(opts: Options, progress: Progress | None = None) -> Facts:
    """Gather every fact ``decide`` needs. Raises EnvironmentProblem for exit-2 conditions."""
    if os.geteuid() != 0:
        raise EnvironmentProblem("investigate needs root (packet and raw sockets): run it with sudo")
    if opts.iface is not None and not os.path.isdir(f"/sys/class/net/{opts.iface}"):
        raise EnvironmentProblem(f"no such interface: {opts.iface}")
    report = progress or (lambda _m, _f: None)
    facts = Facts(hostname=socket.gethostname())
    facts.instances = _load_config(opts, facts)
    names = sorted({opts.iface} if opts.iface else {c.interface for c in facts.instances})
    if not names:
        raise EnvironmentProblem("no vrrp_instance in the configuration and no -i IFACE: nothing to examine")
    report("reading the host", 0.0)
    vips = {v for c in facts.instances for v in c.advertised_addresses()}
    for name in names:
        info = sysinfo.read_iface(name)
        facts.ifaces[name] = info
        if not info.exists:
            continue
        for a in _addresses(name):
            if a.ip in vips:
                facts.vips_local.add(a.ip)
            else:
                facts.addresses.setdefault(name, []).append(str(a))
    igmp = sysinfo.parse_igmp(sysinfo.read_text("/proc/net/igmp"))
    igmp6 = sysinfo.parse_igmp6(sysinfo.read_text("/proc/net/igmp6"))
    for name in names:
        facts.joined[name] = set(igmp.get(name, sysinfo.IgmpIface()).groups) | set(igmp6.get(name, set()))
    facts.daemons = sysinfo.vrrp_daemons()
    facts.daemon_status = _daemon_status(opts, facts)
    facts.rulesets, facts.firewall_notes = sysinfo.read_rulesets()
    facts.firewalld = sysinfo.firewalld_running()
    own = facts.own_addresses()
    for addr in opts.peers:
        if addr not in own:
            facts.peers.setdefault(addr, PeerFacts(addr, "flag"))
    for c in facts.instances:
        for p in c.unicast_peers:
            if p.address not in own:
                facts.peers.setdefault(p.address, PeerFacts(p.address, "config"))
    before = _counters()
    ka_before = _keepalived(facts, opts.signal_keepalived) if opts.signal_keepalived else None
    facts.window = opts.duration if opts.duration is not None else default_duration(facts.instances)
    _window(opts, facts, [n for n in names if facts.ifaces[n].exists and facts.ifaces[n].up], report)
    after = _counters()
    facts.keepalived = _keepalived(facts, opts.signal_keepalived) or []
    for state in facts.keepalived:
        if ka_before is not None:
            was = next((b for b in ka_before if b.name == state.name), None)
            state.window = kadata.delta(was.counters if was else None, state.counters)
    facts.counters_delta = {k: after[k] - before.get(k, 0) for k in _WATCHED if k in after}
    facts.arp = sysinfo.read_neighbours(names)
    for peer in facts.peers.values():
        if peer.address in facts.arp:
            peer.mac = facts.arp[peer.address]
    for s in facts.sightings:  # peers learned from the link: senders of our VRIDs with our VIPs
        cfg = next((c for c in facts.instances if c.vrid == s.vrid and c.interface == s.ifname), None)
        if (cfg and not s.outgoing and s.raw and set(s.raw.addresses) == set(cfg.advertised_addresses())
                and s.src not in facts.peers and s.src not in own):  # fmt: skip
            facts.peers[s.src] = PeerFacts(s.src, "advert")
    report("deciding", 1.0)
    return facts


def _keepalived(facts: Facts, signal_it: bool) -> list[kadata.InstanceState] | None:
    """keepalived's own account of this host's instances (None when no keepalived runs here)."""
    if not any(d.kind == "keepalived" for d in facts.daemons):
        return None
    data, stats, source = sysinfo.read_keepalived(facts.daemons, signal_it)
    facts.keepalived_source = source
    own = {str(a) for a in facts.own_addresses()}
    states = kadata.merge(kadata.parse_data(data), kadata.parse_stats(stats))
    return [s for s in states if not s.src_ip or s.src_ip in own]  # /tmp is shared by namespaces


_WATCHED = ("TcpExt:IPReversePathFilter", "IpExt:InMcastPkts", "IpExt:OutMcastPkts", "Ip:InDiscards",
            "Ip:InUnknownProtos")  # fmt: skip


def _counters() -> dict[str, int]:
    out = sysinfo.parse_counters(sysinfo.read_text("/proc/net/netstat"))
    out.update(sysinfo.parse_counters(sysinfo.read_text("/proc/net/snmp")))
    return out


def _addresses(name: str) -> list[Any]:
    from vrrpkit.io import netlink

    try:
        return [ip_interface(f"{a.address}/{a.prefixlen}") for a in netlink.addresses(name)]
    except OSError:
        return []


def _daemon_status(opts: Options, facts: Facts) -> Snapshot | None:
    if not any(d.kind == "vrrpkit" for d in facts.daemons):
        return None
    from vrrpkit.control import ControlError, default_path, request

    try:
        return Snapshot.from_json(request(default_path(opts.control), "status", timeout=2.0))
    except ControlError as exc:
        facts.notes.append(f"vrrpkit daemon runs but its control socket did not answer: {exc}")
        return None


def _probe_vrid(facts: Facts) -> int:
    used = {c.vrid for c in facts.instances}
    return next((v for v in range(probe_wire.DEFAULT_VRID, 0, -1) if v not in used), probe_wire.DEFAULT_VRID)


class _Window:
    """The sockets of one investigation window, closed together whatever happens."""

    def __init__(self) -> None:
        self.stack = contextlib.ExitStack()
        self.readers: dict[int, Callable[[], None]] = {}

    def add(self, obj: Any, on_read: Callable[[], None]) -> Any:
        self.stack.callback(obj.close)
        self.readers[obj.fileno()] = on_read
        return obj


def _window(opts: Options, facts: Facts, names: list[str], report: Progress) -> None:
    from vrrpkit.io.ah_socket import AhSocket4
    from vrrpkit.io.garp import NeighborProber
    from vrrpkit.io.igmp import send_group_query, send_mld_query
    from vrrpkit.io.tap import PacketTap
    from vrrpkit.io.vrrp_socket import VrrpSocket4, VrrpSocket6

    win = _Window()
    start = time.monotonic()
    deadline = start + facts.window
    schedule: list[tuple[float, Callable[[], None]]] = []
    probers: dict[tuple[str, int], Any] = {}
    vip_iface: dict[IPAddress, str] = {}
    with win.stack:
        for name in names:
            try:
                tap = PacketTap(name, protocols4=(112, 51, IGMP), protocols6=(112, HOP_BY_HOP))  # 51: auth_type AH
            except OSError as exc:
                raise EnvironmentProblem(f"cannot tap {name}: {exc.strerror or exc}") from exc
            win.add(tap, _tap_reader(tap, facts))
            for family, cls in ((4, VrrpSocket4), (6, VrrpSocket6)):
                if not any(c.family == family and c.interface == name for c in facts.instances) and family == 6:
                    continue
                src = facts.primary(name, family)
                try:
                    sock = cls(name, src=src)  # type: ignore[arg-type]
                except OSError as exc:
                    if family == 4:
                        facts.socket_open = False  # without it, tap-versus-socket proves nothing
                    facts.notes.append(f"no protocol-112 socket on {name} (IPv{family}): {exc}")
                    continue
                win.add(sock, _socket_reader(sock, name, facts))
                if not opts.passive:
                    schedule += _unicast_probes(sock, facts, name, family, src, start)
            if any(c.auth_type == AUTH_AH and c.interface == name for c in facts.instances):
                try:  # keepalived's auth_type AH: its adverts are protocol 51, never seen on 112
                    ah = AhSocket4(name, src=facts.primary(name, 4))  # type: ignore[arg-type]
                except OSError as exc:
                    facts.notes.append(f"no protocol-51 (AH) socket on {name}: {exc}")
                else:
                    win.add(ah, _socket_reader(ah, name, facts, AH_LEN + IP_LEN))
        for c in facts.instances:
            if c.interface not in names:
                continue
            for vip in c.advertised_addresses():
                vip_iface[vip] = c.interface
                key = (c.interface, vip.version)
                if key not in probers:
                    try:
                        prober = NeighborProber(c.interface, vip.version)
                    except OSError as exc:
                        facts.notes.append(f"cannot probe owners on {c.interface}: {exc}")
                        continue
                    probers[key] = win.add(prober, prober.read)
                for i in range(3):
                    schedule.append((start + i * SPREAD / 3, partial(probers[key].probe, vip)))
        pingers: dict[tuple[str, int], IcmpProber] = {}
        for peer in facts.peers.values():
            via = _iface_for(facts, peer.address, names)
            if via is None:
                continue
            key = (via, peer.address.version)
            if key not in pingers:
                try:
                    pinger = IcmpProber(via, peer.address.version, _source_for(facts, via, peer.address))
                except OSError as exc:
                    facts.notes.append(f"cannot ping from {via}: {exc}")
                    continue
                pingers[key] = win.add(pinger, _pinger_reader(pinger, facts))
            for seq in range(1, ICMP_COUNT + 1):
                schedule.append((start + (seq - 1) * SPREAD / ICMP_COUNT, _ping(pingers[key], peer, seq)))
        if not opts.passive:
            for name in names:
                if any(c.interface == name and not c.unicast and c.family == 4 for c in facts.instances):
                    try:
                        send_group_query(name, VRRP_GROUP4)
                        facts.igmp_queried.add(name)
                    except OSError as exc:
                        facts.notes.append(f"IGMP query on {name} failed: {exc}")
                if any(c.interface == name and not c.unicast and c.family == 6 for c in facts.instances):
                    try:  # the same question for IPv6 listeners: their MLD reports name ff02::12
                        send_mld_query(name, VRRP_GROUP6)
                        facts.igmp_queried.add(name)
                    except OSError as exc:
                        facts.notes.append(f"MLD query on {name} failed: {exc}")
        schedule.sort(key=lambda item: item[0])
        fds = list(win.readers)
        last_report = 0.0
        hard = start + EXTEND_UP_TO * facts.window
        while True:
            now = time.monotonic()
            if now >= deadline:
                waiting = _unheard_owners(facts, probers, vip_iface) if now < hard else []
                if not waiting:
                    break
                if deadline == start + facts.window:
                    facts.notes.append(f"listened past {facts.window:g} s (up to {hard - start:g} s) for the adverts "
                                       f"of {', '.join(waiting)}: it answers for the VIP and should advertise")
                deadline = min(hard, now + 0.25)
            while schedule and schedule[0][0] <= now:
                schedule.pop(0)[1]()
            if now - last_report >= 0.25:
                report(f"listening on {', '.join(names)}", min(1.0, (now - start) / max(facts.window, 0.001)))
                last_report = now
            wake = min([deadline, now + 0.25] + ([schedule[0][0]] if schedule else []))
            readable, _, _ = select.select(fds, [], [], max(0.0, wake - now))
            for fd in readable:
                win.readers[fd]()
        for fd in fds:  # whatever is still queued counts
            win.readers[fd]()
        facts.window = time.monotonic() - start
        for vip, ifname in vip_iface.items():
            found = probers.get((ifname, vip.version))
            if found is not None:
                facts.vip_claims[vip] = set(found.finish(vip))
    for peer in facts.peers.values():
        via = _iface_for(facts, peer.address, names)
        if via in facts.igmp_queried and isinstance(peer.address, IPv4Address):
            peer.igmp_report = peer.address in facts.igmp_reporters.get(via, {}).values()


EXTEND_UP_TO = 3.0  # a window may grow to 3 times its length while an owner's adverts are still awaited


def _unheard_owners(facts: Facts, probers: dict[tuple[str, int], Any], vip_iface: dict[IPAddress, str]) -> list[str]:
    """The other owners of a VIP whose adverts the tap has not seen yet, where their silence may be ours.

    keepalived (2.2.7) restarts a master's advert timer on every advert it receives for the VRID,
    even one it rejects (a wrong password, another interval): two such masters hold each other
    back, and one can be silent for seconds while it answers ARP for the VIP. A window that ends
    then would call its adverts lost. So while an owner is unheard and our adverts can reach it
    (we sent some; it answered our IGMP query, or we asked none, or the instance is unicast), the
    window goes on, up to EXTEND_UP_TO times its length. A network that eats multicast (no IGMP
    report from the owner) does not wait: there, silence is the finding.
    """
    out: list[str] = []
    for cfg in facts.instances:
        vips = [v for v in cfg.advertised_addresses() if vip_iface.get(v) == cfg.interface]
        owners: set[str] = set()
        for vip in vips:
            prober = probers.get((cfg.interface, vip.version))
            if prober is not None:
                owners |= set(prober.claimants(vip))
        if not owners:
            continue
        ours = [s for s in facts.sightings if s.vrid == cfg.vrid and s.ifname == cfg.interface]
        if not any(s.outgoing for s in ours):
            continue  # we are not advertising: nothing of ours can hold the owner back
        heard = {s.mac for s in ours if not s.outgoing}
        reporters = facts.igmp_reporters.get(cfg.interface, {})
        for mac in sorted(owners - heard):
            if cfg.unicast or mac in reporters or cfg.interface not in facts.igmp_queried:
                out.append(f"{mac} (VRID {cfg.vrid})")
    return out


def _tap_reader(tap: Any, facts: Facts) -> Callable[[], None]:
    def read() -> None:
        for pkt in tap.read():
            mac = ":".join(f"{b:02x}" for b in pkt.mac)
            if pkt.ethertype == 0x0800 and len(pkt.data) > 20 and pkt.data[9] == IGMP:
                if not pkt.outgoing:
                    _igmp_report(pkt.data, mac, tap.ifname, facts)
                continue
            if pkt.ethertype == 0x86DD and len(pkt.data) > 40 and pkt.data[6] == HOP_BY_HOP:
                if not pkt.outgoing and VRRP_GROUP6 in mld_report_groups(pkt.data):
                    facts.igmp_reporters.setdefault(tap.ifname, {})[mac] = IPv6Address(pkt.data[8:24])
                continue
            s = sight_ip(pkt.data, time=pkt.time, mac=mac, outgoing=pkt.outgoing, ifname=tap.ifname)
            if s is not None and s.probe is None:
                facts.sightings.append(s)

    return read


def _igmp_report(packet: bytes, mac: str, ifname: str, facts: Facts) -> None:
    """Record the sender of a membership report that names the VRRP group (IGMPv2 or v3)."""
    ihl = (packet[0] & 0x0F) * 4
    msg = packet[ihl:]
    src = IPv4Address(packet[12:16])
    groups: set[IPv4Address] = set()
    if len(msg) >= 8 and msg[0] in (0x12, 0x16):
        groups.add(IPv4Address(msg[4:8]))
    elif len(msg) >= 8 and msg[0] == 0x22:
        n = int.from_bytes(msg[6:8], "big")
        off = 8
        for _ in range(min(n, 64)):
            if len(msg) < off + 8:
                break
            aux, nsrc = msg[off + 1], int.from_bytes(msg[off + 2 : off + 4], "big")
            groups.add(IPv4Address(msg[off + 4 : off + 8]))
            off += 8 + 4 * nsrc + 4 * aux
    if VRRP_GROUP4 in groups:
        facts.igmp_reporters.setdefault(ifname, {})[mac] = src


def _socket_reader(sock: Any, name: str, facts: Facts, trailer: int = 0) -> Callable[[], None]:
    """`trailer`: the AH socket hands over the message followed by its IP and AH headers."""

    def read() -> None:
        good, _bad = sock.drain()
        for d in good:
            payload = d.payload[: len(d.payload) - trailer]
            s = sight(d.src, d.dst, d.ttl, payload, kernel_checked=isinstance(d.src, IPv6Address))
            if s.probe is None and s.vrid is not None:
                facts.socket_rx.append((name, d.src, s.vrid))

    return read


def _pinger_reader(pinger: IcmpProber, facts: Facts) -> Callable[[], None]:
    def read() -> None:
        for event in pinger.read():
            if isinstance(event, EchoReply):
                p = facts.peers.get(event.src)
                if p is not None:
                    p.icmp_received += 1
                    rtt = round(event.rtt * 1000, 3)
                    p.rtt_ms = rtt if p.rtt_ms is None else min(p.rtt_ms, rtt)
            elif event.protocol_unreachable and event.quoted_protocol == 112:
                p = facts.peers.get(event.quoted_dst)
                if p is not None:
                    p.proto_unreachable = True

    return read


def _ping(pinger: Any, peer: PeerFacts, seq: int) -> Callable[[], None]:
    def send() -> None:
        if pinger.send(peer.address, seq) is None:
            peer.icmp_sent += 1

    return send


def _unicast_probes(sock: Any, facts: Facts, name: str, family: int, src: IPAddress | None,
                    start: float) -> list[tuple[float, Callable[[], None]]]:  # fmt: skip
    """Two protocol-112 probes to each peer of this family: an absent VRRP daemon draws an ICMP error."""
    if src is None:
        return []
    session = int.from_bytes(os.urandom(4), "big")
    vrid = _probe_vrid(facts)
    out: list[tuple[float, Callable[[], None]]] = []
    for p in facts.peers.values():
        if p.address.version != family or _iface_for(facts, p.address, [name]) != name:
            continue
        for seq in (1, 2):
            msg = probe_wire.ProbeMessage(probe_wire.Kind.REQUEST, probe_wire.Path.VRRP_UNICAST, session, seq,
                                          time.monotonic_ns(), vrid=vrid)  # fmt: skip
            data = probe_wire.encode_vrrp(msg)
            out.append((start + (seq - 1) * SPREAD / 2, partial(sock.send, data, p.address)))
    return out


def _source_for(facts: Facts, ifname: str, peer: IPAddress) -> IPAddress | None:
    """Our own address for talking to ``peer`` (never a VIP: ``facts.addresses`` excludes them)."""
    if peer.version == 6 and peer.is_link_local:
        return None  # the kernel's link-local choice is right, and a global source would be wrong
    return facts.primary(ifname, peer.version)


def _iface_for(facts: Facts, addr: IPAddress, names: list[str]) -> str | None:
    """The examined interface whose subnet holds ``addr`` (or the only one, for routed peers)."""
    for name in names:
        for a in facts.addresses.get(name, []):
            net = ip_interface(a).network
            if net.version == addr.version and addr in net:
                return name
    return names[0] if len(names) == 1 else None
