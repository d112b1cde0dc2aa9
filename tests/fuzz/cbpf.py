"""An interpreter of classic BPF with the kernel's semantics (net/core/filter.c), for the filters the
daemon attaches to its sockets: 32-bit A and X, 16 scratch words, loads past the end drop the
packet, SKF_NET_OFF loads read from the network header. Only the opcodes `vrrpkit.io.bpf` emits;
anything else fails loudly rather than guessing.

tests/integration/test_io_vrrp_socket.py checks that the kernel takes the same decisions on real
packets, so this interpreter is the kernel's stand-in in the fast test layers.
"""

from __future__ import annotations

from vrrpkit.io import bpf
from vrrpkit.io.fdsocket import BpfInsn

MASK = 0xFFFFFFFF


class _Drop(Exception):
    pass


def run(program: list[BpfInsn], data: bytes, net: bytes | None = None) -> int:
    """What the filter returns for a packet: 0 drops it, anything else keeps that many bytes.

    ``data`` is what the socket sees (IPv4 raw: the IP packet; IPv6 raw: the VRRP message);
    ``net`` the bytes from the network header on (defaults to ``data``)."""
    net = data if net is None else net
    a = x = 0
    mem = [0] * 16
    pc = 0

    def load(offset: int, size: int) -> int:
        offset &= MASK
        if offset >= (1 << 31):  # negative: SKF_NET_OFF-relative
            rel = offset - (1 << 32) - bpf.SKF_NET_OFF
            if rel < 0:
                raise _Drop
            buf, at = net, rel
        else:
            buf, at = data, offset
        if at + size > len(buf):
            raise _Drop
        return int.from_bytes(buf[at : at + size], "big")

    try:
        while True:
            code, jt, jf, k = program[pc]
            pc += 1
            if code == bpf.LD_W_ABS:
                a = load(k, 4)
            elif code == bpf.LD_H_ABS:
                a = load(k, 2)
            elif code == bpf.LD_B_ABS:
                a = load(k, 1)
            elif code == bpf.LD_H_IND:
                a = load(x + k, 2)
            elif code == bpf.LD_B_IND:
                a = load(x + k, 1)
            elif code == bpf.LD_W_LEN:
                a = len(data)
            elif code == bpf.LD_IMM:
                a = k
            elif code == bpf.LD_MEM:
                a = mem[k]
            elif code == bpf.LDX_IMM:
                x = k
            elif code == bpf.LDX_MEM:
                x = mem[k]
            elif code == bpf.LDX_MSH:
                x = 4 * (load(k, 1) & 0x0F)
            elif code == bpf.ST:
                mem[k] = a
            elif code == bpf.STX:
                mem[k] = x
            elif code == bpf.ADD_K:
                a = (a + k) & MASK
            elif code == bpf.ADD_X:
                a = (a + x) & MASK
            elif code == bpf.SUB_X:
                a = (a - x) & MASK
            elif code == bpf.AND_K:
                a &= k
            elif code == bpf.LSH_K:
                a = (a << k) & MASK
            elif code == bpf.RSH_K:
                a >>= k
            elif code == bpf.TAX:
                x = a
            elif code == bpf.TXA:
                a = x
            elif code == bpf.JA:
                pc += k
            elif code == bpf.JEQ_K:
                pc += jt if a == k else jf
            elif code == bpf.JGT_K:
                pc += jt if a > k else jf
            elif code == bpf.JGE_K:
                pc += jt if a >= k else jf
            elif code == bpf.JEQ_X:
                pc += jt if a == x else jf
            elif code == bpf.RET_K:
                return k
            else:
                raise AssertionError(f"opcode 0x{code:02x} at {pc - 1} is not interpreted")
    except _Drop:
        return 0
