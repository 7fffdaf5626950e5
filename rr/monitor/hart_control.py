"""What one hart's SBI does to the others: IPIs, remote fences, HSM.

Only one hart runs at a time, so the harts acted on are not running: their
registers and mip are written at once, at the exact position of the caller's
ecall, which makes the effect a pure function of the trace. A hart woken by
an IPI runs when the scheduler next gives it a turn (smp_run_loop.py). In
chaos mode an IPI is delivered after a drawn delay instead (chaos.py): it
waits in ``pending_ipis`` until the run loop reaches its position.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing import Any

from rr.monitor.chaos import ChaosSchedule
from rr.monitor.hart import Hart, HsmStatus
from rr.monitor.sbi import (HSM_SUSPEND_NON_RETENTIVE, SBI_ERR_ALREADY_AVAILABLE, SBI_ERR_FAILED,
                            SBI_ERR_INVALID_PARAM, SBI_SUCCESS)

if TYPE_CHECKING:
    from rr.monitor.board import Board


class BoardHarts:
    """The board's harts as the SBI's ``HartControl``."""

    def __init__(self, board: "Board") -> None:
        self.board = board
        config = board.config
        self.count = config.harts
        self.chaos = (ChaosSchedule(config.chaos_seed, config.quantum_insns)
                      if config.chaos_seed is not None else None)
        self.ipis_sent = 0
        # Chaos mode: [position, hart] of IPIs sent but not delivered yet, by position.
        self.pending_ipis: list[list[int]] = []

    def _hart(self, index: int) -> Hart | None:
        return self.board.harts[index] if 0 <= index < self.count else None

    def interruptible(self, hart: int) -> bool:
        """Can the hart take an IPI (or a remote fence)? Started or suspended: OpenSBI
        passes over a stopped hart named in a mask."""
        return self.board.harts[hart].status is not HsmStatus.STOPPED

    def send_ipi(self, hart: int) -> None:
        if self.chaos is None:
            self.board.harts[hart].lines.set_software_pending()
            if hart != self.board.current:
                self.board.hart_may_run()
            return
        due = self.board.cpu.icount_in_hook() + 1 + self.chaos.ipi_delay(self.ipis_sent)
        self.ipis_sent += 1
        self.pending_ipis.append([due, hart])
        self.pending_ipis.sort()
        self.board.replan()                 # the run loop must stop at the delivery

    def next_delivery(self) -> int | None:
        return self.pending_ipis[0][0] if self.pending_ipis else None

    def deliver_due(self, icount: int) -> None:
        """Deliver the delayed IPIs due at or before ``icount`` (an exact position)."""
        while self.pending_ipis and self.pending_ipis[0][0] <= icount:
            _, hart = self.pending_ipis.pop(0)
            self.board.harts[hart].lines.set_software_pending()

    def get_state(self) -> dict[str, Any]:
        return {"ipis_sent": self.ipis_sent, "pending_ipis": [list(p) for p in self.pending_ipis]}

    def set_state(self, state: dict[str, Any]) -> None:
        self.ipis_sent = state["ipis_sent"]
        self.pending_ipis = [list(p) for p in state["pending_ipis"]]

    def remote_fence(self, hart: int, fence_i: bool) -> None:
        """sfence.vma on a hart flushes its TLB entries (one that is not running, when it
        is switched in). fence.i needs nothing: the harts share one engine, whose
        translated code follows every hart's stores (hart_engine.py)."""
        self.board.harts[hart].cpu.flush_tlb()

    def start(self, hart: int, address: int, opaque: int) -> int:
        target = self._hart(hart)
        if target is None:
            return SBI_ERR_INVALID_PARAM
        if target.status is not HsmStatus.STOPPED:
            return SBI_ERR_ALREADY_AVAILABLE
        self.board.start_hart(target, address, opaque)
        self.board.hart_may_run()
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
