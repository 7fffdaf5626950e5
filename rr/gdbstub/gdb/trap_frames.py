"""Trap frames: where a RISC-V trap handler keeps the registers of the code it interrupted.

The one description of trap frames, used by gdb's unwinder (trap_unwinder.py,
run by gdb's own Python, which imports this file from beside it) and by
`rrvm dap`'s call stack (rr/dap/call_stack.py). So it imports only the
standard library.

A debugger's unwinding from DWARF call frame information stops at the
assembly that saved a trap's registers: it has no such information, and
nothing in it says that its caller is whatever `sepc` pointed at. Two
layouts are known, both keeping x1..x31 at 8 * n bytes from the frame (the
stack pointer of the frame whose pc is the address the C handler returns to):

- rrvm's own guests (guests/common/trap.S): the C handler returns to
  `trap_return`; `sepc` is saved at 256 (`struct trapframe`);
- Linux 6.1 (arch/riscv/kernel/entry.S): handlers return to
  `ret_from_exception`, system calls to `ret_from_syscall`; `sepc` is saved
  at 0 (`struct pt_regs`).

Stopped at the first instruction of the trap entry (`trap_entry`,
`handle_exception`), nothing is saved yet: the interrupted code's registers
are the current ones and its pc is `sepc`.

The interrupted code is at `sepc` itself, not after a call: its source line
is that of `sepc` (a caller's is that of its return address - 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

XLEN_BYTES = 8
# Return address of the C handler -> offset of the saved sepc in the frame at sp.
SAVED_FRAMES = {
    "trap_return": 32 * XLEN_BYTES,         # guests/common/trap.S, struct trapframe
    "ret_from_exception": 0,                # Linux, struct pt_regs
    "ret_from_syscall": 0,
}
# First instructions of trap entries: nothing saved yet.
TRAP_ENTRIES = ("trap_entry", "handle_exception")
# x0..x31 by number, as gdb's RISC-V target description names them.
REGISTER_NAMES = ("zero ra sp gp tp t0 t1 t2 fp s1 a0 a1 a2 a3 a4 a5 a6 a7 "
                  "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()
REG_SP = 2


@dataclass(frozen=True)
class InterruptedCode:
    """The frame a trap interrupted: its pc (the trap's sepc) and x1..x31 by number."""

    pc: int
    registers: dict[int, int]


class TrapFrames:
    """The trap frames of one guest, found by its symbols (``address_of`` a name, or None)."""

    def __init__(self, address_of: Callable[[str], int | None]) -> None:
        self.saved: dict[int, int] = {}         # return address -> sepc offset
        for name, offset in SAVED_FRAMES.items():
            address = address_of(name)
            if address is not None:
                self.saved[address] = offset
        self.entries = {a for a in map(address_of, TRAP_ENTRIES) if a is not None}

    def __bool__(self) -> bool:
        return bool(self.saved or self.entries)

    def interrupted(self, pc: int, innermost: bool, register: Callable[[str], int],
                    read: Callable[[int, int], bytes | None]) -> InterruptedCode | None:
        """The code a trap interrupted, if the frame at ``pc`` is a trap's (None if not, or
        if its saved registers cannot be read). ``register`` reads this frame's registers
        by REGISTER_NAMES name (and "sepc", asked only of the innermost frame); ``read``
        gives memory, or None."""
        if pc in self.saved:
            sepc_at = self.saved[pc]
            size = max(32 * XLEN_BYTES, sepc_at + XLEN_BYTES)
            saved = read(register("sp"), size)
            if saved is None or len(saved) < size:
                return None

            def word(offset: int) -> int:
                return int.from_bytes(saved[offset:offset + XLEN_BYTES], "little")

            return InterruptedCode(word(sepc_at), {n: word(n * XLEN_BYTES) for n in range(1, 32)})
        if innermost and pc in self.entries:
            return InterruptedCode(register("sepc"),
                                   {n: register(REGISTER_NAMES[n]) for n in range(1, 32)})
        return None
