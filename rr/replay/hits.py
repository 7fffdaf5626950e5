"""Breakpoints and watchpoints while history is re-executed: where they were hit.

Hooks only note the instruction count of a hit (exact, from unicorn's
counter) and may pause the run; the timeline then moves to that position by
replaying to it, so nothing depends on where unicorn happened to stop.
Watchpoints are on virtual addresses, as unicorn reports them to memory hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE

from rr.monitor.cpu import Cpu

WATCH_KINDS = ("write", "read", "access")
MAX_ACCESS = 16          # widest access that can overlap a watched range from below


@dataclass(frozen=True, order=True)
class Watchpoint:
    address: int
    length: int = 1
    kind: str = "write"          # write, read or access


@dataclass(frozen=True, order=True)
class Hit:
    icount: int          # the instruction that hit, before it executes
    kind: str            # "breakpoint", "write" or "read"
    address: int         # the pc for a breakpoint, the data address for a watchpoint
    watch: Watchpoint | None = None


class HitCollector:
    """Hooks for a set of breakpoints and watchpoints, noting hits after ``after``."""

    def __init__(self, cpu: Cpu, breakpoints: Iterable[int], watchpoints: Iterable[Watchpoint],
                 after: int, on_hit: Callable[[Hit], None] | None = None) -> None:
        self.cpu = cpu
        self.after = after
        self.on_hit = on_hit
        self.hits: list[Hit] = []
        self.watchpoints = list(watchpoints)
        uc = cpu.uc
        self._handles = [uc.hook_add(UC_HOOK_CODE, self._on_code, begin=pc, end=pc)
                         for pc in set(breakpoints)]
        for watch in self.watchpoints:
            types = {"write": UC_HOOK_MEM_WRITE, "read": UC_HOOK_MEM_READ,
                     "access": UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE}[watch.kind]
            self._handles.append(uc.hook_add(
                types, self._on_memory, begin=max(0, watch.address - MAX_ACCESS + 1),
                end=watch.address + watch.length - 1))
        cpu.invalidate_caches()       # hooks do not apply to code translated before them

    def remove(self) -> None:
        for handle in self._handles:
            self.cpu.uc.hook_del(handle)
        self._handles = []
        self.cpu.invalidate_caches()

    def _note(self, hit: Hit) -> None:
        if hit.icount > self.after:
            self.hits.append(hit)
            if self.on_hit is not None:
                self.on_hit(hit)

    def _on_code(self, _uc, address: int, _size: int, _user) -> None:
        self._note(Hit(self.cpu.icount_in_hook(), "breakpoint", address))

    def _on_memory(self, _uc, access: int, address: int, size: int, _value: int, _user) -> None:
        kind = "write" if access == UC_MEM_WRITE else "read"
        for watch in self.watchpoints:
            overlaps = address < watch.address + watch.length and watch.address < address + size
            if overlaps and watch.kind in (kind, "access"):
                self._note(Hit(self.cpu.icount_in_hook(), kind, address, watch))
                return
