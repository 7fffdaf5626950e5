"""History queries (rr.replay.queries) on the demo's racy list, against a straight replay.

The writes a query reports are checked against replays that run straight to
the write and just past it with no timeline in between (no checkpoints, no
hooks, no going back), so the values before and after come from somewhere
else than the query's own seeks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from rr.monitor.insn_decode import decode_mem_access
from rr.replay import queries
from rr.replay.cancellation import Cancellation, Interrupted
from rr.replay.hits import Watchpoint, WatchKind
from rr.replay.timeline import Timeline

from replay_helpers import BIN, demo_recording, elf_symbol, open_session

DEMO_ELF = BIN / "demo.elf"
NOWHERE = 0x8700_0000            # in RAM, never touched by the demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_recording(tmp_path_factory)


@pytest.fixture(scope="module")
def head():
    return elf_symbol(DEMO_ELF, "shared_list")


@pytest.fixture
def timeline(demo):
    return Timeline(open_session(demo.trace), spacing=50_000)


def straight(trace, icount: int):
    """A board replayed from the start straight to ``icount``."""
    session = open_session(trace)
    assert session.loop.run(icount) is None
    assert session.board.cpu.icount == icount
    return session.board


def test_every_write_with_its_values_matches_a_straight_replay(demo, head, timeline):
    here = demo.final_icount // 3
    timeline.seek(here)
    writes = queries.writes(timeline, head, 16)
    assert timeline.position == here                     # the position is kept
    icounts = [write.icount for write in writes]
    assert icounts == sorted(set(icounts)) and len(writes) >= 2
    watch = Watchpoint(head, 16, WatchKind.WRITE)
    assert icounts == sorted({hit.icount for hit in timeline.all_hits(watchpoints=[watch])})

    for write in random.Random(7).sample(writes, min(4, len(writes))):
        before = straight(demo.trace, write.icount)
        assert before.cpu.pc == write.pc
        assert before.memory.read(head, 16) == write.old
        bits, size = before.memory.fetch_instruction(write.pc)
        assert write.instruction == bits.to_bytes(size, "little")
        access = decode_mem_access(bits, size)
        assert access is not None and access.kind in ("store", "amo", "sc")
        assert head <= write.address < head + 16
        after = straight(demo.trace, write.icount + 1)
        assert after.memory.read(head, 16) == write.new


def test_last_write_is_the_last_write_before_now(demo, head, timeline):
    writes = queries.writes(timeline, head, 8)
    assert timeline.position == 0
    assert queries.last_write(timeline, head, 8) is None            # nothing before 0
    for write in (writes[0], writes[len(writes) // 2], writes[-1]):
        timeline.seek(write.icount + 1)
        assert queries.last_write(timeline, head, 8) == write
        assert timeline.position == write.icount + 1
        timeline.seek(write.icount)                                  # not counting itself
        earlier = [w for w in writes if w.icount < write.icount]
        assert queries.last_write(timeline, head, 8) == (earlier[-1] if earlier else None)
    assert queries.writes(timeline, NOWHERE, 8) == []


def test_a_cancelled_query_stops_and_a_reset_one_runs(demo, head, timeline):
    timeline.seek(demo.final_icount // 2)
    cancel = Cancellation()
    cancel.cancel()
    with pytest.raises(Interrupted, match="^interrupted at instruction"):
        queries.writes(timeline, head, 8, cancel)
    cancel.reset()
    timeline.seek(demo.final_icount // 2)
    assert queries.writes(timeline, head, 8, cancel) == queries.writes(timeline, head, 8)
    polled = []
    with pytest.raises(Interrupted):
        queries.last_write(timeline, head, 8, Cancellation(lambda: polled.append(1) or True))
    assert polled


@dataclass(frozen=True)
class Event:
    icount: int


def test_events_around_splits_at_now():
    events = [Event(n) for n in (10, 20, 20, 30, 40)]
    window = queries.events_around(events, 20, 1)
    assert (window.first, window.split, window.last) == (0, 1, 2)   # an event at now is after it
    assert list(window.before) == [Event(10)] and list(window.after) == [Event(20)]
    window = queries.events_around(events, 35, 10)
    assert (window.first, window.split, window.last) == (0, 4, 5)
    window = queries.events_around(events, 0, None)
    assert (window.first, window.split, window.last) == (0, 0, 5) and not window.before
    window = queries.events_around(events, 99, 2)
    assert list(window.before) == [Event(30), Event(40)] and not window.after
    empty = queries.events_around([], 5, 3)
    assert (empty.first, empty.split, empty.last) == (0, 0, 0)
