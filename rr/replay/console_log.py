"""The guest's console output by position, printed once however often history is re-run."""

from __future__ import annotations

from typing import Callable

from rr.monitor.cpu import Cpu


class ConsoleLog:
    """Output bytes with the instruction count that wrote them; only new history reaches ``sink``."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink
        self.entries: list[tuple[int, bytes]] = []
        self.frontier = 0                 # instructions before this have been executed before
        self.icount: Callable[[], int] = lambda: 0

    def __call__(self, data: bytes) -> None:
        icount = self.icount()
        if icount >= self.frontier:
            self.entries.append((icount, data))
            self.sink(data)

    def bind(self, cpu: Cpu) -> None:
        """The hart whose instruction count dates each write (bound once the board exists)."""
        self.icount = cpu.icount_in_hook

    def reached(self, icount: int) -> None:
        self.frontier = max(self.frontier, icount)

    def skipped(self, entries: list[tuple[int, bytes]], icount: int) -> None:
        """History up to ``icount`` was restored rather than run: its output (from a
        persistent index) is kept and shown as if it had been run."""
        for at, data in entries:
            if at >= self.frontier:
                self.entries.append((at, data))
                self.sink(data)
        self.reached(icount)

    def text_until(self, icount: int) -> bytes:
        return b"".join(data for at, data in self.entries if at < icount)
