"""The local worker processes of segment searches, started before they are needed.

Starting a worker costs more than a search's share of work on a short trace:
a server process that imports rrvm (unicorn, the board), then each worker
opening the trace and its index. A command that will search (``rrvm repl``,
``rrvm debug`` or ``rrvm replay --verify`` on an indexed trace with more than
one job) starts its workers first thing (``start_early``), so that this cost
overlaps its own imports and the opening of the trace; the segment search
takes them over (``adopt``) when it is set up. This module imports nothing of
rrvm's engine, so starting the workers waits for none of it.

Workers started early are forked from the command's process while it is
still a bare argument parser: one thread, no engine, no terminal state, no
open trace (``start_early`` is called before any of them exists), so the
fork copies nothing a worker could trip over, and costs no new interpreter.
Workers started later, from a process that has its engine, threads and
terminal, start from a clean ``forkserver`` process instead; the server
imports the segment search module (rr/replay/segments.py) once, so each
worker starts with it loaded. Workers ignore SIGINT: Ctrl-C is the
command's to handle (it cancels the tasks not started and stops the
workers).
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rr.replay.cancellation import CTRL_C
from rr.replay.index_location import index_path

if TYPE_CHECKING:        # loaded with the first pool: the CLI imports this module for nothing
    from concurrent.futures import Future

SEARCH_MODULE = "rr.replay.segments"


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the process that started them (it cancels them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _open_replay(trace: str, index: str) -> None:
    """Open the trace and index and build the replay, in a worker (kept for its tasks)."""
    from rr.replay.segments import prepare
    prepare(trace, index)


class WorkerPool:
    """``workers`` processes, each opening the trace and index as soon as it runs.
    ``forked``: forked from this process now (only while it is a bare argument
    parser: see the module's docstring); else started from a forkserver, in the
    background (``ready`` once they are)."""

    def __init__(self, workers: int, trace: str, index: str, forked: bool = False) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if forked:
            context = multiprocessing.get_context("fork")
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([SEARCH_MODULE])
        self.workers = workers
        self.executor = ProcessPoolExecutor(workers, context, initializer=_ignore_interrupts)
        self._thread: threading.Thread | None = None
        if forked:
            with CTRL_C.deferred():             # raised after, not in the executor
                self._spawn(trace, index)       # forks them all, in this thread, at once
        else:
            self._thread = threading.Thread(target=self._spawn, args=(trace, index),
                                            name="rrvm-workers", daemon=True)
            self._thread.start()

    def _spawn(self, trace: str, index: str) -> None:
        """Submitting starts the processes (from a forkserver: it waits for the server
        to import rrvm)."""
        try:
            for _ in range(self.workers):
                self.executor.submit(_open_replay, trace, index)
        except Exception:      # noqa: BLE001 - the search that submits next says what failed
            pass

    @property
    def ready(self) -> bool:
        """Tasks can be submitted without waiting for the workers to be started."""
        return self._thread is None or not self._thread.is_alive()

    def _started(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def submit(self, function, *args) -> Future:
        self._started()
        return self.executor.submit(function, *args)

    def shutdown(self) -> None:
        """Stop the workers. Ctrl-C meanwhile is only noted, for whoever checks next
        (the command is on its way out): raised inside the executor's code it could
        leave a lock held that its shutdown waits for (rr/replay/cancellation.py,
        ``CtrlC.deferred``)."""
        with CTRL_C.deferred(check_after=False):
            self._started()
            self.executor.shutdown(wait=True, cancel_futures=True)


_early: dict[int, WorkerPool] = {}


def start_early(workers: int, trace: str | os.PathLike[str]) -> None:
    """Start ``workers`` processes for the trace's segment searches now, if the trace
    has an index file (whether it is usable is found out later: ``discard_early``).
    Called by a command before it loads the engine or opens anything (they fork)."""
    index = index_path(trace)
    if workers < 1 or workers in _early or not index.is_file():
        return
    _early[workers] = WorkerPool(workers, os.fspath(Path(trace).resolve()),
                                 os.fspath(index.resolve()), forked=True)


def adopt(workers: int) -> WorkerPool | None:
    """The pool ``start_early`` started with that many workers, now the caller's."""
    return _early.pop(workers, None)


def discard_early() -> None:
    """No search will come (the index is unusable): stop the workers started early."""
    while _early:
        _early.popitem()[1].shutdown()
