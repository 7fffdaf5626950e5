"""Recording: the live inputs, each one also written to the trace.

``RecordingInputs`` wraps the live ``InputSource`` and logs every value the
guest observes, at the instruction count where it observes it, to an
``EventSink`` (a trace, or a live guest's in-memory history). The run loop
and the devices do not know they are being recorded: replay is the other
implementation of the same interface (rr/replay/replay_inputs.py), and the
two agree on one rule: the events form a single ordered stream, in the
order the monitor asked for them.

- Reads (host clock, wall clock, entropy) are logged every time.
- Queries that usually answer "nothing" (console bytes, quit, console
  closed) are logged only when they answer something, which keeps the trace
  of a guest without input a few kilobytes whatever its length.

The pc is stored where it is exact (run-loop positions and trap hooks) so a
replay notices a divergence at the first input that lands elsewhere.
"""

from __future__ import annotations

from typing import Callable

from rr.log.events import (ClockRead, ConsoleClosed, ConsoleInput, Entropy, Event, UserQuit,
                           WallClockRead)
from rr.monitor.inputs import InputSource
from rr.record.event_sink import EventSink


class RecordingInputs(InputSource):
    """Live inputs, logged to ``sink`` as they reach the guest."""

    def __init__(self, live: InputSource, sink: EventSink) -> None:
        self.live = live
        self.sink = sink
        self._latched: set[type[UserQuit] | type[ConsoleClosed]] = set()

    def _log(self, event: Event) -> None:
        self.sink.write(event)

    def console_bytes(self, icount: int, max_bytes: int) -> bytes:
        data = self.live.console_bytes(icount, max_bytes)
        if data:
            self._log(ConsoleInput(icount, data, pc=self.pc(), hart=self.hart()))
        # Called at every epoch boundary: the sink's once-a-second flush rides on it.
        self.sink.maybe_flush()
        return data

    def wait_console(self, timeout: float | None) -> None:
        self.live.wait_console(timeout)

    def host_time_ns(self, icount: int) -> int:
        ns = self.live.host_time_ns(icount)
        self._log(ClockRead(icount, ns, pc=self.pc(), hart=self.hart()))
        return ns

    def wall_time_ns(self, icount: int) -> int:
        # Read from an MMIO callback, where unicorn's pc is not exact: no pc.
        ns = self.live.wall_time_ns(icount)
        self._log(WallClockRead(icount, ns, hart=self.hart()))
        return ns

    def entropy(self, icount: int, size: int) -> bytes:
        data = self.live.entropy(icount, size)
        self._log(Entropy(icount, data, hart=self.hart()))
        return data

    def quit_requested(self, icount: int) -> bool:
        return self._latch(UserQuit, self.live.quit_requested, icount)

    def console_closed(self, icount: int) -> bool:
        return self._latch(ConsoleClosed, self.live.console_closed, icount)

    def _latch(self, kind: type[UserQuit] | type[ConsoleClosed],
               asked: Callable[[int], bool], icount: int) -> bool:
        """A request that stays true once seen (the guest is told at every epoch until
        it stops): logged once, the first time the live side answers yes."""
        if kind not in self._latched and asked(icount):
            self._latched.add(kind)
            self._log(kind(icount, pc=self.pc(), hart=self.hart()))
        return kind in self._latched

    def quit_pending(self) -> bool:
        return self.live.quit_pending()

    def progress(self, icount: int) -> None:
        self.sink.progress(icount)
