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
from typing import Iterator

from unicorn import UC_PROT_ALL

from rr.monitor.constants import PAGE_SIZE
from rr.monitor.cpu import Cpu

BLOCK = 1 << 20                  # comparisons go by 1 MiB blocks, then by pages
_libc = ctypes.CDLL(None)
memcmp = _libc.memcmp
memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
memcmp.restype = ctypes.c_int
_ZERO_BLOCK = ctypes.create_string_buffer(BLOCK)
ZERO_ADDRESS = ctypes.addressof(_ZERO_BLOCK)


def buffer_address(buffer) -> int:
    """Address of a writable buffer (mmap, bytearray) for memcmp."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))


def differing_pages(a: int, b: int, size: int) -> Iterator[int]:
    """Offsets of the pages where the buffers at addresses a and b differ."""
    for block in range(0, size, BLOCK):
        length = min(BLOCK, size - block)
        if not memcmp(a + block, b + block, length):
            continue
        for page in range(block, block + length, PAGE_SIZE):
            if memcmp(a + page, b + page, PAGE_SIZE):
                yield page


class GuestRam:
    def __init__(self, cpu: Cpu, base: int, size: int) -> None:
        self.base = base
        self.size = size
        self.map = mmap.mmap(-1, size)
        self._cells = (ctypes.c_char * size).from_buffer(self.map)
        cpu.uc.mem_map_ptr(base, size, UC_PROT_ALL, ctypes.addressof(self._cells))

    @property
    def address(self) -> int:
        return ctypes.addressof(self._cells)

    def zero(self) -> None:
        ctypes.memset(self._cells, 0, self.size)

    def nonzero_blocks(self) -> Iterator[int]:
        """Offsets of the 1 MiB blocks holding anything but zeros."""
        for block in range(0, self.size, BLOCK):
            length = min(BLOCK, self.size - block)
            if memcmp(self.address + block, ZERO_ADDRESS, length):
                yield block

    def contains(self, paddr: int, size: int = 1) -> bool:
        return self.base <= paddr and paddr + size <= self.base + self.size
