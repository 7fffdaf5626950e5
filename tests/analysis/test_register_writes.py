"""The last write to a register (rr.analysis.register_writes), checked against a straight
replay stepped one instruction at a time; and analyses leave the replay deterministic."""

from __future__ import annotations

import random

import pytest

from analysis_helpers import DEMO_CRASH_NS, opened, record_fixed
from replay.replay_helpers import differences, open_session, snapshot, straight_snapshots
from rr.analysis.logpoints import logpoint
from rr.analysis.origin import origin
from rr.analysis.register_writes import instruction_at, last_register_write
from rr.analysis.semantics import Effect, semantics
from rr.monitor.constants import GPR_NAMES

REGISTERS = ["ra", "sp", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5", "t0"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return record_fixed(tmp_path_factory.mktemp("demo") / "demo.rrt", "demo",
                        wall_ns=DEMO_CRASH_NS)


def test_last_write_agrees_with_single_steps(demo):
    subject = opened(demo, 0)
    rng = random.Random(16)
    checked = 0
    for _ in range(12):
        before = rng.randrange(30_000, subject.length)
        register = GPR_NAMES.index(rng.choice(REGISTERS))
        write = last_register_write(subject.timeline, register, before)
        assert write is not None
        assert write.icount < before
        # Decoded at its own position, the instruction writes the register.
        subject.timeline.seek(write.icount)
        raw = instruction_at(subject.timeline, write.pc)
        assert subject.cpu.pc == write.pc and semantics(raw).writes(register)
        # Stepping straight from it to `before`, the register keeps the value it wrote,
        # and no instruction on the way writes it (each decoded where it runs).
        session = open_session(demo)
        session.loop.run(write.icount + 1)
        value = session.board.cpu.x(register)
        for position in range(write.icount + 1, before):
            cpu = session.board.cpu
            pc = cpu.pc
            first = session.board.memory.read(pc, 2)
            meaning = semantics(session.board.memory.read(pc, 2 if first[0] & 3 != 3 else 4))
            session.loop.run(position + 1)
            if cpu.pc != cpu.csr("stvec") & ~3 and meaning.effect is not Effect.ECALL:
                # It retired (no trap to the handler): it must not write the register.
                assert not meaning.writes(register), (position, hex(pc), meaning.text)
            assert cpu.x(register) == value, (position, GPR_NAMES[register])
            checked += 1
    assert checked > 1000


def test_analyses_leave_the_replay_deterministic(demo):
    """After trace and origin (hooks on every instruction, side checkpoints), the states at
    random positions are those of a straight replay."""
    subject = opened(demo)
    logpoint(subject, "list_pop", ["$a0"])
    origin(subject, "shared_list")
    rng = random.Random(1616)
    positions = sorted(rng.randrange(0, subject.length) for _ in range(8))
    expected = straight_snapshots(demo, positions)
    for position in rng.sample(positions, len(positions)):
        subject.timeline.seek(position)
        assert not differences(snapshot(subject.timeline.board), expected[position])
