"""--smp and --quantum: checked on the command line, kept in the trace, validated when read.

A one-hart board writes neither field, so its trace header is what it was
before they existed; a header without them means one hart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rr.log.trace_reader import TraceReader
from rr.monitor.board_config import BoardConfig
from rr.monitor.constants import DEFAULT_QUANTUM_INSNS

from conftest import REPO, rewrite, run_rrvm

SMP = REPO / "guests" / "bin" / "smp.elf"
HELLO = REPO / "guests" / "bin" / "hello.elf"


def one_error_line(proc) -> str:
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode != 0 and len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("option, value", [("--smp", "0"), ("--smp", "9"), ("--quantum", "5"),
                                           ("--quantum", "20000000")])
def test_out_of_range_is_one_error_line(option, value):
    line = one_error_line(run_rrvm("run", str(SMP), option, value))
    assert option in line and value in line


@pytest.fixture(scope="module")
def two_harts(tmp_path_factory) -> Path:
    trace = tmp_path_factory.mktemp("smp") / "two.rrt"
    proc = run_rrvm("record", str(SMP), "--smp", "2", "--quantum", "2500", "-o", str(trace))
    assert proc.returncode == 0, proc.stderr
    return trace


def test_trace_keeps_harts_quantum_and_per_hart_totals(two_harts):
    with TraceReader(two_harts) as reader:
        board, footer = reader.header.board, reader.footer
    assert (board["harts"], board["quantum_insns"]) == (2, 2500)
    assert len(footer.hart_insns) == 2 and sum(footer.hart_insns) == footer.final_icount
    assert all(count > 1000 for count in footer.hart_insns)
    info = run_rrvm("info", str(two_harts)).stdout.decode()
    assert "2 harts, quantum 2,500 instructions" in info
    assert f"hart 0: {footer.hart_insns[0]:,}, hart 1: {footer.hart_insns[1]:,}" in info


def test_one_hart_trace_has_no_smp_fields(tmp_path):
    trace = tmp_path / "one.rrt"
    assert run_rrvm("record", str(HELLO), "-o", str(trace)).returncode == 0
    with TraceReader(trace) as reader:
        assert "harts" not in reader.header.to_plain()["board"]
        assert "hart_insns" not in reader.footer.to_plain()
        config = BoardConfig.from_dict(reader.header.board)
    assert (config.harts, config.quantum_insns) == (1, DEFAULT_QUANTUM_INSNS)


def _with_board(src: Path, dst: Path, **changes) -> Path:
    def edit(header):
        header.board.update(changes)
        return header
    return rewrite(src, dst, edit_header=edit)


@pytest.mark.parametrize("field, value", [("harts", 9), ("harts", "2"), ("quantum_insns", 0)])
def test_bad_header_value_is_one_error_line(two_harts, tmp_path, field, value):
    bad = _with_board(two_harts, tmp_path / "bad.rrt", **{field: value})
    assert field in one_error_line(run_rrvm("replay", str(bad), "--quiet"))


def test_replay_with_another_quantum_diverges(two_harts, tmp_path):
    """The quantum places every switch between harts: it is part of the run."""
    other = _with_board(two_harts, tmp_path / "other.rrt", quantum_insns=3000)
    proc = run_rrvm("replay", str(other), "--quiet")
    assert proc.returncode != 0
    assert "diverge" in one_error_line(proc) or "differs" in one_error_line(proc)


def test_events_of_a_smp_trace_name_their_hart(two_harts, tmp_path):
    """Each event of a trace with several harts says which hart observed it (the exit
    here); replay checks it like the pc: another hart is a divergence."""
    import dataclasses

    with TraceReader(two_harts) as reader:
        events = list(reader.events())
    assert [event.hart for event in events] == [0]
    assert "hart=0" in run_rrvm("dump", str(two_harts)).stdout.decode()

    def other_hart(events):
        return [dataclasses.replace(event, hart=1) for event in events]
    moved = rewrite(two_harts, tmp_path / "moved.rrt", edit_events=other_hart)
    line = one_error_line(run_rrvm("replay", str(moved), "--quiet"))
    assert "another hart runs" in line and "recorded hart 1" in line, line


def test_one_hart_events_have_no_hart(tmp_path):
    from rr.log.events import ConsoleInput, decode_event, encode_event

    record = encode_event(ConsoleInput(5, b"x", pc=0x80200000))
    assert record == [1, 5, 0x80200000, b"x"]
    assert decode_event(record).hart is None
    assert decode_event([*record, 3]).hart == 3
    with pytest.raises(Exception, match="hart"):
        decode_event([*record, 8])
