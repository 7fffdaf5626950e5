"""The ends of history: clamping, continuing into nothing, incomplete traces, interruption."""

from __future__ import annotations

import pytest

from rr.log.trace_reader import TraceReader
from rr.monitor.exits import ExitKind
from rr.replay.hits import WatchKind, Watchpoint
from rr.replay.cancellation import Cancellation, Interrupted
from rr.replay.timeline import Timeline

from replay_helpers import (differences, fresh_snapshot, open_session, rewrite, snapshot,
                            uboot_recording)

NOWHERE = 0x8700_0000            # in RAM, never executed nor touched by U-Boot here


@pytest.fixture(scope="module")
def uboot(tmp_path_factory):
    return uboot_recording(tmp_path_factory)


@pytest.fixture(scope="module")
def truncated(uboot, tmp_path_factory):
    """The U-Boot trace with one event per chunk, cut inside its last chunk (the exit)."""
    directory = tmp_path_factory.mktemp("truncated")
    chunked = rewrite(uboot.trace, directory / "chunked.rrt", max_events=1)
    with TraceReader(chunked) as reader:
        chunks = reader.index
    assert len(chunks) >= 3
    last = chunks[-1]
    cut = directory / "cut.rrt"
    cut.write_bytes(chunked.read_bytes()[:last.offset + 40 + last.stored_size // 2])
    return cut, chunks[-2].last_icount


def assert_state(timeline: Timeline, trace, position: int, ram: bool = True) -> None:
    expected = fresh_snapshot(trace, position, ram)
    actual = snapshot(timeline.board, ram)
    assert actual == expected, f"at {position}: " + differences(actual, expected)


def test_end_of_a_complete_trace(uboot):
    end = uboot.final_icount
    timeline = Timeline(open_session(uboot.trace), spacing=2_000_000)
    assert timeline.end is None                 # not known before history has been run out
    assert timeline.run_backward(breakpoints=[NOWHERE]) is None
    assert timeline.position == 0

    assert timeline.run_forward(breakpoints=[NOWHERE],
                                watchpoints=[Watchpoint(NOWHERE, 4, WatchKind.ACCESS)]) is None
    assert timeline.position == end and timeline.end == end and timeline.at_end
    assert timeline.ended is not None and timeline.ended.exit.kind is ExitKind.POWEROFF
    assert timeline.ended.icount == timeline.end and timeline.ended.status == 0
    assert timeline.step(5) == end
    assert timeline.seek(end + 1_000_000) == end
    assert_state(timeline, uboot.trace, end)

    # Far beyond the end, from a fresh timeline that has not seen the end yet.
    fresh = Timeline(open_session(uboot.trace), spacing=2_000_000)
    assert fresh.seek(10 ** 12) == end
    assert fresh.at_end
    assert fresh.seek(-5) == 0


def test_incomplete_trace_ends_at_last_recorded_event(uboot, truncated):
    cut, last_icount = truncated
    with TraceReader(cut) as reader:
        assert not reader.complete
        assert reader.last_icount == last_icount
    timeline = Timeline(open_session(cut), spacing=1_000_000)
    assert timeline.end == last_icount
    assert timeline.seek(10 ** 12) == last_icount
    assert timeline.at_end
    assert timeline.ended is None        # cut off: history stops there, nothing ended
    assert_state(timeline, uboot.trace, last_icount)

    assert timeline.run_backward(breakpoints=[NOWHERE]) is None and timeline.position == 0
    assert timeline.run_forward(breakpoints=[NOWHERE]) is None
    assert timeline.position == last_icount
    assert timeline.step() == last_icount
    middle = last_icount // 2 + 1
    assert timeline.seek(middle) == middle
    assert_state(timeline, uboot.trace, middle, ram=False)


def test_cancellation_leaves_a_usable_timeline(uboot):
    end = uboot.final_icount
    timeline = Timeline(open_session(uboot.trace), spacing=500_000)
    seen: list[int] = []

    def poll() -> bool:
        seen.append(timeline.position)
        return timeline.position >= end // 3

    with pytest.raises(Interrupted) as stopped:
        timeline.seek(end, Cancellation(poll))
    assert seen == sorted(seen) and len(seen) >= 3
    assert end // 3 <= timeline.position < end
    assert stopped.value.why == "interrupted"

    # Interrupt a backward search too (it replays slices of history), asked for by name.
    timeline.seek(end)
    cancel = Cancellation()
    cancel.cancel("waiting for input")
    with pytest.raises(Interrupted, match="^waiting for input at instruction"):
        timeline.run_backward(breakpoints=[NOWHERE], cancel=cancel)

    # A cancellation stays requested until reset; an operation without one runs to its end.
    with pytest.raises(Interrupted):
        timeline.seek(end // 4, cancel)
    cancel.reset()
    assert timeline.seek(end // 4, cancel) == end // 4
    target = end // 2 + 777
    assert timeline.seek(target) == target
    assert_state(timeline, uboot.trace, target)
    assert timeline.run_backward(breakpoints=[NOWHERE]) is None and timeline.position == 0
