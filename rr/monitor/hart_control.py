"""What one hart's SBI does to the others: IPIs, remote fences, HSM.

Only one hart runs at a time, so the harts acted on are not running: their
registers and mip are written at once, at the exact position of the caller's
ecall, which makes the effect a pure function of the trace. A hart woken by
an IPI runs when the scheduler next gives it a turn (smp_run_loop.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rr.monitor.hart import Hart, HsmStatus
from rr.monitor.sbi import (HSM_SUSPEND_NON_RETENTIVE, SBI_ERR_ALREADY_AVAILABLE, SBI_ERR_FAILED,
                            SBI_ERR_INVALID_PARAM, SBI_SUCCESS)

if TYPE_CHECKING:
    from rr.monitor.board import Board


class BoardHarts:
    """The board's harts as the SBI's ``HartControl``."""

    def __init__(self, board: "Board") -> None:
        self.board = board
        self.count = board.config.harts

    def _hart(self, index: int) -> Hart | None:
        return self.board.harts[index] if 0 <= index < self.count else None

    def send_ipi(self, hart: int) -> None:
        self.board.harts[hart].lines.set_software_pending()

    def remote_fence(self, hart: int, fence_i: bool) -> None:
        """sfence.vma on another hart flushes its TLB; fence.i also drops the code it
        translated (another hart may have written it)."""
        cpu = self.board.harts[hart].cpu
        if fence_i:
            cpu.uc.ctl_flush_tb()
        cpu.flush_tlb()

    def start(self, hart: int, address: int, opaque: int) -> int:
        target = self._hart(hart)
        if target is None:
            return SBI_ERR_INVALID_PARAM
        if target.status is not HsmStatus.STOPPED:
            return SBI_ERR_ALREADY_AVAILABLE
        self.board.start_hart(target, address, opaque)
        return SBI_SUCCESS

    def stop(self, hart: int) -> int:
        """The calling hart stops; the last hart running cannot (nothing could start it)."""
        harts = self.board.harts
        if not any(h.status is not HsmStatus.STOPPED for h in harts if h.index != hart):
            return SBI_ERR_FAILED
        harts[hart].status = HsmStatus.STOPPED
        self.board.replan()             # the run ends after the ecall; another hart goes on
        return SBI_SUCCESS

    def status(self, hart: int) -> tuple[int, int]:
        target = self._hart(hart)
        if target is None:
            return SBI_ERR_INVALID_PARAM, 0
        return SBI_SUCCESS, int(target.status)

    def suspend(self, hart: int, kind: int, address: int, opaque: int) -> int:
        """The caller waits for an interrupt (the SBI then stops its run); a non-retentive
        suspend wakes at ``address`` instead of after the ecall."""
        target = self.board.harts[hart]
        target.status = HsmStatus.SUSPENDED
        target.resume = (address, opaque) if kind == HSM_SUSPEND_NON_RETENTIVE else None
        return SBI_SUCCESS
