"""A live guest as a gdb target: running now, with the history seen so far kept.

The guest runs on a Timeline over a LiveSession, so everything a replay
offers works on the history recorded so far (reverse-stepi, reverse-continue,
watchpoints both ways); going forward replays up to the live edge, then runs
live. Where a replay and a live guest differ:

- the end: a live guest that powers off ends the gdb session as a process
  exit (``W``), as QEMU's stub does; one stopped by a board error (a jump
  into nowhere) stays inspectable, reported as SIGSEGV. While recording to a
  trace, the end is the end of recorded history, as in a replay of that trace;
- changes: ``rrvm run --gdb`` accepts register and memory writes at the live
  edge, after which history restarts there (no recorded past leads to the
  changed state); ``rrvm record --gdb`` refuses them, because the trace
  could not replay them;
- with no gdb attached (before the first, after a detach or disconnect) the
  guest keeps running, as under QEMU's ``-s``.
"""

from __future__ import annotations

from typing import Callable

from rr.gdbstub.registers import Register
from rr.gdbstub.replay_target import ReplayTarget
from rr.gdbstub.stop_points import StopPoints
from rr.gdbstub.target import MemoryFault, ReadOnly, Resume, Stop, StopKind
from rr.monitor.mmu import PageFault
from rr.replay.live_session import LiveSession
from rr.replay.cancellation import Cancellation, Interrupted
from rr.replay.timeline import Timeline
from rr.repl.symbols import SymbolTable

RECORDING_REASON = ("rrvm is recording this guest to a trace, which could not replay a change "
                    "made by the debugger; use rrvm run --gdb to change registers or memory")


class LiveTarget(ReplayTarget):
    def __init__(self, timeline: Timeline, session: LiveSession,
                 log: Callable[[str], None] = lambda text: None,
                 symbols: SymbolTable | None = None) -> None:
        super().__init__(timeline, self._summary, log, symbols)
        self.session = session
        self.recording = session.recording is not None

    # --- state ----------------------------------------------------------------
    def write_register(self, register: Register, value: int) -> None:
        self._check_writable()
        if register.write is None:
            raise ReadOnly(f"{register.name} is a read-only register on this hart")
        register.write(self.view(), value)
        self.timeline.restart_history()

    def write_memory(self, address: int, data: bytes) -> None:
        self._check_writable()
        try:
            self.view().memory.write(address, data)    # all of it, or nothing
        except PageFault as fault:
            raise MemoryFault(f"cannot write memory at {address:#x}: {fault.reason}") from None
        for hart in self.board.harts:            # code may have been patched
            hart.cpu.invalidate_caches()
        self.timeline.restart_history()

    def _check_writable(self) -> None:
        timeline = self.timeline
        if self.recording:
            raise ReadOnly(RECORDING_REASON)
        if timeline.at_end:
            raise ReadOnly("the guest has ended; nothing can be changed any more")
        if not timeline.at_furthest:
            raise ReadOnly(f"this is instruction {timeline.position} of the history recorded "
                           f"so far; the guest can be changed only where it runs live "
                           f"(instruction {timeline.furthest}): continue there first")

    # --- resuming ---------------------------------------------------------------
    def resume(self, how: Resume, points: StopPoints, interrupted: Callable[[], bool]) -> Stop:
        stop = super().resume(how, points, interrupted)
        if stop.kind is not StopKind.HISTORY_END or self.recording:
            return stop
        ended = self.timeline.ended
        if ended is not None and ended.exit is not None:
            return Stop(StopKind.EXITED, code=ended.status)
        return Stop(StopKind.FAULTED)

    def run_detached(self, client_waiting: Callable[[], bool]) -> bool:
        """Run with no gdb attached until one connects (True) or the guest ends (False)."""
        timeline = self.timeline
        if timeline.at_end:
            return False
        cancel = Cancellation(poll=client_waiting)
        try:
            timeline.seek(timeline.furthest, cancel)
            timeline.run_forward(cancel=cancel)
        except Interrupted:
            return True
        self._note_end()
        return False

    def end_here(self, request_quit: Callable[[], None]) -> int:
        """gdb killed the guest: it ends as if the user had quit at the live edge (so a
        trace being written ends complete); returns the run's exit status."""
        self.session.quit_at_live_edge(self.timeline, request_quit)
        return self.exit_status()

    def exit_status(self) -> int:
        ended = self.timeline.ended
        return ended.status if ended is not None else 0

    def _end_words(self) -> str:
        return "end of recorded history (the guest ended)" if self.recording else "the guest ended"

    # --- monitor info -------------------------------------------------------------
    def _summary(self) -> list[str]:
        return self.session.summary(self.timeline)
