"""Emulation of the time, cycle and instret counters (DESIGN.md fact 7).

Unicorn has no time source, so `rdtime` traps as an illegal instruction;
cycle and instret would return host ticks, so mcounteren is 0 and they trap
too. All three are answered here: time from the guest clock (a logged input
in host-clock mode), cycle and instret from the exact instruction count.
This is a hot path (Linux and U-Boot read time constantly).
"""

from __future__ import annotations

from rr.monitor.clock import GuestClock
from rr.monitor.constants import CSR_CYCLE, CSR_INSTRET, CSR_TIME, PRIV_U
from rr.monitor.cpu import Cpu
from rr.monitor.insn_decode import decode_counter_read

_COUNTER_BIT = {CSR_CYCLE: 0, CSR_TIME: 1, CSR_INSTRET: 2}


class CounterEmulator:
    """Answers counter reads that trapped; everything else is not ours."""

    def __init__(self, cpu: Cpu, clock: GuestClock) -> None:
        self.cpu = cpu
        self.clock = clock

    def try_emulate(self, insn: int, length: int, epc: int, priv: int) -> bool:
        """Emulate the counter read at ``epc``; False if it is no such read."""
        read = decode_counter_read(insn, length)
        if read is None or read.csr not in _COUNTER_BIT:
            return False
        if priv == PRIV_U and not (self.cpu.csr("scounteren") >> _COUNTER_BIT[read.csr]) & 1:
            return False            # S-mode denied it to U-mode: an illegal instruction
        icount = self.cpu.icount_in_hook()
        value = self.clock.now(icount) if read.csr == CSR_TIME else icount
        self.cpu.set_x(read.rd, value)
        self.cpu.pc = epc + length
        return True
