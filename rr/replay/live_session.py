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

from rr.monitor.board import BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.inputs import InputSource
from rr.record.recording import Recording
from rr.replay.live_edge_inputs import LiveEdgeInputs
from rr.replay.session import HistorySession

if TYPE_CHECKING:                    # the timeline drives the session, not the other way
    from rr.replay.timeline import Timeline


class LiveSession(HistorySession):
    """A live guest whose history is kept (its end is unknown until it is reached)."""

    live = True
    inputs: LiveEdgeInputs

    def __init__(self, config: BoardConfig, payload: BootPayload, live: InputSource,
                 console_out: Callable[[bytes], None],
                 recording: Recording | None = None) -> None:
        super().__init__(config, payload,
                         LiveEdgeInputs(live, recording.writer if recording else None),
                         console_out, recording=recording)

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
