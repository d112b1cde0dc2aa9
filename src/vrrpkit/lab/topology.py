"""A lab's shape: names and addresses of its hosts, and the namespaces, veths and bridge that wire them.

Topology (for lab name N and K hosts)::

    N-h1 [eth0 192.0.2.1/24]--veth--[Nh1]\\
    N-h2 [eth0 192.0.2.2/24]--veth--[Nh2]-- br0   (all inside namespace N-sw)
    ...                                 /

The bridge lives in its own namespace so that no lab rule can touch the root namespace's bridges and
no Docker/br_netfilter rule of the root namespace can touch the lab. Veths are created directly in
their namespaces, so the root namespace never sees a lab interface, address, route or frame.
Names and addresses are derived from the lab name and host number alone, so that any process can
compute them without asking the kernel.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from vrrpkit.lab import system
from vrrpkit.lab.process import wait_until
from vrrpkit.lab.system import LabError

NAME_RE = re.compile(r"[a-z][a-z0-9]{0,9}")
MAX_HOSTS = 99  # "<name:10>h<99>" is 13 characters: switch ports stay within IFNAMSIZ-1 = 15
IFACE = "eth0"
BRIDGE = "br0"
MARKER = "vrrpkit-lab"  # ifalias prefix on every lab interface: how leftovers are recognised
NET4 = ipaddress.IPv4Network("192.0.2.0/24")
NET6 = ipaddress.IPv6Network("2001:db8::/64")

_default_names = itertools.count(1)


def default_name() -> str:
    """`vk<pid>` for a process's first lab, `vk<pid>z<n>` after it (hex pid if decimal is too long)."""
    n = next(_default_names)
    for pid in (str(os.getpid()), f"{os.getpid():x}"):
        name = f"vk{pid}" if n == 1 else f"vk{pid}z{n}"
        if len(name) <= 10:
            return name
    raise LabError("too many default-named labs in one process; pass name=")


def validate_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise LabError(f"lab name {name!r}: use 1-10 characters [a-z0-9], starting with a letter")
    return name


def lab_namespaces(name: str, existing: Sequence[str] | None = None) -> list[str]:
    """The lab's namespaces that exist now, hosts first (so the switch goes last on teardown)."""
    names = system.netns_list() if existing is None else existing
    hosts = system.matching(rf"{re.escape(name)}-h\d+", names)
    return sorted(hosts, key=lambda ns: int(ns.rsplit("-h", 1)[1])) + system.matching(rf"{re.escape(name)}-sw", names)


@dataclass(frozen=True)
class Topology:
    """Every name and address in lab `name` with `n_hosts` hosts h1..hK; pure arithmetic, no I/O."""

    name: str
    n_hosts: int
    ipv6: bool = True

    def __post_init__(self) -> None:
        validate_name(self.name)
        if not 1 <= self.n_hosts <= MAX_HOSTS:
            raise LabError(f"hosts must be 1..{MAX_HOSTS}, not {self.n_hosts}")

    @property
    def hosts(self) -> list[str]:
        return [f"h{i}" for i in range(1, self.n_hosts + 1)]

    @property
    def switch_netns(self) -> str:
        return f"{self.name}-sw"

    @property
    def nft_table(self) -> str:
        return f"vrrpkit_lab_{self.name}"

    def index(self, host: str) -> int:
        """The number of host `hN`; LabError for anything that is not a host of this lab."""
        match = re.fullmatch(r"h(\d+)", host)
        if not match or not 1 <= int(match.group(1)) <= self.n_hosts:
            raise LabError(f"no host {host!r} in lab {self.name} (hosts: {', '.join(self.hosts)})")
        return int(match.group(1))

    def netns(self, host: str) -> str:
        return f"{self.name}-h{self.index(host)}"

    def port(self, host: str) -> str:
        return f"{self.name}h{self.index(host)}"

    def ports(self) -> dict[str, str]:
        """Host -> switch port, for every host: what the fault rules match on."""
        return {host: self.port(host) for host in self.hosts}

    def addr(self, host: str) -> ipaddress.IPv4Address:
        return NET4.network_address + self.index(host)

    def addr6(self, host: str) -> ipaddress.IPv6Address:
        if not self.ipv6:
            raise LabError(f"lab {self.name} has no IPv6")
        return NET6.network_address + self.index(host)

    def mac(self, host: str) -> str:
        return f"02:76:6b:00:00:{self.index(host):02x}"

    def host_of(self, address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        addr = ipaddress.ip_address(address)
        for host in self.hosts:
            if addr == self.addr(host) or (self.ipv6 and addr == self.addr6(host)):
                return host
        return None


def build(topo: Topology) -> None:
    """Create the namespaces, the bridge, one veth per host and the hosts' addresses (not the nft table)."""
    sw = topo.switch_netns
    for ns in [sw, *(topo.netns(h) for h in topo.hosts)]:
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
        if topo.ipv6
        else {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}
    )
    for host in topo.hosts:
        system.write_sysctls(topo.netns(host), host_sysctls)
    # Bridge: no STP (ports forward at once), no multicast snooping (flood every group like a
    # dumb switch, so only the "cloud" rule decides what multicast gets through).
    sw_cmds = [
        "link set lo up",
        f"link add {BRIDGE} type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
        f'link set {BRIDGE} alias "{MARKER} {topo.name}" up',
    ]
    for host in topo.hosts:
        port = topo.port(host)
        sw_cmds += [
            f"link add {port} type veth peer name {IFACE} netns {topo.netns(host)}",
            f'link set {port} alias "{MARKER} {topo.name} {host}" master {BRIDGE} up',
        ]
    system.ip_batch(sw_cmds, netns=sw)
    for host in topo.hosts:
        cmds = [
            "link set lo up",
            f'link set {IFACE} address {topo.mac(host)} alias "{MARKER} {topo.name} {host}" up',
            f"addr add {topo.addr(host)}/{NET4.prefixlen} dev {IFACE}",
        ]
        if topo.ipv6:
            cmds.append(f"addr add {topo.addr6(host)}/{NET6.prefixlen} dev {IFACE} nodad")
        system.ip_batch(cmds, netns=topo.netns(host))


def set_link(topo: Topology, host: str, up: bool) -> None:
    """Bring the host's eth0 up or down; the switch port loses or regains carrier with it."""
    system.ip("link", "set", IFACE, "up" if up else "down", netns=topo.netns(host))


def link_local(topo: Topology, host: str) -> ipaddress.IPv6Address | None:
    """The host's usable (non-tentative) fe80:: address on eth0, or None while there is none."""
    for link in system.ip_json("-6", "addr", "show", "dev", IFACE, "scope", "link", netns=topo.netns(host)):
        for info in link.get("addr_info", []):
            if "local" in info and not info.get("tentative"):
                return ipaddress.IPv6Address(info["local"])
    return None


def wait_ready(topo: Topology, host: str, timeout: float = 10.0) -> None:
    """Carrier up on eth0 and, with IPv6, a non-tentative link-local address (daemons bind to it)."""

    def ready() -> bool:
        link = system.ip_json("link", "show", "dev", IFACE, netns=topo.netns(host))
        if not link or "LOWER_UP" not in link[0].get("flags", []):
            return False
        if not topo.ipv6:
            return True
        return link_local(topo, host) is not None

    if not wait_until(ready, timeout):
        raise LabError(f"{host}: {IFACE} not ready after {timeout:g}s")
