"""The hart's registers as text, for `rrvm replay --to` and the debuggers."""

from __future__ import annotations

from rr.monitor.board import Board
from rr.monitor.constants import GPR_NAMES
from rr.monitor.riscv import priv_name
from rr.monitor.state_digest import DIGEST_CSRS


def format_registers(board: Board) -> str:
    cpu = board.cpu
    lines = [f"icount {cpu.icount}  pc {cpu.pc:#018x}  priv {priv_name(cpu.priv)}"]
    for row in range(0, 32, 4):
        lines.append("  ".join(f"{GPR_NAMES[n]:>4} {cpu.x(n):#018x}" for n in range(row, row + 4)))
    lines.append("  ".join(f"{name} {cpu.csr(name):#x}" for name in DIGEST_CSRS[:6]))
    lines.append("  ".join(f"{name} {cpu.csr(name):#x}" for name in DIGEST_CSRS[6:]))
    return "\n".join(lines)
