"""Watchpoints on virtual addresses follow the guest's address spaces (docs/watchpoints.md).

guests/remap/remap.c maps one virtual page to two physical pages in turn,
writes through each mapping and through the other addresses of the same
memory, and turns paging off and on; its comment lists the stores a watch on
the virtual word must see. Those are checked here for every way of asking
(every write, forward and backward continue, the last write), against a
physical watch on the same memory, and the runs with the watch set are the
same runs as without (state digests at random positions).
"""

from __future__ import annotations

import random
import re

import pytest

from rr.replay import queries
from rr.replay.hits import HitCollector, HitKind, WatchKind, WatchSpace, Watchpoint
from rr.replay.timeline import Timeline

from conftest import both_engines, run_rrvm
from replay_helpers import (BIN, _cached, assert_same_states_with, elf_symbol,
                            open_session, paging_recording, record, search_then_seek, snapshot,
                            straight_snapshots)

# Both counting engines: positions inside memory hooks are where they differ most
# (the native engine decodes them from its copy of the block's code).
pytestmark = both_engines

REMAP_ELF = BIN / "remap.elf"
WATCHED = 0x400000 + 0x10                 # WATCH_VA + WORD_OFFSET in remap.c
# (old, new) of the stores marked HIT in remap.c, in order
EXPECTED = [(0x11, 0x22), (0x0, 0x44), (0x66, 0x77), (0x55, 0x88)]
# every store to page_a's word, through any address: .bss cleared by _start, then main's
PAGE_A_STORES = [0x0, 0x11, 0x22, 0x33, 0x55, 0x88, 0x99]
STALE_ELF = BIN / "stale.elf"
# guests/stale/stale.c (same WATCH_VA and word): the stores marked HIT, and the one MISSED
STALE_HITS = [(0x0, 0x1), (0x1, 0x2), (0x0, 0x3), (0x4, 0x5)]
STALE_MISSED = 0x4


@pytest.fixture(scope="module")
def remap(tmp_path_factory):
    def make(trace):
        rec = record(trace, REMAP_ELF)
        assert rec.status == 0 and b"remap: page_a 0x99 page_b 0x77" in rec.stdout, rec.stdout
        return rec
    return _cached("remap", tmp_path_factory, make)


@pytest.fixture
def timeline(remap):
    return Timeline(open_session(remap.trace), spacing=200)


def word(value: int) -> bytes:
    return value.to_bytes(8, "little")


def function_range(name: str) -> range:
    from elftools.elf.elffile import ELFFile
    with open(REMAP_ELF, "rb") as f:
        symbol = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
    return range(symbol["st_value"], symbol["st_value"] + symbol["st_size"])


def test_every_write_through_the_virtual_address_and_no_other(timeline):
    writes = queries.writes(timeline, WATCHED, 8)
    assert [(w.old, w.new) for w in writes] == [(word(o), word(n)) for o, n in EXPECTED]
    main = function_range("main")
    assert all(w.pc in main and w.address == WATCHED for w in writes)
    assert all(w.instruction is not None for w in writes)
    assert timeline.position == 0                     # the query keeps the position


def test_a_physical_watch_sees_every_store_to_the_memory(timeline):
    page_a = elf_symbol(REMAP_ELF, "page_a") + 0x10
    writes = queries.writes(timeline, page_a, 8, space=WatchSpace.PHYSICAL)
    assert [w.new for w in writes] == [word(value) for value in PAGE_A_STORES]


def test_continue_forward_and_backward_stop_on_the_same_stores(timeline, remap):
    icounts = [w.icount for w in queries.writes(timeline, WATCHED, 8)]
    watch = Watchpoint(WATCHED, 8, WatchKind.WRITE)
    forward = []
    while (hit := timeline.run_forward(watchpoints=[watch])) is not None:
        assert hit.kind is HitKind.WRITE and timeline.position == hit.icount
        forward.append(hit.icount)
    assert forward == icounts
    timeline.seek(remap.final_icount)
    backward = []
    while (hit := timeline.run_backward(watchpoints=[watch])) is not None:
        backward.append(hit.icount)
    assert backward == icounts[::-1]
    timeline.seek(remap.final_icount)
    last = queries.last_write(timeline, WATCHED, 8)
    assert last is not None and (last.icount, last.old, last.new) == \
        (icounts[-1], word(0x55), word(0x88))


