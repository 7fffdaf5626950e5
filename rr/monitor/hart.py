"""One hart of the board: its registers and what belongs to it alone.

Every hart has its own registers (a CPU context in the board's one engine:
hart_engine.py), trap handlers, SBI, timer and interrupt lines. Only one
runs at a time (smp_run_loop.py); while it runs its ``Cpu.icount`` is the
board's position (instructions run by all harts), so positions mean the
same whichever hart is current.
``retired`` counts this hart's own instructions.

The HSM state is what SBI ``hart_get_status`` reports: hart 0 starts, the
others wait stopped until a started hart asks for them (``hart_start``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from rr.monitor.address_spaces import AddressSpaces
from rr.monitor.cpu import Cpu
from rr.monitor.guest_memory import GuestMemory
from rr.monitor.interrupts import CpuInterruptLines
from rr.monitor.sbi import Sbi
from rr.monitor.timer import SbiTimer
from rr.monitor.traps import TrapHandler


class HsmStatus(IntEnum):
    """SBI HSM hart states (SBI v1.0, table 8), the ones this board passes through."""

    STARTED = 0
    STOPPED = 1
    SUSPENDED = 4


@dataclass
class Hart:
    index: int
    cpu: Cpu
    memory: GuestMemory
    lines: CpuInterruptLines
    timer: SbiTimer
    sbi: Sbi
    address_spaces: AddressSpaces
    traps: TrapHandler
    status: HsmStatus = HsmStatus.STARTED
    # In wfi or an HSM suspend: runs again once an interrupt is pending and enabled.
    waiting: bool = False
    # A non-retentive suspend: (resume address, opaque) the hart wakes up with.
    resume: tuple[int, int] | None = None
    retired: int = 0

    def can_run(self) -> bool:
        """Started, and not waiting or woken by a pending enabled interrupt."""
        if self.status is HsmStatus.STOPPED:
            return False
        return not self.waiting or self.lines.pending_enabled()

    def get_state(self) -> dict[str, Any]:
        return {"status": int(self.status), "waiting": self.waiting,
                "resume": list(self.resume) if self.resume is not None else None,
                "retired": self.retired, "lines": self.lines.get_state(),
                "timer": self.timer.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.status = HsmStatus(state["status"])
        self.waiting = state["waiting"]
        self.resume = tuple(state["resume"]) if state["resume"] is not None else None
        self.retired = state["retired"]
        self.lines.set_state(state["lines"])
        self.timer.set_state(state["timer"])


class HartView:
    """One hart of a board, seen as a debugger reads a board: ``cpu``, ``memory`` (its
    address space) and the board's ``clock``. Registers and memory of a hart that is
    not the current one are read through it (gdb's threads, the REPL's ``hart N``)."""

    def __init__(self, board: Any, hart: Hart) -> None:
        self.board = board
        self.hart = hart
        self.cpu = hart.cpu
        self.memory = hart.memory
        self.clock = board.clock

    @property
    def position(self) -> int:
        """The board's position (this hart's own count stopped when it was switched out)."""
        return self.board.position
