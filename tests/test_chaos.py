"""rrvm record --chaos: seeded quantum lengths shake out the SMP guest's race, and the
failing run replays exactly.

With the fixed quantum every recording of guests/smp is the same run and the
race never shows; seeds 1 to 50 of chaos mode find it (seed 50 with 2 harts:
the kept trace is that run). The seed is in the trace, so a replay switches
harts where the recording did.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rr.log.trace_reader import TraceReader

from conftest import REPO, rewrite, run_rrvm

SMP = REPO / "guests" / "bin" / "smp.elf"
FAILING_SEED = 50           # the first failing seed from 1 up (2 harts, default quantum)


def stderr_lines(proc) -> list[str]:
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def failing(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("chaos")
    trace = out / "race.rrt"
    proc = run_rrvm("record", str(SMP), "--smp", "2", "--chaos", "1", "--until-fail", "200",
                    "-o", str(trace), timeout=600)
    return trace, proc


def test_until_fail_keeps_the_first_failing_run(failing):
    trace, proc = failing
    assert proc.returncode == 1
    assert b"smp: RACE: lost" in proc.stdout
    assert f"run {FAILING_SEED} (--chaos {FAILING_SEED}) failed" in stderr_lines(proc)[-1]
    assert sorted(p.name for p in trace.parent.iterdir()) == [trace.name]
    with TraceReader(trace) as reader:
        assert reader.header.board["chaos_seed"] == FAILING_SEED


def test_failing_run_replays_exactly(failing):
    trace, proc = failing
    replay = run_rrvm("replay", str(trace))
    assert replay.returncode == 1
    assert replay.stdout.endswith(proc.stdout.split(b"smp: start")[-1])
    assert b"RACE" in replay.stdout
    assert not any("diverge" in line for line in stderr_lines(replay))


def test_another_seed_is_another_run(failing, tmp_path):
    trace, _ = failing

    def edit(header):
        header.board["chaos_seed"] = FAILING_SEED + 1
        return header
    other = rewrite(trace, tmp_path / "other.rrt", edit_header=edit)
    proc = run_rrvm("replay", str(other), "--quiet")
    assert proc.returncode != 1 or "diverge" in " ".join(stderr_lines(proc))


def test_plain_recording_is_the_same_run_every_time(tmp_path):
    hashes = set()
    for n in range(2):
        trace = tmp_path / f"plain{n}.rrt"
        assert run_rrvm("record", str(SMP), "--smp", "2", "-o", str(trace)).returncode == 0
        with TraceReader(trace) as reader:
            hashes.add(reader.footer.state_hash)
    assert len(hashes) == 1


@pytest.mark.parametrize("argv, fragment", [
    (["--chaos", "3"], "--smp 2 or more"),
    (["--smp", "2", "--until-fail", "3"], "--until-fail needs --chaos"),
])
def test_option_misuse_is_one_error_line(tmp_path, argv, fragment):
    proc = run_rrvm("record", str(SMP), *argv, "-o", str(tmp_path / "x.rrt"))
    lines = stderr_lines(proc)
    assert proc.returncode != 0 and len(lines) == 1 and fragment in lines[0], lines
