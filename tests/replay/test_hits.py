"""Breakpoints and watchpoints through history, on the demo guest's racy list.

The demo (guests/demo/demo.c) pushes and pops nodes on ``shared_list`` from
preemptive tasks; ``list_push`` is where the race is. The hits the timeline
reports are checked against the instructions themselves (the store at a
write hit really writes the watched bytes) and against one another
(continue forwards and backwards, last_write, all_hits agree).
"""

from __future__ import annotations

import re

import pytest

from rr.monitor.insn_decode import decode_mem_access
from rr.replay.hits import HitKind, WatchKind, Watchpoint
from rr.replay.timeline import Timeline

from replay_helpers import (BIN, demo_recording, differences, elf_symbol, fresh_snapshot,
                            open_session, paging_recording, snapshot)

DEMO_ELF = BIN / "demo.elf"
MASK64 = (1 << 64) - 1
NOWHERE = 0x8700_0000            # in RAM, never executed nor touched by the demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_recording(tmp_path_factory)


@pytest.fixture(scope="module")
def symbols():
    return {name: elf_symbol(DEMO_ELF, name) for name in ("shared_list", "list_push")}


@pytest.fixture
def timeline(demo):
    return Timeline(open_session(demo.trace), spacing=50_000)


def memory_access(timeline: Timeline):
    """(kind, address, size, data register) of the instruction about to execute."""
    board = timeline.board
    insn, length = board.memory.fetch_instruction(board.cpu.pc)
    access = decode_mem_access(insn, length)
    assert access is not None, f"no memory access at pc {board.cpu.pc:#x}"
    base = board.cpu.x(access.rs1) if access.rs1 else 0
    return access.kind, (base + access.offset) & MASK64, access.size, access.rd_or_rs2


def overlaps(address: int, size: int, watch: Watchpoint) -> bool:
    return address < watch.address + watch.length and watch.address < address + size


def check_write_hit(timeline: Timeline, hit, watch: Watchpoint) -> None:
    """At ``hit`` the next instruction stores into the watched range, and it does."""
    board = timeline.board
    assert timeline.position == hit.icount
    assert hit.kind is HitKind.WRITE and hit.watch == watch
    kind, address, size, rs2 = memory_access(timeline)
    assert kind in ("store", "amo", "sc"), kind
    assert overlaps(address, size, watch)
    assert overlaps(hit.address, 1, Watchpoint(address, size))
    stored = (board.cpu.x(rs2) if rs2 else 0).to_bytes(8, "little")[:size]
    before = board.memory.read(watch.address, watch.length)
    timeline.step(1)
    after = board.memory.read(watch.address, watch.length)
    if kind == "store":
        assert board.memory.read(address, size) == stored
    else:
        assert after != before
    timeline.reverse_step(1)
    assert timeline.position == hit.icount


