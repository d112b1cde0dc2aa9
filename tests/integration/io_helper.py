"""Runs vrrpkit.io operations inside a lab host (``lab.exec(host, [python, io_helper.py, ...])``).

Sockets, netlink and nftables act on the network namespace of the process that opens them, so
the namespace tests run each operation through this small CLI inside ``ip netns exec``. Every
command prints one JSON document (``recv`` and ``links`` first print ``READY`` once their socket
is open, so the test can start the sender without racing it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import select
import socket
import subprocess
import sys
import time
from collections import Counter
from ipaddress import ip_address, ip_interface
from pathlib import Path
from typing import Any

from vrrpkit.core.config import Vip
from vrrpkit.io import garp, linkmon, netlink, nft, routes
from vrrpkit.io.stamped import Known, known_key
from vrrpkit.io.vrrp_socket import VrrpSocket4, VrrpSocket6, open_vrrp_socket

HELPER = Path(__file__).resolve()


def _out(doc: Any) -> None:
    print(json.dumps(doc), flush=True)


def _vip(args: argparse.Namespace) -> Vip:
    return Vip(ip_interface(args.vip), brd=args.brd, scope=args.scope, label=args.label, flags=tuple(args.flag or ()))


def cmd_recv(args: argparse.Namespace) -> None:
    sockets: list[VrrpSocket4 | VrrpSocket6] = []
    for spec in args.socket:  # "mcast" or "ucast[:SRC]"
        mode, _, src = spec.partition(":")
        source = ip_address(src) if src else None
        group = ip_address(args.group) if args.group else None
        sockets.append(open_vrrp_socket(args.iface, args.family, group, unicast=mode == "ucast", src=source))
    print("READY", flush=True)
    got: list[list[dict[str, Any]]] = [[] for _ in sockets]
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and sum(map(len, got)) < args.count:
        readable, _, _ = select.select(sockets, [], [], max(0.0, deadline - time.monotonic()))
        for sock in readable:
            good, bad = sock.drain()
            i = sockets.index(sock)
            got[i] += [{"src": str(d.src), "dst": str(d.dst), "ttl": d.ttl, "payload": d.payload.hex()} for d in good]
            got[i] += [{"invalid": str(exc)} for exc in bad]
    _out({"sockets": got})


def cmd_lazy(args: argparse.Namespace) -> None:
    """A socket read lazily, as the daemon reads one whose instances are all BACKUP: wait on its
    goodbye socket only, then read the VRRP socket's queue with the arrival stamps."""
    sock = open_vrrp_socket(args.iface, args.family)
    wake = sock.open_wake()
    sock.set_stamped(True)
    print("READY", flush=True)
    readable, _, _ = select.select([wake], [], [], args.timeout)
    woke_at = time.monotonic()
    goodbyes = sock.clear_wake()
    good, bad = sock.drain()
    got = [{"priority": d.payload[2], "at": at} for d, at in zip(good, sock.stamps, strict=True)]
    _out({"woken": bool(readable), "woke_at": woke_at, "goodbyes": goodbyes, "got": got, "bad": len(bad)})