def test_a_read_watch_sees_no_stores(timeline):
    assert timeline.all_hits(watchpoints=[Watchpoint(WATCHED, 8, WatchKind.READ)]) == []


@pytest.mark.parametrize("guest", ["remap", "paging"])
def test_runs_with_a_virtual_watch_are_the_same_runs(guest, remap, tmp_path_factory):
    """A watch set makes satp accesses and sfence.vma trap and be emulated, and stops
    the run after each: the states at random positions must not change."""
    rec = remap if guest == "remap" else paging_recording(tmp_path_factory)
    end = rec.final_icount
    rng = random.Random(f"virtual-watch-{guest}")
    positions = sorted(rng.sample(range(1, end), 25)) + [end]
    expected = straight_snapshots(rec.trace, positions)
    address = WATCHED if guest == "remap" else 0x7ff000 + 0xff0     # the user stack's top
    watch = Watchpoint(address, 8, WatchKind.ACCESS)
    session, _ = assert_same_states_with(rec.trace, positions,      # the watch set all along
                                         lambda board: HitCollector(board, (), [watch], -1))
    assert session.board.address_spaces.changes > 0
    timeline = Timeline(open_session(rec.trace), spacing=max(100, end // 20))
    rng.shuffle(positions)
    search_then_seek(timeline, positions, watch, rng, snapshot, expected)


def test_the_repl_watches_virtual_and_physical_addresses(remap):
    page_a = elf_symbol(REMAP_ELF, "page_a") + 0x10
    proc = run_rrvm("repl", str(remap.trace), "-c",
                    f"when {WATCHED:#x} 8; when -p {page_a:#x} 8; watch -p {page_a:#x} 8; "
                    f"info watchpoints; continue; goto end; last-write {WATCHED:#x} 8")
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out + proc.stderr.decode(errors="replace")
    assert f"4 writes to {WATCHED:#x} (8 bytes) in the trace:" in out, out
    assert f"7 writes to page_a+0x10 ({page_a:#x}, 8 bytes) in the trace:" in out, out
    assert re.search(r"^ *1 +write watch \(physical\) +0x", out, re.M), out
    assert "Watchpoint 1 (write 0x80202010), the write below" in out
    assert re.search(r"0x55 -> 0x88", out), out


@pytest.fixture(scope="module")
def stale(tmp_path_factory):
    def make(trace):
        rec = record(trace, STALE_ELF)
        assert rec.status == 0 and b"unfenced remap: page_a 0x2 page_b 0x0" in rec.stdout, \
            rec.stdout
        return rec
    return _cached("stale", tmp_path_factory, make)


def test_page_table_edits_are_followed_from_the_next_fence(stale):
    """A PTE edited without sfence.vma: a store through the page the hart still has cached
    is a hit; one through the new PTE of an address the watch had unmapped is missed,
    though a physical watch sees it reach page_a (docs/watchpoints.md)."""
    timeline = Timeline(open_session(stale.trace))
    writes = queries.writes(timeline, WATCHED, 8)
    assert [(w.old, w.new) for w in writes] == [(word(o), word(n)) for o, n in STALE_HITS]
    page_a = elf_symbol(STALE_ELF, "page_a") + 0x10
    physical = queries.writes(timeline, page_a, 8, space=WatchSpace.PHYSICAL)
    missed = [w for w in physical if w.new == word(STALE_MISSED)]
    assert len(missed) == 1 and missed[0].icount not in {w.icount for w in writes}
    assert writes[1].icount < missed[0].icount < writes[3].icount
    watch = Watchpoint(WATCHED, 8, WatchKind.WRITE)
    assert [hit.icount for hit in timeline.all_hits(watchpoints=[watch])] == \
        [w.icount for w in writes]


def test_a_virtual_watch_leaves_a_run_with_unfenced_edits_alone(stale):
    """Straight runs with and without the watch (its hooks move at each fence, flushing
    the TLB then, as the guest's own fence does) reach the same states."""
    end = stale.final_icount
    positions = sorted(random.Random("stale").sample(range(1, end), 25)) + [end]
    watch = Watchpoint(WATCHED, 8, WatchKind.ACCESS)
    _, collector = assert_same_states_with(stale.trace, positions,
                                           lambda board: HitCollector(board, (), [watch], -1))
    assert len(collector.hits) == len(STALE_HITS)
