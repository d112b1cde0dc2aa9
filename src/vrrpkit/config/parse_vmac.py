"""The virtual-MAC keywords of a vrrp_instance: `use_vmac`, `use_ipvlan`, `vmac_xmit_base`,
`use_vmac_addr` and `garp_extra_if` (with its old name `vmac_garp_intvl`).

Read word by word as keepalived's `vrrp_vmac_handler` reads them (a word with a ':' is a MAC address,
anything else an interface name, `name` may precede it), each mistake reported on its word and the
rest of the line still used. Which interfaces the instance then needs, and their names, is decided in
`semantics` once the whole block (its VIPs, its family) is known.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import ip_interface

from vrrpkit.config.lexer import Stmt
from vrrpkit.config.parser import IFNAMSIZ, Parser
from vrrpkit.config.written import WrittenInstance, WrittenVmac

Handler = Callable[[Parser, WrittenInstance, Stmt], None]
RFC_PREFIX = b"\x00\x00\x5e\x00"
GARP_EXTRA_MAX = 86400
IPVLAN_MODES = ("bridge", "private", "vepa")


def valid_ifname(name: str) -> bool:
    """The kernel's dev_valid_name: 1..15 characters, not `.`/`..`, no '/', ':' or blank."""
    return (
        0 < len(name) < IFNAMSIZ
        and name not in (".", "..")
        and not any(ch in "/:" or ch.isspace() for ch in name)
    )


def parse_mac(text: str) -> tuple[bytes | None, str]:
    """keepalived's VMAC address: 6 octets, or 5 (the VRID becomes the sixth). (octets, error)."""
    if text.strip("0123456789abcdefABCDEF:"):
        return None, f"VMAC invalid MAC address {text}"
    parts = text.split(":")
    if len(parts) == 6 and parts[5] == "" and len(parts[:5]) == 5:
        parts = parts[:5]  # "00:11:22:33:44:" is five octets too
    if len(parts) not in (5, 6) or any(not 1 <= len(p) <= 2 for p in parts):
        return None, f"VMAC invalid MAC address {text} - ignored"
    mac = bytes(int(p, 16) for p in parts)
    if mac[0] & 0x01:
        return None, f"VMAC MAC address is multicast {text} - ignoring"
    if mac[:4] == RFC_PREFIX and mac[4] in (0x01, 0x02):
        return None, f"VMAC MAC address not allowed to be RFC5798 address ({text}) - ignoring"
    return mac, ""


def use_vmac(p: Parser, inst: WrittenInstance, s: Stmt) -> None:
    """`use_vmac [[name] NAME] [MAC]`."""
    vmac = inst.vmac if inst.vmac is not None and inst.vmac.kind == "macvlan" else WrittenVmac(s.loc)
    inst.vmac = vmac
    words = s.words[1:]
    i = 0
    while i < len(words):
        w, loc = words[i].text, s.word_loc(i + 1)
        i += 1
        if ":" in w:
            if vmac.mac is not None:
                p.err(loc, "invalid-value", "VMAC interface address already specified")
                continue
            mac, error = parse_mac(w)
            if mac is None:
                p.err(loc, "invalid-value", error)
            vmac.mac = mac
            continue
        if w == "name" and i < len(words):
            w, loc = words[i].text, s.word_loc(i + 1)
            i += 1
        if vmac.name is not None:
            p.err(loc, "invalid-value", "VMAC interface name already specified")
            continue
        if not valid_ifname(w):
            p.err(loc, "invalid-value", f"VMAC interface name '{w}' too long or invalid characters - ignoring")
            continue
        vmac.name = w


def use_ipvlan(p: Parser, inst: WrittenInstance, s: Stmt) -> None:
    """`use_ipvlan [NAME] [ADDRESS[/LEN]] [bridge|private|vepa]` (an L2 ipvlan; CONFIG_IPVLAN needed)."""
    if inst.vmac is not None and inst.vmac.kind == "ipvlan":
        p.err(s.loc, "invalid-value", f"({inst.name}) use_ipvlan already specified")
        return
    vmac = inst.vmac = WrittenVmac(s.loc, kind="ipvlan")
    had_mode = False
    words = s.words[1:]
    i = 0
    while i < len(words):
        w, loc = words[i].text, s.word_loc(i + 1)
        i += 1
        if w in IPVLAN_MODES:
            if had_mode:
                p.err(loc, "invalid-value", f"({inst.name}) ipvlan type already specified - ignoring '{w}'")
            else:
                vmac.ipvlan_mode, had_mode = w, True
            continue
        if w == "name" and i < len(words):
            w, loc = words[i].text, s.word_loc(i + 1)
            i += 1
        elif _is_address(w):
            if vmac.ipvlan_address is not None:
                p.err(loc, "invalid-value", f"({inst.name}) ipvlan address already specified - ignoring '{w}'")
            else:
                vmac.ipvlan_address = ip_interface(w)
            continue
        if vmac.name is not None:
            p.err(loc, "invalid-value", f"({inst.name}) IPVLAN interface already specified - ignoring '{w}'")
        elif len(w) >= IFNAMSIZ or not valid_ifname(w):
            p.err(loc, "invalid-value", f"({inst.name}) IPVLAN interface name '{w}' too long - ignoring")
        else:
            vmac.name = w


def _is_address(text: str) -> bool:
    try:
        ip_interface(text)
    except ValueError:
        return False
    return True


def garp_extra_if(p: Parser, inst: WrittenInstance, s: Stmt) -> None:
    """`garp_extra_if [all] SECONDS` (0..86400); `vmac_garp_intvl` is its deprecated name."""
    result = read_garp_extra_if(p, s, f"({inst.name}): ")
    if result is not None:
        inst.garp_extra_if = result


def read_garp_extra_if(p: Parser, s: Stmt, who: str) -> tuple[int, bool] | None:
    """(seconds, all) for garp_extra_if and its global form vrrp_garp_extra_if; None if unusable."""
    name = s.keyword
    if name in ("vmac_garp_intvl", "vrrp_vmac_garp_intvl"):
        new = "vrrp_garp_extra_if" if name.startswith("vrrp_") else "garp_extra_if"
        p.err(s.loc, "deprecated-keyword", f'Keyword "{name}" is deprecated - please use "{new}"')
    seconds: int | None = None
    everywhere = False
    for i, word in enumerate(s.words[1:], start=1):
        if word.text == "all":
            everywhere = True
            continue
        n = p.int_value(word.text, s.word_loc(i), 0, GARP_EXTRA_MAX, f"{who}{name}")
        if n is None:  # keepalived ignores the whole line
            return None
        seconds = n
    if seconds is None:
        p.err(s.loc, "invalid-value", f"{who}{name} specified without time - ignoring")
        return None
    return seconds, everywhere
