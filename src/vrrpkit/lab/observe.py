"""Looking at a lab from the outside: addresses on the hosts, switch rule counters, packet captures.

Tests judge daemons by what the kernel shows (`ip addr`, nft counters, frames on the wire), never
by what the daemons say about themselves; these are the readers for that evidence.
"""

from __future__ import annotations

import ipaddress
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vrrpkit.lab import system
from vrrpkit.lab.pcap import Frame, read_pcap
from vrrpkit.lab.process import wait_until
from vrrpkit.lab.system import LabError
from vrrpkit.lab.topology import IFACE

Address = str | ipaddress.IPv4Address | ipaddress.IPv6Address


def addresses(netns: str, address: Address, interface: str | None = IFACE) -> Iterator[tuple[str, dict[str, Any]]]:
    """(ifname, addr_info) for each time `address` sits on eth0 (or `interface`; None: any) in `netns`,
    as `ip -j addr` shows it."""
    want = ipaddress.ip_address(address)
    where = ("dev", IFACE) if interface == IFACE else ()  # eth0 always exists; other names may not
    for link in system.ip_json("addr", "show", *where, netns=netns):
        if interface is not None and link.get("ifname") != interface:
            continue
        for info in link.get("addr_info", []):
            if "local" in info and ipaddress.ip_address(info["local"]) == want:
                yield link["ifname"], info


def rule_counters(ruleset: dict[str, Any]) -> dict[str, int]:
    """Packets per rule comment in `nft -j list ...` output; rules without a comment are not counted."""
    found: dict[str, int] = {}
    for item in ruleset.get("nftables", []):
        rule = item.get("rule")
        if not rule or "comment" not in rule:
            continue
        packets = sum(e["counter"]["packets"] for e in rule.get("expr", []) if "counter" in e)
        found[rule["comment"]] = found.get(rule["comment"], 0) + packets
    return found


def tcpdump_argv(path: Path, filter: str | None, count: int | None) -> list[str]:
    """tcpdump on eth0 writing `path` unbuffered; filter "vrrp" means IP protocol 112 over v4 and v6."""
    expr = "ip proto 112 or ip6 proto 112" if filter == "vrrp" else (filter or "")
    argv = [system.tool("tcpdump"), "-i", IFACE, "-n", "-U", "--immediate-mode", "-Z", "root", "-w", str(path)]
    if count is not None:
        argv += ["-c", str(count)]
    if expr:
        argv.append(expr)
    return argv


class Capture:
    """A running tcpdump inside one host, writing a pcap; `stop()` returns its path."""

    def __init__(self, host: str, path: Path, proc: subprocess.Popen[bytes]) -> None:
        self.host = host
        self.path = path
        self.proc = proc

    def wait_listening(self, errlog: Path, timeout: float = 10.0) -> None:
        """Return once tcpdump says it is listening (no frame sent after this is missed); LabError if it died."""

        def listening() -> bool:
            return "listening on" in errlog.read_text(errors="replace") or self.proc.poll() is not None

        wait_until(listening, timeout, interval=0.02)
        if self.proc.poll() is not None and self.proc.returncode != 0:
            raise LabError(f"tcpdump in {self.host} failed: {errlog.read_text(errors='replace').strip()}")

    def stop(self, timeout: float = 3.0) -> Path:
        """SIGINT (tcpdump then flushes and exits), SIGKILL if it hangs; idempotent."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                system.send_signal(self.proc.pid, signal.SIGKILL, group=True)
                self.proc.wait(timeout=timeout)
        return self.path

    def frames(self) -> list[Frame]:
        """Stop the capture and return the frames it saw."""
        return read_pcap(self.stop())

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
