"""The S-mode interrupt lines into the hart, raised only where timing is exact.

QEMU takes a pending interrupt at a translation-block boundary, and block
boundaries depend on where a run was stopped and resumed. So a raise asked
for inside a callback is only queued, and applied at an epoch boundary, a
timer deadline or a wfi stop (all of them positions that do not depend on
how the run was chunked). Lowering a line takes effect at once: it can only
make an interrupt not happen, which the guest already accounts for.
(docs/unicorn-facts.md, fact 9 and "Interrupt timing".)
"""

from __future__ import annotations

from typing import Any

from rr.monitor.constants import MIP_SEIP, MIP_SSIP, MIP_STIP
from rr.monitor.cpu import Cpu

MANAGED_BITS = MIP_STIP | MIP_SEIP


class _Line:
    """One mip bit seen as an ``IrqLine`` (the PLIC's S-context output, say)."""

    def __init__(self, owner: "CpuInterruptLines", bit: int) -> None:
        self._owner = owner
        self._bit = bit

    def set_level(self, level: bool) -> None:
        self._owner.set_level(self._bit, level)


class CpuInterruptLines:
    """mip.STIP and mip.SEIP as the board wants them, and as last written to the hart."""

    def __init__(self, cpu: Cpu) -> None:
        self.cpu = cpu
        self.wanted = 0
        self.applied = 0

    def line(self, bit: int) -> _Line:
        return _Line(self, bit)

    def set_level(self, bit: int, level: bool) -> None:
        if level:
            self.wanted |= bit
        else:
            self.wanted &= ~bit
            if self.applied & bit:
                self.applied &= ~bit
                self._write()

    def apply_raises(self) -> None:
        """Make the hart see every queued raise (call only at exact positions)."""
        if self.applied != self.wanted:
            self.applied = self.wanted
            self._write()

    def raise_now(self, bit: int) -> None:
        """Raise at once; only from a trap hook, whose return is an exact position."""
        self.wanted |= bit
        self.apply_raises()

    def set_software_pending(self) -> None:
        """SBI IPI to ourselves: the guest owns SSIP afterwards (it clears it in sip)."""
        self.cpu.set_csr("mip", self.cpu.mip() | MIP_SSIP)

    def pending_enabled(self) -> bool:
        """Would wfi wake now? (an interrupt pending and enabled in sie)."""
        return bool(self.cpu.pending_interrupts())

    def _write(self) -> None:
        self.cpu.set_csr("mip", (self.cpu.mip() & ~MANAGED_BITS) | self.applied)

    def get_state(self) -> dict[str, Any]:
        return {"wanted": self.wanted, "applied": self.applied}

    def set_state(self, state: dict[str, Any]) -> None:
        self.wanted = state["wanted"]
        self.applied = state["applied"]
