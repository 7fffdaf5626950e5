"""Sstc's ``stimecmp``, emulated on a board that offers Sstc (``--sstc``).

The unicorn CPU has no ``stimecmp`` (docs/unicorn-facts.md, fact 21): every
access is an illegal instruction that reaches the trap hook, at an exact
instruction count. From S-mode the monitor performs it on the hart's timer
(``SbiTimer``, the same comparator SBI set_timer programs, as OpenSBI uses
stimecmp for set_timer on a hart with Sstc): a write programs the deadline,
lowering ``sip.STIP`` and raising it once time reaches the value (at once
when it already has); a read gives the value last written. The trapped
instruction counts as the one instruction it is, like the ``time`` reads the
monitor answers (counters.py). A U-mode access stays an illegal instruction,
as on a hart with Sstc. Without ``--sstc`` nothing is emulated: the guest
gets the illegal-instruction trap hardware without Sstc raises.
"""

from __future__ import annotations

from typing import Callable

from rr.monitor.constants import CSR_STIMECMP, PRIV_S
from rr.monitor.cpu import Cpu
from rr.monitor.insn_decode import decode_csr_access
from rr.monitor.timer import SbiTimer


class StimecmpEmulator:
    """Answers S-mode accesses to stimecmp that trapped; everything else is not ours."""

    def __init__(self, cpu: Cpu, timer: SbiTimer, program: Callable[[int], None]) -> None:
        """``program(ticks)``: set the hart's timer from the trap hook (the board's
        set_timer, which also ends the run if the deadline falls inside it)."""
        self.cpu = cpu
        self.timer = timer
        self.program = program

    def try_emulate(self, insn: int, length: int, epc: int, priv: int) -> bool:
        access = decode_csr_access(insn, length)
        if access is None or access.csr != CSR_STIMECMP or priv != PRIV_S:
            return False
        old = self.timer.compare
        new = access.new_value(old, access.operand(self.cpu.x))
        if new is not None:
            self.program(new)
        self.cpu.set_x(access.rd, old)
        self.cpu.pc = epc + length
        return True
