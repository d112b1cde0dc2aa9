"""The network-namespace lab: hosts on one switch, a "cloud" that eats multicast, and faults.

Topology (for lab name N and K hosts)::

    N-h1 [eth0 192.0.2.1/24]--veth--[Nh1]\\
    N-h2 [eth0 192.0.2.2/24]--veth--[Nh2]-- br0   (all inside namespace N-sw, table bridge vrrpkit_lab_N)
    ...                                 /

The bridge lives in its own namespace so that no lab rule can touch the root namespace's bridges and
no Docker/br_netfilter rule of the root namespace can touch the lab. Veths are created directly in
their namespaces, so the root namespace never sees a lab interface, address, route or frame.

Every fault is an nftables rule in the switch namespace (the kernels here have no `netem`), in one
`bridge` table whose forward hook jumps to three chains: `lab_partition`, `lab_loss`, `lab_cloud`.
Each chain is rewritten as a whole, in one nft transaction, from the state file; counters of the
other chains survive, so tests can read how many frames a fault ate.

State lives in `/run/vrrpkit-lab/N/state.json` (pids with their start times, faults), guarded by an
flock on that directory, so that another process (the CLI, `cleanup_leftovers`) can pick a lab up
or tear it down after its creator was SIGKILLed.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from vrrpkit.lab import system
from vrrpkit.lab.pcap import Frame, read_pcap
from vrrpkit.lab.system import LabError

RUN_ROOT = Path(os.environ.get("VRRPKIT_LAB_DIR", "/run/vrrpkit-lab"))
NAME_RE = re.compile(r"[a-z][a-z0-9]{0,9}")
MAX_HOSTS = 99  # "<name:10>h<99>" is 13 characters: switch ports stay within IFNAMSIZ-1 = 15
IFACE = "eth0"
BRIDGE = "br0"
MARKER = "vrrpkit-lab"  # ifalias prefix on every lab interface: how leftovers are recognised
NET4 = ipaddress.IPv4Network("192.0.2.0/24")
NET6 = ipaddress.IPv6Network("2001:db8::/64")
# Every ICMPv6 neighbour-discovery type (RS, RA, NS, NA, redirect): what a VPC still forwards.
ND_TYPES = "nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect"
_SRC_DIR = str(Path(__file__).resolve().parents[2])  # the directory that holds the vrrpkit package

T = TypeVar("T")


def run_dir(name: str) -> Path:
    """Where a lab keeps its state file, control sockets and (by default) logs."""
    return RUN_ROOT / name


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.05) -> T | None:
    """Poll `predicate` until it returns something truthy (returned) or `timeout` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


_default_names = itertools.count(1)


def _default_name() -> str:
    """`vk<pid>` for a process's first lab, `vk<pid>z<n>` after it (hex pid if decimal is too long)."""
    n = next(_default_names)
    for pid in (str(os.getpid()), f"{os.getpid():x}"):
        name = f"vk{pid}" if n == 1 else f"vk{pid}z{n}"
        if len(name) <= 10:
            return name
    raise LabError("too many default-named labs in one process; pass name=")


def _validate_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise LabError(f"lab name {name!r}: use 1-10 characters [a-z0-9], starting with a letter")
    return name


def _lab_namespaces(name: str, existing: Sequence[str] | None = None) -> list[str]:
    """The lab's namespaces that exist now, hosts first (so the switch goes last on teardown)."""
    names = system.netns_list() if existing is None else existing
    hosts = system.matching(rf"{re.escape(name)}-h\d+", names)
    return sorted(hosts, key=lambda ns: int(ns.rsplit("-h", 1)[1])) + system.matching(rf"{re.escape(name)}-sw", names)


# --- state file -------------------------------------------------------------------------------------


def _state_path(name: str) -> Path:
    return run_dir(name) / "state.json"


def _read_state(name: str) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = json.loads(_state_path(name).read_text())
    except (OSError, ValueError):
        return None
    return loaded


