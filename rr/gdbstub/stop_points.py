"""Breakpoints and watchpoints as gdb inserted them with Z packets.

gdb removes every stop point at each stop and inserts them again before each
resume, and two `break` commands at one address give one Z0
(docs/gdb-protocol.md, G14). So these are sets keyed by (type, address,
kind), not counters: inserting twice or removing something absent is
harmless. There is no fixed limit; nothing is patched into guest memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from rr.gdbstub.constants import (Z_ACCESS_WATCH, Z_HARDWARE_BREAK, Z_READ_WATCH,
                                  Z_SOFTWARE_BREAK, Z_WRITE_WATCH)
from rr.replay.hits import Watchpoint, WatchKind

# Z type -> the watch kind of rr.replay.hits.Watchpoint, and back to gdb's stop reason.
WATCH_KIND_OF_TYPE = {Z_WRITE_WATCH: WatchKind.WRITE, Z_READ_WATCH: WatchKind.READ,
                      Z_ACCESS_WATCH: WatchKind.ACCESS}
STOP_REASON_OF_KIND = {WatchKind.WRITE: "watch", WatchKind.READ: "rwatch",
                       WatchKind.ACCESS: "awatch"}
BREAK_TYPES = (Z_SOFTWARE_BREAK, Z_HARDWARE_BREAK)
Z_TYPES = (*BREAK_TYPES, *WATCH_KIND_OF_TYPE)


@dataclass(frozen=True, order=True)
class StopPoint:
    type: int
    address: int
    kind: int        # instruction length for breakpoints, byte count for watchpoints


class StopPoints:
    """Everything gdb has inserted, as it asked for it, with the views a target needs."""

    def __init__(self) -> None:
        self._points: set[StopPoint] = set()

    def insert(self, point: StopPoint) -> None:
        self._points.add(point)

    def remove(self, point: StopPoint) -> None:
        self._points.discard(point)

    def clear(self) -> None:
        self._points.clear()

    def __len__(self) -> int:
        return len(self._points)

    @property
    def breakpoints(self) -> set[int]:
        """Addresses of every Z0 and Z1 breakpoint."""
        return {p.address for p in self._points if p.type in BREAK_TYPES}

    def is_hardware_breakpoint(self, address: int) -> bool:
        """Only a Z1 is at ``address`` (then the stop reason is hwbreak, else swbreak)."""
        types = {p.type for p in self._points if p.address == address and p.type in BREAK_TYPES}
        return types == {Z_HARDWARE_BREAK}

    @property
    def watchpoints(self) -> list[Watchpoint]:
        return sorted({Watchpoint(p.address, max(1, p.kind), WATCH_KIND_OF_TYPE[p.type])
                       for p in self._points if p.type in WATCH_KIND_OF_TYPE})
