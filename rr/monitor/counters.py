"""Emulation of the time counter (docs/unicorn-facts.md, fact 11).

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
# Distinct trapping instruction words remembered (a guest has a handful of
# rdtime sites; the bound keeps a guest full of illegal instructions cheap).
DECODE_CACHE_LIMIT = 4096


class CounterEmulator:
    """Answers time reads that trapped; everything else is not ours."""

    def __init__(self, cpu: Cpu, clock: GuestClock) -> None:
        self.cpu = cpu
        self.clock = clock
        # (instruction bits, length) -> rd of a time read, or None for any
        # other instruction. The answer depends on the bits alone, and
        # decoding was a quarter of the cost of a trapped rdtime (Linux's
        # udelay and panic loops trap once every 7 instructions).
        self._time_reads: dict[tuple[int, int], int | None] = {}

    def time_read_rd(self, insn: int, length: int) -> int | None:
        """The destination register if the instruction is a read of ``time``, else None."""
        key = (insn, length)
        try:
            return self._time_reads[key]
        except KeyError:
            pass
        read = decode_counter_read(insn, length)
        rd = read.rd if read is not None and read.csr == CSR_TIME else None
        if len(self._time_reads) >= DECODE_CACHE_LIMIT:
            self._time_reads.clear()
        self._time_reads[key] = rd
        return rd

    def try_emulate(self, insn: int, length: int, epc: int, priv: int) -> bool:
        """Emulate the time read at ``epc``; False if it is no such read."""
        rd = self.time_read_rd(insn, length)
        if rd is None:
            return False
        if priv == PRIV_U and not self.cpu.csr("scounteren") & SCOUNTEREN_TM:
            return False            # S-mode denied it to U-mode: an illegal instruction
        self.cpu.set_x(rd, self.clock.now(self.cpu.icount_in_hook()))
        self.cpu.pc = epc + length
        return True
