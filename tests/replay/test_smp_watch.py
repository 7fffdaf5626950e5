"""Virtual watchpoints on several harts follow the address space of the hart that
makes the access (docs/watchpoints.md, "Several harts").

guests/spaces runs two harts, each with its own page tables, both mapping one
virtual word (WATCH_VA) to a page of their own; its comment lists the stores a
watch on that word must see: two by hart 1 through its page, one by hart 0
through its own, and none for hart 0's store into hart 1's page through the
identity map. Checked on both counting engines, forward, backward and over
all of history, with the runs unchanged by the watch (state digests at random
positions, straight and with the watch set, and after searches and seeks).
"""

from __future__ import annotations

import random

import pytest

from rr.monitor.state_digest import state_digest
from rr.replay import queries
from rr.replay.hits import HitCollector, HitKind, WatchKind, WatchSpace, Watchpoint
from rr.replay.timeline import Timeline

from conftest import both_engines
from replay_helpers import (BIN, _cached, elf_symbol, open_session, record, search_then_seek,
                            straight_digests)

pytestmark = both_engines

SPACES_ELF = BIN / "spaces.elf"
WATCH_VA = 0x4000_0000
PAGE_SIZE = 4096
# (hart, old, new) of the stores through WATCH_VA, in order (guests/spaces/spaces.c)
EXPECTED = [(1, 0, 101), (0, 0, 100), (1, 7, 102)]


@pytest.fixture(scope="module")
def spaces(tmp_path_factory):
    def make(trace):
        rec = record(trace, SPACES_ELF, b"", "--smp", "2", "--quantum", "300")
        assert rec.status == 0 and b"page 0 holds 100, page 1 102" in rec.stdout, rec.stdout
        return rec
    return _cached("spaces", tmp_path_factory, make)


def word(value: int) -> bytes:
    return value.to_bytes(8, "little")


def test_every_store_through_the_watched_address_on_either_hart(spaces):
    timeline = Timeline(open_session(spaces.trace), spacing=500)
    writes = queries.writes(timeline, WATCH_VA, 8)
    assert [(w.hart, w.old, w.new) for w in writes] == \
        [(hart, word(old), word(new)) for hart, old, new in EXPECTED]
    assert all(w.address == WATCH_VA for w in writes)
    # The same memory watched physically: hart 1's page takes .bss clearing, both of hart
    # 1's stores and hart 0's store through the identity map, which the virtual watch
    # does not count (another address).
    page1 = elf_symbol(SPACES_ELF, "page") + PAGE_SIZE
    physical = queries.writes(timeline, page1, 8, space=WatchSpace.PHYSICAL)
    assert [(w.hart, w.new) for w in physical][-3:] == [(1, word(101)), (0, word(7)),
                                                       (1, word(102))]


def test_continue_both_ways_stops_on_each_hart(spaces):
    timeline = Timeline(open_session(spaces.trace), spacing=500)
    watch = Watchpoint(WATCH_VA, 8, WatchKind.WRITE)
    forward = []
    while (hit := timeline.run_forward(watchpoints=[watch])) is not None:
        forward.append(hit)
        assert timeline.board.current == hit.hart
        assert timeline.position == hit.icount
    assert [(hit.hart, hit.kind) for hit in forward] == \
        [(hart, HitKind.WRITE) for hart, _, _ in EXPECTED]
    backward = []
    while (hit := timeline.run_backward(watchpoints=[watch])) is not None:
        backward.append(hit)
    assert [hit.icount for hit in backward] == [hit.icount for hit in reversed(forward)]


def test_runs_with_the_watch_set_reach_the_same_states(spaces):
    end = spaces.final_icount
    rng = random.Random("spaces")
    positions = sorted(rng.sample(range(1, end), 15)) + [end]
    expected = straight_digests(spaces.trace, positions)
    watched = open_session(spaces.trace)
    watch = Watchpoint(WATCH_VA, 8, WatchKind.ACCESS)
    collector = HitCollector(watched.board, (), [watch], -1)
    try:
        for position in positions:
            watched.loop.run(position)
            assert state_digest(watched.board) == expected[position], position
    finally:
        collector.remove()
    assert sorted({hit.hart for hit in collector.hits}) == [0, 1]
    assert all(hart.address_spaces.changes > 0 for hart in watched.board.harts)
    timeline = Timeline(open_session(spaces.trace), spacing=400)
    rng.shuffle(positions)
    search_then_seek(timeline, positions, watch, rng, state_digest, expected)


def test_a_hart_started_again_is_followed_in_its_new_address_space(spaces):
    """HSM hart_start leaves the MMU off: the watch moves off the page the hart's old
    page tables mapped, before the hart runs again."""
    session = open_session(spaces.trace)
    board = session.board
    collector = HitCollector(board, (), [Watchpoint(WATCH_VA, 8)], -1)
    try:
        session.loop.run(spaces.final_icount)
        hart = board.harts[1]
        page1 = elf_symbol(SPACES_ELF, "page") + PAGE_SIZE
        assert [piece.paddr for piece in collector._pieces[1]] == [page1]
        board.start_hart(hart, elf_symbol(SPACES_ELF, "secondary_entry"), 0)
        assert hart.memory.known_satp == 0
        hart.address_spaces.settle()
        assert [piece.paddr for piece in collector._pieces[1]] == [WATCH_VA]   # bare: itself
    finally:
        collector.remove()
