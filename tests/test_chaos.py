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


def _in_flight(trace: Path) -> list[tuple[int, list[list[int]]]]:
    """Positions (every 100 instructions) at which an IPI was sent but not yet delivered."""
    from rr.replay.replay_session import ReplaySession
    session = ReplaySession(TraceReader(trace), lambda data: None)
    with TraceReader(trace) as reader:
        end = reader.footer.final_icount
    seen = []
    for position in range(0, end, 100):
        session.loop.run(position)
        pending = session.board.hart_control.pending_ipis
        if pending:
            seen.append((position, [list(p) for p in pending]))
    return seen


def test_ipis_arrive_after_a_drawn_delay(tmp_path):
    """In chaos mode an IPI to another hart is in flight for a drawn number of
    instructions (0 to the quantum); without chaos it is delivered at the ecall."""
    from rr.monitor.chaos import ChaosSchedule
    delays = [ChaosSchedule(FAILING_SEED, 10_000).ipi_delay(k) for k in range(50)]
    assert len(set(delays)) > 40 and max(delays) <= 10_000 and min(delays) >= 0
    traces = {}
    for name, options in (("chaos", ("--chaos", "11")), ("plain", ())):
        traces[name] = tmp_path / f"{name}.rrt"
        proc = run_rrvm("record", str(SMP), "--smp", "4", *options, "-o", str(traces[name]))
        assert proc.returncode == 0, proc.stderr
        replay = run_rrvm("replay", str(traces[name]))
        assert replay.returncode == 0 and replay.stdout == proc.stdout
    in_flight = _in_flight(traces["chaos"])
    assert in_flight, "no IPI was ever in flight"
    assert all(due > position and hart in (1, 2, 3)
               for position, pending in in_flight for due, hart in pending)
    assert _in_flight(traces["plain"]) == []
