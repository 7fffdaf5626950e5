"""The one interface between devices and the rest of the board.

A device sees only: MMIO reads and writes at offsets into its own window,
interrupt lines it may set, the console output, and, for anything it takes
from the outside world, a small callable the board hands it (the RTC's wall
time, virtio-rng's entropy). It never holds the ``InputSource``: the board
answers those callables through it, at the current instruction count, and
feeds console input to the UART itself. It never touches the CPU, never
writes ``mip`` and never stops emulation itself, which keeps interrupt timing
deterministic (docs/unicorn-facts.md, facts 9 and 20, "Interrupt timing").
"""

from __future__ import annotations

from typing import Any, Protocol


class IrqLine(Protocol):
    """A level-triggered interrupt line into the PLIC (or into the CPU)."""

    def set_level(self, level: bool) -> None:
        """Drive the line high (True) or low (False)."""


class MmioDevice:
    """A device occupying ``size`` bytes of physical address space at ``base``.

    Subclasses implement ``read`` and ``write``; offsets are relative to
    ``base`` and accesses are 1, 2, 4 or 8 bytes wide. ``get_state`` and
    ``set_state`` carry all mutable state as plain data (ints, bytes, lists,
    dicts) so that checkpoints and traces can store it.
    """

    name: str = "device"

    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self.size = size

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        pass

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass
