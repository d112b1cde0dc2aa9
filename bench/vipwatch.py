"""Watch one address on one lab host: print when it appears and disappears, to the microsecond.

    vipwatch.py ADDRESS [--iface eth0] [--adverts-from IP]      (inside the host: lab.popen(host, [...]))

Polling `ip addr` from outside costs milliseconds per look and misses short flaps; this subscribes
to the kernel's address notifications (RTMGRP_IPV4_IFADDR / RTMGRP_IPV6_IFADDR) in the host's
namespace and prints one JSON line per change, stamped with time.monotonic() (CLOCK_MONOTONIC is
one clock for every namespace, so the lines of several hosts merge into one timeline). The first
line is the state at start. SIGTERM ends it.

The fallback of bench/vipwatch.c (same output), for a machine without gcc. Address notifications
carry no kernel timestamp: a watcher stamps a change when it reads it. As SCHED_OTHER this one
stamped late behind the daemons on the 2-vCPU lab (a takeover's 1 ms answer window shrank short
double holdings to a tenth of their length, 2026-11-30); as SCHED_FIFO, which it asks for, its
~0.2 ms of Python per notification holds a daemon off its CPU instead (perf sched, 2026-12-01).

With ``--adverts-from IP`` it also prints the arrival of every VRRP advert from that source
(``{"t": ..., "advert": priority}``, the kernel's receive timestamp on the same clock), so a
failover can be timed from the last advert the new master heard rather than from the fault.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from ipaddress import ip_address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vrrpkit.io import netlink, rtnl

SO_TIMESTAMPNS = 35  # asm-generic/socket.h (Python 3.11's socket lacks the name)
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RT_PRIORITY = 10  # above every daemon (keepalived and vrrpkit run SCHED_OTHER here), below the kernel's


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("--iface", default="eth0")
    parser.add_argument("--adverts-from")
    args = parser.parse_args()
    with contextlib.suppress(OSError):  # not permitted: stamps as before, a little later under load
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
    want = ip_address(args.address)
    index = socket.if_nametoindex(args.iface)
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    sock.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    peer = ip_address(args.adverts_from).packed if args.adverts_from else b""
    vrrp = _advert_socket(args.iface, index, len(peer) == 16) if args.adverts_from else None
    held = netlink.has_address(args.iface, want)
    print(json.dumps({"t": time.monotonic(), "held": held, "initial": True}), flush=True)
    while True:
        ready = select.select([sock, vrrp] if vrrp else [sock], [], [])[0]
        if vrrp is not None and vrrp in ready:
            _print_adverts(vrrp, peer)
        if sock not in ready:
            continue
        data = sock.recv(65536)
        now = time.monotonic()
        for kind, _flags, buf, start, end in rtnl.parse_messages(data):
            if kind not in (rtnl.RTM_NEWADDR, rtnl.RTM_DELADDR):
                continue
            msg = rtnl.parse_addr(buf, start, end)
            raw = msg and (msg.local or msg.address)
            if msg is None or msg.index != index or not raw or ip_address(raw) != want:
                continue
            now_held = kind == rtnl.RTM_NEWADDR
            if now_held != held:
                held = now_held
                print(json.dumps({"t": now, "held": held}), flush=True)


def _advert_socket(ifname: str, index: int, v6: bool) -> socket.socket:
    vrrp = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW, 112)
    vrrp.setsockopt(socket.SOL_SOCKET, 25, ifname.encode())  # SO_BINDTODEVICE
    if v6:
        mreq = struct.pack("16si", ip_address("ff02::12").packed, index)
        vrrp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    else:
        mreqn = struct.pack("4s4si", socket.inet_aton("224.0.0.18"), bytes(4), index)
        vrrp.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    vrrp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    vrrp.setblocking(False)
    return vrrp


def _print_adverts(vrrp: socket.socket, peer: bytes) -> None:
    offset = time.time() - time.monotonic()  # kernel stamps are CLOCK_REALTIME
    while True:
        try:
            data, anc, _flags, addr = vrrp.recvmsg(2048, 64)
        except BlockingIOError:
            return
        stamp = None
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", value[:16])
                stamp = sec + nsec / 1e9 - offset
        t = stamp if stamp is not None else time.monotonic()
        if len(peer) == 16:  # IPv6: no IP header, the source in the address
            if ip_address(addr[0].split("%")[0]).packed == peer and len(data) > 2:
                print(json.dumps({"t": t, "advert": data[2]}), flush=True)
            continue
        ihl = (data[0] & 0x0F) * 4
        if data[12:16] == peer and len(data) > ihl + 2:
            print(json.dumps({"t": t, "advert": data[ihl + 2]}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
