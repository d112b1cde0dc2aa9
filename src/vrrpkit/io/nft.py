"""``no_accept``: nftables rules that keep a non-owner master from accepting traffic for its VIPs.

RFC 5798 Accept_Mode off (keepalived's strict-mode default unless priority 255) means the master
must not accept packets addressed to the VIPs. keepalived does it with its own nftables table
(``vrrp_nftables.c``): a set of VIPs, ``in: ip daddr @vips drop`` and ``out: ip saddr @vips drop``
at priority -1, with IPv6 neighbour solicitations and advertisements accepted first (otherwise
neighbours could not even resolve the VIP, and the daemon's own NAs would be dropped), and
link-local VIPs matched together with their interface. We do the same in one ``inet`` table:

    table inet vrrpkit { set vips4; set vips6; set vips6ll (ipv6_addr . ifname); chain in; chain out }

VMACs need two more tables, as keepalived makes them (``table ip keepalived`` / ``ip6``, measured with
2.2.7): a backup's VMAC has the master's MAC, so the IGMP/MLD reports it sends when it joins the VRRP
group would teach the switches that the virtual MAC lives on the backup's port. Those reports are
duplicated onto the base interface and dropped on the VMAC, and IPv6 router solicitations from a VMAC
are dropped (``dup`` only exists in the ip and ip6 families, not in inet):

    table ip vrrpkit { map vmacs (VMAC -> base); chain out: igmp from a VMAC -> dup to base, drop }
    table ip6 vrrpkit { map vmacs; set vmacs_rs; chain out: MLD as above, router solicitations dropped }

The daemon calls ``setup()`` at start, ``add()`` when an instance with no_accept becomes MASTER,
``remove()`` when it leaves MASTER, ``add_vmac()``/``remove_vmac()`` around a VMAC's life, and
``teardown()`` on stop. Every script is applied atomically
by ``nft -f -`` and is idempotent (adding an element twice is fine; removal first adds, so a missing
element is no error), so replays after crashes and reloads are safe. The script builders are pure
functions; ``apply`` blocks (for sync callers) and ``apply_async`` does not (for the loop).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address

from vrrpkit.core.config import IPAddress

DEFAULT_TABLE = "vrrpkit"
CHAIN_PRIORITY = -1  # keepalived's vrrp_nf_chain_priority default
NFT_TIMEOUT = 10.0
_IFNAME = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")
_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


class NftError(RuntimeError):
    """nft refused a script (the message carries its stderr)."""


def _check_table(table: str) -> str:
    if not _TABLE.match(table):
        raise ValueError(f"bad nftables table name {table!r}")
    return table


def _check_ifname(ifname: str) -> str:
    if not _IFNAME.match(ifname):
        raise ValueError(f"bad interface name {ifname!r}")
    return ifname


def setup_script(table: str = DEFAULT_TABLE, priority: int = CHAIN_PRIORITY, counters: bool = False) -> str:
    """Create the table afresh (a leftover of a crashed run is replaced, as keepalived does); `counters`
    (nftables_counters) counts what each rule drops."""
    t = _check_table(table)
    c = "counter " if counters else ""
    nd = "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept"
    return f"""add table inet {t}
delete table inet {t}
table inet {t} {{
    set vips4 {{ type ipv4_addr; }}
    set vips6 {{ type ipv6_addr; }}
    set vips6ll {{ type ipv6_addr . ifname; }}
    chain in {{
        type filter hook input priority {priority}; policy accept;
        {nd}
        ip daddr @vips4 {c}drop
        ip6 daddr @vips6 {c}drop
        ip6 daddr . iifname @vips6ll {c}drop
    }}
    chain out {{
        type filter hook output priority {priority}; policy accept;
        {nd}
        ip saddr @vips4 {c}drop
        ip6 saddr @vips6 {c}drop
        ip6 saddr . oifname @vips6ll {c}drop
    }}
}}
"""


def teardown_script(table: str = DEFAULT_TABLE) -> str:
    """Delete the tables (no_accept and VMAC); succeeds whether or not they exist."""
    t = _check_table(table)
    return "".join(f"add table {family} {t}\ndelete table {family} {t}\n" for family in ("inet", "ip", "ip6"))


IGMP = 2  # IP protocol number (never /etc/protocols names)


def vmac_setup_script(table: str = DEFAULT_TABLE, priority: int = CHAIN_PRIORITY, counters: bool = False) -> str:
    """The ip and ip6 tables that keep a VMAC's IGMP/MLD reports (and IPv6 router solicitations) off the wire."""
    t = _check_table(table)
    c = "counter " if counters else ""
    return f"""add table ip {t}
delete table ip {t}
table ip {t} {{
    map vmacs {{ type iface_index : iface_index; }}
    chain out {{
        type filter hook output priority {priority}; policy accept;
        ip protocol {IGMP} oif @vmacs dup to ip daddr device oif map @vmacs {c}drop
    }}
}}
add table ip6 {t}
delete table ip6 {t}
table ip6 {t} {{
    map vmacs {{ type iface_index : iface_index; }}
    set vmacs_rs {{ type iface_index; }}
    chain out {{
        type filter hook output priority {priority}; policy accept;
        icmpv6 type mld2-listener-report oif @vmacs dup to ip6 daddr device oif map @vmacs {c}drop
        icmpv6 type nd-router-solicit oif @vmacs_rs {c}drop
    }}
}}
"""


def _vmac_elements(vmac: str, base: str, family: int) -> list[tuple[str, str]]:
    v, b = _check_ifname(vmac), _check_ifname(base)
    if family == 4:
        return [("ip", f'vmacs {{ "{v}" : "{b}" }}')]
    return [("ip6", f'vmacs {{ "{v}" : "{b}" }}'), ("ip6", f'vmacs_rs {{ "{v}" }}')]


