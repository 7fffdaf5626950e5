"""Searches split by segment of history, run side by side on cores or machines.

A persistent index (rr/replay/checkpoint_index.py) cuts a trace into
segments: from one checkpoint to the next, the last one to the end. A search
over a long stretch (every write to an address, the last write before a
position, the check of a whole replay) is the same search over each segment,
and each segment can be run by its own worker from its own checkpoint: the
search then costs about the trace's length divided by the workers.

Workers are local processes (``concurrent.futures``) or the workers of a Dask
distributed cluster (``scheduler``: its address); either way a task names
the trace and index by path (cluster workers read them from a path they
share) and a worker keeps the replay it builds for the next task on the
same trace. Locally, ``jobs`` processes search: this one and ``jobs - 1``
workers (rr/replay/worker_pool.py). This process takes the next segment no
worker has taken yet whenever it would otherwise wait, so on two cores one
worker and this process share the segments, and no core is left to a
process that only waits. The workers are started before the first search
(``start``, or earlier by the command: ``worker_pool.start_early``), and
until they are running this process searches alone. With one job and no
scheduler the segments run one after the other in this process, through
the same code.

Results are put together in segment order, so they are the same as a search
that runs history from the start (tests/replay/test_long_trace.py compares
them), and a ``Cancellation`` (Ctrl-C) stops the search between segments:
tasks not started are cancelled, running ones finish their segment.
"""

from __future__ import annotations

import os
import time
from concurrent import futures as local_futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from rr.errors import RrError
from rr.log.trace_reader import TraceReader
from rr.monitor.state_digest import state_digest
from rr.replay.cancellation import CTRL_C, Cancellation, Interrupted
from rr.replay.checkpoint_index import CheckpointIndex, check_index
from rr.replay.divergence import Divergence
from rr.replay.hits import Hit, HitCollector, Probe, Watchpoint
from rr.replay.replay_session import ReplaySession
from rr.replay.worker_pool import WorkerPool, adopt

POLL = 0.1                       # seconds between looks at the workers and the cancellation


@dataclass(frozen=True)
class Segment:
    number: int                  # the index checkpoint it starts from
    start: int
    end: int | None              # the next checkpoint; None: the end of history


@dataclass(frozen=True)
class SegmentTask:
    """One segment's work, by value: what a worker process or machine is given."""

    trace: str
    index: str
    segment: Segment
    breakpoints: tuple[int, ...] = ()
    watchpoints: tuple[Watchpoint, ...] = ()
    dma: bool = False            # device writes count as write hits (HitCollector)
    probe: Probe | None = None   # values read at each hit (Hit.values)


@dataclass(frozen=True)
class SegmentCheck:
    """What a segment's replay came to, against what the index (or trace) says."""

    segment: Segment
    icount: int
    problem: str | None          # None: the state at the segment's end is the expected one


# ------------------------------------------------------------------------------- workers

@dataclass
class _Replay:
    reader: TraceReader
    session: ReplaySession
    index: CheckpointIndex


_replays: dict[tuple, _Replay] = {}


def _replay_for(task: SegmentTask) -> _Replay:
    """This worker's replay of the task's trace, built once and reused (while neither
    the trace nor the index file changes)."""
    return _replay_of(task.trace, task.index)


def _replay_of(trace: str, index: str) -> _Replay:
    key = tuple((path, stat.st_size, stat.st_mtime_ns)
                for path, stat in ((path, os.stat(path)) for path in (trace, index)))
    replay = _replays.get(key)
    if replay is None:
        reader = TraceReader(trace)
        replay = _Replay(reader, ReplaySession(reader, lambda data: None),
                         check_index(reader, Path(index)))
        for old in _replays.values():   # one trace at a time per worker
            old.index.file.close()
            old.reader.close()
        _replays.clear()
        _replays[key] = replay
    return replay


def _start(task: SegmentTask, from_index: bool = True) -> ReplaySession:
    """A session at the segment's start: the worker's, restored from the index; or,
    for segment 0 without the index, a new replay's start (what a check of the index
    begins from, so that it trusts nothing in the index)."""
    replay = _replay_for(task)
    segment = task.segment
    if segment.number == 0 and not from_index:
        session = ReplaySession(replay.reader, lambda data: None)
    else:
        session = replay.session
        replay.index.restore(session, segment.number)
    session.loop.run(segment.start)
    return session


