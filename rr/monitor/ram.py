"""Guest RAM in memory this process owns, mapped into unicorn by pointer.

Owning the bytes lets checkpoints compare and restore RAM at memcpy speed
(unicorn's own copy-on-write snapshots turn every copied page into a memory
region, and accesses slow down with their number: measured 3 ms per page
write after 2,000 copied pages). Whoever writes RAM behind unicorn's back
must flush its translation cache afterwards (``Cpu.invalidate_caches``).
"""

from __future__ import annotations

import ctypes
import mmap

from unicorn import UC_PROT_ALL

from rr.monitor.cpu import Cpu


class GuestRam:
    def __init__(self, cpu: Cpu, base: int, size: int) -> None:
        self.base = base
        self.size = size
        self.map = mmap.mmap(-1, size)
        self._cells = (ctypes.c_char * size).from_buffer(self.map)
        cpu.uc.mem_map_ptr(base, size, UC_PROT_ALL, ctypes.addressof(self._cells))

    def zero(self) -> None:
        ctypes.memset(self._cells, 0, self.size)

    def contains(self, paddr: int, size: int = 1) -> bool:
        return self.base <= paddr and paddr + size <= self.base + self.size