def _write_state(name: str, state: Mapping[str, Any]) -> None:
    """Replace the state file atomically: a reader never sees half a document."""
    path = _state_path(name)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Serialise read-modify-write of one lab's state between processes (flock on the run dir)."""
    try:
        fd = os.open(run_dir(name), os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError as exc:
        raise LabError(f"lab {name} is not up (no {run_dir(name)})") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --- discovery and teardown ----------------------------------------------------------------------------


def _has_marker(netns: str) -> bool:
    try:
        links = system.ip_json("link", "show", netns=netns)
    except LabError:
        return False
    return any(str(link.get("ifalias", "")).startswith(MARKER) for link in links)


def list_labs() -> list[str]:
    """Names of every lab on this machine: run directories plus namespaces marked as a lab's.

    The marker (an ifalias on the bridge and on each host's eth0) finds labs whose run directory
    is gone; the run directory (created before any namespace) finds labs that crashed before
    their first interface existed.
    """
    names: set[str] = set()
    if RUN_ROOT.is_dir():
        names.update(p.name for p in RUN_ROOT.iterdir() if p.is_dir() and NAME_RE.fullmatch(p.name))
    for ns in system.netns_list():
        match = re.fullmatch(r"([a-z][a-z0-9]{0,9})-(?:sw|h\d+)", ns)
        if match and match.group(1) not in names and _has_marker(ns):
            names.add(match.group(1))
    return sorted(names)


def _teardown(name: str, popens: Mapping[int, subprocess.Popen[Any]], *, grace: float = 2.0) -> None:
    """Remove everything lab `name` made: processes, namespaces (with their links and nft tables), run dir.

    Safe to repeat and safe on half-built or crashed labs; it trusts the kernel (`ip netns pids`)
    over the state file for which processes exist.
    """
    state = _read_state(name) or {}
    namespaces = _lab_namespaces(name)
    if namespaces:
        system.kill_netns_processes(namespaces, grace=grace)
    for entry in state.get("processes", []):  # a process caught before it entered its namespace
        if system.pid_alive(entry["pid"], entry.get("starttime")):
            system.send_signal(entry["pid"], signal.SIGKILL, group=True)
    for proc in popens.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2.0)
    for ns in namespaces:
        system.netns_delete(ns)
    leftover = _lab_namespaces(name)
    if leftover:
        raise LabError(f"could not delete namespaces {leftover}")
    workdir = state.get("workdir")
    if workdir and state.get("own_workdir"):
        shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(run_dir(name), ignore_errors=True)


def cleanup_leftovers(name: str | None = None) -> list[str]:
    """Tear down lab `name`, or every lab on the machine, whoever made it and however it died.

    Returns the names of the labs that were removed. This is `vrrpkit lab down` and what tests
    call after a crash.
    """
    names = [_validate_name(name)] if name is not None else list_labs()
    removed = []
    for lab_name in names:
        if run_dir(lab_name).exists() or _lab_namespaces(lab_name):
            _teardown(lab_name, {})
            removed.append(lab_name)
    return removed


# --- processes -------------------------------------------------------------------------------------------


