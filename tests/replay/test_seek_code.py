"""Seeking back to code that has changed since runs the old code.

A checkpoint restore puts RAM pages back behind unicorn's back; the blocks
translated from those pages must go with them, or the guest would run the
newer code at the older position. A guest that patches one instruction it
runs in a loop makes that sharp; a Linux boot (init text freed and reused,
/init loaded into pages that held other code) covers a real kernel. In
both, positions visited in random order, backwards as often as forwards,
through a timeline with close checkpoints, must match one plain forward
replay (registers, CSRs, devices, a digest of all RAM).

Set RRVM_SEEK_SEED to replay a failing order.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

from rr.replay.timeline import Timeline

from replay_helpers import differences, open_session, record, snapshot, straight_snapshots

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_linux import DISK, IMAGE, INITRD, boot_args  # noqa: E402

# Runs `addi a0, a0, 1` at `patch` 30,000 times, patches it to `addi a0, a0, 2`
# (a guest store, which unicorn notices) and runs it 30,000 times more.
PATCHING_GUEST = """
    .globl _start
_start:
    li a0, 0
    la t0, patch
    li t1, 2
phase:
    li s0, 30000
loop:
    .option push
    .option norvc
patch:
    addi a0, a0, 1
    .option pop
    addi s0, s0, -1
    bnez s0, loop
    addi t1, t1, -1
    beqz t1, done
    li t2, 0x00250513           # addi a0, a0, 2
    sw t2, 0(t0)
    fence.i
    j phase
done:
    li t0, 0x100000             # sifive,test0: poweroff
    li t1, 0x5555
    sw t1, 0(t0)
    j done
"""
SEED = int(os.environ.get("RRVM_SEEK_SEED", "20261201"))
POSITIONS = 14
SPACING = 4_000_000

LINUX_BUILT = all(p.is_file() for p in (IMAGE, INITRD, DISK))


@pytest.fixture(scope="module")
def boot(tmp_path_factory):
    if not LINUX_BUILT:
        pytest.skip("no Linux build (guests/linux/build.sh makes it)")
    trace = tmp_path_factory.mktemp("linux-seek") / "boot.rrt"
    rec = record(trace, boot_args()[0], b"", *boot_args()[1:])
    assert rec.status == 0, rec.stdout[-2000:]
    return rec


def test_seeking_back_before_a_code_patch_runs_the_old_code(build_guest, tmp_path):
    rec = record(tmp_path / "patch.rrt", build_guest(PATCHING_GUEST, "patch"))
    assert rec.status == 0, rec.stdout
    end = rec.final_icount
    rng = random.Random(SEED)
    # Mostly before the patch (about half-way), visited after the end was reached.
    positions = [rng.randrange(end // 2) for _ in range(8)] + [end // 2 + 1000, end]
    rng.shuffle(positions)
    expected = straight_snapshots(rec.trace, positions)
    timeline = Timeline(open_session(rec.trace), spacing=10_000)
    timeline.seek(end)
    for position in positions:
        assert timeline.seek(position) == position
        actual = snapshot(timeline.board)
        assert actual == expected[position], (
            f"seek to {position} (order {positions}): " + differences(actual, expected[position]))


def test_random_seeks_in_a_linux_boot_match_straight_replay(boot):
    end = boot.final_icount
    rng = random.Random(SEED)
    positions = [rng.randrange(end + 1) for _ in range(POSITIONS)]
    expected = straight_snapshots(boot.trace, positions)
    timeline = Timeline(open_session(boot.trace), spacing=SPACING)
    timeline.seek(end)                       # all checkpoints exist: every later seek restores
    for number, position in enumerate(positions):
        assert timeline.seek(position) == position
        actual = snapshot(timeline.board)
        assert actual == expected[position], (
            f"seek #{number} to {position} (order {positions[:number + 1]}, seed {SEED}): "
            + differences(actual, expected[position]))
