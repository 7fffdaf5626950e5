"""Inputs of a live guest whose history is kept: replayed behind the live edge, live at it.

A guest debugged while it runs (``rrvm record --gdb``, ``rrvm run --gdb``,
``rrvm repl IMAGE``) can be taken back in time, and forward again. Its
inputs come from two places:

- behind the furthest position executed so far (the live edge), from the
  events logged when that stretch first ran, exactly as a replay of a trace
  gets them (a ``ReplayInputs`` over the growing event list);
- at the live edge, from the host, through a ``RecordingInputs`` that appends
  every input it hands out to that same list (and to a trace, if one is
  being written).

Which one answers is decided per call: the live source when every logged
event has been replayed and the position is not behind the furthest one at
which a live input was asked for. Asking again at that very position is
consistent with what was logged: the monitor asks in a fixed order at each
position, and a query that answered "nothing" logged nothing.
"""

from __future__ import annotations

from typing import Any, Callable

from rr.log.events import Event
from rr.log.trace_writer import TraceWriter
from rr.monitor.cpu import Cpu
from rr.monitor.inputs import InputSource
from rr.record.recording_inputs import RecordingInputs
from rr.replay.replay_inputs import ReplayInputs


class HistoryLog:
    """Where the live source logs events (an EventSink): the in-memory history (as
    already replayed: the guest has just observed them), and a trace if any."""

    def __init__(self, history: ReplayInputs, writer: TraceWriter | None) -> None:
        self.history = history
        self.writer = writer

    def write(self, event: Event) -> None:
        self.history.observed(event)
        if self.writer is not None:
            self.writer.write(event)

    def maybe_flush(self) -> None:
        if self.writer is not None:
            self.writer.maybe_flush()

    def progress(self, icount: int) -> None:
        if self.writer is not None:
            self.writer.progress(icount)


class LiveEdgeInputs(InputSource):
    def __init__(self, live: InputSource, writer: TraceWriter | None = None) -> None:
        self.history = ReplayInputs([], complete=True)
        self.recorder = RecordingInputs(live, HistoryLog(self.history, writer))
        self.live_from = 0          # the latest position at which the live source was asked
        self._asked_at = 0          # the position of the latest query (for wait_console)

    @property
    def events(self) -> list[Event]:
        """Every input logged so far, in order (the trace's event stream)."""
        return self.history.events

    def bind(self, cpu: Cpu, hart: Callable[[], int] | None = None) -> None:
        """Both sources note the same hart's pc (and, with several harts, which one runs)."""
        self.history.bind(cpu, hart)
        self.recorder.bind(cpu, hart)

    def at_live_edge(self, icount: int) -> bool:
        """True when an input asked for at ``icount`` comes from the host."""
        return self.history.replayed_all and icount >= self.live_from

    def _source(self, icount: int) -> InputSource:
        if self.at_live_edge(icount):
            self.live_from = icount
            return self.recorder
        return self.history

    # --- checkpointed state: the replay cursor (the live edge only moves on) ------
    def get_state(self) -> dict[str, Any]:
        return self.history.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self.history.set_state(state)

    # --- InputSource --------------------------------------------------------------
    def console_bytes(self, icount: int, max_bytes: int) -> bytes:
        self._asked_at = icount
        return self._source(icount).console_bytes(icount, max_bytes)

    def wait_console(self, timeout: float | None) -> None:
        self._source(self._asked_at).wait_console(timeout)

    def host_time_ns(self, icount: int) -> int:
        return self._source(icount).host_time_ns(icount)

    def wall_time_ns(self, icount: int) -> int:
        return self._source(icount).wall_time_ns(icount)

    def entropy(self, icount: int, size: int) -> bytes:
        return self._source(icount).entropy(icount, size)

    def quit_requested(self, icount: int) -> bool:
        self._asked_at = icount
        return self._source(icount).quit_requested(icount)

    def console_closed(self, icount: int) -> bool:
        self._asked_at = icount
        return self._source(icount).console_closed(icount)

    def progress(self, icount: int) -> None:
        if self.at_live_edge(icount):           # history replayed again is already written
            self.recorder.progress(icount)
