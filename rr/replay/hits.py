"""Breakpoints and watchpoints while history is re-executed: where they were hit.

Hooks only note the instruction count of a hit (exact, from unicorn's
counter) and may pause the run; the timeline then moves to that position by
replaying to it, so nothing depends on where unicorn happened to stop.

Watchpoints are given on virtual addresses, but unicorn reports *physical*
addresses to memory hooks when paging is on. Each watched page is therefore
translated through the page tables current when the search starts, the
physical range is hooked, and hits are reported at the virtual address. A
page unmapped at that moment cannot be watched; a mapping changed during
the search is not followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, Iterable

from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE

from rr.monitor import mmu
from rr.monitor.cpu import Cpu
from rr.monitor.guest_memory import GuestMemory

MAX_ACCESS = 16          # widest access that can overlap a watched range from below


class WatchKind(StrEnum):
    """Which accesses a watchpoint stops on."""

    WRITE = "write"
    READ = "read"
    ACCESS = "access"            # either


class HitKind(StrEnum):
    """What happened at a hit."""

    BREAKPOINT = "breakpoint"    # the instruction at the address is about to execute
    WRITE = "write"              # the instruction writes the address
    READ = "read"                # the instruction reads it


_HOOK_TYPES = {WatchKind.WRITE: UC_HOOK_MEM_WRITE, WatchKind.READ: UC_HOOK_MEM_READ,
               WatchKind.ACCESS: UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE}


@dataclass(frozen=True, order=True)
class Watchpoint:
    address: int
    length: int = 1
    kind: WatchKind = WatchKind.WRITE

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", WatchKind(self.kind))     # "write" works too

    def catches(self, access: HitKind) -> bool:
        """Does a read or write ``access`` in the range stop here?"""
        return self.kind is WatchKind.ACCESS or self.kind.value == access.value


@dataclass(frozen=True)
class WatchedPiece:
    """The part of a watchpoint inside one page, at its physical address."""

    paddr: int
    vaddr: int
    length: int
    watch: Watchpoint


@dataclass(frozen=True, order=True)
class Hit:
    icount: int          # the instruction that hit, before it executes
    kind: HitKind
    address: int         # the pc for a breakpoint, the data address for a watchpoint
    watch: Watchpoint | None = None


class HitCollector:
    """Hooks for a set of breakpoints and watchpoints, noting hits after ``after``."""

    def __init__(self, cpu: Cpu, breakpoints: Iterable[int],
                 watchpoints: Iterable[Watchpoint | WatchedPiece],
                 after: int, on_hit: Callable[[Hit], None] | None = None,
                 condition: Callable[[Hit], bool] | None = None) -> None:
        """Watchpoints are translated now; pieces from ``translate_watchpoints`` are used as given.

        ``condition``: only hits it accepts count; it runs in the hook, with the
        registers as they are at the hit (e.g. to require a stack pointer).
        """
        self.cpu = cpu
        self.after = after
        self.on_hit = on_hit
        self.condition = condition
        self.hits: list[Hit] = []
        uc = cpu.uc
        self._handles = [uc.hook_add(UC_HOOK_CODE, self._on_code, begin=pc, end=pc)
                         for pc in set(breakpoints)]
        self._pieces = translate_watchpoints(cpu, watchpoints)
        for piece in self._pieces:
            self._handles.append(uc.hook_add(
                _HOOK_TYPES[piece.watch.kind], self._on_memory,
                begin=max(0, piece.paddr - MAX_ACCESS + 1), end=piece.paddr + piece.length - 1))
        cpu.memory_hooks_set(bool(self._pieces))
        cpu.invalidate_caches()       # hooks do not apply to code translated before them

    def remove(self) -> None:
        for handle in self._handles:
            self.cpu.uc.hook_del(handle)
        self._handles = []
        self.cpu.memory_hooks_set(False)
        self.cpu.invalidate_caches()

    def _note(self, hit: Hit) -> None:
        if hit.icount > self.after and (self.condition is None or self.condition(hit)):
            self.hits.append(hit)
            if self.on_hit is not None:
                self.on_hit(hit)

    def _on_code(self, _uc, address: int, _size: int, _user) -> None:
        self._note(Hit(self.cpu.icount_in_hook(), HitKind.BREAKPOINT, address))

    def _on_memory(self, _uc, access: int, address: int, size: int, _value: int, _user) -> None:
        kind = HitKind.WRITE if access == UC_MEM_WRITE else HitKind.READ
        for piece in self._pieces:
            overlaps = address < piece.paddr + piece.length and piece.paddr < address + size
            if overlaps and piece.watch.catches(kind):
                vaddr = piece.vaddr + max(0, address - piece.paddr)
                self._note(Hit(self.cpu.icount_in_hook(), kind, vaddr, piece.watch))
                return


def translate_watchpoints(cpu: Cpu, watchpoints: Iterable[Watchpoint | WatchedPiece]
                          ) -> list[WatchedPiece]:
    """Watched ranges split at page boundaries, each piece translated with the current page tables."""
    pieces: list[WatchedPiece] = []
    for watch in watchpoints:
        pieces.extend([watch] if isinstance(watch, WatchedPiece) else _physical_pieces(cpu, watch))
    return pieces


def _physical_pieces(cpu: Cpu, watch: Watchpoint) -> list[WatchedPiece]:
    memory = GuestMemory(cpu)
    pieces = []
    for vaddr, length in mmu.page_pieces(watch.address, watch.length):
        try:
            pieces.append(WatchedPiece(memory.translate(vaddr), vaddr, length, watch))
        except mmu.PageFault:
            pass                      # not mapped now: nothing can touch it through this mapping
    return pieces
