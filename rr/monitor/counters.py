"""Emulation of the time counter (DESIGN.md fact 7).

Unicorn has no time source, so `rdtime` traps as an illegal instruction and
is answered here from the guest clock (a logged input in host-clock mode).
This is a hot path: Linux and U-Boot read time constantly.

`rdcycle` and `rdinstret` cannot be intercepted in this unicorn: its QEMU 5.0
core treats the counters as always readable for privileged spec 1.10 and
later (mcounteren is ignored), and returns host CPU ticks. A guest that reads
them sees values that differ between runs; guests that keep time with rdtime
(Linux, U-Boot, ours) are unaffected.
"""

from __future__ import annotations

from rr.monitor.clock import GuestClock
from rr.monitor.constants import CSR_TIME, PRIV_U
from rr.monitor.cpu import Cpu
from rr.monitor.insn_decode import decode_counter_read

SCOUNTEREN_TM = 1 << 1


class CounterEmulator:
    """Answers time reads that trapped; everything else is not ours."""

    def __init__(self, cpu: Cpu, clock: GuestClock) -> None:
        self.cpu = cpu
        self.clock = clock

    def try_emulate(self, insn: int, length: int, epc: int, priv: int) -> bool:
        """Emulate the time read at ``epc``; False if it is no such read."""
        read = decode_counter_read(insn, length)
        if read is None or read.csr != CSR_TIME:
            return False
        if priv == PRIV_U and not self.cpu.csr("scounteren") & SCOUNTEREN_TM:
            return False            # S-mode denied it to U-mode: an illegal instruction
        self.cpu.set_x(read.rd, self.clock.now(self.cpu.icount_in_hook()))
        self.cpu.pc = epc + length
        return True
