"""Moving through recorded history: seek, step, continue and their reverse.

Positions are instruction counts (opaque to callers, totally ordered). Going
forward replays; going back restores the newest checkpoint at or before the
target and replays from there. Checkpoints are taken every ``spacing``
instructions as history is first executed, plus one shortly before any seek
target, so stepping back again from there is cheap.

Searches (continue in either direction, the last hit before here) run
history with hooks that only note where a breakpoint or watchpoint was hit;
the timeline then moves to that exact position by replaying to it. Watched
virtual addresses follow the guest's address spaces as it runs
(rr.replay.hits, docs/watchpoints.md).

Every operation that executes takes an optional ``Cancellation``, checked at
the end of each slice and while the guest idles (see rr.replay.cancellation).

With a trace's persistent index (rr/replay/checkpoint_index.py), a move
beyond the executed history starts from the index's checkpoint nearest
before the target instead of replaying everything up to it: the restored
state becomes a new frontier checkpoint, as if history had been run there.
Without one, a first run to the end can record the index as it goes (its
frontier checkpoints are the index's). Given a ``SegmentSearch`` over the
index (rr/replay/segments.py), searches over long stretches (every hit, the
last hit before here, a continue in either direction) search the current
segment here and the others side by side on its workers; the hits are the
same as when history is run here from end to end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from rr.errors import RrError
from rr.monitor.constants import INDEX_EVERY
from rr.replay.checkpoint_index import CheckpointIndex, IndexRecorder, IndexRejected
from rr.replay.checkpoints import CheckpointStack
from rr.replay.cancellation import Cancellation, Interrupted
from rr.replay.divergence import Divergence
from rr.replay.history_end import HistoryEnd
from rr.replay.hits import Hit, HitCollector, Probe, Watchpoint
from rr.replay.session import HistorySession

if TYPE_CHECKING:
    from rr.replay.segments import SegmentSearch

DEFAULT_SPACING = INDEX_EVERY    # instructions between checkpoints on first execution
NEAR_TARGET = 1_000_000          # a seek leaves a checkpoint at most this far before its target


class Timeline:
    def __init__(self, session: HistorySession, spacing: int = DEFAULT_SPACING,
                 index: CheckpointIndex | None = None, recorder: IndexRecorder | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        """``session``: a replay of a trace, or a live guest with its history kept.
        ``index``: the trace's persistent checkpoints; ``recorder``: writes them as
        history is first run to its end (used without an index); ``warn``: told in one
        line when the index turns out unusable (it is then dropped)."""
        self.session = session
        self.board = session.board
        self.loop = session.loop
        self.spacing = spacing
        self.checkpoints = CheckpointStack(session)
        self.index = index
        self.recorder = recorder
        self.warn = warn
        self.search: SegmentSearch | None = None     # searches split by the index's segments
        if recorder is not None:
            self.checkpoints.on_frontier = recorder.record
        self.loop.run(0)              # position 0 as a replay sees it: inputs recorded there fed
        self.checkpoints.take()
        self.begin = 0                # where history starts (moves when the machine is changed)
        self.furthest = 0             # the furthest position ever executed
        self.end: int | None = session.end_icount      # None until a complete trace is run out
        self.ended: HistoryEnd | None = None           # how history ended, once run into
        self._dirty = False                            # a hook paused mid-instruction

    # --- position -----------------------------------------------------------
    @property
    def position(self) -> int:
        return self.board.cpu.icount

    @property
    def at_end(self) -> bool:
        return self.end is not None and self.position >= self.end

    @property
    def at_furthest(self) -> bool:
        """At the furthest state ever executed (the live edge of a live session)."""
        return not self._dirty and self.position >= self.furthest

    @property
    def known_end(self) -> int | None:
        """The last position of history as far as it is known without running on: a
        live guest's furthest point until it ends; None for a replay not yet run out."""
        if self.end is None and self.session.live:
            return self.furthest
        return self.end

    def restart_history(self) -> None:
        """The machine was changed by hand here: history restarts from this state."""
        if not self.at_furthest:
            raise RrError(f"history can only restart at its furthest point "
                          f"(instruction {self.furthest}), not at {self.position}")
        self.checkpoints.restart_here()
        self.begin = self.position

    # --- moving -------------------------------------------------------------
    def seek(self, target: int, cancel: Cancellation | None = None) -> int:
        """Go to instruction count ``target`` (clamped to recorded history); return the position."""
        target = max(self.begin, target if self.end is None else min(target, self.end))
        self._jump_towards(target)
        checkpoint = self.checkpoints.at_or_before(target)
        if self._dirty or target < self.position or checkpoint.icount > self.position:
            self.checkpoints.restore(checkpoint)
            self._dirty = False
        if target - self.position > NEAR_TARGET and not self._beyond_frontier(target):
            self._advance(target - NEAR_TARGET // 2, cancel=cancel)
            self._checkpoint_here()
        self._advance(target, cancel=cancel)
        return self.position

    def _beyond_frontier(self, icount: int) -> bool:
        return icount > self.checkpoints.newest.icount

    def step(self, count: int = 1, cancel: Cancellation | None = None) -> int:
        return self.seek(self.position + count, cancel)

    def reverse_step(self, count: int = 1, cancel: Cancellation | None = None) -> int:
        return self.seek(self.position - count, cancel)

    def run_forward(self, breakpoints: Iterable[int] = (),
                    watchpoints: Iterable[Watchpoint] = (),
                    include_current: bool = False,
                    condition: Callable[[Hit], bool] | None = None,
                    cancel: Cancellation | None = None) -> Hit | None:
        """Continue to the first hit after here; None when history ends first.

        ``include_current``: the instruction about to execute counts too, as on
        hardware (a debugger's continue stops at once on a breakpoint there, or
        before a watched access it makes). ``condition``: only the hits it
        accepts count (see HitCollector).
        """
        breakpoints, watchpoints = set(breakpoints), list(watchpoints)
        if not breakpoints and not watchpoints:
            self._jump_towards(self.end)            # nothing to stop on before the end
        search = self._segments(condition)
        segment_end = self._segment_end(self.position) if search is not None else None
        after = self.position - 1 if include_current else self.position
        collector = HitCollector(self.board, breakpoints, watchpoints, after,
                                 on_hit=lambda hit: self.loop.pause(), condition=condition)
        try:
            self._advance(segment_end if segment_end is not None else self.end,
                          stop=lambda: bool(collector.hits), cancel=cancel)
        finally:
            collector.remove()
        hit = min(collector.hits, default=None)
        if hit is None and segment_end is not None and self.position == segment_end:
            # Nothing in this segment: the later ones, side by side.
            try:
                hit = search.first_hit(breakpoints, watchpoints, cancel, low=segment_end)
            except IndexRejected as exc:
                self._drop_index(exc)
                return self.run_forward(breakpoints, watchpoints, True, None, cancel)
            if hit is None:
                self.run_to_end(cancel)
                return None
        if hit is None:
            return None
        self._dirty = True
        self.seek(hit.icount, cancel)
        return hit

    def run_backward(self, breakpoints: Iterable[int] = (),
                     watchpoints: Iterable[Watchpoint] = (),
                     condition: Callable[[Hit], bool] | None = None,
                     cancel: Cancellation | None = None) -> Hit | None:
        """Go back to the last hit before here; None (at the beginning) when there is none."""
        hit = self._last_hit_before(self.position, set(breakpoints), list(watchpoints),
                                    condition, cancel)
        self.seek(hit.icount if hit is not None else self.begin, cancel)
        return hit

    def last_hit(self, breakpoints: Iterable[int] = (),
                 watchpoints: Iterable[Watchpoint] = (),
                 condition: Callable[[Hit], bool] | None = None,
                 cancel: Cancellation | None = None, dma: bool = False) -> Hit | None:
        """The last hit before here, as run_backward finds it; the position is kept.
        ``dma``: device writes count as write hits (HitCollector)."""
        here = self.position
        hit = self._last_hit_before(here, set(breakpoints), list(watchpoints), condition, cancel,
                                    dma)
        self.seek(here, cancel)
        return hit

    def all_hits(self, breakpoints: Iterable[int] = (),
                 watchpoints: Iterable[Watchpoint] = (),
                 condition: Callable[[Hit], bool] | None = None,
                 cancel: Cancellation | None = None, dma: bool = False,
                 probe: Probe | None = None) -> list[Hit]:
        """Every hit over the whole of history (so far, for a live guest), in order; the
        position is kept. ``condition`` runs in the hook, as for run_forward (it may
        also note what it sees there: the registers are those of the hit); ``probe``
        reads values there too, kept in ``Hit.values`` (and, being data, it goes to
        the workers of a search split by segment, which a condition keeps here).
        ``dma``: device writes count as write hits (HitCollector)."""
        search = self._segments(condition)
        if search is not None:
            try:
                return search.all_hits(breakpoints, watchpoints, cancel, dma=dma, probe=probe)
            except IndexRejected as exc:
                self._drop_index(exc)
        here = self.position
        self.seek(self.begin, cancel)
        collector = HitCollector(self.board, breakpoints, watchpoints, -1,
                                 condition=condition, dma=dma, probe=probe)
        try:
            self._advance(self.known_end, cancel=cancel)
        finally:
            collector.remove()
        self.seek(here, cancel)
        return sorted(collector.hits)

    def keep_checkpoint(self) -> None:
        """Checkpoint this position (behind the frontier, a side checkpoint): a caller about
        to seek around here many times makes those seeks start close by."""
        self._checkpoint_here()

    def execute_to(self, target: int, cancel: Cancellation | None = None) -> int:
        """Execute forward from here to ``target``, every instruction in between in order
        (a seek may restore a checkpoint past some of them instead), so hooks placed
        after a seek see each one; return the position."""
        self._advance(target if self.end is None else min(target, self.end), cancel=cancel)
        return self.position

    def run_to_end(self, cancel: Cancellation | None = None) -> int:
        """Execute to the end of history (the index's last checkpoint first, if any)."""
        self._jump_towards(None)
        self._advance(None, cancel=cancel)
        return self.position

    # --- internals ----------------------------------------------------------
    def _jump_towards(self, target: int | None) -> None:
        """Restore the index's checkpoint nearest before ``target`` (None: the end) when
        it lies beyond executed history and beyond here."""
        index = self.index
        if index is None:
            return
        number = index.at_or_before(target if target is not None else 1 << 64)
        if number is None:
            return
        icount = index.checkpoint(number).icount
        here = self.position
        if icount <= self.checkpoints.newest.icount or \
                (not self._dirty and here <= (target if target is not None else here)
                 and icount <= here):
            return
        try:
            index.restore(self.session, number)
        except IndexRejected as exc:
            self._drop_index(exc)
            self.checkpoints.restore(self.checkpoints.newest)
            self._dirty = False
            return
        self._dirty = False
        console = self.session.console
        console.skipped(index.console_between(console.frontier, icount), icount)
        self.checkpoints.take()
        self.furthest = max(self.furthest, icount)

    def _last_hit_before(self, start: int, breakpoints: set[int],
                         watchpoints: list[Watchpoint],
                         condition: Callable[[Hit], bool] | None = None,
                         cancel: Cancellation | None = None, dma: bool = False) -> Hit | None:
        search = self._segments(condition)
        if search is not None and start > 0:
            # This segment here, the earlier ones side by side when it holds no hit.
            segment_start = self.index.positions[self.index.at_or_before(start - 1)]
            hit = self._last_hit_in(start, breakpoints, watchpoints, None, cancel, segment_start,
                                    dma)
            if hit is not None or segment_start == 0:
                return hit
            try:
                return search.last_hit(breakpoints, watchpoints, cancel, high=segment_start,
                                       dma=dma)
            except Interrupted as stop:
                stop.searched_back_to = segment_start
                raise
            except IndexRejected as exc:
                self._drop_index(exc)
                start = segment_start
        return self._last_hit_in(start, breakpoints, watchpoints, condition, cancel, dma=dma)

    def _drop_index(self, problem: IndexRejected) -> None:
        """The index turned out unusable: say so once, and go on without it."""
        self.index = None
        if self.warn is not None:
            self.warn(f"{problem}; not using the index")

    def _segments(self, condition: Callable[[Hit], bool] | None = None
                  ) -> SegmentSearch | None:
        """The segment search, when it applies: over a replay from its start, with the
        index it splits by still in use, and no condition (which runs in this
        process's hooks)."""
        if self.search is None or self.index is None or self.begin != 0 or \
                self.session.live or condition is not None:
            return None
        return self.search

    def _segment_end(self, position: int) -> int | None:
        """Where the index segment holding ``position`` ends (None: the last one)."""
        positions = self.index.positions
        number = self.index.at_or_before(position)
        following = 0 if number is None else number + 1
        return positions[following] if following < len(positions) else None

    def _last_hit_in(self, start: int, breakpoints: set[int], watchpoints: list[Watchpoint],
                     condition: Callable[[Hit], bool] | None = None,
                     cancel: Cancellation | None = None, low: int = 0,
                     dma: bool = False) -> Hit | None:
        """The last hit before ``start``, searching back from here interval by interval
        (to ``low`` at least, further when an interval reaches back past it)."""
        high = start
        while high > max(self.begin, low):
            # Whole spacing intervals: each one costs a restore, side checkpoints only add some.
            checkpoint = self.checkpoints.at_or_before(high - 1, frontier_only=True)
            self.checkpoints.restore(checkpoint)
            self._dirty = False
            collector = HitCollector(self.board, breakpoints, watchpoints,
                                     checkpoint.icount - 1, condition=condition, dma=dma)
            try:
                self._advance(high, cancel=cancel)
            except Interrupted as stop:
                if high < start:
                    stop.searched_back_to = high
                raise
            finally:
                collector.remove()
            hits = [hit for hit in collector.hits if hit.icount < high]
            if hits:
                return max(hits)
            high = checkpoint.icount
        return None

    def _checkpoint_here(self) -> None:
        if not self._dirty and not self.at_end:
            self.checkpoints.take()

    def _advance(self, target: int | None, stop: Callable[[], bool] = lambda: False,
                 cancel: Cancellation | None = None) -> None:
        """Execute forward to ``target`` (None: the end), checkpointing at the spacing."""
        # While the guest waits for input, the run is given back when cancelled.
        self.loop.idle_poll = cancel.requested if cancel is not None else _never
        try:
            self._run_slices(target, stop, cancel)
        finally:
            self.loop.idle_poll = _never

    def _run_slices(self, target: int | None, stop: Callable[[], bool],
                    cancel: Cancellation | None) -> None:
        while not self.at_end and (target is None or self.position < target):
            newest = self.checkpoints.newest.icount
            if self.position >= newest + self.spacing:
                self._checkpoint_here()
                newest = self.position
            # Past the frontier, slices end on the spacing to leave checkpoints
            # behind; inside known history they only keep the run interruptible.
            slice_end = (newest if self.position >= newest else self.position) + self.spacing
            limit = min(x for x in (target, self.end, slice_end) if x is not None)
            try:
                exit_ = self.loop.run(limit)
            except Divergence:
                raise
            except RrError as error:          # the recorded board error, or EndOfHistory
                exit_ = error
            self.session.console.reached(self.position)
            if exit_ is not None:
                if self.ended is None:              # the first time: later ones replay it
                    self.furthest = max(self.furthest, self.position)
                    self.ended = HistoryEnd.at(self.position, exit_)
                    self.end = self.position
                    self.session.history_ended(exit_)
                    self._finish_recording()
                return
            if stop():
                return                # paused by a hook, mid-instruction: not a real position
            self.furthest = max(self.furthest, self.position)
            if cancel is not None:
                cancel.check(self.position)

    def _finish_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            self.checkpoints.on_frontier = None
            recorder.finish()


def _never() -> bool:
    return False
