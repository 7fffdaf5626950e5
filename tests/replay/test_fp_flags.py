"""The accrued FP exception flags survive seeks, and persisted checkpoints (guests/fpflags).

Unicorn keeps fflags outside a saved CPU context (docs/unicorn-facts.md, fact
23), so a checkpoint holds them beside the registers (HistorySession's state).
guests/fpflags keeps DZ or NX set for 300 instructions of every round, and the
flags differ from one round to the next: a seek to a checkpoint inside a
round, from a state with other flags, read the flags of the state it came
from, and the guest printed another checksum.
"""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from rr.log.trace_reader import TraceReader
from rr.monitor.state_digest import state_digest
from rr.replay.checkpoint_index import index_path
from rr.replay.timeline import Timeline

from replay_helpers import (BIN, REPO, RRVM, differences, digests_through_index, open_session,
                            record, snapshot, straight_digests, straight_snapshots)

SEED = 20261202
FPFLAGS = BIN / "fpflags.elf"
LAST_LINE = b"3000 rounds, 1000 inexact, 1500 divided by zero, checksum f9de0494f0fa65f8"


@pytest.fixture(scope="module")
def fpflags(tmp_path_factory):
    trace = tmp_path_factory.mktemp("fpflags") / "fpflags.rrt"
    rec = record(trace, FPFLAGS)
    assert rec.status == 0 and LAST_LINE in rec.stdout, rec.stdout
    with TraceReader(trace) as reader:
        return trace, reader.footer.final_icount


def test_seeks_back_and_forth_give_the_straight_replays_state(fpflags):
    trace, end = fpflags
    rng = random.Random(SEED)
    positions = [rng.randrange(end // 10, end) for _ in range(30)]
    expected = straight_snapshots(trace, positions)
    timeline = Timeline(open_session(trace), spacing=end // 40 + 1)
    timeline.seek(end)                           # checkpoints all along, then back
    for position in positions:
        assert timeline.seek(position) == position
        state = snapshot(timeline.board)
        assert state == expected[position], differences(state, expected[position])


@pytest.mark.parametrize("draw", range(3))
def test_from_a_seek_the_run_goes_on_to_the_recorded_end(fpflags, draw):
    """Seek back into an early round, then execute every instruction from there to the
    end of the trace: the final state is the one whose hash the recording kept (the
    guest's counts and checksum are in RAM)."""
    trace, end = fpflags
    timeline = Timeline(open_session(trace), spacing=end // 40 + 1)
    timeline.seek(end)
    timeline.seek(random.Random(SEED + draw).randrange(end // 20, end // 4))
    assert timeline.execute_to(end) == end
    with TraceReader(trace) as reader:
        assert state_digest(timeline.board) == reader.footer.state_hash


def test_states_from_the_index_keep_the_flags(fpflags, tmp_path):
    trace = tmp_path / "fpflags.rrt"
    shutil.copy(fpflags[0], trace)
    end = fpflags[1]
    every = 100_000                              # the closest checkpoints an index takes
    done = subprocess.run([*RRVM, "index", str(trace), "--every", str(every)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and index_path(trace).is_file(), done.stderr
    rng = random.Random(SEED + 2)
    positions = [rng.randrange(every, end) for _ in range(8)]
    seen, verified = digests_through_index(trace, positions)
    assert verified
    assert seen == straight_digests(trace, seen)
