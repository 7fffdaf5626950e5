"""Recorded history as a gdb target: read-only state, resumable in both directions.

Where each resume stops follows what gdb expects (docs/gdb-protocol.md, G11-G15):

- a forward continue counts the instruction about to execute, as hardware
  does (a breakpoint at the pc stops at once);
- a reverse continue never stops at the state it starts from for a
  breakpoint, and goes back to instruction 0 (replaylog:begin) without a hit;
- gdb treats RISC-V watchpoints as non-steppable: after a watchpoint stop it
  removes them, steps once in the same direction, and compares values.
  So a forward watchpoint stop is reported *before* the access executes
  (pc = the store, memory unchanged) and a reverse one at the state just
  *after* it (the store's icount + 1, which may be the starting state);
- at either end of history nothing moves and the stop says so
  (replaylog:begin / replaylog:end);
- an interrupted continue stays where it got to, in either direction: a
  reverse one at the earliest position from which it had searched back to
  where it started (nothing was hit there);
- with several harts each is a thread: a step steps the hart asked for
  (the others run meanwhile, as they are scheduled) and stops right after
  that hart's next instruction; a reverse step goes back to the position of
  that hart's previous instruction. Both are found from the hart's own
  instruction total, which only grows with the position.

Time navigation itself (checkpoints, replaying to a position, searching
for hits) is rr.replay.timeline.Timeline's business.
"""

from __future__ import annotations

from typing import Callable

from rr.gdbstub.monitor import ReplayMonitor
from rr.monitor.hart import HartView
from rr.gdbstub.registers import Register, RegisterTable, register_table
from rr.gdbstub.stop_points import StopPoints
from rr.gdbstub.target import Direction, MemoryFault, ReadOnly, Resume, Stop, StopKind
from rr.replay.hits import Hit, HitCollector, HitKind, Watchpoint
from rr.replay.cancellation import Cancellation, Interrupted
from rr.replay.timeline import Timeline
from rr.repl.symbols import SymbolTable

READ_ONLY_REASON = ("rrvm is replaying a recording, which is read-only: changing registers "
                    "or memory would make the replay leave recorded history")


