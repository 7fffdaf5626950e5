"""Options about a trace's checkpoint index and parallel searches, shared by the
commands that replay (replay, repl, debug, trace), and opening the index they ask for.

By default an index next to the trace is used when it belongs to the trace
(one warning line otherwise), and a command that runs the trace to its end
without one writes it there. Searches over many segments use ``--jobs``
local processes (default: one per core: the command's own process and
``--jobs`` - 1 workers, started as soon as the arguments are parsed when an
index file is next to the trace), or the Dask cluster named by
``--scheduler`` (rr/replay/segments.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from rr.printable import clipped

if TYPE_CHECKING:
    from rr.log.trace_reader import TraceReader
    from rr.replay.checkpoint_index import CheckpointIndex, IndexRecorder
    from rr.replay.segments import SegmentSearch
    from rr.replay.session import HistorySession

MAX_JOBS = 1024


def add_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-index", action="store_true",
                        help="neither use nor write the checkpoint index (TRACE.idx)")
    parser.add_argument("--no-write-index", action="store_true",
                        help="do not write TRACE.idx when the trace is run to its end")
    parser.add_argument("--jobs", "-j", type=jobs_count, default=None, metavar="N",
                        help="processes for searches split by index segment, this one "
                             "included (default: one per core; 1: no workers)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="run segment searches on this Dask distributed scheduler "
                             "(its workers read the trace and index at the same paths)")


def jobs_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers") from None
    if not 1 <= value <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"{value} workers: give 1 to {MAX_JOBS}")
    return value


def warn(message: str) -> None:
    print(f"rrvm: warning: {clipped(message)}", file=sys.stderr)


def open_for(args: argparse.Namespace, reader: TraceReader, session: HistorySession
             ) -> tuple[CheckpointIndex | None, IndexRecorder | None]:
    """The index to use (None: none, or not usable: warned), or else the recorder that
    writes one as the trace is first run to its end (None when not wanted)."""
    from rr.log.errors import TraceError
    from rr.replay.checkpoint_index import IndexRecorder, open_index

    if getattr(args, "no_index", False):
        return None, None
    index = open_index(reader, warn)
    if index is not None or getattr(args, "no_write_index", False) or not reader.complete:
        return index, None
    try:
        return None, IndexRecorder(reader, session)       # a cache: written silently
    except TraceError:            # a cache that cannot be written (a read-only directory)
        return None, None


def for_history(args: argparse.Namespace):
    """What a trace explorer (the REPL, gdb's server) opens with a trace: its index, or
    the recorder that writes one, the segment search over the index, and the warning."""
    def open_all(reader: TraceReader, session: HistorySession):
        index, recorder = open_for(args, reader, session)
        return index, recorder, search_for(args, reader, index), warn
    return open_all


def jobs_wanted(args: argparse.Namespace) -> int:
    """How many processes search segments, this one included."""
    return args.jobs if args.jobs is not None else (os.cpu_count() or 1)


def start_workers(args: argparse.Namespace, trace: str) -> None:
    """Start the local workers of segment searches now, when the trace has an index
    and more than one job is wanted: they get ready while the command loads (the
    search takes them over, or ``search_for`` stops them when the index is unusable)."""
    if getattr(args, "no_index", False) or args.scheduler is not None:
        return
    jobs = jobs_wanted(args)
    if jobs > 1:
        from rr.replay import worker_pool
        worker_pool.start_early(jobs - 1, trace)


def search_for(args: argparse.Namespace, reader: TraceReader,
               index: CheckpointIndex | None) -> SegmentSearch | None:
    """How searches are split over segments, when there is an index and more than one
    worker (or a scheduler) to give them to."""
    jobs = jobs_wanted(args)
    if index is None or (args.scheduler is None and jobs <= 1):
        from rr.replay import worker_pool
        worker_pool.discard_early()
        return None
    from rr.commands import progress
    from rr.replay.segments import SegmentSearch
    shown = progress.segments if progress.on_terminal() else None
    search = SegmentSearch(reader.path, index, jobs=jobs, scheduler=args.scheduler,
                           progress=shown)
    search.start()            # the workers get ready while the command does
    return search
