"""The SMP run loop's shortcuts change where runs stop, never what the guest sees.

A run goes past a switch position when no other hart can run at its start
(a hook that wakes one ends it: Board.hart_may_run), and an SBI set_timer
whose deadline falls after the run's end does not end the run. A reference
loop without either shortcut stops at every switch position and after every
set_timer, as the run loop did before them. Replays of the same trace
through both must switch harts at the same positions and agree on the state
at random positions, reached straight or through random stops, on both
counting engines; and a replay with the shortcuts verifies a recording made
with them (tests/replay/test_smp_replay.py) and the other way round here.
"""

from __future__ import annotations

import random

import pytest

from rr.monitor.state_digest import state_digest

from replay_helpers import digests_through_random_stops, open_session
from test_smp_replay import smp_recording

SEED = 20261203
# (harts, quantum): hart_start, IPIs to harts waiting in wfi, hart_stop; a quantum of
# 137 makes the harts race.
CASES = [(4, 10_000), (2, 137), (3, 500)]


def every_quantum_stop(session):
    """Make ``session``'s loop stop at every switch position and after every set_timer."""
    loop, board = session.loop, session.board
    loop._others_can_run = lambda: True         # noqa: SLF001 - the reference behaviour
    run_hart = loop._run_hart                   # noqa: SLF001

    def replan_always(count: int):
        board.run_end = 0
        return run_hart(count)
    loop._run_hart = replan_always              # noqa: SLF001
    return session


def switch_log(session) -> list[tuple[int, int]]:
    """(position, hart) of every switch the session's loop makes from now on."""
    log: list[tuple[int, int]] = []
    loop, board = session.loop, session.board
    switch = loop._switch                       # noqa: SLF001

    def noted(hart) -> None:
        if hart.index != board.current:
            log.append((board.cpu.icount, hart.index))
        switch(hart)
    loop._switch = noted                        # noqa: SLF001
    return log


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}harts-q{c[1]}")
def recorded(request, tmp_path_factory):
    harts, quantum = request.param
    return smp_recording(tmp_path_factory, harts, quantum)


def test_switch_positions_match_the_reference_loop(recorded):
    reference = every_quantum_stop(open_session(recorded.trace))
    shortcut = open_session(recorded.trace)
    expected, seen = switch_log(reference), switch_log(shortcut)
    end = recorded.final_icount
    reference.loop.run(end)
    shortcut.loop.run(end)
    assert expected, "the guest never switched harts"
    assert seen == expected
    assert [h.retired for h in shortcut.board.harts] == [h.retired for h in reference.board.harts]
    assert state_digest(shortcut.board) == state_digest(reference.board)


@pytest.mark.parametrize("engine", ["native", "hook"])
def test_digests_through_random_stops_match_the_reference(recorded, engine, monkeypatch):
    end = recorded.final_icount
    rng = random.Random(f"{SEED}-{engine}-{recorded.trace.name}")
    targets = sorted(rng.sample(range(1, end), 10))
    reference = every_quantum_stop(open_session(recorded.trace))
    expected = {}
    for target in targets:
        reference.loop.run(target)
        expected[target] = state_digest(reference.board)
    monkeypatch.setenv("RRVM_ENGINE", engine)
    stopped = open_session(recorded.trace)
    assert stopped.board.cpu.engine.name == engine
    assert digests_through_random_stops(stopped, targets, rng, 4000) == expected
