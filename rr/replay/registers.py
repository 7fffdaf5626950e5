"""The hart's registers as text, for `rrvm replay --to` and the debuggers."""

from __future__ import annotations

from rr.monitor.board import Board
from rr.monitor.state_digest import DIGEST_CSRS

ABI_NAMES = ("zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 "
             "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()
PRIV_NAMES = {0: "U", 1: "S", 3: "M"}


def format_registers(board: Board) -> str:
    cpu = board.cpu
    lines = [f"icount {cpu.icount}  pc {cpu.pc:#018x}  priv {PRIV_NAMES.get(cpu.priv, cpu.priv)}"]
    for row in range(0, 32, 4):
        lines.append("  ".join(f"{ABI_NAMES[n]:>4} {cpu.x(n):#018x}" for n in range(row, row + 4)))
    lines.append("  ".join(f"{name} {cpu.csr(name):#x}" for name in DIGEST_CSRS[:6]))
    lines.append("  ".join(f"{name} {cpu.csr(name):#x}" for name in DIGEST_CSRS[6:]))
    return "\n".join(lines)
