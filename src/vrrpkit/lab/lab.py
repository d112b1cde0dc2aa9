"""The `Lab` handle: builds a lab, runs daemons in it, observes it and breaks it, one module per job.

`topology` names and wires hosts and switch, `faults` computes the switch's nft rules, `state`
keeps what the lab is in a file other processes can read, `process` runs things in hosts,
`observe` reads addresses, counters and captures, and `cleanup` removes labs. `Lab` ties them
together behind one object so that tests, the CLI and the demo have a single thing to hold.
Every fault but link and signals is an nft rule in the switch namespace, rewritten from the state
file on each change.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from vrrpkit.lab import faults, observe, process, system, topology
from vrrpkit.lab.cleanup import cleanup_leftovers, exists, list_labs, teardown
from vrrpkit.lab.observe import Capture
from vrrpkit.lab.process import LabProcess, wait_until
from vrrpkit.lab.state import load_state, locked, new_state, read_state, run_dir, write_state
from vrrpkit.lab.system import LabError
from vrrpkit.lab.topology import BRIDGE, IFACE, Topology

# Names this module exported before it was split; `vrrpkit.lab` is the place to import them from.
__all__ = ["Capture", "Lab", "LabProcess", "cleanup_leftovers", "list_labs", "run_dir", "wait_until"]

Address = str | ipaddress.IPv4Address | ipaddress.IPv6Address


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
        self.topo = Topology(name if name is not None else topology.default_name(), hosts, ipv6)
        self._initial_cloud = cloud
        self.rundir = run_dir(self.name)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else self.rundir
        self._popens: dict[int, subprocess.Popen[Any]] = {}
        self._procs: dict[int, LabProcess] = {}
        self._up = False

    @property
    def name(self) -> str:
        return self.topo.name

    @property
    def n_hosts(self) -> int:
        return self.topo.n_hosts

    @property
    def ipv6(self) -> bool:
        return self.topo.ipv6

    # -- lifecycle --

    @classmethod
    def attach(cls, name: str) -> Lab:
        """A handle on a lab that is already up (made by another process, e.g. `vrrpkit lab up`)."""
        state = load_state(topology.validate_name(name))
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

    def up(self) -> Lab:
        """Build the namespaces, bridge, veths, addresses and nft table; on any failure remove it all."""
        if self._up:
            return self
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, nftables)")
        if exists(self.name):
            owner = (read_state(self.name) or {}).get("owner") or {}
            if self._auto_name and not system.pid_alive(owner.get("pid", 0), owner.get("starttime")):
                teardown(self.name, {})  # a dead process with our recycled pid left it behind
            else:
                raise LabError(f"lab {self.name} already exists; remove it with `vrrpkit lab down --name {self.name}`")
        try:
            self.rundir.mkdir(parents=True, exist_ok=False)  # the claim on the name, made before anything else
        except FileExistsError:
            raise LabError(f"lab {self.name} is being created by another process") from None
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._up = True
        write_state(
            self.name,
            new_state(
                self.name,
                hosts=self.n_hosts,
                ipv6=self.ipv6,
                workdir=self.workdir,
                own_workdir=self._own_workdir,
                cloud=self._initial_cloud,
            ),
        )
        try:
            topology.build(self.topo)
            system.nft(faults.table_script(self.nft_table), netns=self.switch_netns)
            self._apply_rules(self._state())
            for host in self.hosts:
                topology.wait_ready(self.topo, host)
        except BaseException:
            self.down()
            raise
        with locked(self.name):
            state = self._state()
            state["phase"] = "up"
            write_state(self.name, state)
        return self

    def down(self) -> None:
        """Stop every process, delete every namespace (and so every link and nft table), remove the run dir.

        Idempotent; works on a lab attached from another process too.
        """
        teardown(self.name, self._popens)
        self._popens.clear()
        self._up = False

    # -- names and addresses --

    @property
    def hosts(self) -> list[str]:
        return self.topo.hosts

    @property
    def iface(self) -> str:
        return IFACE

    @property
    def bridge(self) -> str:
        return BRIDGE

    @property
    def switch_netns(self) -> str:
        return self.topo.switch_netns

    @property
    def nft_table(self) -> str:
        return self.topo.nft_table

    def _index(self, host: str) -> int:
        return self.topo.index(host)

    def netns(self, host: str) -> str:
        """The host's network namespace name, for `ip -n` / `ip netns exec`."""
        return self.topo.netns(host)

    def port(self, host: str) -> str:
        """The switch-side veth of `host` (inside the switch namespace); what nft rules match on."""
        return self.topo.port(host)

    def addr(self, host: str) -> ipaddress.IPv4Address:
        return self.topo.addr(host)

    def addr6(self, host: str) -> ipaddress.IPv6Address:
        return self.topo.addr6(host)

    def mac(self, host: str) -> str:
        """A fixed, locally administered MAC (02:76:6b = "vk"), so captures read the same every run."""
        return self.topo.mac(host)

    def host_of(self, address: Address) -> str | None:
        """Which lab host owns a lab address (not a VIP), e.g. to name the sender of an advert."""
        return self.topo.host_of(address)

    def link_local(self, host: str) -> ipaddress.IPv6Address:
        """The fe80:: address of the host's eth0 (VRRPv3 over IPv6 sends from it)."""
        found = topology.link_local(self.topo, host)
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
        return process.host_env(self.name, host, self.control_path(host), extra)

    @staticmethod
    def vrrpkit_argv(*args: str) -> list[str]:
        """argv that runs this vrrpkit (`python -m vrrpkit ARGS`), independent of PATH."""
        return process.vrrpkit_argv(*args)

    def command(self, host: str, argv: Sequence[str]) -> list[str]:
        """The argv that runs `argv` inside `host` (`ip netns exec NS ...`), for callers that exec it themselves."""
        return process.netns_command(self.netns(host), argv)

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
        return process.run_in(
            self.netns(host), argv, env=self.env(host, env), cwd=self.workdir, check=check, timeout=timeout, input=input
        )

    def popen(
        self, host: str, argv: Sequence[str], env: Mapping[str, str] | None = None, **popen_kwargs: Any
    ) -> subprocess.Popen[Any]:
        """Start a command in `host` in its own process group; down() kills the group.

        `env` adds to (does not replace) the lab environment of `env()`.
        """
        popen_kwargs.setdefault("cwd", self.workdir)
        proc = process.start_in(self.netns(host), argv, env=self.env(host, env), **popen_kwargs)
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
        with locked(self.name):
            state = self._state()
            state["processes"].append(lp.record())
            write_state(self.name, state)
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
        """Write `conf_text` and start `vrrpkit run -f CONF --control <rundir>/HOST.sock` in `host`.

        Like the lab's keepalived (`--no-syslog`), it logs to its log file only, never to the host's journal.
        """
        conf, log = self._files_for(host, "vrrpkit")
        conf.write_text(conf_text)
        argv = self.vrrpkit_argv("run", "-f", str(conf), "--control", str(self.control_path(host)), "--no-syslog",
                                 *extra_args)  # fmt: skip
        return self._spawn(host, "vrrpkit", argv, log, conf, env)

    def run_keepalived(
        self,
        host: str,
        conf_text: str,
        extra_args: Sequence[str] = (),
        binary: str = "keepalived",
        role: str = "--vrrp",
    ) -> LabProcess:
        """Write `conf_text` and start keepalived (VRRP only, or `role="--check"` for its LVS checker only;
        foreground, console log) in `host`.

        Each keepalived gets its own pid files next to its config (see `process.keepalived_argv`).
        """
        conf, log = self._files_for(host, "keepalived")
        conf.write_text(conf_text)
        return self._spawn(host, "keepalived", process.keepalived_argv(binary, conf, extra_args, role), log, conf)

    def run_frr(self, host: str, vrrpd_conf: str, vmacs: Sequence[tuple[str, str, str]]) -> LabProcess:
        """Start FRR's zebra and vrrpd (the RFC-strict second peer) in `host`; returns vrrpd.

        FRR does not make the virtual MAC's interface: as its docs ask, each `(name, mac, address)`
        in `vmacs` becomes a macvlan (mode bridge) on eth0 carrying the VIP, which vrrpd keeps up
        while MASTER and protodown otherwise.
        """
        for name, mac, address in vmacs:
            for argv in (
                ["ip", "link", "add", name, "link", IFACE, "type", "macvlan", "mode", "bridge"],
                ["ip", "link", "set", name, "address", mac],
                ["ip", "addr", "add", address, "dev", name],
                ["ip", "link", "set", name, "up"],
            ):
                self.exec(host, argv)
        rundir = self.rundir / f"{host}.frr"  # not the workdir: FRR's own user must reach it (a
        rundir.mkdir(exist_ok=True)  # pytest tmp_path is root-only); removed with the lab
        (rundir / "zebra.conf").write_text(f"hostname {host}\n")
        (rundir / "vrrpd.conf").write_text(vrrpd_conf)
        shutil.chown(rundir, "frr", "frr")
        for child in rundir.iterdir():
            shutil.chown(child, "frr", "frr")
        self._spawn(host, "zebra", process.frr_argv("zebra", rundir / "zebra.conf", rundir), rundir / "zebra.log", None)
        deadline = time.monotonic() + 10
        while not (rundir / "zserv.api").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self._spawn(host, "vrrpd", process.frr_argv("vrrpd", rundir / "vrrpd.conf", rundir),
                           rundir / "vrrpd.log", rundir / "vrrpd.conf")  # fmt: skip

    def processes(self, host: str | None = None, *, alive_only: bool = False) -> list[LabProcess]:
        """Daemons started with run_vrrpkit/run_keepalived (by any process, via the state file)."""
        found = []
        for entry in self._state()["processes"]:
            if host is not None and entry["host"] != host:
                continue
            lp = self._procs.get(entry["pid"])
            if lp is None or lp.starttime != entry.get("starttime"):
                lp = LabProcess.from_record(entry)
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

    def vip_holders(self, address: Address, interface: str | None = IFACE) -> set[str]:
        """Hosts whose eth0 (or `interface`, None: any interface, e.g. a use_vmac macvlan) currently
        carries `address` (what `ip addr` says, not what daemons claim)."""
        return {host for host in self.hosts if any(observe.addresses(self.netns(host), address, interface))}

    def addr_lines(self, host: str, address: Address) -> list[str]:
        """`ip -br`-like evidence of one address on a host, for narration (empty when absent)."""
        return [
            f"{host}: {ifname} {info['family']} {info['local']}/{info['prefixlen']}"
            for ifname, info in observe.addresses(self.netns(host), address)
        ]

    def start_capture(self, host: str, filter: str | None = "vrrp", count: int | None = None) -> Capture:
        """Start tcpdump on the host's eth0 and return once it is listening (no packet is missed)."""
        self._require_up()
        stamp = f"{time.time():.6f}".replace(".", "")
        path = self.workdir / f"{host}-{stamp}.pcap"
        errlog = path.with_suffix(".tcpdump.log")
        with open(errlog, "wb") as err:
            argv = observe.tcpdump_argv(path, filter, count)
            proc = self.popen(host, argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        cap = Capture(host, path, proc)
        cap.wait_listening(errlog)
        return cap

    def capture(self, host: str, filter: str | None = "vrrp", count: int | None = None, duration: float = 2.0) -> Path:
        """Capture on `host` for at most `duration` seconds (or until `count` frames); returns the pcap path."""
        cap = self.start_capture(host, filter, count)
        with contextlib.suppress(subprocess.TimeoutExpired):
            cap.proc.wait(timeout=duration)
        return cap.stop()

    def counters(self) -> dict[str, int]:
        """Packets matched per switch rule, keyed by the rule's comment (e.g. "cloud-ipv4", "loss-h1-in")."""
        return observe.rule_counters(
            system.nft_json("list", "table", "bridge", self.nft_table, netns=self.switch_netns)
        )

    def status(self) -> dict[str, Any]:
        """A JSON-able picture of the lab: hosts, namespaces, processes, faults and switch counters."""
        state = self._state()
        present = set(system.netns_list())
        hosts = [
            {
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
            for host in self.hosts
        ]
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
            "namespaces": topology.lab_namespaces(self.name, sorted(present)),
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
        return load_state(self.name)

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write the state under the lock, then re-apply the switch rules from it."""
        self._require_up()
        with locked(self.name):
            state = self._state()
            yield state
            self._apply_rules(state)
            write_state(self.name, state)

    def _apply_rules(self, state: Mapping[str, Any]) -> None:
        """Rewrite the three fault chains from `state` in one nft transaction."""
        script = faults.fault_rules(
            self.nft_table,
            self.topo.ports(),
            cloud=state["cloud"],
            loss=state["loss"],
            partition=state["partition"],
            drops=state.get("drops"),
        )
        system.nft(script, netns=self.switch_netns)

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

    def drop_pattern(self, host: str, which: Sequence[int]) -> None:
        """Drop the VRRP packets from and to `host`'s port whose order (modulo
        `faults.DROP_PERIOD`, counted from this call) is in `which`; empty removes the rule."""
        self._index(host)
        if any(not 0 <= i < faults.DROP_PERIOD for i in which):
            raise LabError(f"a drop pattern counts 0..{faults.DROP_PERIOD - 1}")
        with self._changing() as state:
            patterns = state.setdefault("drops", {})
            if which:
                patterns[host] = sorted(set(which))
            else:
                patterns.pop(host, None)

    def link(self, host: str, up: bool = True) -> None:
        """Take the host's eth0 down (the switch port loses carrier) or bring it back up."""
        self._index(host)
        with self._changing() as state:
            topology.set_link(self.topo, host, up)
            down = set(state["down"])
            (down.discard if up else down.add)(host)
            state["down"] = sorted(down)
        if up:
            topology.wait_ready(self.topo, host)

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