def vmac_add_script(vmac: str, base: str, family: int, table: str = DEFAULT_TABLE) -> str:
    """Start moving a VMAC's IGMP (IPv4) or MLD (IPv6) reports to its base interface."""
    t = _check_table(table)
    return "".join(f"add element {fam} {t} {elem}\n" for fam, elem in _vmac_elements(vmac, base, family))


def vmac_remove_script(vmac: str, base: str, family: int, table: str = DEFAULT_TABLE) -> str:
    """Before the VMAC goes: afterwards nft could no longer name it (the maps hold interface indexes)."""
    t = _check_table(table)
    return "".join(f"add element {fam} {t} {elem}\ndelete element {fam} {t} {elem}\n"
                   for fam, elem in _vmac_elements(vmac, base, family))


def _elements(ifname: str, addresses: Iterable[IPAddress]) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {"vips4": [], "vips6": [], "vips6ll": []}
    for address in addresses:
        if isinstance(address, IPv4Address):
            sets["vips4"].append(str(address))
        elif isinstance(address, IPv6Address) and address.is_link_local:
            sets["vips6ll"].append(f'{address} . "{_check_ifname(ifname)}"')
        else:
            sets["vips6"].append(str(address))
    return {name: elems for name, elems in sets.items() if elems}


def add_script(ifname: str, addresses: Iterable[IPAddress], table: str = DEFAULT_TABLE) -> str:
    """Start dropping traffic to and from these VIPs."""
    t = _check_table(table)
    lines = [f"add element inet {t} {name} {{ {', '.join(e)} }}" for name, e in _elements(ifname, addresses).items()]
    return "\n".join(lines) + "\n" if lines else ""


def remove_script(ifname: str, addresses: Iterable[IPAddress], table: str = DEFAULT_TABLE) -> str:
    """Stop dropping; adding first makes the delete succeed when an element is already gone."""
    t = _check_table(table)
    lines: list[str] = []
    for name, elems in _elements(ifname, addresses).items():
        joined = ", ".join(elems)
        lines.append(f"add element inet {t} {name} {{ {joined} }}")
        lines.append(f"delete element inet {t} {name} {{ {joined} }}")
    return "\n".join(lines) + "\n" if lines else ""


def apply(script: str, nft: str = "nft", timeout: float = NFT_TIMEOUT) -> None:
    """Run ``nft -f -`` with ``script``; raises NftError with nft's message on failure. Blocks."""
    if not script:
        return
    try:
        done = subprocess.run([nft, "-f", "-"], input=script, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NftError(f"nft: {exc}") from exc
    if done.returncode != 0:
        raise NftError(f"nft failed ({done.returncode}): {done.stderr.strip()}")


async def apply_async(script: str, nft: str = "nft", timeout: float = NFT_TIMEOUT) -> None:
    """``apply`` for the event loop: the nft process runs while the loop keeps serving timers."""
    if not script:
        return
    try:
        proc = await asyncio.create_subprocess_exec(
            nft,
            "-f",
            "-",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise NftError(f"nft: {exc}") from exc
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(script.encode()), timeout)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise NftError(f"nft timed out after {timeout} s") from exc
    if proc.returncode != 0:
        raise NftError(f"nft failed ({proc.returncode}): {stderr.decode(errors='replace').strip()}")


class NoAcceptFirewall:
    """The daemon's handle on the table. Sync methods block; ``*_async`` ones do not."""

    def __init__(self, table: str = DEFAULT_TABLE, nft: str = "nft") -> None:
        self.table = _check_table(table)
        self.nft = nft
        self.priority = CHAIN_PRIORITY
        self.counters = False
        self._vmac_tables = False

    def configure(self, table: str, priority: int, counters: bool) -> None:
        """keepalived's nftables TABLE, nftables_priority and nftables_counters (before setup)."""
        self.table = _check_table(table)
        self.priority = priority
        self.counters = counters

    def setup(self) -> None:
        apply(setup_script(self.table, self.priority, self.counters), self.nft)

    def add(self, ifname: str, addresses: Iterable[IPAddress]) -> None:
        apply(add_script(ifname, addresses, self.table), self.nft)

    def remove(self, ifname: str, addresses: Iterable[IPAddress]) -> None:
        apply(remove_script(ifname, addresses, self.table), self.nft)

    def teardown(self) -> None:
        apply(teardown_script(self.table), self.nft)
        self._vmac_tables = False

    def add_vmac(self, vmac: str, base: str, family: int) -> None:
        if not self._vmac_tables:
            apply(vmac_setup_script(self.table, self.priority, self.counters), self.nft)
            self._vmac_tables = True
        apply(vmac_add_script(vmac, base, family, self.table), self.nft)

    def remove_vmac(self, vmac: str, base: str, family: int) -> None:
        if self._vmac_tables:
            apply(vmac_remove_script(vmac, base, family, self.table), self.nft)

    async def setup_async(self) -> None:
        await apply_async(setup_script(self.table, self.priority, self.counters), self.nft)

    async def add_async(self, ifname: str, addresses: Iterable[IPAddress]) -> None:
        await apply_async(add_script(ifname, addresses, self.table), self.nft)

    async def remove_async(self, ifname: str, addresses: Iterable[IPAddress]) -> None:
        await apply_async(remove_script(ifname, addresses, self.table), self.nft)

    async def teardown_async(self) -> None:
        await apply_async(teardown_script(self.table), self.nft)
