"""Long runs under the stub: Ctrl-C in both directions, and a client that goes away
while the guest runs (the server notices, stops, and serves the next client).

The compute guest, patched to run 2 x 10^9 instructions: a continue takes seconds
even on a fast idle machine (its own 5 x 10^8 could end before the interrupt).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from conftest import patch_symbol
from gdb_helpers import (BIN, GDB, REPO, RRVM, TIMEOUT, DebugServer, RspClient, gdb_command_line,
                         icount_of, pc_values)

ITERATIONS = 400_000_000      # compute's loop turns, 5 instructions each
LENGTH = 5 * ITERATIONS       # about: the loop's instructions plus the boot
INTERRUPT_AFTER = 0.3         # seconds
# A reverse search covers history a checkpoint interval (10^7 instructions) at a time,
# latest first; interrupted, it stops at the start of the intervals it had finished.
# An interval takes tens of milliseconds with the native engine, and the whole search
# about a second: interrupt after a few intervals, well before the start.
REVERSE_INTERRUPT_AFTER = 0.25


@pytest.fixture(scope="module")
def compute_trace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("intr")
    guest = patch_symbol(BIN / "compute.elf", folder / "compute.elf", "iterations", ITERATIONS)
    trace = folder / "compute.rr"
    done = subprocess.run([*RRVM, "record", str(guest), "-o", str(trace)], cwd=REPO,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return trace


@pytest.fixture(scope="module")
def server(compute_trace):
    with DebugServer(compute_trace) as srv:
        yield srv


def test_client_disconnecting_while_the_guest_runs(server):
    gdb = RspClient(server.port)
    gdb.start_no_ack()
    gdb.send("vCont;c")
    time.sleep(INTERRUPT_AFTER)
    gdb.close()
    with RspClient(server.port) as again:
        again.start_no_ack()
        assert again.request("?").startswith("T")
        assert 0 < icount_of(again.monitor("icount")) < LENGTH
    # The stub's log lines are read from its stderr by a thread: they may come a little later.
    deadline = time.monotonic() + TIMEOUT
    while "disconnected" not in server.stderr:
        assert time.monotonic() < deadline, server.stderr
        time.sleep(0.05)


def test_ctrl_c_forward_and_backward(server):
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        start = icount_of(gdb.monitor("icount"))
        gdb.send("c")
        time.sleep(INTERRUPT_AFTER)
        gdb.send_raw(b"\x03")
        assert gdb.read_packet() == "T02thread:1;"
        stopped = icount_of(gdb.monitor("icount"))
        assert start < stopped < LENGTH
        assert gdb.request("vCont;c").endswith("replaylog:end;")   # to the end, no interruption
        end = icount_of(gdb.monitor("icount"))
        assert end > LENGTH
        assert gdb.request("c").endswith("replaylog:end;")          # already there: no move
        # Back to the start, with nothing to stop at: interrupted, it stays where its search
        # got to, at the start of the history it had searched (G22).
        gdb.send("bc")
        time.sleep(REVERSE_INTERRUPT_AFTER)
        gdb.send_raw(b"\x03")
        assert gdb.read_packet() == "T02thread:1;"
        reached = icount_of(gdb.monitor("icount"))
        assert 0 < reached < end
        assert gdb.request("bs") == "T05thread:1;"               # and goes on from there
        assert icount_of(gdb.monitor("icount")) == reached - 1


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed")
def test_gdb_ctrl_c_of_a_reverse_continue_stops_where_it_got_to(compute_trace):
    """gdb-multiarch's Ctrl-C (SIGINT to gdb, which sends 0x03) during reverse-continue:
    gdb reports SIGINT at an earlier position, where a further reverse-continue goes on."""
    commands = ["continue", "monitor icount", "reverse-continue", "monitor icount",
                'printf "PC %lx\\n", $pc', "reverse-stepi", "monitor icount"]
    with DebugServer(compute_trace) as server:
        gdb = subprocess.Popen(gdb_command_line("compute.elf", server.port, commands), cwd=REPO,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + TIMEOUT
            while "end of recorded history" not in server.stderr:    # the forward continue
                assert time.monotonic() < deadline, server.stderr
                time.sleep(0.05)
            time.sleep(REVERSE_INTERRUPT_AFTER)
            gdb.send_signal(signal.SIGINT)
            stdout, stderr = (text.decode() for text in gdb.communicate(timeout=TIMEOUT))
        finally:
            if gdb.poll() is None:
                gdb.kill()
    end, reached, back = (int(n) for n in re.findall(r"icount (\d+)", stderr))
    assert "Program received signal SIGINT, Interrupt." in stdout, stdout + stderr
    assert 0 < reached < end and back == reached - 1, stderr
    assert pc_values(stdout)
