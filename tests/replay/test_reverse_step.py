"""reverse_step and step: one instruction at a time, backwards and forwards again.

From a position P, N reverse steps must visit P-1 ... P-N with the registers
a straight replay has there, and N steps forward must come back through the
same states. The demo guest is preemptive (timer and software interrupts,
traps) so windows there cross trap entries; the U-Boot trace checks the same
far from any checkpoint of a default-spaced timeline.
"""

from __future__ import annotations

import pytest

from rr.replay.timeline import Timeline

from replay_helpers import (demo_recording, differences, fresh_snapshot, open_session, snapshot,
                            straight_snapshots, uboot_recording)

STEPS = 25


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_recording(tmp_path_factory)


@pytest.fixture(scope="module")
def uboot(tmp_path_factory):
    return uboot_recording(tmp_path_factory)


def check_window(timeline: Timeline, start: int, steps: int, expected: dict) -> None:
    assert timeline.seek(start) == start
    assert snapshot(timeline.board, ram=False) == expected[start]
    for k in range(1, steps + 1):
        assert timeline.reverse_step() == start - k
        actual = snapshot(timeline.board, ram=False)
        assert actual == expected[start - k], (
            f"reverse step {k} from {start}: " + differences(actual, expected[start - k]))
    for k in range(steps - 1, -1, -1):
        assert timeline.step() == start - k
        actual = snapshot(timeline.board, ram=False)
        assert actual == expected[start - k], (
            f"step forward to {start - k}: " + differences(actual, expected[start - k]))


def trap_positions(trace, since: int, end: int, limit: int) -> list[int]:
    """Positions just after the hart entered the trap vector (pc == stvec), found by
    stepping one instruction at a time from ``since``."""
    session = open_session(trace)
    board = session.board
    found, previous_pc = [], None
    session.loop.run(since)
    while len(found) < limit and board.cpu.icount < end:
        session.loop.run(board.cpu.icount + 1)
        pc = board.cpu.pc
        if pc == board.cpu.csr("stvec") & ~3 and previous_pc != pc:
            found.append(board.cpu.icount)
        previous_pc = pc
    return found


def test_reverse_steps_through_traps_match_straight_replay(demo):
    end = demo.final_icount
    # From the middle on; a run that crashed early may spend its second half printing
    # the panic with interrupts off, and then the traps are found from the start.
    traps = (trap_positions(demo.trace, end // 2, end, limit=2)
             or trap_positions(demo.trace, STEPS, end, limit=2))
    assert traps, "the demo took no trap"
    # Windows that end a few instructions after a trap entry, plus one mid-run window.
    starts = [t + 5 for t in traps if t + 5 <= end] + [end // 3]
    positions = {p for s in starts for p in range(s - STEPS, s + 1)}
    expected = straight_snapshots(demo.trace, positions, ram=False)
    # Two of them again, each from one uninterrupted run in a new session.
    for p in (starts[0], starts[0] - STEPS):
        assert fresh_snapshot(demo.trace, p, ram=False) == expected[p]

    timeline = Timeline(open_session(demo.trace), spacing=100_000)
    for start in starts:
        check_window(timeline, start, STEPS, expected)


def test_reverse_steps_far_from_checkpoints(uboot):
    end = uboot.final_icount
    start = end // 2 + 123_457          # several million instructions after any checkpoint
    steps = 8
    expected = straight_snapshots(uboot.trace, range(start - steps, start + 1), ram=False)
    timeline = Timeline(open_session(uboot.trace))   # default spacing
    check_window(timeline, start, steps, expected)
    # Many steps back in one call land where single steps do.
    timeline.seek(start)
    assert timeline.reverse_step(steps) == start - steps
    assert snapshot(timeline.board, ram=False) == expected[start - steps]


def test_reverse_step_at_zero_stays_at_zero(demo):
    timeline = Timeline(open_session(demo.trace))
    start = snapshot(timeline.board)
    assert timeline.reverse_step() == 0
    assert timeline.reverse_step(10) == 0
    assert snapshot(timeline.board) == start
    timeline.seek(1000)
    assert timeline.reverse_step(5000) == 0
    assert snapshot(timeline.board) == start
    assert timeline.step() == 1
    assert timeline.reverse_step() == 0
    assert snapshot(timeline.board) == start
