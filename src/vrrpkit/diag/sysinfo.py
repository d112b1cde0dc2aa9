"""Reading this host: /proc and /sys, the neighbour table, and the firewall rules (not pure).

Why /proc rather than tools: ``ip maddr``, ``ss`` and ``arp`` may be missing on a minimal host, and
the files are what those tools read anyway. Every reader tolerates a missing file or program
(containers hide some of them) and returns what it could read. The parsing is pure and lives
elsewhere, so tests feed it captured text: /proc and /sys formats in ``procfs`` (re-exported here,
so a caller that reads and parses imports one module), rulesets in ``diag.firewall``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from vrrpkit.core.config import IPAddress
from vrrpkit.diag.firewall import Ruleset, parse_iptables_save, parse_nft_json
from vrrpkit.diag.procfs import (
    IFF_ALLMULTI,
    IFF_BROADCAST,
    IFF_LOOPBACK,
    IFF_MULTICAST,
    IFF_PROMISC,
    IFF_RUNNING,
    IFF_UP,
    Daemon,
    IfaceInfo,
    IgmpIface,
    RawSocket,
    describe_flags,
    effective_rp_filter,
    parse_arp,
    parse_counters,
    parse_igmp,
    parse_igmp6,
    parse_ip_neigh_json,
    parse_raw,
)

__all__ = [
    "IFF_ALLMULTI",
    "IFF_BROADCAST",
    "IFF_LOOPBACK",
    "IFF_MULTICAST",
    "IFF_PROMISC",
    "IFF_RUNNING",
    "IFF_UP",
    "Daemon",
    "IfaceInfo",
    "IgmpIface",
    "RawSocket",
    "describe_flags",
    "effective_rp_filter",
    "firewalld_running",
    "parse_arp",
    "parse_counters",
    "parse_igmp",
    "parse_igmp6",
    "parse_ip_neigh_json",
    "parse_raw",
    "read_iface",
    "read_int",
    "read_neighbours",
    "read_rulesets",
    "read_text",
    "vrrp_daemons",
]


# --- files, processes, neighbours ----------------------------------------------------------------


def _run(argv: list[str], timeout: float = 5.0) -> tuple[int, str, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)
    return done.returncode, done.stdout, done.stderr


def _tool(name: str) -> str | None:
    """Also look in the sbin directories: nft and iptables-save live there, often off a user's PATH."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


