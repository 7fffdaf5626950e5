"""The two counting engines run every guest identically.

The native engine counts per translated block, the hook engine per
instruction (rr/monitor/engine_choice.py). For each of our guests the state
digest at random positions must be the same with both engines, whether the
position is reached in one run or through hundreds of random stops (each of
which makes the native engine split a block, and both engines re-plan).
U-Boot and Linux get the same comparison through their traces in
tests/test_engines.py.
"""

from __future__ import annotations

import random

import pytest

from rr.monitor.engine_choice import ENGINE_VARIABLE
from rr.monitor.run_loop import RunLoop
from rr.monitor.state_digest import state_digest

from test_determinism import GUESTS, make_board

ENGINES = ("native", "hook")
# guest -> console input; compute is long, so only its first LIMIT instructions are compared
CONSOLE = {"timer": b"", "demo": b"", "paging": b"", "hello": b"", "compute": b"",
           "echo": b"hello\nquit\n"}
LIMIT = 3_000_000
TARGETS = 6
STOPS = 250


def run_to(engine: str, guest: str, positions: list[int], monkeypatch) -> dict[int, tuple]:
    """(icount, digest) at each position, visited in order on one board; a guest
    that exits first gives its final state for every later position."""
    monkeypatch.setenv(ENGINE_VARIABLE, engine)
    output: list[bytes] = []
    board = make_board(guest, output, CONSOLE[guest])
    assert board.cpu.engine.name == engine
    loop = RunLoop(board)
    seen: dict[int, tuple] = {}
    exited = None
    for position in sorted(set(positions)):
        if exited is None:
            exited = loop.run_until(position)
            state = (board.cpu.icount, board.cpu.pc, state_digest(board), b"".join(output))
        seen[position] = state
    return seen


@pytest.mark.parametrize("guest", sorted(CONSOLE))
def test_both_engines_reach_the_same_states(guest, monkeypatch):
    if not (GUESTS / f"{guest}.elf").exists():
        pytest.skip(f"guests/bin/{guest}.elf not built")
    rng = random.Random(f"engines-{guest}")
    end = run_to("hook", guest, [LIMIT], monkeypatch)[LIMIT][0]
    targets = sorted(rng.randrange(1, end + 1) for _ in range(TARGETS)) + [end]
    stops = [rng.randrange(1, end + 1) for _ in range(STOPS)]
    results = {}
    for engine in ENGINES:
        straight = {t: run_to(engine, guest, [t], monkeypatch)[t] for t in targets[:2]}
        through = run_to(engine, guest, targets + stops, monkeypatch)
        for target, state in straight.items():
            assert through[target] == state, (engine, target)
        results[engine] = {t: through[t] for t in targets}
    for target in targets:
        assert results["native"][target] == results["hook"][target], f"{guest} at {target}"
