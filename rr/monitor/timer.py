"""The S-mode timer the guest programs through SBI set_timer (or stimecmp, with Sstc).

One deadline in timebase ticks. Reaching it raises mip.STIP; programming a
new deadline lowers it (SBI semantics). In virtual-clock mode the deadline is
an exact instruction count, so the run loop stops there; in host-clock mode it
is checked at epoch boundaries and while the guest idles.
"""

from __future__ import annotations

from typing import Any

from rr.monitor.clock import GuestClock
from rr.monitor.constants import MIP_STIP
from rr.monitor.interrupts import CpuInterruptLines


class SbiTimer:
    """``compare`` is the last value programmed: what stimecmp reads on a board that
    offers Sstc (``sstc``), where the SBI's set_timer writes stimecmp too, as OpenSBI
    does on a hart with Sstc. Only then is it part of the state, so a board without
    Sstc has the state it always had."""

    def __init__(self, clock: GuestClock, lines: CpuInterruptLines, sstc: bool = False) -> None:
        self.clock = clock
        self.lines = lines
        self.sstc = sstc
        self.deadline: int | None = None
        self.compare = 0

    def program(self, ticks: int, icount: int) -> None:
        """SBI set_timer or a write of stimecmp, from a trap hook (an exact position)."""
        self.lines.set_level(MIP_STIP, False)
        self.deadline = ticks
        self.compare = ticks
        if self.clock.now(icount) >= ticks:
            self.deadline = None
            self.lines.raise_now(MIP_STIP)

    def deadline_icount(self) -> int | None:
        """The instruction count at which the deadline falls (virtual clock), if any."""
        if self.deadline is None:
            return None
        return self.clock.deadline_icount(self.deadline)

    def check(self, icount: int) -> bool:
        """Fire if due; True if it fired."""
        if self.deadline is None or self.clock.now(icount) < self.deadline:
            return False
        self.deadline = None
        self.lines.raise_now(MIP_STIP)
        return True

    def reset(self) -> None:
        self.deadline = None
        self.compare = 0

    def get_state(self) -> dict[str, Any]:
        if self.sstc:
            return {"deadline": self.deadline, "compare": self.compare}
        return {"deadline": self.deadline}

    def set_state(self, state: dict[str, Any]) -> None:
        self.deadline = state["deadline"]
        self.compare = state.get("compare", 0)
