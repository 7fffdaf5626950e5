"""The one interface between devices and the rest of the board.

A device sees only: MMIO reads and writes at offsets into its own window,
interrupt lines it may set, the console output, and the ``InputSource`` for
anything it takes from the outside world. It never touches the CPU, never
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
