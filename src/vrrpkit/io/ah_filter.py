"""The kernel filter on the protocol-51 socket of auth_type AH instances (io/ah_socket.py).

Every AH datagram that reaches Python costs an HMAC (core/ah.py), so what could never be one of
keepalived's AH adverts stays in the kernel, as `io.vrrp_filter` does for protocol 112: an IPv4
header without options, an AH header of keepalived's form (next header VRRP, the SPI the source
address; its length byte is not judged, as keepalived does not), a VRRPv2 advertisement inside, a
VRID an AH instance here runs; for a VRID whose instances are all multicast a TTL of 255 and a
multicast destination, for one whose instances are all unicast a unicast destination (and a source
among the peers when the instances check sources). The ICV and the sequence number stay for the
session: a filter holds no key and no state. Each rule is one the session or the router applies too
(the filter is a shield, never the only check), and tests/fuzz/test_fuzz_ah.py checks that it never
drops what they would accept.
"""

from __future__ import annotations

from vrrpkit.io import bpf
from vrrpkit.io.bpf import Asm
from vrrpkit.io.fdsocket import BpfInsn
from vrrpkit.io.vrrp_filter import FilterSpec, Mode

_AH_AT, _VRRP_AT = 20, 44  # keepalived's IP header has no options


def program(spec: FilterSpec) -> list[BpfInsn]:
    a = Asm()
    a.op(bpf.LD_B_ABS, 0)
    a.unless_eq(0x45, "drop")  # IPv4, no options
    a.op(bpf.LD_B_ABS, _AH_AT)
    a.unless_eq(112, "drop")  # AH's next header: VRRP
    a.op(bpf.LD_W_ABS, 12)
    a.op(bpf.TAX)
    a.op(bpf.LD_W_ABS, _AH_AT + 4)
    a.jump(bpf.JEQ_X, 0, "+1", None)  # SPI: the source address
    a.ja("drop")
    a.op(bpf.LD_B_ABS, _VRRP_AT)
    a.unless_eq(0x21, "drop")  # VRRPv2 advertisement
    a.op(bpf.LD_B_ABS, _VRRP_AT + 1)
    for rule in spec.rules:
        a.if_eq(rule.vrid, f"vrid{rule.vrid}")
    a.ja("drop")
    for rule in spec.rules:
        a.label(f"vrid{rule.vrid}")
        if rule.mode is Mode.MULTICAST:
            a.op(bpf.LD_B_ABS, 8)
            a.unless_eq(255, "drop")  # TTL
            a.op(bpf.LD_B_ABS, 16)
            a.op(bpf.AND_K, 0xF0)
            a.unless_eq(0xE0, "drop")  # a multicast destination
        elif rule.mode is Mode.UNICAST:
            a.op(bpf.LD_B_ABS, 16)
            a.op(bpf.AND_K, 0xF0)
            a.if_eq(0xE0, "drop")
            if rule.peers is not None:
                a.op(bpf.LD_W_ABS, 12)
                for peer in sorted(rule.peers, key=int):
                    a.if_eq(int(peer), "accept")
                a.ja("drop")
        a.ja("accept")
    a.label("accept")
    a.op(bpf.RET_K, bpf.ACCEPT_ALL)
    a.label("drop")
    a.op(bpf.RET_K, 0)
    return a.assemble()
