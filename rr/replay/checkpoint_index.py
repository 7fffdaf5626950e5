"""A trace's persistent checkpoints: opened and checked, restored, recorded.

The index (rr/log/checkpoint_file.py, traces/FORMAT.md) is a cache, so it is
never trusted blindly: it is used only when it names this very trace (the
sha256 and size of the trace file), this board (RAM size) and this engine
(the size of a hart's registers), and every checkpoint restored from it must
give the state hash stored with it. Anything else (a stale index after the
trace was re-recorded, a damaged or foreign file) costs one warning line and
the index is not used: every operation is then done by replaying, as without
an index.

Recording piggybacks on the checkpoints a first run through history takes
anyway (rr/replay/timeline.py): each new frontier checkpoint hands over the
pages that changed since the previous one, and the index is put in place
when history is run to its end (an unfinished run leaves no file).
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from rr.errors import RrError
from rr.log.checkpoint_file import (IndexCheckpoint, IndexFile, IndexFileWriter, IndexHeader,
                                    file_digest)
from rr.log.errors import TraceError
from rr.log.trace_reader import TraceReader
from rr.monitor.constants import INDEX_EVERY, INDEX_MAX_SIZE, PAGE_SIZE
from rr.monitor.ram import advance_shadow, buffer_address
from rr.monitor.state_digest import state_digest
from rr.printable import byte_size
from rr.replay import machine_state
from rr.replay.index_location import index_path
from rr.replay.machine_state import MachineState
from rr.replay.session import HistorySession

Warn = Callable[[str], None]


class IndexRejected(RrError):
    """The index cannot be used for this trace (stale, damaged or foreign)."""


_digests: dict[tuple[str, int, int], tuple[str, int]] = {}


def trace_identity(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(sha256, size) of the trace file, computed once per process and file version."""
    stat = os.stat(path)
    key = (os.fspath(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        _digests[key] = file_digest(path)
    return _digests[key]


@dataclass
class CheckpointIndex:
    """An index checked against its trace, restoring its checkpoints into sessions."""

    file: IndexFile
    verified: set[int] = field(default_factory=set)     # checkpoints whose hash matched

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def positions(self) -> list[int]:
        return [checkpoint.icount for checkpoint in self.file.checkpoints]

    def at_or_before(self, icount: int) -> int | None:
        """The number of the latest checkpoint not after ``icount`` (None: none)."""
        best = None
        for number, checkpoint in enumerate(self.file.checkpoints):
            if checkpoint.icount > icount:
                break
            best = number
        return best

    def checkpoint(self, number: int) -> IndexCheckpoint:
        return self.file.checkpoints[number]

    def restore(self, session: HistorySession, number: int) -> None:
        """Make the session's machine checkpoint ``number``; IndexRejected when the file's
        data cannot be read or does not give the state it claims (the machine is then
        in no particular state: the caller restores one of its own)."""
        stored = self.file.checkpoints[number]
        try:
            pages = self.file.pages(self.file.page_table(number))
            machine_state.load_ram(session, pages)
            machine_state.apply(session, MachineState(stored.icount, stored.harts,
                                                      stored.machine))
        except Exception as exc:      # noqa: BLE001 - data from a file: any failure rejects it
            raise IndexRejected(f"{self.path}: checkpoint at instruction {stored.icount} "
                                f"cannot be restored ({type(exc).__name__}: {exc})") from None
        if number not in self.verified:
            digest = state_digest(session.board)
            if digest != stored.state_hash:
                raise IndexRejected(f"{self.path}: checkpoint at instruction {stored.icount} "
                                    f"restores another state than it claims (state hash "
                                    f"{digest[:16]}..., stored {stored.state_hash[:16]}...)")
            self.verified.add(number)

    def console_between(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """Console output the guest wrote at instruction counts in [start, end)."""
        return [(at, data) for checkpoint in self.file.checkpoints
                for at, data in checkpoint.console if start <= at < end]

    def describe(self) -> str:
        """One line for `rrvm info`."""
        file = self.file
        first, last = file.checkpoints[0].icount, file.checkpoints[-1].icount
        coverage = "" if file.complete else (f", stops at instruction {last:,} "
                                             "(its size bound was reached)")
        return (f"{byte_size(file.file_size)}, {len(file.checkpoints)} checkpoints every "
                f"{file.header.every:,} instructions ({first:,} to {last:,}), "
                f"{file.page_count:,} distinct pages{coverage}")



def open_index(reader: TraceReader, warn: Warn | None = None,
               path: str | os.PathLike[str] | None = None) -> CheckpointIndex | None:
    """The trace's index if there is one and it belongs to the trace; None otherwise
    (with one ``warn`` line saying why, when a file is there but cannot be used)."""
    path = Path(path) if path is not None else index_path(reader.path)
    if not path.exists():
        return None
    try:
        return check_index(reader, path)
    except (TraceError, IndexRejected) as exc:
        if warn is not None:
            warn(f"{exc}; not using it")
        return None


def check_index(reader: TraceReader, path: Path) -> CheckpointIndex:
    """Open ``path`` and check it names this trace, board and engine; raises otherwise."""
    file = IndexFile(path)
    header = file.header
    digest, size = trace_identity(reader.path)
    problem = None
    if (header.trace_sha256, header.trace_size) != (digest, size):
        problem = "was made for another trace (or an earlier version of this one)"
    elif header.ram_size != reader.header.board.get("ram_size"):
        problem = f"is for {header.ram_size} bytes of RAM, not the trace's"
    if problem is not None:
        file.close()
        raise IndexRejected(f"{path}: the index {problem}")
    return CheckpointIndex(file)


class IndexRecorder:
    """Writes a trace's index from the checkpoints of a first run through its history."""

    def __init__(self, reader: TraceReader, session: HistorySession,
                 path: str | os.PathLike[str] | None = None, every: int = INDEX_EVERY,
                 max_size: int = INDEX_MAX_SIZE) -> None:
        self.session = session
        self.every = every
        digest, size = trace_identity(reader.path)
        cpu = session.board.cpu
        header = IndexHeader(digest, size, every, session.board.ram.size, PAGE_SIZE,
                             len(machine_state.hart_registers(cpu)))
        self.writer = IndexFileWriter(path or index_path(reader.path), header, max_size)
        self._console_seen = 0
        self._last: int | None = None
        self._shadow: mmap.mmap | None = None
        self.written: Path | None = None

    @property
    def started(self) -> bool:
        return self._last is not None

    def record(self, changed: Iterable[int] | None) -> None:
        """The machine is at a new frontier checkpoint; ``changed``: the RAM pages that
        changed since the previous one (None for the first: all non-zero pages)."""
        session = self.session
        if changed is None:
            changed = machine_state.nonzero_pages(session)
        contents = {offset: machine_state.page_of(session, offset) for offset in changed}
        state = machine_state.capture(session)
        entries = session.console.entries
        console = [[at, data] for at, data in entries[self._console_seen:]]
        checkpoint = IndexCheckpoint(state.icount, state.harts, state.machine,
                                     state_digest(session.board), [], console)
        if self.writer.add(checkpoint, contents):
            self._console_seen = len(entries)
            self._last = state.icount

    def take(self) -> None:
        """Record the machine as it is now, finding the changed pages itself (with a
        shadow copy of RAM), for a run that keeps no checkpoints of its own."""
        ram = self.session.board.ram
        if self._shadow is None:
            # zeros, left untouched where RAM stays zero: the first take stores all
            self._shadow = mmap.mmap(-1, ram.size)
        changed = advance_shadow(ram.address, ram.map, self._shadow,
                                 buffer_address(self._shadow))
        self.record(changed.keys())

    def finish(self) -> Path | None:
        """History has been run to its end: put the index in place (None: nothing taken)."""
        if self._last is None:
            self.writer.abandon()
            return None
        self.written = self.writer.finish(complete=True)
        return self.written

    def abandon(self) -> None:
        self.writer.abandon()


def index_status(reader: TraceReader) -> str:
    """What `rrvm info` says of the trace's index: its size and checkpoints, or why
    there is none to use."""
    path = index_path(reader.path)
    if not path.exists():
        return f"none (`rrvm index {reader.path}` writes {path.name})"
    try:
        index = check_index(reader, path)
    except (TraceError, IndexRejected) as exc:
        return f"unusable, ignored ({exc})"
    try:
        return f"{path.name}: {index.describe()}"
    finally:
        index.file.close()