def cmd_known(args: argparse.Namespace) -> None:
    """A lazy socket's byte match (io/stamped.py) on what the kernel really delivers: read as
    datagrams come, learn each parsed advert as known, and say which were parsed and which came
    back only as known (with their arrival)."""
    sock = open_vrrp_socket(args.iface, args.family)
    sock.set_stamped(True)
    table: dict[bytes, Known[int]] = {}
    parsed: list[int] = []
    known: list[dict[str, Any]] = []
    print("READY", flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and len(parsed) + len(known) < args.count:
        select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        batch = sock.drain_known(64, table, lambda hits: True)
        if batch.hits is not None:
            counts = Counter(batch.seen)
            known += [{"priority": k.owner, "count": counts[k], "at": at} for k, at in batch.hits.items()]
            continue
        for d in batch.good:
            parsed.append(d.payload[2])
            table[known_key(d.src, d.dst, d.payload)] = Known(d.payload[2], d.ttl, None)
    _out({"parsed": parsed, "known": known, "now": time.monotonic()})


def cmd_send(args: argparse.Namespace) -> None:
    group = ip_address(args.group) if args.group else None
    src = ip_address(args.src) if args.src else None
    sock = open_vrrp_socket(args.iface, args.family, group, unicast=args.unicast, src=src)
    errors = []
    for _ in range(args.count):
        dst = ip_address(args.dst) if args.dst else None
        error = sock.send(bytes.fromhex(args.payload), dst, src)  # type: ignore[arg-type]
        if error is not None:
            errors.append(error.errno)
        time.sleep(args.gap)
    _out({"errors": errors, "sent": sock.stats.sent, "send_errors": sock.stats.send_errors})


def cmd_burst(args: argparse.Namespace) -> None:
    """One tick of a MASTER with many instances, twice: the same adverts through send_many."""
    from vrrpkit.core.effects import SendAdvert
    from vrrpkit.core.packet import Advertisement, encode

    src = ip_address(args.src)
    sock = open_vrrp_socket(args.iface, args.family)
    group = sock.group
    adverts = []
    for v in range(1, args.count + 1):
        data = encode(Advertisement(3, v, 100, (src,), 1.0), src, group)
        adverts.append(SendAdvert(f"VI_{v}", args.iface, src, group, data, 100, ttl=args.ttl if v == 1 else 255))
    errors = [sock.send_many(adverts) for _ in range(args.rounds)]
    _out({"errors": [sum(e is not None for e in r) for r in errors], "sent": sock.stats.sent})


def cmd_vip(args: argparse.Namespace) -> None:
    vip = _vip(args)
    changed = netlink.add_vip(args.iface, vip) if args.action == "add" else netlink.del_vip(args.iface, vip)
    _out({"changed": changed})


def cmd_vip_remade(args: argparse.Namespace) -> None:
    """`del_vip` sends to the ifindex it last saw for a name (`add_vip` too, within FRESH of the
    lookup): each step here makes that index wrong in one way the kernel can say (the interface
    made again under the name, at a new index; the address removed behind its back), and each
    change must still land on the interface of that name and say the truth."""
    vip = Vip(ip_interface("192.0.2.77/32"))

    def ip(*argv: str) -> None:
        subprocess.run(["ip", *argv], check=True)

    def remake() -> int:
        subprocess.run(["ip", "link", "del", "vk0"], check=False, stderr=subprocess.DEVNULL)
        ip("link", "add", "vk0", "type", "veth", "peer", "name", "vk1")
        ip("link", "set", "vk0", "up")
        return socket.if_nametoindex("vk0")

    first = remake()
    steps = {"added": netlink.add_vip("vk0", vip), "removed": netlink.del_vip("vk0", vip)}
    steps["removed_again"] = netlink.del_vip("vk0", vip)  # the index is right, the address is gone
    second = remake()  # a new index; the old one is gone
    ip("addr", "add", "192.0.2.77/32", "dev", "vk0")  # not through us: the remembered index is stale
    steps["removed_after_remake"] = netlink.del_vip("vk0", vip)
    steps["left"] = bool(subprocess.run(["ip", "-o", "addr", "show", "dev", "vk0"], capture_output=True, text=True,
                                        check=True).stdout.count("192.0.2.77"))  # fmt: skip
    remake()  # again: the index the last lookup saw (within FRESH) is gone when the VIP is added
    steps["added_after_remake"] = netlink.add_vip("vk0", vip)
    steps["there"] = "192.0.2.77" in subprocess.run(["ip", "-o", "addr", "show", "dev", "vk0"], capture_output=True,
                                                    text=True, check=True).stdout  # fmt: skip
    ip("link", "del", "vk0")
    steps["removed_without_interface"] = netlink.del_vip("vk0", vip)
    _out({**steps, "new_index": second != first})


def cmd_info(args: argparse.Namespace) -> None:
    async def gather() -> dict[str, Any]:
        async with netlink.Netlink() as nl:  # the async API, as the daemon uses it
            return {
                "primary4": str(await nl.primary_address(args.iface, 4)),
                "primary6": str(await nl.primary_address(args.iface, 6)),
                "has": {a: await nl.has_address(args.iface, ip_address(a)) for a in args.has or ()},
            }

    doc = asyncio.run(gather())
    doc["sync_primary4"] = str(netlink.primary_address(args.iface, 4))
    doc["primary4_excluding"] = str(netlink.primary_address(args.iface, 4, exclude=map(ip_address, args.exclude or ())))
    doc["exists"] = netlink.interface_exists(args.iface)
    doc["up"] = netlink.link_is_up(args.iface)
    doc["missing_exists"] = netlink.interface_exists("nosuch0")
    _out(doc)


def cmd_links(args: argparse.Namespace) -> None:
    with linkmon.LinkMonitor([args.iface]) as mon:
        mon.request_dump()
        print("READY", flush=True)
        events: list[tuple[str, bool]] = []
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and len(events) < args.count:
            readable, _, _ = select.select([mon], [], [], max(0.0, deadline - time.monotonic()))
            if readable:
                events += mon.drain()
        _out({"events": events})


def cmd_overrun(args: argparse.Namespace) -> None:
    """A burst of address changes the route monitor does not read in time, on the kernel's smallest
    receive buffer: the kernel drops events (ENOBUFS), the monitor counts the overrun, and then
    reads what comes next as usual."""
    mon = routes.RouteMonitor()
    try:
        mon.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # rounded up to the kernel's minimum
        addresses = [f"192.0.2.{i}/32" for i in range(100, 100 + args.count)]
        batch = "".join(f"address add {a} dev {args.iface}\n" for a in addresses)
        batch += "".join(f"address del {a} dev {args.iface}\n" for a in addresses[:-1])
        subprocess.run(["ip", "-batch", "-"], input=batch, text=True, check=True, timeout=30)
        while mon.drain():  # the overrun, then what the queue still held
            pass
        burst = mon.overruns
        subprocess.run(["ip", "address", "del", addresses[-1], "dev", args.iface], check=True, timeout=10)
        select.select([mon], [], [], 5.0)
        after = [str(g) for g in mon.drain()]
        _out({"overruns_in_burst": burst, "overruns": mon.overruns, "after": after})
    finally:
        mon.close()


def cmd_link_overrun(args: argparse.Namespace) -> None:
    """A burst of link changes the link monitor does not read in time, on the smallest receive
    buffer, with the watched link going down in the middle of it: the kernel drops events
    (ENOBUFS), the monitor counts the overrun and asks for a full dump, so the watched link's state
    is right even if its own event was lost; then the next change is read as usual."""
    # veth pairs: the lab's kernels have no dummy driver (each pair is two links, two events)
    subprocess.run(["ip", "link", "add", "wmon", "type", "veth", "peer", "name", "wmonp"], check=True, timeout=10)
    subprocess.run(["ip", "link", "set", "wmonp", "up"], check=True, timeout=10)  # else no carrier
    subprocess.run(["ip", "link", "set", "wmon", "up"], check=True, timeout=10)
    # The carrier comes a moment after "up" (the kernel's linkwatch runs later): the first dump
    # must see the link running (it once saw it down, in a floor run on 2026-12-01)
    deadline = time.monotonic() + 5
    while not netlink.link_is_up("wmon") and time.monotonic() < deadline:
        time.sleep(0.02)
    mon = linkmon.LinkMonitor(["wmon"])
    try:
        mon.request_dump()
        select.select([mon], [], [], 5.0)
        first = mon.drain()
        mon.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # rounded up to the kernel's minimum
        names = [f"burst{i}" for i in range(args.count)]
        batch = "".join(f"link add {n} type veth peer name {n}p\n" for n in names[: args.count // 2])
        batch += "link set wmon down\n"
        batch += "".join(f"link add {n} type veth peer name {n}p\n" for n in names[args.count // 2 :])
        batch += "".join(f"link del {n}\n" for n in names)
        subprocess.run(["ip", "-batch", "-"], input=batch, text=True, check=True, timeout=30)
        seen: list[tuple[str, bool]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and select.select([mon], [], [], 0.5)[0]:
            seen += mon.drain()  # the overrun, what the queue still held, and the dump it asked for
        burst = mon.overruns
        subprocess.run(["ip", "link", "set", "wmon", "up"], check=True, timeout=10)
        after: list[tuple[str, bool]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and ("wmon", True) not in after and select.select([mon], [], [], 1.0)[0]:
            after += mon.drain()
        _out({"first": first, "overruns_in_burst": burst, "seen": seen, "overruns": mon.overruns, "after": after})
    finally:
        mon.close()
        subprocess.run(["ip", "link", "del", "wmon"], check=False, timeout=10)


def cmd_garp(args: argparse.Namespace) -> None:
    with garp.GarpSender(args.iface) as sender:
        failed = sender.announce([ip_address(a) for a in args.address], args.count)
        _out({"failed": failed, "sent": sender.sent, "mac": garp.format_mac(sender.mac)})


def cmd_probe(args: argparse.Namespace) -> None:
    address = ip_address(args.address)
    macs = garp.probe_once(args.iface, address, timeout=args.timeout)
    _out({"macs": sorted(macs)})


def cmd_probe_later(args: argparse.Namespace) -> None:
    """Open the prober, say READY, and probe only after a line arrives on stdin (frames queue meanwhile)."""
    address = ip_address(args.address)
    with garp.NeighborProber(args.iface, address.version) as prober:
        print("READY", flush=True)
        sys.stdin.readline()
        prober.probe(address)
        time.sleep(args.timeout)
        _out({"macs": sorted(prober.finish(address))})


def cmd_nft(args: argparse.Namespace) -> None:
    fw = nft.NoAcceptFirewall(table=args.table)
    addresses = [ip_address(a) for a in args.address or ()]
    if args.action == "setup":
        fw.setup()
    elif args.action == "add":
        fw.add(args.iface, addresses)
    elif args.action == "remove":
        fw.remove(args.iface, addresses)
    elif args.action == "teardown":
        fw.teardown()
    elif args.action == "add-async":
        asyncio.run(fw.add_async(args.iface, addresses))
    _out({"ok": True})


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--iface", default="eth0")
    r.add_argument("--family", type=int, default=4)
    r.add_argument("--group")
    r.add_argument("--socket", action="append", default=[])
    r.add_argument("--count", type=int, default=1)
    r.add_argument("--timeout", type=float, default=5.0)
    lz = sub.add_parser("lazy")
    lz.add_argument("--iface", default="eth0")
    lz.add_argument("--family", type=int, default=4)
    lz.add_argument("--timeout", type=float, default=5.0)
    kn = sub.add_parser("known")
    kn.add_argument("--iface", default="eth0")
    kn.add_argument("--family", type=int, default=4)
    kn.add_argument("--count", type=int, default=1)
    kn.add_argument("--timeout", type=float, default=5.0)
    s = sub.add_parser("send")
    s.add_argument("--iface", default="eth0")
    s.add_argument("--family", type=int, default=4)
    s.add_argument("--group")
    s.add_argument("--unicast", action="store_true")
    s.add_argument("--src")
    s.add_argument("--dst")
    s.add_argument("--payload", required=True)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--gap", type=float, default=0.05)
    bu = sub.add_parser("burst")
    bu.add_argument("--iface", default="eth0")
    bu.add_argument("--family", type=int, default=4)
    bu.add_argument("--ttl", type=int, default=255)  # the first advert's (unicast_ttl)
    bu.add_argument("--src", required=True)
    bu.add_argument("--count", type=int, default=50)
    bu.add_argument("--rounds", type=int, default=2)
    v = sub.add_parser("vip")
    v.add_argument("action", choices=["add", "del"])
    v.add_argument("vip")
    v.add_argument("--iface", default="eth0")
    v.add_argument("--brd")
    v.add_argument("--scope")
    v.add_argument("--label")
    v.add_argument("--flag", action="append")
    sub.add_parser("vip-remade")
    i = sub.add_parser("info")
    i.add_argument("--iface", default="eth0")
    i.add_argument("--has", action="append")
    i.add_argument("--exclude", action="append")
    m = sub.add_parser("links")
    m.add_argument("--iface", default="eth0")
    m.add_argument("--count", type=int, default=1)
    m.add_argument("--timeout", type=float, default=5.0)
    lo = sub.add_parser("link-overrun")
    lo.add_argument("--count", type=int, default=60)
    ov = sub.add_parser("overrun")
    ov.add_argument("--iface", default="eth0")
    ov.add_argument("--count", type=int, default=50)
    g = sub.add_parser("garp")
    g.add_argument("address", nargs="+")
    g.add_argument("--iface", default="eth0")
    g.add_argument("--count", type=int, default=1)
    b = sub.add_parser("probe")
    b.add_argument("address")
    b.add_argument("--iface", default="eth0")
    b.add_argument("--timeout", type=float, default=1.0)
    b2 = sub.add_parser("probe-later")
    b2.add_argument("address")
    b2.add_argument("--iface", default="eth0")
    b2.add_argument("--timeout", type=float, default=0.5)
    n = sub.add_parser("nft")
    n.add_argument("action", choices=["setup", "add", "remove", "teardown", "add-async"])
    n.add_argument("address", nargs="*")
    n.add_argument("--iface", default="eth0")
    n.add_argument("--table", default=nft.DEFAULT_TABLE)
    args = p.parse_args(argv)
    {
        "recv": cmd_recv,
        "lazy": cmd_lazy,
        "known": cmd_known,
        "send": cmd_send,
        "burst": cmd_burst,
        "vip": cmd_vip,
        "vip-remade": cmd_vip_remade,
        "info": cmd_info,
        "links": cmd_links,
        "overrun": cmd_overrun,
        "link-overrun": cmd_link_overrun,
        "garp": cmd_garp,
        "probe": cmd_probe,
        "probe-later": cmd_probe_later,
        "nft": cmd_nft,
    }[args.cmd](args)


if __name__ == "__main__":
    main(sys.argv[1:])
