"""A trace cut anywhere (a killed recording) has one end of history, which every command
agrees on and no replay runs past (traces/FORMAT.md, progress markers).

The compute guest takes no input for its whole run (seconds of recording), so
before progress markers its trace held no chunk at all until the end: cut, it
said "history ends at instruction 0" in `info` and `repl` while `replay` ran
the whole guest on.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, RRVM, patch_symbol, run_rrvm
from rr.log.events import Progress
from rr.log.trace_reader import TraceReader

sys.path.insert(0, str(REPO / "tests" / "gdbstub"))
from gdb_helpers import DebugServer, RspClient, icount_of  # noqa: E402

# The compute guest made to run 5e9 instructions: seconds of recording, several markers,
# even on a fast machine (1.5e9 took under 2 s).
ITERATIONS = 1_000_000_000
FLUSH_SECONDS = 1.0            # the writer's flush interval: markers at least this often
KILL_AFTER = 2.5               # seconds of recording before the SIGKILL


@pytest.fixture(scope="module")
def compute_elf(tmp_path_factory):
    return patch_symbol(REPO / "guests" / "bin" / "compute.elf",
                        tmp_path_factory.mktemp("elf") / "compute.elf", "iterations", ITERATIONS)


@pytest.fixture(scope="module")
def compute_trace(compute_elf, tmp_path_factory):
    trace = tmp_path_factory.mktemp("cut") / "compute.rr"
    done = run_rrvm("record", str(compute_elf), "-o", str(trace), timeout=300)
    assert done.returncode == 0, done.stderr
    return trace


def ends(trace) -> dict[str, int]:
    """Where each command says history ends (or goes to its end) in ``trace``."""
    info = run_rrvm("info", str(trace)).stdout.decode()
    found = {"info": int(re.search(r"end of recorded history, instruction ([\d,]+)",
                                   info)[1].replace(",", ""))}
    replay = run_rrvm("replay", str(trace), "--quiet", timeout=300).stderr.decode()
    found["replay"] = int(re.search(r"replayed to instruction (\d+), the end of recorded "
                                    r"history", replay)[1])
    repl = run_rrvm("repl", str(trace), "-c", "goto end; info", timeout=300).stdout.decode()
    found["repl"] = int(re.search(r"now\s+instruction (\d+)", repl)[1])
    with DebugServer(trace) as server, RspClient(server.port, timeout=300) as gdb:
        gdb.start_no_ack()
        assert gdb.request("vCont;c").endswith("replaylog:end;")
        found["debug"] = icount_of(gdb.monitor("icount"))
    return found


def test_the_recording_marks_its_progress(compute_trace):
    with TraceReader(compute_trace) as reader:
        markers = [e for e in reader.events() if isinstance(e, Progress)]
        assert len(markers) >= 2, "a recording of seconds writes a marker every second"
        assert len(reader.index) >= len(markers)            # each marker closes a chunk
        positions = [m.icount for m in markers]
        assert positions == sorted(set(positions))
        assert positions[-1] < reader.footer.final_icount


def test_every_command_agrees_where_a_cut_trace_ends(compute_trace, tmp_path):
    data = compute_trace.read_bytes()
    with TraceReader(compute_trace) as reader:
        chunks = list(reader.index)
    assert len(chunks) >= 3
    cuts = {chunks[0].offset: 0,                                  # before the first chunk
            chunks[0].offset + 9: 0,                              # inside it
            chunks[1].offset: chunks[0].last_icount,              # after one whole chunk
            chunks[2].offset + 20: chunks[1].last_icount}         # inside the third
    for offset, end in cuts.items():
        cut = tmp_path / f"cut{offset}.rr"
        cut.write_bytes(data[:offset])
        assert ends(cut) == dict.fromkeys(("info", "replay", "repl", "debug"), end), offset


def test_a_killed_recording_replays_to_within_a_second_of_the_kill(compute_elf, tmp_path):
    trace = tmp_path / "killed.rr"
    proc = subprocess.Popen([*RRVM, "record", str(compute_elf), "-o", str(trace)], cwd=REPO,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while not trace.exists() or trace.stat().st_size == 0:      # recording has begun
        time.sleep(0.05)
    time.sleep(KILL_AFTER)
    proc.send_signal(signal.SIGKILL)
    killed = time.time()
    proc.wait()
    last_write = os.stat(trace).st_mtime
    assert killed - last_write < FLUSH_SECONDS + 0.5      # the last marker came within ~1 s
    with TraceReader(trace) as reader:
        assert not reader.complete
        end = reader.last_icount
    assert end and end > 0
    assert ends(trace) == dict.fromkeys(("info", "replay", "repl", "debug"), end)
