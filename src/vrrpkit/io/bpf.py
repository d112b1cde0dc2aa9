"""A classic BPF assembler with labels, so filter programs are written as code, not as jump offsets.

Classic BPF (``struct sock_filter``, SO_ATTACH_FILTER) rather than eBPF: it needs no privilege
beyond the raw socket itself, works in every container that lets keepalived run, and a program is
plain data the kernel verifies and copies. Its limits shape the programs here: two registers (A,
X), 16 scratch words, conditional jumps only forward and at most 255 instructions away (longer
ones go through ``ja``), no loops, 4096 instructions at most, and any load past the end of the
packet ends the program with "drop".

Pure: `Asm.assemble()` returns `(code, jt, jf, k)` tuples; `vrrpkit.io.fdsocket.attach_bpf` hands
them to the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vrrpkit.io.fdsocket import BpfInsn

MAX_INSNS = 4096  # BPF_MAXINSNS
SKF_NET_OFF = -0x100000  # loads relative to the network header (IPv6 raw sockets start at VRRP)

# opcodes (linux/filter.h, linux/bpf_common.h)
LD_W_ABS, LD_H_ABS, LD_B_ABS = 0x20, 0x28, 0x30
LD_H_IND, LD_B_IND = 0x48, 0x50
LD_W_LEN, LD_IMM, LD_MEM = 0x80, 0x00, 0x60
LDX_IMM, LDX_MEM, LDX_MSH = 0x01, 0x61, 0xB1
ST, STX = 0x02, 0x03
ADD_K, ADD_X, SUB_X, AND_K, LSH_K, RSH_K = 0x04, 0x0C, 0x1C, 0x54, 0x64, 0x74
JA, JEQ_K, JGT_K, JGE_K, JEQ_X = 0x05, 0x15, 0x25, 0x35, 0x1D
RET_K = 0x06
TAX, TXA = 0x07, 0x87
ACCEPT_ALL = 0xFFFFFFFF  # "keep this many bytes": the whole packet

JUMPS = frozenset({JEQ_K, JGT_K, JGE_K, JEQ_X})


def u32(k: int) -> int:
    """A (possibly negative) constant as the unsigned 32-bit ``k`` field."""
    return k & 0xFFFFFFFF


@dataclass
class Asm:
    """Instructions with symbolic jump targets. A target is a label name, or None for "the next
    instruction"; `assemble` resolves them and refuses a conditional jump that is too long."""

    _code: list[tuple[int, str | None, str | None, int]] = field(default_factory=list)
    _labels: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._code)

    def op(self, code: int, k: int = 0) -> None:
        self._code.append((code, None, None, u32(k)))

    def jump(self, code: int, k: int, true: str | None, false: str | None) -> None:
        self._code.append((code, true, false, u32(k)))

    def ja(self, target: str) -> None:
        self._code.append((JA, target, None, 0))

    def label(self, name: str) -> None:
        if name in self._labels:
            raise ValueError(f"label {name} defined twice")
        self._labels[name] = len(self._code)

    def unless_eq(self, k: int, target: str) -> None:
        """Go to ``target`` (any distance) unless A == k."""
        self.jump(JEQ_K, k, "+1", None)
        self.ja(target)

    def if_eq(self, k: int, target: str) -> None:
        """Go to ``target`` (any distance) if A == k."""
        self.if_(JEQ_K, k, target)

    def if_(self, code: int, k: int, target: str) -> None:
        """Go to ``target`` (any distance) if the comparison ``code`` of A with k holds."""
        self.jump(code, k, None, "+1")
        self.ja(target)

    def assemble(self) -> list[BpfInsn]:
        out: list[BpfInsn] = []
        for pc, (code, true, false, k) in enumerate(self._code):
            if code == JA:
                assert true is not None
                out.append((JA, 0, 0, self._distance(pc, true)))
            elif code in JUMPS:
                jt, jf = self._short(pc, true), self._short(pc, false)
                out.append((code, jt, jf, k))
            else:
                out.append((code, 0, 0, k))
        if len(out) > MAX_INSNS:
            raise ValueError(f"BPF program of {len(out)} instructions (the kernel takes {MAX_INSNS})")
        return out

    def _distance(self, pc: int, target: str) -> int:
        if target == "+1":
            return 1
        where = self._labels.get(target)
        if where is None:
            raise ValueError(f"undefined label {target}")
        if where <= pc:
            raise ValueError(f"backward jump to {target}: classic BPF only jumps forward")
        return where - pc - 1

    def _short(self, pc: int, target: str | None) -> int:
        if target is None:
            return 0
        distance = self._distance(pc, target)
        if distance > 255:
            raise ValueError(f"conditional jump of {distance} to {target}: use ja")
        return distance