def test_write_watchpoint_backward_and_forward(demo, symbols, timeline):
    watch = Watchpoint(symbols["shared_list"], 8, WatchKind.WRITE)
    end = demo.final_icount
    assert timeline.seek(end + 10) == end

    hit = timeline.run_backward(watchpoints=[watch])
    assert hit is not None and hit.icount < end
    check_write_hit(timeline, hit, watch)
    assert fresh_snapshot(demo.trace, hit.icount, ram=False) == snapshot(timeline.board, ram=False)

    # Every write over the whole run, in order; the position is kept.
    hits = timeline.all_hits(watchpoints=[watch])
    assert timeline.position == hit.icount
    icounts = [h.icount for h in hits]
    assert icounts == sorted(set(icounts))
    assert hits[-1] == hit                     # nothing wrote it after the hit run_backward found
    assert len(hits) >= 2                      # every push and pop writes the head; how many depends on the seed

    # last_hit from the end finds the same instruction and stays at the end.
    timeline.seek(end)
    assert timeline.last_hit(watchpoints=[watch]).icount == hit.icount
    assert timeline.position == end
    # ... and from a middle position, the last write before it.
    middle = hits[len(hits) // 2].icount + 1
    timeline.seek(middle)
    assert timeline.last_hit(watchpoints=[watch]) == hits[len(hits) // 2]
    assert timeline.position == middle

    # Continue forwards from just after the previous write: the same hit.
    previous = hits[-2]
    timeline.seek(previous.icount + 1)
    again = timeline.run_forward(watchpoints=[watch])
    assert again == hit and timeline.position == hit.icount
    check_write_hit(timeline, again, watch)
    # From the previous hit itself (a hit at the current position is not reported again).
    timeline.seek(previous.icount)
    assert timeline.run_forward(watchpoints=[watch]) == hit
    # Backwards from the hit: the one before, whose store is checked too.
    assert timeline.run_backward(watchpoints=[watch]) == previous
    check_write_hit(timeline, previous, watch)

    # A watchpoint on a byte inside the head is hit by the 8-byte stores too.
    inner = Watchpoint(watch.address + 4, 1, WatchKind.WRITE)
    inner_hits = [h.icount for h in timeline.all_hits(watchpoints=[inner])]
    assert set(inner_hits) <= set(icounts)
    assert hit.icount in inner_hits


def test_read_and_access_watchpoints(demo, symbols, timeline):
    head = symbols["shared_list"]
    reads = timeline.all_hits(watchpoints=[Watchpoint(head, 8, WatchKind.READ)])
    writes = timeline.all_hits(watchpoints=[Watchpoint(head, 8, WatchKind.WRITE)])
    accesses = timeline.all_hits(watchpoints=[Watchpoint(head, 8, WatchKind.ACCESS)])
    assert reads and writes
    assert {h.kind for h in reads} == {HitKind.READ}
    assert {h.icount for h in accesses} == {h.icount for h in reads} | {h.icount for h in writes}
    for hit in (reads[0], reads[len(reads) // 2], reads[-1]):
        timeline.seek(hit.icount)
        kind, address, size, _ = memory_access(timeline)
        assert kind in ("load", "amo", "lr"), kind
        assert overlaps(address, size, Watchpoint(head, 8))


def test_breakpoint_on_list_push(demo, symbols, timeline):
    list_push = symbols["list_push"]
    end = demo.final_icount

    first = timeline.run_forward(breakpoints=[list_push])
    assert first is not None and first.kind is HitKind.BREAKPOINT and first.address == list_push
    assert timeline.board.cpu.pc == list_push and timeline.position == first.icount
    second = timeline.run_forward(breakpoints=[list_push])      # continue: the next call
    assert second.icount > first.icount and timeline.board.cpu.pc == list_push
    # Stopped on the breakpoint, a continue that counts the current instruction stays.
    assert timeline.run_forward(breakpoints=[list_push], include_current=True) == second
    assert timeline.position == second.icount

    timeline.seek(end)
    last = timeline.run_backward(breakpoints=[list_push])
    assert last is not None and timeline.board.cpu.pc == list_push
    assert timeline.position == last.icount
    assert fresh_snapshot(demo.trace, last.icount, ram=False) == snapshot(timeline.board, ram=False)

    calls = timeline.all_hits(breakpoints=[list_push])
    assert timeline.position == last.icount
    assert calls[0] == first and calls[1] == second and calls[-1] == last
    audit = re.search(rb"A pushed (\d+), B pushed (\d+)", demo.stdout)
    if audit:                                  # a clean run prints how many pushes there were
        assert len(calls) == int(audit.group(1)) + int(audit.group(2))

    # A breakpoint and a watchpoint together: the later of their last hits.
    timeline.seek(end)
    watch = Watchpoint(symbols["shared_list"], 8, WatchKind.WRITE)
    last_write = timeline.all_hits(watchpoints=[watch])[-1]
    both = timeline.run_backward(breakpoints=[list_push], watchpoints=[watch])
    assert both == max(last, last_write)


def test_no_hit(demo, timeline):
    end = demo.final_icount
    timeline.seek(end // 2)
    assert timeline.run_backward(breakpoints=[NOWHERE]) is None
    assert timeline.position == 0
    assert timeline.run_backward(watchpoints=[Watchpoint(NOWHERE, 8, WatchKind.ACCESS)]) is None
    assert timeline.position == 0
    assert timeline.last_hit(watchpoints=[Watchpoint(NOWHERE, 8)]) is None
    assert timeline.all_hits(breakpoints=[NOWHERE], watchpoints=[Watchpoint(NOWHERE)]) == []

    assert timeline.run_forward(breakpoints=[NOWHERE]) is None
    assert timeline.position == end and timeline.at_end
    assert timeline.ended is not None
    # At the end, continuing finds nothing and stays.
    assert timeline.run_forward(breakpoints=[NOWHERE]) is None
    assert timeline.position == end
    expected = fresh_snapshot(demo.trace, end)
    actual = snapshot(timeline.board)
    assert actual == expected, differences(actual, expected)


# --- a paged guest: breakpoints and watchpoints are on virtual addresses ---------------------

USER_VA = 0x400000               # where guests/paging runs its user program (Sv39)
DEMAND_VA = 0x800000             # demand-paged on the first touch


@pytest.fixture(scope="module")
def paging(tmp_path_factory):
    rec = paging_recording(tmp_path_factory)
    elf = BIN / "paging.elf"
    user_start = elf_symbol(elf, "user_start")
    store_va = USER_VA + elf_symbol(elf, "user_store_fault") - user_start
    return rec, store_va


def test_breakpoint_on_a_user_virtual_address(paging):
    rec, store_va = paging
    timeline = Timeline(open_session(rec.trace), spacing=10_000)
    # `sd t1, 16(t0)` to an unmapped page: it faults, the kernel maps the page
    # and the store runs again.
    hits = timeline.all_hits(breakpoints=[store_va])
    assert len(hits) == 2
    timeline.seek(rec.final_icount)
    assert timeline.run_backward(breakpoints=[store_va]) == hits[-1]
    assert timeline.board.cpu.pc == store_va and timeline.board.cpu.priv == 0
    kind, address, size, _ = memory_access(timeline)
    assert (kind, address, size) == ("store", DEMAND_VA + 16, 8)


def test_write_watchpoint_on_a_user_virtual_address(paging):
    rec, store_va = paging
    timeline = Timeline(open_session(rec.trace), spacing=10_000)
    retried_store = timeline.all_hits(breakpoints=[store_va])[-1]
    watch = Watchpoint(DEMAND_VA + 16, 8, WatchKind.WRITE)
    timeline.seek(rec.final_icount)
    hit = timeline.run_backward(watchpoints=[watch])
    assert hit is not None and hit.icount == retried_store.icount
    timeline.seek(rec.final_icount)
    assert timeline.last_hit(watchpoints=[Watchpoint(DEMAND_VA + 16, 8)]) == hit