@dataclass(eq=False)
class LabProcess:
    """A daemon (or any command) the lab started inside one host.

    `proc` is the Popen when this Python process started it, None when the lab was attached from
    elsewhere (then `pid` + `starttime` identify it, so a recycled pid is never signalled).
    """

    host: str
    kind: str
    pid: int
    starttime: int | None
    argv: list[str]
    log_path: Path
    conf_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        """Running (or stopped) and not yet exited; a zombie counts as exited."""
        if self.proc is not None:
            return self.proc.poll() is None
        return system.pid_alive(self.pid, self.starttime)

    def log(self) -> str:
        """Everything the process wrote to stdout/stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str | re.Pattern[str], timeout: float = 10.0) -> bool:
        """True once `text` (substring or regex) shows up in the log; False after `timeout`."""

        def seen() -> bool:
            log = self.log()
            return bool(text.search(log)) if isinstance(text, re.Pattern) else text in log

        return bool(wait_until(seen, timeout, interval=0.05))

    def signal(self, sig: int, *, group: bool = False) -> bool:
        """Send `sig` to the process, or with `group` to its whole process group (keepalived's children).

        Returns False when the process is already gone.
        """
        if not self.alive():
            return False
        return system.send_signal(self.pid, sig, group=group)

    def wait(self, timeout: float) -> int | None:
        """Wait for exit; the return code when we are its parent, else 0 once it is gone; None on timeout."""
        if self.proc is not None:
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        return 0 if wait_until(lambda: not self.alive(), timeout) else None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (what systemd does), wait up to `timeout`, then SIGKILL the group; returns the exit code."""
        if self.alive():
            self.signal(signal.SIGTERM)
            self.signal(signal.SIGCONT)  # a stopped process would never see the SIGTERM
            code = self.wait(timeout)
            if code is not None:
                system.send_signal(self.pid, signal.SIGKILL, group=True)  # orphaned children, if any
                return code
        self.kill()
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, no priority-0 advert, no cleanup."""
        system.send_signal(self.pid, signal.SIGKILL, group=True)
        self.wait(5.0)

    def describe(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "kind": self.kind,
            "pid": self.pid,
            "alive": self.alive(),
            "argv": self.argv,
            "log": str(self.log_path),
            "conf": str(self.conf_path) if self.conf_path else None,
        }


class Capture:
    """A running tcpdump inside one host, writing a pcap; `stop()` returns its path."""

    def __init__(self, host: str, path: Path, proc: subprocess.Popen[bytes]) -> None:
        self.host = host
        self.path = path
        self.proc = proc

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


# --- the lab -----------------------------------------------------------------------------------------------


class Lab:
    """One lab: K host namespaces on a bridge in a switch namespace, plus the processes run in them.

    `with Lab(...) as lab:` builds it and always tears it down, even when the body raises.
    """

    def __init__(
        self,
        name: str | None = None,
        hosts: int = 3,
        cloud: bool = False,
        ipv6: bool = True,
        workdir: str | Path | None = None,
    ) -> None:
        """`workdir` receives configs, logs and pcaps; default is the run dir, removed on down().

        Give a directory of your own (e.g. pytest's tmp_path) to keep daemon logs after the lab is gone.
        """
        self._auto_name = name is None
        self.name = _validate_name(name if name is not None else _default_name())
        if not 1 <= hosts <= MAX_HOSTS:
            raise LabError(f"hosts must be 1..{MAX_HOSTS}, not {hosts}")
        self.n_hosts = hosts
        self.ipv6 = ipv6
        self._initial_cloud = cloud
        self.rundir = run_dir(self.name)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else self.rundir
        self._popens: dict[int, subprocess.Popen[Any]] = {}
        self._procs: dict[int, LabProcess] = {}
        self._up = False

    # -- lifecycle --

    @classmethod
    def attach(cls, name: str) -> Lab:
        """A handle on a lab that is already up (made by another process, e.g. `vrrpkit lab up`)."""
        state = _read_state(_validate_name(name))
        if state is None:
            raise LabError(f"lab {name} is not up (no {_state_path(name)})")
        lab = cls(name, hosts=state["hosts"], ipv6=state["ipv6"], workdir=state["workdir"])
        lab._own_workdir = bool(state.get("own_workdir"))
        lab._up = True
        return lab

    def __enter__(self) -> Lab:
        return self.up()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    def _exists(self) -> bool:
        return self.rundir.exists() or bool(_lab_namespaces(self.name))

    def up(self) -> Lab:
        """Build the namespaces, bridge, veths, addresses and nft table; on any failure remove it all."""
        if self._up:
            return self
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, nftables)")
        if self._exists():
            stale = _read_state(self.name) or {}
            owner = stale.get("owner") or {}
            if self._auto_name and not system.pid_alive(owner.get("pid", 0), owner.get("starttime")):
                _teardown(self.name, {})  # a dead process with our recycled pid left it behind
            else:
                raise LabError(f"lab {self.name} already exists; remove it with `vrrpkit lab down --name {self.name}`")
        try:
            self.rundir.mkdir(parents=True, exist_ok=False)  # the claim on the name, made before anything else
        except FileExistsError:
            raise LabError(f"lab {self.name} is being created by another process") from None
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._up = True
        _write_state(self.name, self._initial_state())
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        with _locked(self.name):
            state = self._state()
            state["phase"] = "up"
            _write_state(self.name, state)
        return self

    def _initial_state(self) -> dict[str, Any]:
        return {
            "version": 1,
            "name": self.name,
            "hosts": self.n_hosts,
            "ipv6": self.ipv6,
            "phase": "starting",
            "workdir": str(self.workdir),
            "own_workdir": self._own_workdir,
            "owner": {"pid": os.getpid(), "starttime": system.proc_starttime(os.getpid())},
            "cloud": self._initial_cloud,
            "loss": {},
            "down": [],
            "partition": [],
            "processes": [],
        }

    def _build(self) -> None:
        sw = self.switch_netns
        for ns in [sw, *(self.netns(h) for h in self.hosts)]:
            system.ip("netns", "add", ns)
        # The switch only forwards: no IPv6 on it means it never emits RS/MLD/DAD frames of its own;
        # bridge-nf-call-* off keeps a loaded br_netfilter from sending lab frames through iptables.
        system.write_sysctls(
            sw,
            {
                "net.ipv6.conf.all.disable_ipv6": "1",
                "net.ipv6.conf.default.disable_ipv6": "1",
                "net.bridge.bridge-nf-call-iptables": "0",
                "net.bridge.bridge-nf-call-ip6tables": "0",
                "net.bridge.bridge-nf-call-arptables": "0",
            },
        )
        # Hosts: set *default* before eth0 exists so it inherits it. No DAD: addresses (ours and the
        # daemons' VIPs) are usable at once; keep_addr_on_down: a link fault must not erase the
        # lab's own IPv6 address, only the daemons should react to it.
        host_sysctls = (
            {
                "net.ipv6.conf.all.accept_dad": "0",
                "net.ipv6.conf.default.accept_dad": "0",
                "net.ipv6.conf.all.keep_addr_on_down": "1",
                "net.ipv6.conf.default.keep_addr_on_down": "1",
            }
            if self.ipv6
            else {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}
        )
        for host in self.hosts:
            system.write_sysctls(self.netns(host), host_sysctls)
        # Bridge: no STP (ports forward at once), no multicast snooping (flood every group like a
        # dumb switch, so only the "cloud" rule decides what multicast gets through).
        sw_cmds = [
            "link set lo up",
            f"link add {BRIDGE} type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
            f'link set {BRIDGE} alias "{MARKER} {self.name}" up',
        ]
        for host in self.hosts:
            port = self.port(host)
            sw_cmds += [
                f"link add {port} type veth peer name {IFACE} netns {self.netns(host)}",
                f'link set {port} alias "{MARKER} {self.name} {host}" master {BRIDGE} up',
            ]
        system.ip_batch(sw_cmds, netns=sw)
        for host in self.hosts:
            cmds = [
                "link set lo up",
                f'link set {IFACE} address {self.mac(host)} alias "{MARKER} {self.name} {host}" up',
                f"addr add {self.addr(host)}/{NET4.prefixlen} dev {IFACE}",
            ]
            if self.ipv6:
                cmds.append(f"addr add {self.addr6(host)}/{NET6.prefixlen} dev {IFACE} nodad")
            system.ip_batch(cmds, netns=self.netns(host))
        system.nft(
            f"table bridge {self.nft_table} {{\n"
            "  chain forward {\n"
            "    type filter hook forward priority 0; policy accept;\n"
            "    jump lab_partition\n    jump lab_loss\n    jump lab_cloud\n"
            "  }\n"
            "  chain lab_partition { }\n  chain lab_loss { }\n  chain lab_cloud { }\n"
            "}\n",
            netns=sw,
        )
        self._apply_rules(self._state())
        for host in self.hosts:
            self._wait_ready(host)

    def _wait_ready(self, host: str, timeout: float = 10.0) -> None:
        """Carrier up on eth0 and, with IPv6, a non-tentative link-local address (daemons bind to it)."""

        def ready() -> bool:
            link = system.ip_json("link", "show", "dev", IFACE, netns=self.netns(host))
            if not link or "LOWER_UP" not in link[0].get("flags", []):
                return False
            if not self.ipv6:
                return True
            return self._link_local_or_none(host) is not None

        if not wait_until(ready, timeout):
            raise LabError(f"{host}: {IFACE} not ready after {timeout:g}s")

    def down(self) -> None:
        """Stop every process, delete every namespace (and so every link and nft table), remove the run dir.

        Idempotent; works on a lab attached from another process too.
        """
        _teardown(self.name, self._popens)
        self._popens.clear()
        self._up = False

    # -- names and addresses --

    @property
    def hosts(self) -> list[str]:
        return [f"h{i}" for i in range(1, self.n_hosts + 1)]

    @property
    def iface(self) -> str:
        return IFACE

    @property
    def bridge(self) -> str:
        return BRIDGE

    @property
    def switch_netns(self) -> str:
        return f"{self.name}-sw"

    @property
    def nft_table(self) -> str:
        return f"vrrpkit_lab_{self.name}"

    def _index(self, host: str) -> int:
        match = re.fullmatch(r"h(\d+)", host)
        if not match or not 1 <= int(match.group(1)) <= self.n_hosts:
            raise LabError(f"no host {host!r} in lab {self.name} (hosts: {', '.join(self.hosts)})")
        return int(match.group(1))

    def netns(self, host: str) -> str:
        """The host's network namespace name, for `ip -n` / `ip netns exec`."""
        return f"{self.name}-h{self._index(host)}"

    def port(self, host: str) -> str:
        """The switch-side veth of `host` (inside the switch namespace); what nft rules match on."""
        return f"{self.name}h{self._index(host)}"

    def addr(self, host: str) -> ipaddress.IPv4Address:
        return NET4.network_address + self._index(host)

    def addr6(self, host: str) -> ipaddress.IPv6Address:
        if not self.ipv6:
            raise LabError(f"lab {self.name} has no IPv6")
        return NET6.network_address + self._index(host)

    def mac(self, host: str) -> str:
        """A fixed, locally administered MAC (02:76:6b = "vk"), so captures read the same every run."""
        return f"02:76:6b:00:00:{self._index(host):02x}"

    def host_of(self, address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """Which lab host owns a lab address (not a VIP), e.g. to name the sender of an advert."""
        addr = ipaddress.ip_address(address)
        for host in self.hosts:
            if addr == self.addr(host) or (self.ipv6 and addr == self.addr6(host)):
                return host
        return None

    def _link_local_or_none(self, host: str) -> ipaddress.IPv6Address | None:
        for link in system.ip_json("-6", "addr", "show", "dev", IFACE, "scope", "link", netns=self.netns(host)):
            for info in link.get("addr_info", []):
                if "local" in info and not info.get("tentative"):
                    return ipaddress.IPv6Address(info["local"])
        return None

    def link_local(self, host: str) -> ipaddress.IPv6Address:
        """The fe80:: address of the host's eth0 (VRRPv3 over IPv6 sends from it)."""
        found = self._link_local_or_none(host)
        if found is None:
            raise LabError(f"{host}: no usable link-local address on {IFACE}")
        return found

    def control_path(self, host: str) -> Path:
        """The control socket of the vrrpkit daemon that `run_vrrpkit` starts on `host`."""
        return self.rundir / f"{host}.sock"

    # -- running things --

    def env(self, host: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for commands in `host`: this Python's bin dir on PATH, VRRPKIT_CONTROL = the host's socket.

        PYTHONPATH points at this vrrpkit, so `python -m vrrpkit` in the lab runs the code under test.
        """
        env = dict(os.environ)
        path = env.get("PATH", "")
        env["PATH"] = ":".join([str(Path(sys.executable).parent), path, "/usr/sbin:/usr/bin:/sbin:/bin"])
        env["PYTHONPATH"] = ":".join(p for p in (_SRC_DIR, env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env["VRRPKIT_CONTROL"] = str(self.control_path(host))
        env["VRRPKIT_LAB"] = self.name
        env["VRRPKIT_LAB_HOST"] = host
        if extra:
            env.update(extra)
        return env

    @staticmethod
    def vrrpkit_argv(*args: str) -> list[str]:
        """argv that runs this vrrpkit (`python -m vrrpkit ARGS`), independent of PATH."""
        return [sys.executable, "-m", "vrrpkit", *args]

    def command(self, host: str, argv: Sequence[str]) -> list[str]:
        """The argv that runs `argv` inside `host` (`ip netns exec NS ...`), for callers that exec it themselves."""
        return [system.tool("ip"), "netns", "exec", self.netns(host), *argv]

    def exec(
        self,
        host: str,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 10.0,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in `host` and wait; text output captured.

        On timeout the command's whole process group is killed and TimeoutExpired raised; with
        `check`, a non-zero exit raises CalledProcessError (stdout/stderr attached).
        """
        proc = subprocess.Popen(
            self.command(host, argv),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(host, env),
            cwd=self.workdir,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            system.send_signal(proc.pid, signal.SIGKILL, group=True)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(list(argv), timeout, out, err) from None
        done = subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, list(argv), out, err)
        return done

    def popen(
        self, host: str, argv: Sequence[str], env: Mapping[str, str] | None = None, **popen_kwargs: Any
    ) -> subprocess.Popen[Any]:
        """Start a command in `host` in its own process group; down() kills the group.

        `env` adds to (does not replace) the lab environment of `env()`.
        """
        popen_kwargs.setdefault("cwd", self.workdir)
        proc: subprocess.Popen[Any] = subprocess.Popen(
            self.command(host, argv), env=self.env(host, env), start_new_session=True, **popen_kwargs
        )
        self._popens[proc.pid] = proc
        return proc

    def _spawn(
        self,
        host: str,
        kind: str,
        argv: Sequence[str],
        log_path: Path,
        conf_path: Path | None,
        env: Mapping[str, str] | None = None,
    ) -> LabProcess:
        """Start a long-running daemon detached (new session, stdio to a log) and record it in the state."""
        self._require_up()
        with open(log_path, "ab") as log:
            proc = self.popen(host, argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        lp = LabProcess(host, kind, proc.pid, system.proc_starttime(proc.pid), list(argv), log_path, conf_path, proc)
        self._procs[proc.pid] = lp
        with _locked(self.name):
            state = self._state()
            state["processes"].append(
                {
                    "host": host,
                    "kind": kind,
                    "pid": lp.pid,
                    "starttime": lp.starttime,
                    "argv": lp.argv,
                    "log": str(log_path),
                    "conf": str(conf_path) if conf_path else None,
                }
            )
            _write_state(self.name, state)
        return lp

    def _files_for(self, host: str, kind: str) -> tuple[Path, Path]:
        """conf and log paths for the next `kind` process on `host`: h1.vrrpkit.conf, then h1.vrrpkit-2.conf."""
        self._index(host)
        n = sum(1 for p in self._state()["processes"] if p["host"] == host and p["kind"] == kind) + 1
        stem = f"{host}.{kind}" if n == 1 else f"{host}.{kind}-{n}"
        return self.workdir / f"{stem}.conf", self.workdir / f"{stem}.log"

    def run_vrrpkit(
        self,
        host: str,
        conf_text: str,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> LabProcess:
        """Write `conf_text` and start `vrrpkit run -f CONF --control <rundir>/HOST.sock` in `host`."""
        conf, log = self._files_for(host, "vrrpkit")
        conf.write_text(conf_text)
        argv = self.vrrpkit_argv("run", "-f", str(conf), "--control", str(self.control_path(host)), *extra_args)
        return self._spawn(host, "vrrpkit", argv, log, conf, env)

    def run_keepalived(
        self,
        host: str,
        conf_text: str,
        extra_args: Sequence[str] = (),
        binary: str = "keepalived",
    ) -> LabProcess:
        """Write `conf_text` and start keepalived (VRRP only, foreground, console log) in `host`.

        Each keepalived gets its own -p/-r/-c/-b pid files: with the defaults in /run, a second
        keepalived on the same machine would think the first one is itself and refuse to start.
        """
        conf, log = self._files_for(host, "keepalived")
        conf.write_text(conf_text)
        stem = conf.with_suffix("")
        argv = [
            system.tool(binary) if "/" not in binary else binary,
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--no-syslog",
            "--vrrp",
            "-f", str(conf),
            "-p", f"{stem}.pid",
            "-r", f"{stem}.vrrp.pid",
            "-c", f"{stem}.checkers.pid",
            "-b", f"{stem}.bfd.pid",
            *extra_args,
        ]  # fmt: skip
        return self._spawn(host, "keepalived", argv, log, conf)

    def processes(self, host: str | None = None, *, alive_only: bool = False) -> list[LabProcess]:
        """Daemons started with run_vrrpkit/run_keepalived (by any process, via the state file)."""
        found = []
        for entry in self._state()["processes"]:
            if host is not None and entry["host"] != host:
                continue
            lp = self._procs.get(entry["pid"])
            if lp is None or lp.starttime != entry.get("starttime"):
                conf = entry.get("conf")
                lp = LabProcess(
                    entry["host"],
                    entry["kind"],
                    entry["pid"],
                    entry.get("starttime"),
                    entry["argv"],
                    Path(entry["log"]),
                    Path(conf) if conf else None,
                )
            if not alive_only or lp.alive():
                found.append(lp)
        return found

    def signal(self, host: str, sig: int, *, group: bool = False) -> int:
        """Send `sig` to every live daemon the lab started on `host`; returns how many got it."""
        self._index(host)
        return sum(lp.signal(sig, group=group) for lp in self.processes(host, alive_only=True))

    def ping(self, src: str, dst: str, count: int = 3, timeout: float = 1.0, interval: float = 0.2) -> int:
        """ICMP echo from host `src` to a host name or address ("fe80::1%eth0" works); returns the replies.

        `timeout` is the wait after the last request, `interval` the gap between requests.
        """
        target = str(self.addr(dst)) if re.fullmatch(r"h\d+", dst) else dst
        argv = [sys.executable, "-m", "vrrpkit.lab.probe", "ping", target, "--count", str(count)]
        argv += ["--timeout", str(timeout), "--interval", str(interval)]
        done = self.exec(src, argv, check=False, timeout=count * interval + timeout + 10)
        try:
            return int(json.loads(done.stdout)["received"])
        except (ValueError, KeyError):
            raise LabError(f"ping from {src} to {target} failed: {done.stderr.strip()}") from None

    def send_udp(self, src: str, dst: str, port: int = 9999, count: int = 1, ttl: int = 1) -> None:
        """UDP datagrams from host `src` out of its eth0, e.g. to a multicast group."""
        argv = [sys.executable, "-m", "vrrpkit.lab.probe", "udp", dst, "--port", str(port), "--count", str(count)]
        self.exec(src, [*argv, "--ttl", str(ttl)])

    # -- observing --

    def vip_holders(self, address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> set[str]:
        """Hosts whose eth0 currently carries `address` (what `ip addr` says, not what daemons claim)."""
        want = ipaddress.ip_address(address)
        holders = set()
        for host in self.hosts:
            for link in system.ip_json("addr", "show", "dev", IFACE, netns=self.netns(host)):
                if any("local" in i and ipaddress.ip_address(i["local"]) == want for i in link.get("addr_info", [])):
                    holders.add(host)
        return holders

    def addr_lines(self, host: str, address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
        """`ip -br`-like evidence of one address on a host, for narration (empty when absent)."""
        want = ipaddress.ip_address(address)
        lines = []
        for link in system.ip_json("addr", "show", "dev", IFACE, netns=self.netns(host)):
            for info in link.get("addr_info", []):
                if "local" in info and ipaddress.ip_address(info["local"]) == want:
                    lines.append(f"{host}: {link['ifname']} {info['family']} {info['local']}/{info['prefixlen']}")
        return lines

    def start_capture(self, host: str, filter: str | None = "vrrp", count: int | None = None) -> Capture:
        """Start tcpdump on the host's eth0 and return once it is listening (no packet is missed)."""
        self._require_up()
        stamp = f"{time.time():.6f}".replace(".", "")
        path = self.workdir / f"{host}-{stamp}.pcap"
        errlog = path.with_suffix(".tcpdump.log")
        expr = "ip proto 112 or ip6 proto 112" if filter == "vrrp" else (filter or "")
        argv = [system.tool("tcpdump"), "-i", IFACE, "-n", "-U", "--immediate-mode", "-Z", "root", "-w", str(path)]
        if count is not None:
            argv += ["-c", str(count)]
        if expr:
            argv.append(expr)
        with open(errlog, "wb") as err:
            proc = self.popen(host, argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

        def listening() -> bool:
            return "listening on" in errlog.read_text(errors="replace") or proc.poll() is not None

        wait_until(listening, 10.0, interval=0.02)
        if proc.poll() is not None and proc.returncode != 0:
            raise LabError(f"tcpdump in {host} failed: {errlog.read_text(errors='replace').strip()}")
        return Capture(host, path, proc)

    def capture(self, host: str, filter: str | None = "vrrp", count: int | None = None, duration: float = 2.0) -> Path:
        """Capture on `host` for at most `duration` seconds (or until `count` frames); returns the pcap path."""
        cap = self.start_capture(host, filter, count)
        with contextlib.suppress(subprocess.TimeoutExpired):
            cap.proc.wait(timeout=duration)
        return cap.stop()

    def counters(self) -> dict[str, int]:
        """Packets matched per switch rule, keyed by the rule's comment (e.g. "cloud-ipv4", "loss-h1-in")."""
        found: dict[str, int] = {}
        data = system.nft_json("list", "table", "bridge", self.nft_table, netns=self.switch_netns)
        for item in data.get("nftables", []):
            rule = item.get("rule")
            if not rule or "comment" not in rule:
                continue
            packets = sum(e["counter"]["packets"] for e in rule.get("expr", []) if "counter" in e)
            found[rule["comment"]] = found.get(rule["comment"], 0) + packets
        return found

    def status(self) -> dict[str, Any]:
        """A JSON-able picture of the lab: hosts, namespaces, processes, faults and switch counters."""
        state = self._state()
        present = set(system.netns_list())
        hosts = []
        for host in self.hosts:
            entry: dict[str, Any] = {
                "name": host,
                "netns": self.netns(host),
                "iface": IFACE,
                "port": self.port(host),
                "addr": str(self.addr(host)),
                "addr6": str(self.addr6(host)) if self.ipv6 else None,
                "mac": self.mac(host),
                "link": "down" if host in state["down"] else "up",
                "exists": self.netns(host) in present,
            }
            hosts.append(entry)
        try:
            counters = self.counters() if self.switch_netns in present else {}
        except LabError:
            counters = {}
        return {
            "name": self.name,
            "phase": state.get("phase"),
            "rundir": str(self.rundir),
            "workdir": str(self.workdir),
            "switch": {"netns": self.switch_netns, "bridge": BRIDGE, "nft_table": self.nft_table},
            "namespaces": [ns for ns in _lab_namespaces(self.name, sorted(present))],
            "hosts": hosts,
            "processes": [lp.describe() for lp in self.processes()],
            "cloud": state["cloud"],
            "faults": {"loss": state["loss"], "down": state["down"], "partition": state["partition"]},
            "counters": counters,
        }

    # -- faults --

    def _require_up(self) -> None:
        if not self._up:
            raise LabError(f"lab {self.name} is not up")

    def _state(self) -> dict[str, Any]:
        state = _read_state(self.name)
        if state is None:
            raise LabError(f"lab {self.name} is not up (no {_state_path(self.name)})")
        return state

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write the state under the lock, then re-apply the switch rules from it."""
        self._require_up()
        with _locked(self.name):
            state = self._state()
            yield state
            self._apply_rules(state)
            _write_state(self.name, state)

    def _apply_rules(self, state: Mapping[str, Any]) -> None:
        """Rewrite the three fault chains from `state` in one nft transaction."""
        t = f"bridge {self.nft_table}"
        lines = [f"flush chain {t} lab_cloud", f"flush chain {t} lab_loss", f"flush chain {t} lab_partition"]
        if state["cloud"]:
            lines += [
                f'add rule {t} lab_cloud ip daddr 224.0.0.0/4 counter drop comment "cloud-ipv4"',
                f"add rule {t} lab_cloud ip6 daddr ff00::/8 icmpv6 type {{ {ND_TYPES} }} "
                'counter accept comment "cloud-nd"',
                f'add rule {t} lab_cloud ip6 daddr ff00::/8 counter drop comment "cloud-ipv6"',
            ]
        for host, pct in sorted(state["loss"].items()):
            port = self.port(host)
            for direction, match in (("in", "iifname"), ("out", "oifname")):
                lines.append(
                    f'add rule {t} lab_loss {match} "{port}" numgen random mod 100 < {pct} '
                    f'counter drop comment "loss-{host}-{direction}"'
                )
        groups = [[self.port(h) for h in group] for group in state["partition"]]
        for i, a in enumerate(groups):
            for b in groups[i + 1 :]:
                for src, dst in ((a, b), (b, a)):
                    lines.append(
                        f"add rule {t} lab_partition iifname {{ {', '.join(src)} }} oifname {{ {', '.join(dst)} }} "
                        'counter drop comment "partition"'
                    )
        system.nft("\n".join(lines) + "\n", netns=self.switch_netns)

    def cloud(self, on: bool = True) -> None:
        """Cloud mode: the switch drops IPv4 multicast and IPv6 multicast other than neighbour discovery."""
        with self._changing() as state:
            state["cloud"] = bool(on)

    def loss(self, host: str, pct: int) -> None:
        """Drop `pct`% of frames from and to `host`'s switch port, at random; 0 removes the rule."""
        self._index(host)
        if not 0 <= int(pct) <= 100:
            raise LabError(f"loss must be 0..100 percent, not {pct}")
        with self._changing() as state:
            if int(pct):
                state["loss"][host] = int(pct)
            else:
                state["loss"].pop(host, None)

    def link(self, host: str, up: bool = True) -> None:
        """Take the host's eth0 down (the switch port loses carrier) or bring it back up."""
        ns = self.netns(host)
        with self._changing() as state:
            system.ip("link", "set", IFACE, "up" if up else "down", netns=ns)
            down = set(state["down"])
            (down.discard if up else down.add)(host)
            state["down"] = sorted(down)
        if up:
            self._wait_ready(host)

    def partition(self, *groups: Iterable[str]) -> None:
        """Cut the switch between the groups (frames within a group still flow); replaces any partition.

        Hosts in no group keep talking to everyone, like a host on both sides of a bad link.
        """
        cleaned = [sorted(set(g), key=self._index) for g in groups]
        if len(cleaned) < 2 or any(not g for g in cleaned):
            raise LabError("a partition needs at least two non-empty groups of hosts")
        seen: set[str] = set()
        for group in cleaned:
            for host in group:
                self._index(host)
                if host in seen:
                    raise LabError(f"{host} is in two partition groups")
                seen.add(host)
        with self._changing() as state:
            state["partition"] = cleaned

    def heal(self) -> None:
        """Remove the partition (loss, link-down and cloud mode stay as they are)."""
        with self._changing() as state:
            state["partition"] = []

    def fault_kill(self, host: str) -> int:
        """SIGKILL every daemon on `host` with its children: a crash, no goodbye advert."""
        return self.signal(host, signal.SIGKILL, group=True)

    def fault_stop(self, host: str) -> int:
        """SIGSTOP every daemon on `host`: alive but silent, like a hung host."""
        return self.signal(host, signal.SIGSTOP, group=True)

    def fault_cont(self, host: str) -> int:
        return self.signal(host, signal.SIGCONT, group=True)
