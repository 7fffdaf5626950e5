"""Several harts, recorded and replayed exactly: the SMP guest (guests/smp) with 2 to 4
harts, and guests/legacy (the SBI v0.1 IPI and remote fence calls on hart masks).

The interleaving is a function of the trace, so a replay prints the same
bytes and ends in the same state (the footer's hash covers every hart), and
the state at any position is the same reached straight, through random
stops, or by a Timeline seeking back and forth over checkpoints.
"""

from __future__ import annotations

import random
import subprocess

import pytest

from rr.monitor.state_digest import state_digest
from rr.replay.timeline import Timeline

from replay_helpers import (BIN, REPO, RRVM, _cached, digests_through_random_stops, open_session,
                            record)

SEED = 20261202


def smp_recording(tmp_path_factory, harts: int, quantum: int, chaos: int | None = None,
                  guest: str = "smp"):
    key = f"{guest}{harts}q{quantum}c{chaos}"
    options = ("--smp", str(harts), "--quantum", str(quantum),
               *(("--chaos", str(chaos)) if chaos is not None else ()))
    return _cached(key, tmp_path_factory,
                   lambda trace: record(trace, BIN / f"{guest}.elf", b"", *options))


# (guest, harts, quantum, chaos seed, exit status): a quantum of 137 splits the race and
# the smp guest fails; chaos mode draws quantum lengths and delays the IPIs (the legacy
# guest's IPIs too, sent through hart masks in guest memory).
CASES = [("smp", 4, 10_000, None, 0), ("smp", 2, 137, None, 1), ("smp", 3, 500, None, None),
         ("smp", 4, 3000, 7, None), ("legacy", 3, 10_000, None, 0), ("legacy", 4, 700, 11, 0)]


@pytest.fixture(scope="module", params=CASES,
                ids=lambda c: f"{c[0]}-{c[1]}harts-q{c[2]}" + (f"-chaos{c[3]}" if c[3] else ""))
def recorded(request, tmp_path_factory):
    guest, harts, quantum, chaos, status = request.param
    rec = smp_recording(tmp_path_factory, harts, quantum, chaos, guest)
    if status is not None:
        assert rec.status == status, rec.stdout[-300:]
    assert f"{guest}: {harts} harts\n".encode() in rec.stdout.replace(b"\r\n", b"\n")
    return rec


def test_replay_prints_the_same_and_verifies(recorded):
    proc = subprocess.run([*RRVM, "replay", str(recorded.trace)], cwd=REPO,
                          capture_output=True, timeout=120)
    assert proc.returncode == recorded.status, proc.stderr.decode(errors="replace")
    assert proc.stdout == recorded.stdout
    assert b"Traceback" not in proc.stderr


def test_digests_straight_vs_random_stops(recorded):
    end = recorded.final_icount
    rng = random.Random(f"{SEED}-{recorded.trace.name}")
    targets = sorted(rng.sample(range(1, end), 12))
    straight = open_session(recorded.trace)
    expected = {}
    for target in targets:
        straight.loop.run(target)
        expected[target] = state_digest(straight.board)
    assert digests_through_random_stops(open_session(recorded.trace), targets, rng, 3000) \
        == expected


def test_timeline_seeks_match_straight_replay(recorded):
    end = recorded.final_icount
    rng = random.Random(f"{SEED}-seek-{recorded.trace.name}")
    positions = [0, end, end - 1] + [rng.randrange(end + 1) for _ in range(20)]
    rng.shuffle(positions)
    straight = open_session(recorded.trace)
    expected = {}
    for position in sorted(set(positions)):
        straight.loop.run(position)
        expected[position] = state_digest(straight.board)
    timeline = Timeline(open_session(recorded.trace), spacing=7_000)
    for position in positions:
        assert timeline.seek(position) == position
        if position:
            assert state_digest(timeline.board) == expected[position], position
