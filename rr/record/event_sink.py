"""Where the inputs a guest observes are logged, as they are observed."""

from __future__ import annotations

from typing import Protocol

from rr.log.events import Event


class EventSink(Protocol):
    """A trace being written (rr/log/trace_writer.py's TraceWriter), or the in-memory
    history of a live guest (rr/replay/live_edge_inputs.py's HistoryLog, which passes
    each event on to a trace when one is written too)."""

    def write(self, event: Event) -> None:
        """Log ``event``; events arrive in the order the guest observes them."""

    def maybe_flush(self) -> object:
        """Called at every epoch boundary of the run loop: a trace writes what it holds
        at most once a second, so a killed recording keeps nearly all of its run."""

    def progress(self, icount: int) -> None:
        """The run reached ``icount``: a trace writes a progress marker there at most
        once a second (traces/FORMAT.md, tag 8); nothing else keeps it."""
