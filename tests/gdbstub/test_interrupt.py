"""Long runs under the stub: Ctrl-C in both directions, and a client that goes away
while the guest runs (the server notices, stops, and serves the next client).

The compute guest runs 5 x 10^8 instructions: a continue takes seconds.
"""

from __future__ import annotations

import time

import pytest

from gdb_helpers import DebugServer, RspClient, icount_of, record

LENGTH = 500_000_000          # about: 5 x 10^8 loop instructions plus the boot
INTERRUPT_AFTER = 0.3         # seconds


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    trace = record("compute", tmp_path_factory.mktemp("intr") / "compute.rr")
    with DebugServer(trace) as srv:
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
    assert "disconnected" in server.stderr


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
        # Back to the start, with nothing to stop at: interrupted, it returns to where it was.
        gdb.send("bc")
        time.sleep(INTERRUPT_AFTER)
        gdb.send_raw(b"\x03")
        assert gdb.read_packet() == "T02thread:1;"
        assert icount_of(gdb.monitor("icount")) == end
