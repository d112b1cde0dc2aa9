"""Counting the adverts that reach the wire, from h2 (never from h1, where the daemon under test runs).

- `WireCounter`: nftables counters in h2 (table `ip`/`ip6 vrrpkit_bench`): VRRP from h1 in prerouting,
  VRRP that h2 itself sends in output. Exact and cheap; this is the advert count of the report.
- `start_capture`: tcpdump in h2 with a large buffer and a short snaplen, for the timing of each
  advert (the gaps between adverts of one VRID). The lab's own `Lab.start_capture` uses immediate
  mode, which drops frames at 2000 frames/s on a busy 2-core machine; here tcpdump's "dropped by
  kernel" line is parsed and reported, so a lossy capture is visible, and counts never depend on it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import signal
import subprocess
import time
from pathlib import Path

from vrrpkit.lab import Lab, wait_until

TABLE = "vrrpkit_bench"


class WireCounter:
    """nft counters in `host`: VRRP packets per source address, received (prerouting) and sent (output)."""

    def __init__(self, lab: Lab, host: str, peer: ipaddress.IPv4Address | ipaddress.IPv6Address,
                 own: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:  # fmt: skip
        self.lab = lab
        self.host = host
        self.family = "ip" if peer.version == 4 else "ip6"
        match = "ip protocol 112 ip saddr" if peer.version == 4 else "ip6 nexthdr 112 ip6 saddr"
        script = (
            f"table {self.family} {TABLE} {{\n"
            "  chain pre {\n    type filter hook prerouting priority -400; policy accept;\n"
            f'    {match} {peer} counter comment "rx-from-peer"\n  }}\n'
            "  chain out {\n    type filter hook output priority -400; policy accept;\n"
            f'    {match} {own} counter comment "tx-own"\n  }}\n'
            "}\n"
        )
        with contextlib.suppress(subprocess.CalledProcessError):
            lab.exec(host, ["nft", "delete", "table", self.family, TABLE])
        lab.exec(host, ["nft", "-f", "-"], input=script)

    def read(self) -> dict[str, int]:
        """{"rx-from-peer": packets, "tx-own": packets} as of now."""
        data = json.loads(self.lab.exec(self.host, ["nft", "-j", "list", "table", self.family, TABLE]).stdout)
        found: dict[str, int] = {}
        for item in data.get("nftables", []):
            rule = item.get("rule")
            if rule and "comment" in rule:
                found[rule["comment"]] = sum(e["counter"]["packets"] for e in rule.get("expr", []) if "counter" in e)
        return found

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.lab.exec(self.host, ["nft", "delete", "table", self.family, TABLE])


class BigCapture:
    """tcpdump in a lab host, 64 MiB kernel buffer, 64-byte snaplen, writing a pcap."""

    def __init__(self, lab: Lab, host: str, path: Path, expr: str) -> None:
        self.path = path
        self.errlog = path.with_suffix(".tcpdump.log")
        argv = ["tcpdump", "-i", lab.iface, "-n", "-B", "65536", "-s", "64", "-Z", "root", "-w", str(path), expr]
        with open(self.errlog, "wb") as err:
            self.proc = lab.popen(host, argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        listening = wait_until(lambda: "listening on" in self._err() or self.proc.poll() is not None, 10.0, 0.02)
        if not listening or self.proc.poll() is not None:
            raise RuntimeError(f"tcpdump in {host} did not start: {self._err().strip()}")

    def _err(self) -> str:
        try:
            return self.errlog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> tuple[Path, int | None]:
        """SIGINT (tcpdump flushes and prints its statistics); returns the pcap and the frames it dropped."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        time.sleep(0.05)
        match = re.search(r"(\d+) packets? dropped by kernel", self._err())
        return self.path, int(match.group(1)) if match else None
