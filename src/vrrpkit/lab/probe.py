"""Traffic helpers run *inside* a lab host: `python -m vrrpkit.lab.probe ping|udp ...`.

A fresh Debian has no ping(8), and the lab must never send from the root namespace, so the lab
carries its own ICMP echo and UDP sender and runs them with `ip netns exec`. Output is one JSON
line on stdout.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import select
import socket
import struct
import sys
import time
from collections.abc import Sequence

from vrrpkit.core.packet import checksum as _checksum


def ping(dst: str, count: int, timeout: float, interval: float) -> dict[str, object]:
    """ICMP(v6) echo over a raw socket; counts replies from `dst` that carry our identifier."""
    addr = ipaddress.ip_address(dst.split("%")[0])  # "fe80::1%eth0": the scope only matters to sendto
    v6 = addr.version == 6
    family = socket.AF_INET6 if v6 else socket.AF_INET
    target = socket.getaddrinfo(dst, None, family, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)[0][4]
    if v6:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        request, reply = 128, 129
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        request, reply = 8, 0
    ident = os.getpid() & 0xFFFF
    received: set[int] = set()
    rtts: list[float] = []
    sent_at: dict[int, float] = {}
    with sock:
        for seq in range(1, count + 1):
            payload = b"vrrpkit-lab-ping"
            header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
            csum = 0 if v6 else _checksum(header + payload)  # the kernel fills in ICMPv6 checksums
            sock.sendto(struct.pack("!BBHHH", request, 0, csum, ident, seq) + payload, target)
            sent_at[seq] = time.monotonic()
            wait_until = time.monotonic() + (timeout if seq == count else interval)
            while (left := wait_until - time.monotonic()) > 0:
                ready, _, _ = select.select([sock], [], [], left)
                if not ready:
                    break
                data, src = sock.recvfrom(65535)
                if ipaddress.ip_address(src[0].split("%")[0]) != addr:
                    continue
                icmp = data if v6 else data[(data[0] & 0x0F) * 4 :]
                if len(icmp) < 8:
                    continue
                kind, _code, _csum, rid, rseq = struct.unpack_from("!BBHHH", icmp)
                if kind == reply and rid == ident and rseq in sent_at and rseq not in received:
                    received.add(rseq)
                    rtts.append((time.monotonic() - sent_at[rseq]) * 1000.0)
                if len(received) == count:
                    break
    return {"dst": str(addr), "sent": count, "received": len(received), "rtt_ms": [round(r, 3) for r in rtts]}


def udp(dst: str, port: int, count: int, iface: str, ttl: int, payload: bytes) -> dict[str, object]:
    """Send UDP datagrams, pinned to `iface` so that multicast needs no route in the host."""
    addr = ipaddress.ip_address(dst)
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    index = socket.if_nametoindex(iface)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, struct.pack("4s4si", b"", b"", index))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
            target: tuple[object, ...] = (str(addr), port)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
            target = (str(addr), port, 0, index if addr.is_link_local or addr.is_multicast else 0)
        for _ in range(count):
            sock.sendto(payload, target)
    return {"dst": str(addr), "port": port, "sent": count}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vrrpkit.lab.probe", description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("ping", help="ICMP echo; exit 0 when at least one reply came back")
    p.add_argument("dst")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--timeout", type=float, default=1.0, help="wait after the last request (s)")
    p.add_argument("--interval", type=float, default=0.2)
    u = sub.add_parser("udp", help="send UDP datagrams (unicast or multicast)")
    u.add_argument("dst")
    u.add_argument("--port", type=int, default=9999)
    u.add_argument("--count", type=int, default=1)
    u.add_argument("--iface", default="eth0")
    u.add_argument("--ttl", type=int, default=1)
    u.add_argument("--payload", default="vrrpkit-lab")
    args = parser.parse_args(argv)
    if args.what == "ping":
        result = ping(args.dst, args.count, args.timeout, args.interval)
        print(json.dumps(result))
        return 0 if result["received"] else 1
    print(json.dumps(udp(args.dst, args.port, args.count, args.iface, args.ttl, args.payload.encode())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