def _run_to(session: ReplaySession, end: int | None) -> None:
    """Execute to ``end`` (None: until history ends, recorded error included)."""
    try:
        session.loop.run(end if end is not None else session.end_icount)
    except Divergence:
        raise
    except RrError:
        if end is not None:
            raise


def search_segment(task: SegmentTask) -> list[Hit]:
    """Every breakpoint and watchpoint hit in the segment, in order (worker side)."""
    session = _start(task)
    segment = task.segment
    collector = HitCollector(session.board, task.breakpoints, task.watchpoints,
                             segment.start - 1, dma=task.dma, probe=task.probe)
    try:
        _run_to(session, segment.end)
    finally:
        collector.remove()
    return sorted(hit for hit in collector.hits
                  if segment.end is None or hit.icount < segment.end)


def verify_segment(task: SegmentTask) -> SegmentCheck:
    """Replay the segment and compare its end state with the index's next checkpoint,
    or, for the last segment, with the trace's final state (worker side)."""
    session = _start(task, from_index=False)
    segment = task.segment
    replay = _replay_for(task)
    if segment.end is None:
        try:
            outcome = session.run(None)
        except RrError as exc:
            return SegmentCheck(segment, session.board.cpu.icount, str(exc))
        problem = None if outcome.verified or replay.reader.footer is None or \
            not replay.reader.footer.state_hash else "the final state was not verified"
        return SegmentCheck(segment, outcome.icount, problem)
    try:
        _run_to(session, segment.end)
    except RrError as exc:
        return SegmentCheck(segment, session.board.cpu.icount, str(exc))
    expected = replay.index.checkpoint(segment.number + 1)
    digest = state_digest(session.board)
    if digest != expected.state_hash:
        problem = (f"state hash {digest[:16]}... at instruction {segment.end}, the index "
                   f"has {expected.state_hash[:16]}...")
    elif session.get_state() != expected.machine:
        problem = (f"the devices, inputs or run loop at instruction {segment.end} are not "
                   "what the index has")
    else:
        problem = None
    return SegmentCheck(segment, session.board.cpu.icount, problem)


def prepare(trace: str, index: str) -> None:
    """Open the trace and index and build the replay (worker side): what a worker
    does while the command that started it is still getting ready."""
    _replay_of(trace, index)


# ------------------------------------------------------------------------------- driver

