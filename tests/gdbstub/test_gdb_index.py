"""gdb over an indexed trace: the first continue goes to the end from the index's last
checkpoint, and reverse-continue to a watched write searches earlier segments on two
workers; gdb sees what it sees without the index.

The trace is guests/long (500 M instructions, a write to `progress` every 5,000,004).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from gdb_helpers import BIN, GDB, REPO, RRVM, DebugServer, record, run_gdb

COMMANDS = ["continue", "monitor icount", "watch progress", "reverse-continue",
            "monitor icount", "print progress", "delete", "break long_run_write",
            "reverse-continue", "monitor icount", "continue", "monitor icount", "kill"]
SLOW = 600            # the run without the index replays 500 M instructions, several times


@pytest.fixture(scope="module")
def long_trace(tmp_path_factory):
    if GDB is None or not (BIN / "long.elf").is_file():
        pytest.skip("needs gdb-multiarch and guests/bin/long.elf")
    trace = record("long", tmp_path_factory.mktemp("gdb-long") / "long.rrt")
    done = subprocess.run([*RRVM, "index", str(trace)], cwd=REPO, capture_output=True,
                          timeout=SLOW)
    assert done.returncode == 0, done.stderr
    return trace


def session(trace, *options: str):
    with DebugServer(trace, *options) as server:
        gdb = run_gdb("long.elf", server.port, COMMANDS, timeout=SLOW)
        assert server.wait(timeout=SLOW) == 0, server.stderr
        assert "warning" not in server.stderr
    return gdb


def test_gdb_sees_the_same_through_the_index(long_trace, tmp_path):
    used = session(long_trace, "-j", "2")
    plain = session(long_trace, "--no-index")
    icounts = [int(n) for n in re.findall(r"icount (\d+)", used.stderr)]
    assert icounts == [int(n) for n in re.findall(r"icount (\d+)", plain.stderr)]
    assert used.stdout == plain.stdout
    assert "$1 = 99" in used.stdout                       # the state before round 100's write
    assert icounts[0] > 500_000_000 and icounts[1] < icounts[0]
    assert icounts[2] < icounts[1]                      # the breakpoint before that write
