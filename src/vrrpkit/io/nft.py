"""``no_accept``: nftables rules that keep a non-owner master from accepting traffic for its VIPs.

RFC 5798 Accept_Mode off (keepalived's strict-mode default unless priority 255) means the master
must not accept packets addressed to the VIPs. keepalived does it with its own nftables table
(``vrrp_nftables.c``): a set of VIPs, ``in: ip daddr @vips drop`` and ``out: ip saddr @vips drop``
at priority -1, with IPv6 neighbour solicitations and advertisements accepted first (otherwise
neighbours could not even resolve the VIP, and the daemon's own NAs would be dropped), and
link-local VIPs matched together with their interface. We do the same in one ``inet`` table:

    table inet vrrpkit { set vips4; set vips6; set vips6ll (ipv6_addr . ifname); chain in; chain out }

The daemon calls ``setup()`` at start, ``add()`` when an instance with no_accept becomes MASTER,
``remove()`` when it leaves MASTER, and ``teardown()`` on stop. Every script is applied atomically
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


def setup_script(table: str = DEFAULT_TABLE, priority: int = CHAIN_PRIORITY) -> str:
    """Create the table afresh (a leftover of a crashed run is replaced, as keepalived does)."""
    t = _check_table(table)
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
        ip daddr @vips4 drop
        ip6 daddr @vips6 drop
        ip6 daddr . iifname @vips6ll drop
    }}
    chain out {{
        type filter hook output priority {priority}; policy accept;
        {nd}
        ip saddr @vips4 drop
        ip6 saddr @vips6 drop
        ip6 saddr . oifname @vips6ll drop
    }}
}}
"""


def teardown_script(table: str = DEFAULT_TABLE) -> str:
    """Delete the table; succeeds whether or not it exists."""
    t = _check_table(table)
    return f"add table inet {t}\ndelete table inet {t}\n"


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

    def setup(self) -> None:
        apply(setup_script(self.table), self.nft)

    def add(self, ifname: str, addresses: Iterable[IPAddress]) -> None:
        apply(add_script(ifname, addresses, self.table), self.nft)

    def remove(self, ifname: str, addresses: Iterable[IPAddress]) -> None:
        apply(remove_script(ifname, addresses, self.table), self.nft)

    def teardown(self) -> None:
        apply(teardown_script(self.table), self.nft)

    async def setup_async(self) -> None:
        await apply_async(setup_script(self.table), self.nft)

    async def add_async(self, ifname: str, addresses: Iterable[IPAddress]) -> None:
        await apply_async(add_script(ifname, addresses, self.table), self.nft)

    async def remove_async(self, ifname: str, addresses: Iterable[IPAddress]) -> None:
        await apply_async(remove_script(ifname, addresses, self.table), self.nft)

    async def teardown_async(self) -> None:
        await apply_async(teardown_script(self.table), self.nft)
