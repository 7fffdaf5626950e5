"""The count-bounded run loop: where instruction counts, epochs and idling meet.

The loop runs the hart in chunks that never cross an epoch boundary (a
multiple of the board's ``epoch_insns``) or a virtual timer deadline, because those are
the only positions, besides a wfi, where anything asynchronous may reach the
guest: console bytes are fed, queued interrupt raises applied, the host clock
consulted. Those positions do not depend on how the run was chunked, which
is what makes a run (and later a replay) deterministic whoever stops it where.
The epoch size moves those positions, so a trace records it and a replay runs
with the recorded one.

Wall time is looked at too, but never decides what the guest sees: at
least every ``POLL_SECONDS`` of a run (the trap hook gets the run back to
the loop for that, since a guest trapping on every instruction can take
seconds per epoch) the loop asks ``idle_poll`` whether to give the run back
(a debugger's interrupt), and a user's quit that the guest has not been
able to take at an epoch within ``QUIT_GRACE_SECONDS`` stops the run where
it is, as an instruction limit the trace records.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from rr.errors import GuestFault, InstructionLimit
from rr.monitor.board import Board
from rr.monitor.constants import POLL_SECONDS, QUIT_GRACE_SECONDS, USER_STOP_STATUS
from rr.monitor.run_stop import RunStop
from rr.monitor.exits import ExitKind, GuestExit

# How long one wait for console input may block before the quit flag is polled.
IDLE_POLL_SECONDS = 0.1


class UserStop(InstructionLimit):
    """The user quit while the guest could not take the quit as an input (no epoch
    reached in time): the run ends where it is, with the status of an interrupted
    command; the trace keeps the status and the position, and a replay ends there
    as for --max-insns."""

    exit_status = USER_STOP_STATUS


class RunLoop:
    def __init__(self, board: Board, max_insns: int | None = None) -> None:
        self.board = board
        self.max_insns = max_insns
        self.epoch = board.config.epoch_insns
        self.reboots = 0
        self._pause_requested = False
        # The position last serviced: stopping and resuming there must not
        # take inputs a straight run would not (part of checkpointed state).
        self.serviced_at: int | None = None
        # The guest was idling (wfi) when the run was given back to the
        # caller: the next run resumes the wait instead of running on.
        self.idle_pending = False
        # Polled while the guest idles waiting for console input, and every
        # POLL_SECONDS of a run; True gives the run back to the caller (a
        # debugger's Ctrl-C).
        self.idle_poll: Callable[[], bool] = lambda: False
        # The error an instruction limit raises, and what it is said to be
        # (a replay ends where its recording was stopped, by either).
        self.limit_error: type[InstructionLimit] = InstructionLimit
        self.limit_words = "--max-insns"
        self._poll_due = 0.0                # monotonic time of the next poll
        self._quit_seen: float | None = None    # when a quit the guest has not taken was seen
        for hart in board.harts:
            hart.traps.on_many_traps = self._on_many_traps

    def get_state(self) -> dict[str, Any]:
        return {"reboots": self.reboots, "serviced_at": self.serviced_at,
                "idle_pending": self.idle_pending}

    def set_state(self, state: dict[str, Any]) -> None:
        self.reboots, self.serviced_at = state["reboots"], state["serviced_at"]
        self.idle_pending = state["idle_pending"]

    # --- public -------------------------------------------------------------
    def run(self, stop_at: int | None = None) -> GuestExit | None:
        """Run until the guest exits for good (reboots are followed), or to ``stop_at``."""
        while True:
            exit_ = self.run_until(stop_at)
            if exit_ is not None and exit_.kind is ExitKind.REBOOT:
                self.reboots += 1
                self.idle_pending = False
                self.board.reset()
                continue
            return exit_

    def run_until(self, stop_at: int | None) -> GuestExit | None:
        """Run until the guest asks to exit, or until icount == stop_at (returns None)."""
        board, cpu = self.board, self.board.cpu
        self._poll_due = time.monotonic() + POLL_SECONDS
        while True:
            icount = cpu.icount
            if self.idle_pending:
                # The wait comes first, as in a straight run; a caller that asked
                # to stop here gets the position before it (stepping onto a wfi
                # does not wait for the guest's next interrupt).
                if stop_at is not None and icount >= stop_at:
                    return None
                self._idle()
                if self.idle_pending:
                    return None         # idle_poll asked for the run back
            if icount != self.serviced_at:
                self._service_position(icount)
                self.serviced_at = icount
            if board.exit_request is not None:
                return board.exit_request
            if not self._ready():
                continue                    # no hart can run: the machine idles
            if stop_at is not None and icount >= stop_at:
                return None
            if time.monotonic() >= self._poll_due and self._poll(icount):
                return None
            cpu = board.cpu                 # the scheduler may have switched harts
            target = self._chunk_end(icount, stop_at)
            board.address_spaces.settle()   # watch hooks moved by the last run's satp writes
            board.run_end = target
            stop = self._run_hart(target - icount)
            device_fault = board.bus.take_fault()
            if device_fault is not None:    # raised before the access completed (bus.py)
                error, cpu.icount = device_fault
                self._pause_requested = False
                raise error
            if self._pause_requested:
                # A debugger hook paused mid-instruction: the caller discards
                # this state (it goes back to a checkpoint), so stop as is.
                self._pause_requested = False
                return None
            self._after_stop(stop)

    def _poll(self, icount: int) -> bool:
        """Between two runs of the hart, at least every POLL_SECONDS: True gives the
        run back to the caller; a quit the guest cannot take in time stops it here."""
        now = time.monotonic()
        self._poll_due = now + POLL_SECONDS
        inputs = self.board.inputs
        inputs.progress(icount)
        if inputs.quit_pending():
            if self._quit_seen is None:
                self._quit_seen = now
            elif now - self._quit_seen >= QUIT_GRACE_SECONDS:
                self._quit_seen = None
                raise UserStop(f"stopped by the user after {icount} instructions at pc "
                               f"{self.board.cpu.pc:#x}: the guest reached no input position "
                               f"within {QUIT_GRACE_SECONDS} s")
        return self.idle_poll()

    def _on_many_traps(self) -> None:
        """From the trap hook: a poll is due, so end this run of the hart here (the
        loop goes on from this position, as after a new timer deadline)."""
        if time.monotonic() >= self._poll_due:
            self.board.replan()

    def _ready(self) -> bool:
        """A hart is ready to run from here (always, with one hart: smp_run_loop.py
        schedules several)."""
        return True

    def _run_hart(self, count: int) -> RunStop:
        return self.board.cpu.run(count)

    def pause(self) -> None:
        """From a hook: end the current run_until as soon as unicorn stops."""
        self._pause_requested = True
        self.board.cpu.stop()

    # --- positions ----------------------------------------------------------
    def _chunk_end(self, icount: int, stop_at: int | None) -> int:
        target = (icount // self.epoch + 1) * self.epoch
        deadline = self.board.timer.deadline_icount()
        if deadline is not None and deadline > icount:
            target = min(target, deadline)
        if stop_at is not None:
            target = min(target, stop_at)
        if self.max_insns is not None:
            if icount >= self.max_insns:
                raise self.limit_error(
                    f"stopped after {icount} instructions ({self.limit_words}) at pc "
                    f"{self.board.cpu.pc:#x}{self.board.traps.describe_insn(self.board.cpu.pc)}")
            target = min(target, self.max_insns)
        return target

    def _service_position(self, icount: int) -> None:
        """Deliver what may reach the guest at this exact position."""
        board = self.board
        if board.clock.instruction_driven:      # deadlines are exact instruction counts
            self._check_timers(icount)
        if icount % self.epoch:
            return
        self._feed_console(icount)
        if not board.clock.instruction_driven:  # host time is read at epochs, after input
            self._check_timers(icount)
        if board.rtc.alarm_deadline_ns() is not None:
            board.rtc.check_alarm(board.inputs.wall_time_ns(icount))
        if board.inputs.quit_requested(icount):
            board.exit_request = GuestExit(ExitKind.QUIT, 0, "stopped by the user")
        self._apply_raises()

    # --- the harts' timers and interrupt lines (all of them: smp_run_loop.py) ----
    def _check_timers(self, icount: int) -> bool:
        """Fire the timers that are due; True if one fired."""
        return self.board.timer.check(icount)

    def _apply_raises(self) -> None:
        self.board.lines.apply_raises()

    def _wakes(self) -> bool:
        """Would a waiting hart wake now?"""
        return self.board.lines.pending_enabled()

    def _next_deadline(self) -> int | None:
        """The earliest timer deadline set, in ticks."""
        return self.board.timer.deadline

    def _feed_console(self, icount: int) -> bool:
        board = self.board
        uart = board.uart
        space = uart.rx_space()
        if not space:
            return False
        backlog = board.console_backlog
        if backlog:
            taken = uart.receive(bytes(backlog[:space]))
            del backlog[:taken]
            return True
        data = board.inputs.console_bytes(icount, space)
        if data:
            uart.receive(data)
        return bool(data)

    # --- stops --------------------------------------------------------------
    def _after_stop(self, stop: RunStop) -> None:
        board = self.board
        traps = board.traps
        if traps.fault is not None:
            fault, traps.fault = traps.fault, None
            raise fault
        if board.exit_request is not None:
            return
        if stop.error is not None:
            if traps.breakpoint_delivered:
                traps.breakpoint_delivered = False
                return
            raise GuestFault(self._error_text(stop))
        if board.replan_requested:
            board.replan_requested = False
            return
        if board.suspend_requested or not stop.count_reached:
            board.suspend_requested = False
            self.idle_pending = True        # the loop waits before anything else

    def _idle(self) -> None:
        """The guest waits for an interrupt (wfi, or SBI HSM suspend).

        Clears ``idle_pending`` when the wait is over; leaves it set when
        ``idle_poll`` asked for the run back first.
        """
        if self._wait_for_interrupt():
            self.idle_pending = False

    def _wait_for_interrupt(self) -> bool:
        """False when ``idle_poll`` asked for the run back before the wait was over."""
        board, cpu = self.board, self.board.cpu
        while True:
            icount = cpu.icount
            if self._wakes():
                return True
            self._apply_raises()
            if self._wakes() or self._feed_console(icount):
                self._apply_raises()
                return True
            if board.inputs.quit_requested(icount):
                board.exit_request = GuestExit(ExitKind.QUIT, 0, "stopped by the user")
                return True
            deadline = self._next_deadline()
            clock = board.clock
            if deadline is not None and clock.skip_to(deadline, icount):
                self._check_timers(icount)      # time jumped to the deadline: it fires now
                return True
            if deadline is not None and self._check_timers(icount):
                return True
            if deadline is None and clock.instruction_driven \
                    and board.inputs.console_closed(icount):
                raise GuestFault(
                    f"guest waits for an interrupt at pc {cpu.pc:#x} after {icount} "
                    "instructions, but no timer is set and console input has ended")
            timeout = IDLE_POLL_SECONDS
            if deadline is not None:
                timeout = min(timeout, clock.seconds_until(deadline, icount))
            board.inputs.wait_console(timeout)
            if self.idle_poll():
                return False

    # --- diagnostics --------------------------------------------------------
    def _error_text(self, stop: RunStop) -> str:
        cpu = self.board.cpu
        pc = cpu.pc
        return (f"guest stopped with unicorn error '{stop.error}' at pc {pc:#x}"
                f"{self.board.traps.describe_insn(pc)}, after {cpu.icount} instructions")
