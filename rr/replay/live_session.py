"""A live guest with its history kept, so a debugger can take it back and forth.

The counterpart of ReplaySession for a guest that is running now: the board
boots from the command line's image instead of a trace, and its inputs come
from the host at the live edge and from the growing event log behind it
(LiveEdgeInputs). A Timeline drives either kind of session the same way.

With a trace being written (``rrvm record --gdb``), the trace is finished
the first time the guest's end is reached, so it holds exactly the run gdb
saw; without one (``rrvm run --gdb``) history lives in memory only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from rr.errors import RrError
from rr.record.recording import Recording
from rr.monitor.board import Board, BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.exits import GuestExit
from rr.monitor.inputs import InputSource
from rr.monitor.run_loop import RunLoop
from rr.replay.console_log import ConsoleLog
from rr.replay.live_edge_inputs import LiveEdgeInputs

if TYPE_CHECKING:                    # the timeline drives the session, not the other way
    from rr.replay.timeline import Timeline


class LiveSession:
    def __init__(self, config: BoardConfig, payload: BootPayload, live: InputSource,
                 console_out: Callable[[bytes], None],
                 recording: Recording | None = None) -> None:
        self.config = config
        self.payload = payload
        self.recording = recording
        self.inputs = LiveEdgeInputs(live, recording.writer if recording else None)
        self.console = ConsoleLog(console_out)
        self.board = Board(config, payload, self.inputs, self.console)
        self.inputs.pc = lambda: self.board.cpu.pc
        self.console.icount = self.board.cpu.icount_in_hook
        self.loop = RunLoop(self.board)
        if recording is not None:
            recording.attach(self.board)
        self.end_icount: int | None = None       # unknown until the guest ends
        self.live = True

    def history_ended(self, ended: GuestExit | RrError) -> None:
        """The guest's end was reached for the first time (the board is in its end state)."""
        recording = self.recording
        if recording is None:
            return
        if isinstance(ended, GuestExit):
            recording.finish(ended)
        else:
            recording.finish_with_error(ended)

    def summary(self, timeline: Timeline) -> list[str]:
        """What this history is, for `monitor info` and the REPL's `info`."""
        config, recording = self.config, self.recording
        lines = [f"guest        {self.payload.image.path or '(image)'} (live)",
                 f"board        {config.ram_size >> 20} MiB RAM, clock {config.clock}"
                 + (f", bootargs '{config.bootargs}'" if config.bootargs else ""),
                 f"recording    {recording.path if recording else 'in memory only'}"]
        if timeline.end is not None:
            lines.append(f"history      instructions {timeline.begin} to {timeline.end}, "
                         "the guest has ended")
        else:
            lines.append(f"history      instructions {timeline.begin} to {timeline.furthest} "
                         "so far (the live edge)")
        return lines

    def quit_at_live_edge(self, timeline: Timeline, request_quit: Callable[[], None]) -> None:
        """End a guest that has not ended as if the user had quit (Ctrl-A x) where it runs
        live, so a trace being written ends complete and verifiable."""
        if timeline.end is not None:
            return
        timeline.seek(timeline.furthest)
        request_quit()
        timeline.run_forward()

    def abort(self) -> None:
        """Leaving on an error before the guest ended: the trace keeps what was recorded
        (readable, cut off)."""
        if self.recording is not None:
            self.recording.writer.abort()