def read_text(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def read_int(path: str) -> int | None:
    text = read_text(path).strip()
    try:
        return int(text, 0)
    except ValueError:
        return None



def read_iface(name: str) -> IfaceInfo:
    base = f"/sys/class/net/{name}"
    if not os.path.isdir(base):
        return IfaceInfo(name, False)
    flags = read_int(f"{base}/flags") or 0
    rp = effective_rp_filter(
        read_int("/proc/sys/net/ipv4/conf/all/rp_filter"), read_int(f"/proc/sys/net/ipv4/conf/{name}/rp_filter")
    )
    return IfaceInfo(name, True, flags, read_text(f"{base}/operstate").strip(), read_int(f"{base}/mtu"),
                     read_text(f"{base}/address").strip().lower(), rp)  # fmt: skip


def vrrp_daemons() -> list[Daemon]:
    """Processes holding a protocol-112 raw socket in this network namespace (or an IPv4 protocol-51
    one: keepalived with auth_type AH reads its adverts there).

    /proc/net/raw is per namespace, so the inodes found there belong to processes of ours; a scan of
    /proc/*/fd maps them to pids. Process names decide the kind (keepalived's VRRP child holds the
    sockets; its parent does not).
    """
    inodes = {s.inode for s in parse_raw(read_text("/proc/net/raw"), 4) if s.protocol in (112, 51)}
    inodes |= {s.inode for s in parse_raw(read_text("/proc/net/raw6"), 6) if s.protocol == 112}
    if not inodes:
        return []
    wanted = {f"socket:[{i}]" for i in inodes}
    found: list[Daemon] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            links = {os.readlink(f"{fd_dir}/{fd}") for fd in os.listdir(fd_dir)}
        except OSError:
            continue
        if links & wanted:
            cmdline = read_text(f"/proc/{entry}/cmdline").replace("\0", " ").strip()
            comm = read_text(f"/proc/{entry}/comm").strip()
            kind = "keepalived" if "keepalived" in comm else "vrrpkit" if "vrrpkit" in cmdline else "other"
            found.append(Daemon(int(entry), kind, cmdline or comm))
    return found


def read_neighbours(ifnames: list[str]) -> dict[IPAddress, str]:
    """The kernel's neighbour table (IPv4 and IPv6) on these interfaces: who answered ARP/NS.

    ``ip -j neigh`` covers IPv6, which /proc does not show; /proc/net/arp is the fallback.
    """
    out: dict[IPAddress, str] = {}
    tool = _tool("ip")
    for name in ifnames:
        if tool is None:
            break
        try:
            done = subprocess.run([tool, "-j", "neigh", "show", "dev", name], capture_output=True, text=True,
                                  timeout=5, check=False)  # fmt: skip
            out.update(parse_ip_neigh_json(json.loads(done.stdout or "[]")))
        except (OSError, ValueError, subprocess.TimeoutExpired):
            continue
    if not out:
        arp = parse_arp(read_text("/proc/net/arp"))
        out.update({a: mac for a, (mac, dev) in arp.items() if dev in ifnames})
    return out


# --- the firewall rules -------------------------------------------------------------------------


def read_rulesets() -> tuple[list[Ruleset], list[str]]:
    """nftables, iptables and ip6tables as this host has them; notes say what could not be read."""
    rulesets: list[Ruleset] = []
    notes: list[str] = []
    nft = _tool("nft")
    if nft:
        rc, out, err = _run([nft, "-j", "list", "ruleset"])
        if rc == 0:
            try:
                rulesets.append(parse_nft_json(out))
            except (ValueError, KeyError, TypeError) as exc:
                notes.append(f"nft -j list ruleset: unreadable ({exc})")
        else:
            notes.append(f"nft -j list ruleset failed: {err.strip()[:200]}")
    else:
        notes.append("nft not installed: nftables rules not checked")
    for family, name in ((4, "iptables-legacy-save"), (6, "ip6tables-legacy-save"), (4, "iptables-save"),
                         (6, "ip6tables-save")):  # fmt: skip
        tool = _tool(name)
        if tool is None:
            continue
        if "legacy" not in name and any(r.source == ("iptables" if family == 4 else "ip6tables") for r in rulesets):
            continue
        rc, out, _err = _run([tool])
        if rc == 0 and out.strip():
            rs = parse_iptables_save(out, family)
            if "legacy" not in name and _is_nft_backend(tool):
                rs.notes.append("iptables-nft: these rules are also in the nftables ruleset")
                continue  # the nft ruleset already holds them, with handles
            rulesets.append(rs)
    return rulesets, notes


def _is_nft_backend(tool: str) -> bool:
    rc, out, _ = _run([tool, "--version"])
    return rc == 0 and "nf_tables" in out


def firewalld_running() -> bool:
    tool = _tool("firewall-cmd")
    if tool is None:
        return False
    rc, out, _ = _run([tool, "--state"])
    return rc == 0 and out.strip() == "running"



KEEPALIVED_DATA = "/tmp/keepalived.data"
KEEPALIVED_STATS = "/tmp/keepalived.stats"


def keepalived_pids(daemons: list[Daemon]) -> list[int]:
    """The keepalived processes to signal: the parent of each VRRP child that holds the sockets."""
    out: list[int] = []
    for d in daemons:
        if d.kind != "keepalived":
            continue
        stat = read_text(f"/proc/{d.pid}/stat")
        ppid = int(stat.rsplit(")", 1)[-1].split()[1]) if ")" in stat else 0
        parent = ppid if ppid > 1 and "keepalived" in read_text(f"/proc/{ppid}/comm") else d.pid
        if parent not in out:
            out.append(parent)
    return out


def read_keepalived(daemons: list[Daemon], signal_it: bool, timeout: float = 2.0) -> tuple[str, str, dict[str, object]]:
    """keepalived's data and stats files (text, text, where they came from).

    With ``signal_it``, SIGUSR1 and SIGUSR2 make every keepalived of this namespace write them now
    and we wait (up to ``timeout``) for both to be rewritten; without, the files are read as they
    are, and ignored when older than the keepalived process (a previous run's leftovers).
    """
    import signal
    import time

    pids = keepalived_pids(daemons)
    source: dict[str, object] = {"data_file": KEEPALIVED_DATA, "stats_file": KEEPALIVED_STATS, "signalled": False,
                                 "pids": pids}  # fmt: skip
    if not pids:
        return "", "", source
    started = min(_mtime(f"/proc/{p}") or 0.0 for p in pids)
    if signal_it:
        asked = time.time()
        for pid in pids:
            for sig in (signal.SIGUSR1, signal.SIGUSR2):
                try:
                    os.kill(pid, sig)
                except OSError as exc:
                    source["error"] = f"cannot signal keepalived {pid}: {exc.strerror or exc}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all((_mtime(f) or 0.0) >= asked - 0.01 for f in (KEEPALIVED_DATA, KEEPALIVED_STATS)):
                break
            time.sleep(0.02)
        time.sleep(0.05)  # the dump is written in pieces: let the last one land
        source["signalled"] = True
        started = asked - 0.01
    texts = []
    for path in (KEEPALIVED_DATA, KEEPALIVED_STATS):
        mtime = _mtime(path)
        if mtime is None or mtime < started:
            texts.append("")
            source[path] = "missing" if mtime is None else "older than keepalived: ignored"
            continue
        texts.append(read_text(path))
        source[path] = f"written {max(0.0, time.time() - mtime):.1f} s ago"
    return texts[0], texts[1], source


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
