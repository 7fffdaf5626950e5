"""Checkpoints of a replay: whole-machine states to come back to.

A checkpoint holds the hart (a CPU-only unicorn context), the session's
state (HistorySession.get_state: devices, clocks, timer, lines, the
replay's event cursor, the run loop's), and the RAM, which is not copied
whole. A shadow copy holds RAM as of the newest checkpoint (the frontier of
executed history); when a newer one is taken, the pages that changed are
found (libc memcmp over 1 MiB blocks, then pages) and their old contents
kept as the older checkpoint's undo record.

Restoring checkpoint k brings RAM to the frontier (pages that differ from
the shadow), then applies the undo records down to k. Nothing is dropped, so
moving forward again reuses the checkpoints already there.

Unicorn's own memory snapshots are not used: they form a stack in which
restoring one discards the newer ones (docs/unicorn-facts.md, fact 19), and every copied
page becomes a memory region that slows all later accesses (measured: 3 ms
per page write after 2,000 copied pages). Only CPU-only contexts are taken
from unicorn, which have neither problem.

Side checkpoints are cheap helpers away from the frontier (for stepping back
and forth around one position): they hold the pages where RAM differs from
the frontier's, and are dropped whenever the frontier moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from rr.monitor.constants import PAGE_SIZE
from rr.monitor.ram import (advance_shadow, buffer_address, differing_pages, forget_code,
                            page_runs, shadow_of, sync_shadow)
from rr.replay.session import HistorySession

MAX_SIDE_CHECKPOINTS = 16       # the oldest side checkpoint goes when one more is taken


@dataclass
class Checkpoint:
    icount: int
    cpu: Any                                    # unicorn UcContext (registers only); with
                                                # several harts, a list of one per hart
    machine: dict[str, Any]
    # Frontier checkpoints: page contents as of this checkpoint for every page
    # that changed before the next one was taken (empty for the newest).
    undo: dict[int, bytes] = field(default_factory=dict, repr=False)
    # Side checkpoints: the pages where this state differs from the frontier.
    pages: dict[int, bytes] | None = field(default=None, repr=False)


class CheckpointStack:
    def __init__(self, session: HistorySession) -> None:
        """``session``: the machine checkpointed; its get_state/set_state (devices, the
        inputs' cursor, the run loop) is part of every checkpoint."""
        self.session = session
        self.board = board = session.board
        ram = board.ram
        self._ram = ram.map
        self._ram_address = ram.address
        self._shadow = shadow_of(ram)
        self._shadow_address = buffer_address(self._shadow)
        self._stack: list[Checkpoint] = []
        self._side: list[Checkpoint] = []
        # Told of every new frontier checkpoint, with the RAM pages changed since the
        # previous one (None for the first): what a persistent index records.
        self.on_frontier: Callable[[Iterable[int] | None], None] | None = None

    # --- queries ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._stack) + len(self._side)

    @property
    def newest(self) -> Checkpoint | None:
        return self._stack[-1] if self._stack else None

    def at_or_before(self, icount: int, frontier_only: bool = False) -> Checkpoint | None:
        """The latest checkpoint not after ``icount`` (``frontier_only``: no side checkpoints)."""
        side = () if frontier_only else self._side
        candidates = [c for c in (*self._stack, *side) if c.icount <= icount]
        return max(candidates, key=lambda c: c.icount, default=None)

    def positions(self) -> list[int]:
        return sorted(c.icount for c in (*self._stack, *self._side))

    # --- taking and restoring -----------------------------------------------
    def take(self) -> Checkpoint:
        """A checkpoint of the current position: at the frontier, or a side one behind it."""
        icount = self.board.cpu.icount
        newest = self.newest
        existing = self.at_or_before(icount)
        if existing is not None and existing.icount == icount:
            return existing
        if newest is not None and icount < newest.icount:
            return self._take_side()
        if newest is not None:
            newest.undo = self._advance_shadow()
            self._side.clear()            # their page sets were relative to the old frontier
        checkpoint = self._capture()
        self._stack.append(checkpoint)
        if self.on_frontier is not None:
            self.on_frontier(None if newest is None else newest.undo.keys())
        return checkpoint

    def restore(self, checkpoint: Checkpoint) -> None:
        """Return the whole machine to ``checkpoint``.

        Only the code translated from the pages put back is dropped: the rest
        of RAM is as it was, and so is what unicorn translated from it (a
        whole flush made every restore retranslate all the code run next).
        The TLB is flushed: page tables may be among the pages put back.
        """
        written = set(self._changed_pages())
        for page in written:
            self._ram[page:page + PAGE_SIZE] = self._shadow[page:page + PAGE_SIZE]
        if checkpoint.pages is not None:
            for page, data in checkpoint.pages.items():
                self._ram[page:page + PAGE_SIZE] = data
            written.update(checkpoint.pages)
        else:
            index = next(i for i, c in enumerate(self._stack) if c is checkpoint)
            for newer in reversed(self._stack[index:-1]):
                for page, data in newer.undo.items():
                    self._ram[page:page + PAGE_SIZE] = data
                written.update(newer.undo)
        board = self.board
        base = board.ram.base
        ranges = [(base + offset, size) for offset, size in page_runs(written)]
        contexts = checkpoint.cpu if isinstance(checkpoint.cpu, list) else [checkpoint.cpu]
        forget_code(board.cpu, ranges)      # the harts share their translated code
        for hart, context in zip(board.harts, contexts):
            hart.cpu.restore_context(context)
            hart.address_spaces.sync()    # the context may have been saved while listened to
            hart.cpu.icount = checkpoint.icount
        self.session.set_state(checkpoint.machine)
        for hart in board.harts:
            hart.cpu.flush_tlb()

    def restart_here(self) -> Checkpoint:
        """Forget all history: the current state becomes the only checkpoint (the
        machine was changed by hand, so no older checkpoint leads here any more)."""
        self._stack.clear()
        self._side.clear()
        sync_shadow(self._ram_address, self._ram, self._shadow, self._shadow_address)
        checkpoint = self._capture()
        self._stack.append(checkpoint)
        return checkpoint

    # --- internals ----------------------------------------------------------
    def _capture(self) -> Checkpoint:
        board = self.board
        harts = board.harts
        contexts = (harts[0].cpu.context_save() if len(harts) == 1
                    else [hart.cpu.context_save() for hart in harts])
        return Checkpoint(board.cpu.icount, contexts, self.session.get_state())

    def _take_side(self) -> Checkpoint:
        checkpoint = self._capture()
        checkpoint.pages = {page: bytes(self._ram[page:page + PAGE_SIZE])
                            for page in self._changed_pages()}
        if len(self._side) >= MAX_SIDE_CHECKPOINTS:
            del self._side[0]
        self._side.append(checkpoint)
        return checkpoint

    def _changed_pages(self) -> Iterator[int]:
        """Offsets of the RAM pages that differ from the shadow."""
        return differing_pages(self._ram_address, self._shadow_address, len(self._shadow))

    def _advance_shadow(self) -> dict[int, bytes]:
        """Bring the shadow up to the current RAM; return the pages it had."""
        return advance_shadow(self._ram_address, self._ram, self._shadow, self._shadow_address)
