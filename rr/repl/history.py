"""What the REPL explores: a recorded trace, or a guest running live with its history kept.

Both give the Debugger a session for a Timeline; they differ in how far
history goes (a trace's recorded length, a live guest's furthest point,
which moves on as it runs) and in what `info` and the end of history say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from rr.errors import RrError
from rr.log.trace_reader import TraceReader
from rr.replay.cancellation import Cancellation
from rr.replay.live_session import LiveSession
from rr.replay.replay_session import ReplaySession
from rr.replay.session import HistorySession
from rr.replay.timeline import Timeline
from rr.replay.trace_summary import describe, footer_exit_words
from rr.repl.typed_console import TypedConsole

if TYPE_CHECKING:
    from rr.replay.checkpoint_index import CheckpointIndex, IndexRecorder
    from rr.replay.segments import SegmentSearch

    IndexOptions = Callable[[TraceReader, HistorySession],
                            tuple[CheckpointIndex | None, IndexRecorder | None,
                                  SegmentSearch | None, Callable[[str], None] | None]]


WAITING_FOR_INPUT = "waiting for console input (`type TEXT` sends some)"


class NotLive(RrError):
    """A command that needs a live guest was used on a trace."""


class History(Protocol):
    session: HistorySession
    name: str
    index: CheckpointIndex | None          # a trace's persistent checkpoints
    recorder: IndexRecorder | None         # writes them on the first run to the end
    search: SegmentSearch | None           # searches split by the index's segments
    warn: Callable[[str], None] | None     # one line when the index turns out unusable

    def length(self, timeline: Timeline) -> int:
        """The last instruction count of history as known now."""

    def bounded(self, timeline: Timeline) -> bool:
        """True when going past ``length`` is impossible (the end of a trace, a guest that
        has ended); False while a live guest can run on."""

    def ending(self, timeline: Timeline) -> str:
        """What happens at ``length``, in words."""

    def summary(self, timeline: Timeline) -> str:
        """`info`: what this history is."""

    def type(self, data: bytes) -> None:
        """Queue console input for a live guest; NotLive for a trace."""

    def attach(self, timeline: Timeline, cancellation: Cancellation) -> None:
        """The timeline that drives ``session``, once it exists, and what stops its
        operations."""

    def close(self, timeline: Timeline) -> None:
        """The REPL ends: finish what needs finishing (a trace being recorded)."""


class TraceHistory:
    def __init__(self, reader: TraceReader,
                 index_options: IndexOptions | None = None) -> None:
        """``index_options``: opens the trace's index for the session, and the segment
        search over it (None: no index)."""
        self.reader = reader
        self.name = str(reader.path)
        self.session = ReplaySession(reader, lambda data: None)   # the console is kept, not printed
        self.index = self.recorder = self.search = self.warn = None
        if index_options is not None:
            self.index, self.recorder, self.search, self.warn = index_options(reader,
                                                                              self.session)

    def length(self, timeline: Timeline) -> int:
        footer = self.reader.footer
        if footer is not None:
            return footer.final_icount
        return self.session.end_icount or self.reader.last_icount or 0

    def bounded(self, timeline: Timeline) -> bool:
        return True

    def ending(self, timeline: Timeline) -> str:
        footer = self.reader.footer
        if footer is not None:
            return (f"the guest exited ({footer_exit_words(footer)}) at instruction "
                    f"{footer.final_icount}")
        return f"the trace was cut off at instruction {self.length(timeline)}"

    def summary(self, timeline: Timeline) -> str:
        return describe(self.reader)

    def attach(self, timeline: Timeline, cancellation: Cancellation) -> None:
        pass

    def close(self, timeline: Timeline) -> None:
        if self.search is not None:
            self.search.close()
        if timeline.recorder is not None:         # not run to the end: no index
            timeline.recorder.abandon()
        self.reader.close()

    def type(self, data: bytes) -> None:
        raise NotLive("a trace replays the input it recorded; `type` feeds a live guest "
                      "(rrvm repl IMAGE)")


class LiveHistory:
    index = recorder = search = warn = None     # history made live has no index

    def __init__(self, session: LiveSession, console: TypedConsole) -> None:
        self.session = session
        self.console = console
        self.name = session.payload.image.path or "the guest"

    def length(self, timeline: Timeline) -> int:
        return timeline.known_end

    def bounded(self, timeline: Timeline) -> bool:
        return timeline.end is not None

    def ending(self, timeline: Timeline) -> str:
        if timeline.ended is not None:
            return timeline.ended.describe()
        return "the live edge: stepping or continuing runs the guest on"

    def summary(self, timeline: Timeline) -> str:
        lines = self.session.summary(timeline)
        lines += [f"at the end   {self.ending(timeline)}",
                  f"events       {len(self.session.inputs.events)} inputs logged",
                  f"typed        {self.console.queued} bytes queued for the guest"]
        return "\n".join(lines)

    def attach(self, timeline: Timeline, cancellation: Cancellation) -> None:
        self.console.on_starved = lambda: cancellation.cancel(WAITING_FOR_INPUT)

    def close(self, timeline: Timeline) -> None:
        """A trace being recorded ends complete: the guest quits at the live edge, as if
        the user had pressed Ctrl-A x there."""
        if self.session.recording is not None:
            self.session.quit_at_live_edge(timeline, self.console.request_quit)

    def type(self, data: bytes) -> None:
        self.console.type(data)
