"""The epoch size is part of a recorded run: a trace keeps it and a replay uses it.

Host-clock timers are checked at epoch boundaries, so in a host-clock
recording of the demo (which keeps a timer armed while it computes) a clock
read lands at every epoch boundary: the epoch moves those inputs. A replay
must therefore run with the recorded epoch whatever the current default, and
a trace written before the header had the field ran with the old fixed one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import REPO, rewrite, run_rrvm
from rr.log.events import ClockRead
from rr.log.trace_reader import TraceReader
from rr.monitor.constants import DEFAULT_EPOCH_INSNS, UNRECORDED_EPOCH_INSNS
from rr.replay.divergence import DIVERGENCE_STATUS

DEMO = REPO / "guests" / "bin" / "demo.elf"
# Neither the default nor the old fixed epoch, and not a divisor of either.
ODD_EPOCH = 7_000
TIMEOUT = 120

pytestmark = pytest.mark.skipif(not DEMO.is_file(), reason="guests/bin/demo.elf not built")


def record(trace: Path, epoch: int) -> subprocess.CompletedProcess:
    proc = run_rrvm("record", str(DEMO), "--clock", "host", "--epoch", str(epoch),
                    "-o", str(trace), timeout=TIMEOUT)
    assert trace.is_file(), proc.stderr.decode(errors="replace")
    return proc


def with_epoch(src: Path, dst: Path, epoch: int | None) -> Path:
    """A copy of the trace whose header says ``epoch`` (None: says nothing, as old headers)."""
    def edit(header):
        if epoch is None:
            del header.board["epoch_insns"]
        else:
            header.board["epoch_insns"] = epoch
        return header
    return rewrite(src, dst, edit_header=edit)


def replay(trace: Path) -> subprocess.CompletedProcess:
    return run_rrvm("replay", str(trace), "--quiet", timeout=TIMEOUT)


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    text = proc.stderr.decode(errors="replace")
    assert "Traceback" not in text, text
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    trace = tmp_path_factory.mktemp("epoch") / "odd.rrt"
    return trace, record(trace, ODD_EPOCH)


def test_trace_keeps_its_epoch_and_replays_with_it(odd):
    trace, rec = odd
    with TraceReader(trace, strict=True) as reader:
        assert reader.header.board["epoch_insns"] == ODD_EPOCH
        reads = [e.icount for e in reader.events() if isinstance(e, ClockRead)]
    # The epoch placed these inputs: boundaries of 7,000 that no other epoch here has.
    moved = [icount for icount in reads if icount % ODD_EPOCH == 0
             and icount % DEFAULT_EPOCH_INSNS and icount % UNRECORDED_EPOCH_INSNS]
    assert len(moved) >= 3, reads[:20]
    proc = replay(trace)                        # the default epoch is another one
    assert error_lines(proc) == [] or rec.returncode != 0, proc.stderr
    assert proc.returncode == rec.returncode    # final state hash verified on the way
    info = run_rrvm("info", str(trace))
    assert f"epoch {ODD_EPOCH:,} instructions" in info.stdout.decode()


def test_replay_with_another_epoch_diverges(odd, tmp_path):
    trace, _ = odd
    forced = with_epoch(trace, tmp_path / "forced.rrt", DEFAULT_EPOCH_INSNS)
    proc = replay(forced)
    lines = error_lines(proc)
    assert proc.returncode == DIVERGENCE_STATUS, lines
    assert len(lines) == 1 and "replay diverged" in lines[0] and "clock_read" in lines[0], lines


def test_header_without_the_field_replays_with_the_old_fixed_epoch(odd, tmp_path):
    old = tmp_path / "old.rrt"
    rec = record(old, UNRECORDED_EPOCH_INSNS)
    stripped = with_epoch(old, tmp_path / "stripped.rrt", None)
    with TraceReader(stripped) as reader:
        assert "epoch_insns" not in reader.header.board
    proc = replay(stripped)
    assert proc.returncode == rec.returncode, proc.stderr
    assert "diverged" not in proc.stderr.decode()
    assert f"epoch {UNRECORDED_EPOCH_INSNS:,} instructions" in run_rrvm(
        "info", str(stripped)).stdout.decode()
    # Missing means the old epoch, not today's default: the 7,000 trace then diverges.
    trace, _ = odd
    proc = replay(with_epoch(trace, tmp_path / "odd-stripped.rrt", None))
    assert proc.returncode == DIVERGENCE_STATUS, error_lines(proc)


@pytest.mark.parametrize("value", [5, 10**9, "20000", True])
def test_bad_epoch_in_a_header_is_one_error_line(odd, tmp_path, value):
    trace, _ = odd
    proc = replay(with_epoch(trace, tmp_path / "bad.rrt", value))
    lines = error_lines(proc)
    assert proc.returncode != 0 and len(lines) == 1, lines
    assert lines[0].startswith("rrvm: error: ") and "epoch_insns" in lines[0], lines


@pytest.mark.parametrize("command", ["run", "record"])
@pytest.mark.parametrize("value", ["999", "10000001", "0", "-20000"])
def test_bad_epoch_option_is_one_error_line(tmp_path, command, value):
    trace = tmp_path / "never.rrt"
    extra = ["-o", str(trace)] if command == "record" else []
    proc = run_rrvm(command, str(DEMO), "--epoch", value, *extra)
    lines = error_lines(proc)
    assert proc.returncode == 1 and lines == [
        f"rrvm: error: --epoch {value} is not an instruction count from 1,000 to 10,000,000"]
    assert not trace.exists()
