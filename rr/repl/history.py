"""What the REPL explores: a recorded trace, or a guest running live with its history kept.

Both give the Debugger a session for a Timeline; they differ in how far
history goes (a trace's recorded length, a live guest's furthest point,
which moves on as it runs) and in what `info` and the end of history say.
"""

from __future__ import annotations

from typing import Protocol

from rr.errors import RrError
from rr.log.trace_reader import TraceReader
from rr.replay.cancellation import Cancellation
from rr.replay.live_session import LiveSession
from rr.replay.replay_session import ReplaySession
from rr.replay.session import HistorySession
from rr.replay.timeline import Timeline
from rr.replay.trace_summary import describe, footer_exit_words
from rr.repl.typed_console import TypedConsole


WAITING_FOR_INPUT = "waiting for console input (`type TEXT` sends some)"


class NotLive(RrError):
    """A command that needs a live guest was used on a trace."""


class History(Protocol):
    session: HistorySession
    name: str

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
    def __init__(self, reader: TraceReader) -> None:
        self.reader = reader
        self.name = str(reader.path)
        self.session = ReplaySession(reader, lambda data: None)   # the console is kept, not printed

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
        self.reader.close()

    def type(self, data: bytes) -> None:
        raise NotLive("a trace replays the input it recorded; `type` feeds a live guest "
                      "(rrvm repl IMAGE)")


class LiveHistory:
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
