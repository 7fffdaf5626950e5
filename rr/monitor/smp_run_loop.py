"""The run loop of a board with several harts: one runs at a time, in quanta.

The current hart runs until the next multiple of the board's quantum (an
absolute position, like an epoch boundary), or until it waits (wfi, an HSM
suspend) or stops (HSM hart_stop); then the next hart in round-robin order
that can run takes over at that position. The choice depends only on the
machine's state at the position, never on where a run was stopped and
resumed, so the interleaving is a pure function of the trace. When no hart
can run, the whole machine idles as one hart in wfi does (run_loop.py).

What one hart does to another (an IPI, a remote fence, hart_start) reaches
a hart that is not running, so it takes effect at once (hart_control.py).
A hart's LR/SC reservation is dropped when it is switched in: another hart
ran since its lr, and may have stored to the reserved address (a store of
the same value would not fail its sc otherwise, as QEMU's sc compares
values). The sc fails and the guest retries, which the ISA allows.
"""

from __future__ import annotations

from typing import Any

from rr.monitor.board import Board
from rr.monitor.chaos import ChaosSchedule
from rr.monitor.hart import Hart, HsmStatus
from rr.monitor.run_loop import RunLoop
from rr.monitor.run_stop import RunStop


class SmpRunLoop(RunLoop):
    def __init__(self, board: Board, max_insns: int | None = None) -> None:
        super().__init__(board, max_insns)
        config = board.config
        self.quantum = config.quantum_insns
        # Chaos mode: quantum k ends at next_switch, drawn from the seed (chaos.py).
        self.chaos = (ChaosSchedule(config.chaos_seed, self.quantum)
                      if config.chaos_seed is not None else None)
        self.quanta = 0
        self.next_switch = 0

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self.chaos is not None:
            state["chaos"] = [self.quanta, self.next_switch]
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        if self.chaos is not None:
            self.quanta, self.next_switch = state["chaos"]

    def _quantum_ends(self, icount: int) -> bool:
        """Is ``icount`` a switch position? (Called once per position: see run_loop.py.)"""
        if self.chaos is None:
            return icount % self.quantum == 0
        if icount < self.next_switch:
            return False
        self.next_switch = icount + self.chaos.length(self.quanta)
        self.quanta += 1
        return True

    def _next_switch(self, icount: int) -> int:
        if self.chaos is None:
            return (icount // self.quantum + 1) * self.quantum
        return self.next_switch

    # --- scheduling -----------------------------------------------------------
    def _ready(self) -> bool:
        """Keep the current hart if it can run, else switch to the next that can; when
        none can, the machine idles (False)."""
        board = self.board
        if board.hart.can_run():
            self._wake(board.hart)
            return True
        if self._switch_to_next(include_current=False):
            return True
        self.idle_pending = True
        return False

    def _switch_to_next(self, include_current: bool) -> bool:
        """Round robin from the hart after the current one; True when one could run."""
        board = self.board
        count = len(board.harts)
        for step in range(1, count + int(include_current)):
            hart = board.harts[(board.current + step) % count]
            if hart.can_run():
                self._switch(hart)
                return True
        return False

    def _switch(self, hart: Hart) -> None:
        board = self.board
        position = board.cpu.icount
        if hart.index != board.current:
            board.select(hart.index)
            hart.cpu.icount = position
            hart.cpu.drop_reservation()
        self._wake(hart)

    def _wake(self, hart: Hart) -> None:
        if not hart.waiting:
            return
        hart.waiting = False
        if hart.status is HsmStatus.SUSPENDED:
            if hart.resume is not None:
                self.board.start_hart(hart, *hart.resume)
            hart.status = HsmStatus.STARTED

    def _others_can_run(self) -> bool:
        board = self.board
        return any(hart.can_run() for hart in board.harts if hart is not board.hart)

    def _run_hart(self, count: int) -> RunStop:
        board = self.board
        hart, before = board.hart, board.cpu.icount
        try:
            return hart.cpu.run(count)
        finally:
            hart.retired += hart.cpu.icount - before
            board.running_alone = False

    def _after_stop(self, stop: RunStop) -> None:
        super()._after_stop(stop)
        if self.idle_pending:               # this hart waits; the others may run
            self.idle_pending = False
            self.board.hart.waiting = True

    # --- positions ------------------------------------------------------------
    def _service_position(self, icount: int) -> None:
        self.board.hart_control.deliver_due(icount)     # chaos mode's delayed IPIs
        super()._service_position(icount)
        if self._quantum_ends(icount) and self.board.hart.status is not HsmStatus.STOPPED:
            self._switch_to_next(include_current=True)

    def _chunk_end(self, icount: int, stop_at: int | None) -> int:
        target = super()._chunk_end(icount, stop_at)
        board = self.board
        switch = self._next_switch(icount)
        # A switch position where no other hart can run switches nothing: the run goes
        # past it, unless a hook wakes another hart first (Board.hart_may_run).
        board.running_alone = (target > switch and self.chaos is None
                               and not self._others_can_run())
        if not board.running_alone:
            target = min(target, switch)
        delivery = board.hart_control.next_delivery()
        if delivery is not None and delivery > icount:
            target = min(target, delivery)
        for hart in board.harts:
            if hart.timer.deadline is not None:
                deadline = hart.timer.deadline_icount()
                if deadline is not None and icount < deadline < target:
                    target = deadline
        return target

    # --- every hart's timer and interrupt lines --------------------------------
    def _check_timers(self, icount: int) -> bool:
        fired = False
        for hart in self.board.harts:
            fired = hart.timer.check(icount) or fired
        return fired

    def _apply_raises(self) -> None:
        for hart in self.board.harts:
            hart.lines.apply_raises()

    def _wakes(self) -> bool:
        harts, control = self.board.harts, self.board.hart_control
        if any(hart.can_run() for hart in harts):
            return True
        if control.pending_ipis:            # every hart waits: a delayed IPI arrives now
            control.deliver_due(control.next_delivery())
            return any(hart.can_run() for hart in harts)
        return False

    def _next_deadline(self) -> int | None:
        deadlines = [hart.timer.deadline for hart in self.board.harts
                     if hart.timer.deadline is not None]
        return min(deadlines, default=None)


def make_run_loop(board: Board, max_insns: int | None = None) -> RunLoop:
    """The run loop for the board: the one-hart loop, or the scheduler for several."""
    if len(board.harts) > 1:
        return SmpRunLoop(board, max_insns)
    return RunLoop(board, max_insns)