class ReplayTarget:
    """A DebugTarget over a Timeline: where gdb's resumes stop, and read-only state."""

    def __init__(self, timeline: Timeline, summary: Callable[[], list[str]],
                 log: Callable[[str], None] = lambda text: None,
                 symbols: SymbolTable | None = None) -> None:
        """``summary``: what this history is, for `monitor info` (see trace_summary.brief);
        ``symbols``: the guest's, for the addresses monitor commands take and show."""
        self.timeline = timeline
        self.board = timeline.board
        self.log = log
        self.monitor_commands = ReplayMonitor(timeline, summary, symbols)
        self._end_reported = False
        self._viewed: int | None = None

    # --- harts as threads -------------------------------------------------------
    def hart_count(self) -> int:
        return len(self.board.harts)

    def current_hart(self) -> int:
        return self.board.current

    def view_hart(self, hart: int | None) -> None:
        self._viewed = hart

    def view(self):
        """The board, or the viewed hart when it is not the current one."""
        hart, board = self._viewed, self.board
        if hart is None or hart == board.current:
            return board
        return HartView(board, board.harts[hart])

    # --- state ----------------------------------------------------------------
    def registers(self) -> RegisterTable:
        return register_table(self.board.config.sstc)

    def read_register(self, register: Register) -> int | None:
        return register.read(self.view())

    def write_register(self, register: Register, value: int) -> None:
        raise ReadOnly(READ_ONLY_REASON)

    def read_memory(self, address: int, length: int) -> bytes:
        """Virtual memory through the current page tables (physical when satp is bare).

        Only RAM is read (the board's GuestMemory refuses device addresses: a
        read there would call the device and change the replay).
        """
        data, fault = self.view().memory.read_prefix(address, length)
        if fault is not None and not data:
            raise MemoryFault(f"cannot access memory at {address:#x}: {fault.reason}")
        return data

    def write_memory(self, address: int, data: bytes) -> None:
        raise ReadOnly(READ_ONLY_REASON)

    def monitor(self, command: str) -> str:
        return self.monitor_commands.run(command)

    def describe_position(self) -> str:
        return f"instruction {self.timeline.position}, pc {self.board.cpu.pc:#x}"

    # --- resuming ---------------------------------------------------------------
    def resume(self, how: Resume, points: StopPoints, interrupted: Callable[[], bool]) -> Stop:
        cancel = Cancellation(poll=interrupted)
        hart = how.hart if how.step and len(self.board.harts) > 1 else None
        if hart is not None:
            stop = self._hart_step(hart, how.direction, points, cancel)
        elif how.direction is Direction.FORWARD:
            stop = self._step(points, cancel) if how.step else self._continue(points, cancel)
        else:
            stop = self._reverse_step(points, cancel) if how.step \
                else self._reverse_continue(points, cancel)
        if stop.kind is StopKind.HISTORY_END:
            self._note_end()
        return stop

    def _step(self, points: StopPoints, cancel: Cancellation) -> Stop:
        timeline = self.timeline
        start = timeline.position
        if timeline.at_end:
            return Stop(StopKind.HISTORY_END)
        try:
            hit = self._watch_hit_by_next_instruction(points.watchpoints, cancel)
        except Interrupted:              # a live guest waiting for input, stepped
            timeline.seek(start)
            return Stop(StopKind.INTERRUPTED)
        if hit is not None:
            timeline.seek(start)         # hardware traps before the access: do not move
            return self._watch_stop(hit)
        if timeline.position == start:
            return Stop(StopKind.HISTORY_END)
        return Stop(StopKind.STEP)

    def _continue(self, points: StopPoints, cancel: Cancellation) -> Stop:
        timeline = self.timeline
        if timeline.at_end:
            return Stop(StopKind.HISTORY_END)
        try:
            hit = timeline.run_forward(points.breakpoints, points.watchpoints,
                                       include_current=True, cancel=cancel)
        except Interrupted:
            return Stop(StopKind.INTERRUPTED)
        if hit is None:
            return Stop(StopKind.HISTORY_END)
        if hit.kind is HitKind.BREAKPOINT:
            return self._breakpoint_stop(hit, points)
        return self._watch_stop(hit)

    def _reverse_step(self, points: StopPoints, cancel: Cancellation) -> Stop:
        timeline = self.timeline
        start = timeline.position
        if start <= timeline.begin:
            return Stop(StopKind.HISTORY_BEGIN)
        timeline.seek(start - 1, cancel)
        watchpoints = points.watchpoints
        if watchpoints:
            # The instruction stepped back over accessed a watched range: report
            # at the state after it, like a reverse continue (gdb steps back again).
            hit = self._watch_hit_by_next_instruction(watchpoints, cancel)
            if hit is not None:
                return self._watch_stop(hit)
            timeline.seek(start - 1, cancel)
        return Stop(StopKind.STEP)

    def _reverse_continue(self, points: StopPoints, cancel: Cancellation) -> Stop:
        timeline = self.timeline
        start = timeline.position
        if start <= timeline.begin:
            return Stop(StopKind.HISTORY_BEGIN)
        try:
            hit = timeline.run_backward(points.breakpoints, points.watchpoints, cancel=cancel)
        except Interrupted as stop:
            # As a forward continue does: stay where the search got to, the earliest
            # position from which it found nothing up to the start (docs/gdb-protocol.md, G22).
            reached = stop.searched_back_to
            timeline.seek(start if reached is None else reached)
            return Stop(StopKind.INTERRUPTED)
        if hit is None:
            return Stop(StopKind.HISTORY_BEGIN)
        if hit.kind is HitKind.BREAKPOINT:
            return self._breakpoint_stop(hit, points)
        timeline.seek(hit.icount + 1)    # the state just after the access
        return self._watch_stop(hit)

    # --- one hart's steps -----------------------------------------------------------
    def _hart_step(self, hart: int, direction: Direction, points: StopPoints,
                   cancel: Cancellation) -> Stop:
        """Step ``hart`` forward or back over its own next or previous instruction."""
        timeline = self.timeline
        start = timeline.position
        try:
            if direction is Direction.FORWARD:
                moved = self._to_next_instruction_of(hart, cancel)
                stop = self._step(points, cancel) if moved else Stop(StopKind.HISTORY_END)
            else:
                stop = self._to_previous_instruction_of(hart, points, cancel)
        except Interrupted:
            timeline.seek(start)
            return Stop(StopKind.INTERRUPTED, hart=hart)
        if stop.kind in (StopKind.HISTORY_END, StopKind.HISTORY_BEGIN):
            timeline.seek(start)
        return Stop(stop.kind, stop.address, stop.watch_kind, stop.hardware, stop.code, hart)

    def _retired(self, hart: int) -> int:
        return self.board.harts[hart].retired

    def _first_reaching(self, hart: int, count: int, low: int, high: int,
                        cancel: Cancellation) -> int:
        """The first position in (low, high] at which ``hart`` has run ``count``
        instructions (it has not at ``low``, it has at ``high``)."""
        while high - low > 1:
            middle = (low + high) // 2
            self.timeline.seek(middle, cancel)
            if self._retired(hart) >= count:
                high = middle
            else:
                low = middle
        return high

    def _to_next_instruction_of(self, hart: int, cancel: Cancellation) -> bool:
        """Go to the position where ``hart`` executes its next instruction (it is then
        the current hart); False at the end of history before it does."""
        timeline = self.timeline
        if self.board.current == hart:
            return True
        here, count = timeline.position, self._retired(hart) + 1
        stride = self.board.config.quantum_insns
        while True:
            timeline.seek(here + stride, cancel)
            reached = timeline.position
            if self._retired(hart) >= count:
                break
            if reached < here + stride:
                return False             # history ended first
            here, stride = reached, stride * 2
        timeline.seek(self._first_reaching(hart, count, here, reached, cancel) - 1, cancel)
        return True

    def _to_previous_instruction_of(self, hart: int, points: StopPoints,
                                    cancel: Cancellation) -> Stop:
        timeline = self.timeline
        start = timeline.position
        count = self._retired(hart)
        if count == 0 or start <= timeline.begin:
            return Stop(StopKind.HISTORY_BEGIN)
        low, stride = start, self.board.config.quantum_insns
        while low > timeline.begin:
            low = max(timeline.begin, low - stride)
            timeline.seek(low, cancel)
            if self._retired(hart) < count:
                break
            stride *= 2
        else:
            return Stop(StopKind.HISTORY_BEGIN)
        previous = self._first_reaching(hart, count, low, start, cancel) - 1
        timeline.seek(previous, cancel)
        if points.watchpoints:
            hit = self._watch_hit_by_next_instruction(points.watchpoints, cancel)
            if hit is not None:
                return self._watch_stop(hit)
            timeline.seek(previous, cancel)
        return Stop(StopKind.STEP)

    # --- helpers ----------------------------------------------------------------
    def _watch_hit_by_next_instruction(self, watchpoints: list[Watchpoint],
                                       cancel: Cancellation) -> Hit | None:
        """Execute one instruction, noting whether it touched a watched range."""
        timeline = self.timeline
        here = timeline.position
        if not watchpoints:
            timeline.step(1, cancel)
            return None
        collector = HitCollector(self.board, (), watchpoints, here - 1)
        try:
            timeline.step(1, cancel)
        finally:
            collector.remove()
        hits = [hit for hit in collector.hits if hit.icount == here]
        return min(hits) if hits else None

    @staticmethod
    def _breakpoint_stop(hit: Hit, points: StopPoints) -> Stop:
        return Stop(StopKind.BREAKPOINT, hit.address,
                    hardware=points.is_hardware_breakpoint(hit.address), hart=hit.hart)

    @staticmethod
    def _watch_stop(hit: Hit) -> Stop:
        watch = hit.watch
        assert watch is not None
        # The access may start below the watched range; gdb matches the address
        # against its watchpoints, so report one inside the range.
        return Stop(StopKind.WATCHPOINT, max(hit.address, watch.address), watch.kind,
                    hart=hit.hart)

    def _note_end(self) -> None:
        if self._end_reported:
            return
        self._end_reported = True
        ended = self.timeline.ended
        detail = ended.detail if ended is not None else ""
        self.log(f"{self._end_words()} at instruction {self.timeline.position}"
                 + (f" ({detail})" if detail else ""))

    def _end_words(self) -> str:
        return "end of recorded history"
