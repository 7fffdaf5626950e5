"""Guest RAM in memory this process owns, mapped into unicorn by pointer.

Owning the bytes lets checkpoints compare and restore RAM at memcpy speed
(unicorn's own copy-on-write snapshots turn every copied page into a memory
region, and accesses slow down with their number: measured 3 ms per page
write after 2,000 copied pages). Whoever writes RAM behind unicorn's back
must drop the code translated from it afterwards (``forget_code``, or all of
it with ``Cpu.invalidate_caches``).
"""

from __future__ import annotations

import ctypes
import mmap
from typing import Iterable, Iterator

from unicorn import UC_PROT_ALL, UcError

from rr.errors import RrError
from rr.monitor.constants import PAGE_SIZE, PRIV_M
from rr.monitor.cpu import Cpu

BLOCK = 1 << 20                  # comparisons go by 1 MiB blocks, then by pages
_libc = ctypes.CDLL(None)
memcmp = _libc.memcmp
memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
memcmp.restype = ctypes.c_int
mincore = _libc.mincore
mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
mincore.restype = ctypes.c_int
_ZERO_BLOCK = ctypes.create_string_buffer(BLOCK)
ZERO_ADDRESS = ctypes.addressof(_ZERO_BLOCK)


def buffer_address(buffer) -> int:
    """Address of a writable buffer (mmap, bytearray) for memcmp."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))


def resident_blocks(address: int, size: int) -> list[bool] | None:
    """Per 1 MiB block of the mapping at ``address``: has any page of it ever been
    touched (mincore)? A block never touched is zeros, and reading it would fault
    its pages in (RAM and shadows are shared anonymous memory). None: not known."""
    pages = -(-size // PAGE_SIZE)
    vector = (ctypes.c_ubyte * pages)()
    if address % PAGE_SIZE or mincore(address, size, vector) != 0:
        return None
    raw = bytes(vector)
    per_block = BLOCK // PAGE_SIZE
    return [any(raw[first:first + per_block]) for first in range(0, pages, per_block)]


def differing_pages(a: int, b: int, size: int) -> Iterator[int]:
    """Offsets of the pages where the buffers at addresses a and b differ. A block
    neither side ever touched is skipped, and one side's untouched block is compared
    as zeros, so a large RAM that the guest barely uses is not faulted in."""
    touched_a, touched_b = resident_blocks(a, size), resident_blocks(b, size)
    for number, block in enumerate(range(0, size, BLOCK)):
        length = min(BLOCK, size - block)
        in_a = touched_a is None or touched_a[number]
        in_b = touched_b is None or touched_b[number]
        if not (in_a or in_b):
            continue
        left = a + block if in_a else ZERO_ADDRESS
        right = b + block if in_b else ZERO_ADDRESS
        if not memcmp(left, right, length):
            continue
        for page in range(0, length, PAGE_SIZE):
            if memcmp(left + page, right + page, PAGE_SIZE):
                yield block + page


def advance_shadow(ram_address: int, ram: mmap.mmap, shadow: mmap.mmap,
                   shadow_address: int) -> dict[int, bytes]:
    """Bring a shadow copy of RAM up to RAM; return the changed pages' old contents."""
    old = {}
    for page in list(differing_pages(ram_address, shadow_address, len(shadow))):
        old[page] = bytes(shadow[page:page + PAGE_SIZE])
        shadow[page:page + PAGE_SIZE] = ram[page:page + PAGE_SIZE]
    return old


def shadow_of(ram: GuestRam) -> mmap.mmap:
    """A copy of RAM in a new anonymous mapping, written only where RAM holds anything
    but zeros: the rest is never touched, so a large and mostly empty RAM (``--mem
    4G``) costs what the guest uses, not a second RAM."""
    shadow = mmap.mmap(-1, ram.size)
    for block in ram.nonzero_blocks():
        end = min(block + BLOCK, ram.size)
        shadow[block:end] = ram.map[block:end]
    return shadow


def sync_shadow(ram_address: int, ram: mmap.mmap, shadow: mmap.mmap,
                shadow_address: int) -> None:
    """Bring a shadow copy of RAM up to RAM, page by changed page."""
    for page in list(differing_pages(ram_address, shadow_address, len(shadow))):
        shadow[page:page + PAGE_SIZE] = ram[page:page + PAGE_SIZE]


