"""Sstc: offered with --sstc (stimecmp emulated, sstc in riscv,isa), absent otherwise.

guests/sstc reads stimecmp on each hart; without Sstc that is an illegal
instruction, as on hardware without the extension (the unicorn CPU has no
stimecmp: docs/unicorn-facts.md, fact 21). With --sstc each hart programs its
own timer through stimecmp, takes the interrupt at the deadline and reads the
compare value back, and SBI set_timer writes the same comparator (QEMU's
OpenSBI does): the output is QEMU's (tests/test_guests_differential.py). A
trace keeps the choice, only when made, so other traces are what they were;
a recording with --sstc replays exactly, at random positions and seeks too.
"""

from __future__ import annotations

import random
import subprocess

import pytest

from rr.log.trace_reader import TraceReader
from rr.monitor.board_config import BoardConfig, BoardConfigError
from rr.monitor.state_digest import state_digest
from rr.replay.timeline import Timeline

from conftest import REPO, run_rrvm
from replay_helpers import RRVM, open_session, record, straight_digests

SSTC = REPO / "guests" / "bin" / "sstc.elf"


def lines(output: bytes) -> list[str]:
    return output.decode().replace("\r\n", "\n").splitlines()


def test_without_sstc_reading_stimecmp_is_an_illegal_instruction():
    proc = run_rrvm("run", str(SSTC), "--smp", "3")
    assert proc.returncode == 0, proc.stderr
    assert [line for line in lines(proc.stdout) if "stimecmp" in line] == [
        f"sstc: hart {hart}: reading stimecmp is an illegal instruction" for hart in range(3)]


def test_with_sstc_each_hart_programs_its_own_timer():
    proc = run_rrvm("run", str(SSTC), "--smp", "2", "--sstc")
    assert proc.returncode == 0, proc.stderr
    out = lines(proc.stdout)
    for hart in range(2):
        assert f"sstc: hart {hart}: stimecmp reads back the value written, sip.STIP 0" in out
        assert f"sstc: hart {hart}: timer interrupt pending at or after the deadline" in out
        assert f"sstc: hart {hart}: SBI set_timer(0): sip.STIP 1, stimecmp 0" in out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    trace = tmp_path_factory.mktemp("sstc") / "sstc.rrt"
    rec = record(trace, SSTC, b"", "--smp", "2", "--quantum", "400", "--sstc")
    assert rec.status == 0 and b"sstc: 2 harts done" in rec.stdout, rec.stdout
    return rec


def test_the_trace_keeps_sstc_only_when_offered(recorded, tmp_path):
    with TraceReader(recorded.trace) as reader:
        assert reader.header.board["sstc"] is True
        assert BoardConfig.from_dict(reader.header.board).sstc
    plain = tmp_path / "plain.rrt"
    assert run_rrvm("record", str(SSTC), "-o", str(plain)).returncode == 0
    with TraceReader(plain) as reader:
        assert "sstc" not in reader.header.to_plain()["board"]
    info = run_rrvm("info", str(recorded.trace)).stdout.decode()
    assert "2 harts, quantum 400 instructions, Sstc" in info, info
    with pytest.raises(BoardConfigError, match="sstc"):
        BoardConfig.from_dict({"sstc": "yes"})


def test_replay_prints_the_same_and_verifies(recorded):
    proc = subprocess.run([*RRVM, "replay", str(recorded.trace)], cwd=REPO,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout == recorded.stdout


@pytest.mark.parametrize("engine", ["native", "hook"])
def test_digests_straight_vs_random_stops_and_seeks(recorded, engine, monkeypatch):
    monkeypatch.setenv("RRVM_ENGINE", engine)
    end = recorded.final_icount
    rng = random.Random("sstc")
    targets = sorted(rng.sample(range(1, end), 12)) + [end]
    expected = straight_digests(recorded.trace, targets)
    stopped = open_session(recorded.trace)
    position = 0
    for target in targets:
        while position < target:
            position = min(target, position + rng.randrange(1, 2000))
            stopped.loop.run(position)
        assert state_digest(stopped.board) == expected[target], target
    assert {hart.timer.compare for hart in stopped.board.harts} != {0}
    timeline = Timeline(open_session(recorded.trace), spacing=3_000)
    rng.shuffle(targets)
    for target in targets:
        assert timeline.seek(target) == target
        assert state_digest(timeline.board) == expected[target], target