class SegmentSearch:
    """Searches over an indexed trace's segments, on ``jobs`` local processes or on the
    Dask cluster at ``scheduler``."""

    def __init__(self, trace: str | os.PathLike[str], index: CheckpointIndex,
                 jobs: int = 1, scheduler: str | None = None,
                 progress: Callable[[Callable[[], int], int, str], Any] | None = None) -> None:
        """``progress(done, total, what)``: a context manager showing how far a search
        is (rr/commands/progress.py's ``segments``), or None."""
        self.trace = os.fspath(Path(trace).resolve())
        self.index = index
        self.jobs = jobs
        self.scheduler = scheduler
        self.progress = progress
        self._pool: WorkerPool | None = None
        self._client: Any = None

    @property
    def workers(self) -> str:
        if self.scheduler is not None:
            return f"the Dask cluster at {self.scheduler}"
        return f"{self.jobs} process{'es' if self.jobs != 1 else ''}"

    @property
    def _local(self) -> bool:
        """Local worker processes (not a cluster): this process searches too."""
        return self.scheduler is None

    def start(self) -> None:
        """Start the local workers now, in the background, each opening the trace and
        index: a search that comes later finds them ready. Nothing for one job or a
        cluster (whose workers are already running)."""
        if self._local and self.jobs > 1:
            self._local_pool()

    def segments(self, low: int = 0, high: int | None = None) -> list[Segment]:
        """The segments that hold positions in [low, high) (high None: to the end)."""
        starts = self.index.positions
        result = []
        for number, start in enumerate(starts):
            end = starts[number + 1] if number + 1 < len(starts) else None
            if (end is None or end > low) and (high is None or start < high):
                result.append(Segment(number, start, end))
        return result

    def tasks(self, segments: Iterable[Segment], breakpoints: Iterable[int] = (),
              watchpoints: Iterable[Watchpoint] = (), dma: bool = False,
              probe: Probe | None = None) -> list[SegmentTask]:
        index = os.fspath(self.index.path.resolve())
        return [SegmentTask(self.trace, index, segment, tuple(sorted(set(breakpoints))),
                            tuple(sorted(set(watchpoints))), dma, probe)
                for segment in segments]

    # --- the searches ---------------------------------------------------------
    def all_hits(self, breakpoints: Iterable[int] = (), watchpoints: Iterable[Watchpoint] = (),
                 cancel: Cancellation | None = None, low: int = 0,
                 high: int | None = None, dma: bool = False,
                 probe: Probe | None = None) -> list[Hit]:
        """Every hit at positions in [low, high), in order (with ``probe``'s values)."""
        tasks = self.tasks(self.segments(low, high), breakpoints, watchpoints, dma, probe)
        return [hit for found in self.run(search_segment, tasks, cancel, "searching")
                for hit in found if hit.icount >= low and (high is None or hit.icount < high)]

    def first_hit(self, breakpoints: Iterable[int] = (), watchpoints: Iterable[Watchpoint] = (),
                  cancel: Cancellation | None = None, low: int = 0) -> Hit | None:
        """The first hit at or after ``low`` (the segments after the one holding it are
        not waited for)."""
        tasks = self.tasks(self.segments(low), breakpoints, watchpoints)
        for found in self.run(search_segment, tasks, cancel, "continuing",
                              enough=lambda hits: any(hit.icount >= low for hit in hits)):
            hits = [hit for hit in found if hit.icount >= low]
            if hits:
                return hits[0]
        return None

    def last_hit(self, breakpoints: Iterable[int] = (), watchpoints: Iterable[Watchpoint] = (),
                 cancel: Cancellation | None = None, high: int | None = None,
                 dma: bool = False) -> Hit | None:
        """The last hit before ``high``: the segments are searched from the latest back."""
        tasks = self.tasks(reversed(self.segments(0, high)), breakpoints, watchpoints, dma)

        def before(hits: list[Hit]) -> list[Hit]:
            return [hit for hit in hits if high is None or hit.icount < high]
        for found in self.run(search_segment, tasks, cancel, "searching back",
                              enough=lambda hits: bool(before(hits))):
            if before(found):
                return before(found)[-1]
        return None

    def verify(self, cancel: Cancellation | None = None) -> list[SegmentCheck]:
        """Every segment replayed and its end state checked, in order."""
        return self.run(verify_segment, self.tasks(self.segments()), cancel, "verifying")

    # --- running tasks --------------------------------------------------------
    def run(self, function: Callable[[SegmentTask], Any], tasks: Sequence[SegmentTask],
            cancel: Cancellation | None, what: str,
            enough: Callable[[Any], bool] | None = None) -> list[Any]:
        """``function`` over ``tasks``, results in task order; ``enough(result)``: the
        results so far answer the question, the tasks after it are cancelled."""
        done = [0]
        status = self.progress(lambda: done[0], len(tasks), what) \
            if self.progress is not None and len(tasks) > 1 else None
        if status is not None:
            status.start()
        try:
            if self.scheduler is None and self.jobs <= 1:
                return self._in_process(function, tasks, cancel, done, enough)
            return self._on_workers(function, tasks, cancel, done, enough)
        finally:
            if status is not None:
                status.stop()

    def _in_process(self, function, tasks, cancel, done, enough) -> list[Any]:
        results = []
        for task in tasks:
            CTRL_C.check()
            if cancel is not None:
                cancel.check(task.segment.start)
            results.append(function(task))
            done[0] += 1
            if enough is not None and enough(results[-1]):
                break
        return results

    def _on_workers(self, function, tasks, cancel, done, enough) -> list[Any]:
        with CTRL_C.deferred():            # the loop checks for Ctrl-C itself
            return self._on_workers_deferred(function, tasks, cancel, done, enough)

    def _on_workers_deferred(self, function, tasks, cancel, done, enough) -> list[Any]:
        futures: dict[int, Any] = {}       # the tasks given to the workers, by number
        here: dict[int, Any] = {}          # the results of the tasks this process ran
        results: list[Any] = []
        try:
            while len(results) < len(tasks):
                if len(results) + len(futures) + len(here) < len(tasks) and self._ready():
                    self._submit(function, tasks, len(results), futures, here)
                if self._collect(results, futures, here, enough):
                    self._cancel(futures.values())
                    return results
                pending = [futures[number] for number in sorted(futures)]
                for future in pending:
                    if future.done():
                        self._raise_failure(future)     # a failure anywhere ends it now
                done[0] = len(results) + len(here) + sum(1 for future in pending
                                                         if future.done())
                if len(results) < len(tasks):
                    CTRL_C.check()
                    if cancel is not None and cancel.requested():
                        raise Interrupted(f"{cancel.why} ({done[0]} of {len(tasks)} "
                                          "segments searched)", cancel.why or "")
                    taken = self._take(len(results), len(tasks), futures, here)
                    if taken is not None:
                        here[taken] = function(tasks[taken])
                    else:
                        self._wait(pending)
            return results
        except BaseException:
            self._cancel(futures.values())
            raise

    def _collect(self, results: list[Any], futures: dict[int, Any], here: dict[int, Any],
                 enough: Callable[[Any], bool] | None) -> bool:
        """Move the results that follow ``results`` in task order, as far as they are
        in, from ``here`` or the finished ``futures``; True when ``enough`` says one
        answers the question."""
        while True:
            number = len(results)
            if number in here:
                results.append(here.pop(number))
            elif number in futures and futures[number].done():
                self._raise_failure(futures[number])
                results.append(futures.pop(number).result())
            else:
                return False
            if enough is not None and enough(results[-1]):
                return True

    def _ready(self) -> bool:
        """The workers can be given tasks without waiting for them to start."""
        return not self._local or self._local_pool().ready

    def _take(self, first: int, count: int, futures: dict[int, Any],
              here: dict[int, Any]) -> int | None:
        """The first task from ``first`` no worker has taken yet (not given to the
        workers, or given but not yet sent to one: its future is then cancelled), now
        this process's to run; None: none left, or the workers are a cluster's."""
        if not self._local:
            return None
        for number in range(first, count):
            if number in here:
                continue
            future = futures.get(number)
            if future is None:
                return number
            if not future.done() and future.cancel():
                del futures[number]
                return number
        return None

    def _wait(self, pending: list[Any]) -> None:
        """Until a pending task finishes, or POLL seconds (to look at the cancellation)."""
        if self._local and pending:
            local_futures.wait(pending, timeout=POLL, return_when=local_futures.FIRST_COMPLETED)
        else:
            time.sleep(POLL)

    def _raise_failure(self, future: Any) -> None:
        if self._local and future.cancelled():
            return                   # taken by this process
        error = future.exception()
        if error is None:
            return
        if isinstance(error, RrError):
            raise error
        raise RrError(f"a segment worker failed: {type(error).__name__}: {error}")

    def _submit(self, function, tasks, first: int, futures: dict[int, Any],
                here: dict[int, Any]) -> None:
        """Give the workers every task from ``first`` not given yet nor run here."""
        numbers = [number for number in range(first, len(tasks))
                   if number not in futures and number not in here]
        if self.scheduler is not None:
            client = self._dask()
            futures.update(zip(numbers, client.map(function, [tasks[number] for number in numbers],
                                                   pure=False)))
            return
        pool = self._local_pool()
        for number in numbers:
            futures[number] = pool.submit(function, tasks[number])

    def _cancel(self, futures: Iterable[Any]) -> None:
        futures = list(futures)
        if self._client is not None:
            self._client.cancel(futures)
        else:
            for future in futures:
                future.cancel()

    def _local_pool(self) -> WorkerPool:
        """The ``jobs - 1`` worker processes (this process is the other searcher): the
        ones the command started early if it did, else started now."""
        if self._pool is None:
            workers = max(1, self.jobs - 1)
            self._pool = adopt(workers) or WorkerPool(workers, self.trace,
                                                      os.fspath(self.index.path.resolve()))
        return self._pool

    def _dask(self) -> Any:
        if self._client is None:
            try:
                from distributed import Client
            except ImportError:
                raise RrError("--scheduler needs Dask distributed (pip install "
                              "'dask[distributed]')") from None
            try:
                self._client = Client(self.scheduler, timeout=10)
            except (OSError, TimeoutError, ValueError) as exc:
                raise RrError(f"cannot reach the Dask scheduler at {self.scheduler} "
                              f"({exc})") from None
        return self._client

    def close(self) -> None:
        """Stop the local workers (or leave the cluster)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
