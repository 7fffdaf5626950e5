"""The history an analysis looks at: a Timeline, the guest's symbols, what cancels it.

The REPL hands its own (the debugger's timeline and Ctrl-C); gdb's stub and
the ``rrvm`` subcommands build one over a trace, with the symbols of the
embedded image (or ``--symbols ELF``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rr.errors import RrError
from rr.log.trace_reader import TraceReader
from rr.replay.cancellation import Cancellation
from rr.replay.replay_session import ReplaySession
from rr.replay.timeline import Timeline
from rr.repl.expressions import Evaluator, register_reader
from rr.repl.symbols import SymbolTable, load_symbols

if TYPE_CHECKING:
    from rr.repl.history import IndexOptions


@dataclass
class Subject:
    timeline: Timeline
    symbols: SymbolTable
    cancel: Cancellation | None = None
    evaluator: Evaluator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        cpu = self.timeline.board.cpu
        self.evaluator = Evaluator(self.symbols, register_reader(cpu))

    @property
    def cpu(self):
        return self.timeline.board.cpu

    @property
    def reader(self) -> TraceReader:
        """The trace replayed (RrError for a live guest, which has none)."""
        reader = getattr(self.timeline.session, "reader", None)
        if reader is None:
            raise RrError("this is a live guest, not a recorded trace: record it first "
                          "(--record TRACE)")
        return reader

    @property
    def length(self) -> int:
        """A trace's last instruction count (its footer's, or its last complete chunk's)."""
        reader = self.reader
        return reader.footer.final_icount if reader.footer is not None else reader.last_icount

    def label(self, address: int) -> str:
        """'list_pop+0x18', or '' outside every symbol."""
        return self.symbols.describe(address)

    def function(self, address: int) -> str:
        """The name of the function holding ``address`` ('?' when none does)."""
        found = self.symbols.function_at(address)
        return found.name if found is not None else "?"


def image_symbols(timeline: Timeline, symbols_path: str | None = None) -> SymbolTable:
    """``--symbols ELF`` if given, else the symbols of the guest image the session booted."""
    image = timeline.session.payload.image
    return load_symbols(image.raw, image.path or "the guest image", symbols_path)[0]


def open_trace(path: str, symbols_path: str | None = None, symbols: SymbolTable | None = None,
               cancel: Cancellation | None = None,
               index_options: IndexOptions | None = None) -> Subject:
    """A replay of the trace at ``path`` at instruction 0, with ``symbols`` (default: those
    of ``symbols_path`` or of its image). ``index_options``: opens the trace's index
    and the segment search over it, as for the REPL (rr/commands/index_options.py's
    ``for_history``); ``close_trace`` then stops its workers."""
    reader = TraceReader(path)
    session = ReplaySession(reader, lambda data: None)
    if index_options is None:
        timeline = Timeline(session)
    else:
        index, recorder, search, warn = index_options(reader, session)
        timeline = Timeline(session, index=index, recorder=recorder, warn=warn)
        timeline.search = search
    return Subject(timeline, symbols if symbols is not None
                   else image_symbols(timeline, symbols_path), cancel)


def close_trace(subject: Subject) -> None:
    """Stop the workers of a trace opened with its index, and drop an index recording
    that did not reach the end of history."""
    timeline = subject.timeline
    if timeline.search is not None:
        timeline.search.close()
    if timeline.recorder is not None:
        timeline.recorder.abandon()