def forget_code(cpu: Cpu, ranges: Iterable[tuple[int, int]]) -> None:
    """Drop the blocks unicorn translated from the physical ``(address, size)`` ranges.

    unicorn does not notice RAM changed behind it, and ``ctl_remove_cache``
    takes a virtual address, so it runs with the privilege switched to M
    (docs/unicorn-facts.md, fact 15). Safe inside an MMIO write callback.
    Only those blocks are translated again, where a whole flush
    (``Cpu.invalidate_caches``) costs the retranslation of everything the
    guest runs next: some 27,000 blocks over a Linux boot.
    """
    old = cpu.priv
    if old != PRIV_M:
        cpu.priv = PRIV_M
    try:
        for address, size in ranges:
            cpu.uc.ctl_remove_cache(address, address + size)
    finally:
        if old != PRIV_M:
            cpu.priv = old


def page_runs(pages: Iterable[int]) -> list[tuple[int, int]]:
    """Page offsets merged into (offset, size) runs of adjacent pages."""
    runs: list[list[int]] = []
    for page in sorted(pages):
        if runs and runs[-1][0] + runs[-1][1] == page:
            runs[-1][1] += PAGE_SIZE
        else:
            runs.append([page, PAGE_SIZE])
    return [(start, size) for start, size in runs]


class GuestRam:
    def __init__(self, cpu: Cpu, base: int, size: int) -> None:
        self.base = base
        self.size = size
        # Private: MADV_DONTNEED then really gives zero pages back (zero()).
        try:
            self.map = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        except (OSError, MemoryError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or "out of memory"
            raise RrError(f"cannot allocate {size >> 20} MiB of guest RAM ({reason})") from None
        self._cells = (ctypes.c_char * size).from_buffer(self.map)
        try:
            cpu.uc.mem_map_ptr(self.base, self.size, UC_PROT_ALL, ctypes.addressof(self._cells))
        except UcError as exc:
            raise RrError(f"cannot map {self.size >> 20} MiB of guest RAM ({exc})") from None

    @property
    def address(self) -> int:
        return ctypes.addressof(self._cells)

    def zero(self) -> None:
        """All zeros again; the kernel drops the pages instead of us writing 128 MiB."""
        self.map.madvise(mmap.MADV_DONTNEED)

    def nonzero_blocks(self) -> Iterator[int]:
        """Offsets of the 1 MiB blocks holding anything but zeros.

        Pages never touched are not resident (mincore) and are zero: comparing
        them would fault each one in, 128 MiB of page faults for nothing.
        """
        resident = (ctypes.c_ubyte * (self.size // PAGE_SIZE))()
        if mincore(self.address, self.size, resident) != 0:
            resident = None                  # no residency information: compare everything
        pages_per_block = BLOCK // PAGE_SIZE
        for block in range(0, self.size, BLOCK):
            first = block // PAGE_SIZE
            if resident is not None and not any(resident[first:first + pages_per_block]):
                continue
            length = min(BLOCK, self.size - block)
            if memcmp(self.address + block, ZERO_ADDRESS, length):
                yield block

    def load(self, paddr: int, data: bytes) -> None:
        """Write ``data`` at ``paddr`` (inside RAM), leaving out the 1 MiB blocks that
        are zero where RAM is zero already: a large image of mostly zeros (an initrd)
        then touches only the pages it needs, and costs its own bytes, not as much
        again in guest RAM. Behind unicorn's back: the caller forgets translated code
        afterwards (Board.reset does)."""
        if isinstance(data, bytearray):         # a large embedded file (rr/log/frames.py)
            cells = (ctypes.c_char * len(data)).from_buffer(data)
            source = ctypes.addressof(cells)
        else:
            data = bytes(data)                  # no copy for bytes
            source = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
        view = memoryview(data)
        offset = paddr - self.base
        for at in range(0, len(data), BLOCK):
            length = min(BLOCK, len(data) - at)
            if memcmp(source + at, ZERO_ADDRESS, length) \
                    or memcmp(self.address + offset + at, ZERO_ADDRESS, length):
                self.map[offset + at:offset + at + length] = view[at:at + length]
        view.release()

    def contains(self, paddr: int, size: int = 1) -> bool:
        return self.base <= paddr and paddr + size <= self.base + self.size
