"""How much one watch covers: the same bound, checked at once, in the REPL, the gdb stub
and DAP (docs/watchpoints.md, "How much one watch covers").

Unbounded, `when ADDR 99999999999` ran for ever and grew by a gigabyte a minute,
and gdb's `Z2,0,fffffffffff0` then `vCont;c` got no reply.
"""

from __future__ import annotations

import sys
import time

import pytest

from rr.monitor.constants import MAX_WATCH_BYTES
from rr.replay.hits import Watchpoint, WatchKind, WatchRangeError

from conftest import REPO, run_rrvm
from replay_helpers import record

sys.path.insert(0, str(REPO / "tests" / "gdbstub"))
from gdb_helpers import DebugServer, RspClient  # noqa: E402

ANSWER_SECONDS = 5          # a refusal does no work: far less, even on a loaded machine


@pytest.fixture(scope="module")
def timer_trace(tmp_path_factory):
    return record(tmp_path_factory.mktemp("bounds") / "timer.rr",
                  REPO / "guests" / "bin" / "timer.elf").trace


@pytest.mark.parametrize("address,length,why", [
    (0, 0, "a watch covers 1 to 4096 bytes"),
    (0x80200000, MAX_WATCH_BYTES + 1, "a watch covers 1 to 4096 bytes"),
    (0, 0xFFFFFFFFFFF0, "a watch covers 1 to 4096 bytes"),
    (0xFFFFFFFFFFFFFFF0, 32, "the range leaves the 64-bit address space"),
])
def test_every_watch_is_built_within_the_bound(address, length, why):
    with pytest.raises(WatchRangeError, match=why):
        Watchpoint(address, length, WatchKind.WRITE)


def test_the_bound_itself_is_a_watch():
    assert Watchpoint(0x80200000, MAX_WATCH_BYTES).length == MAX_WATCH_BYTES
    assert Watchpoint(0xFFFFFFFFFFFFFFFF, 1).address == 0xFFFFFFFFFFFFFFFF


@pytest.mark.parametrize("command,words", [
    ("when 0x80200000 99999999999", "when: cannot watch 99999999999 bytes at 0x80200000"),
    ("last-write 0 99999999999", "last-write: cannot watch 99999999999 bytes at 0x0"),
    ("watch 0 0xfffffffffff0", "watch: cannot watch 281474976710640 bytes at 0x0"),
    ("when -p 0x80200000 1048576", "when: cannot watch 1048576 bytes at 0x80200000"),
])
def test_the_repl_refuses_at_once(timer_trace, command, words):
    started = time.monotonic()
    done = run_rrvm("repl", str(timer_trace), "-c", f"{command}; info watchpoints", timeout=60)
    assert time.monotonic() - started < 30
    out = done.stdout.decode() + done.stderr.decode()
    assert f"{words}: a watch covers 1 to {MAX_WATCH_BYTES} bytes" in out
    assert "Traceback" not in out
    assert out.endswith("no breakpoints or watchpoints\n")           # nothing was kept


def test_the_stub_refuses_a_huge_watch_and_goes_on(timer_trace):
    with DebugServer(timer_trace) as server, RspClient(server.port) as gdb:
        gdb.start_no_ack()
        reply = gdb.request("Z2,0,fffffffffff0")
        assert reply.startswith("E")
        assert gdb.request("Z2,fffffffffffffff0,20").startswith("E")
        started = time.monotonic()
        reply, told = gdb.request("vCont;c"), ""
        while reply.startswith("O"):            # the refusals, told on gdb's console
            told += bytes.fromhex(reply[1:]).decode()
            reply = gdb.read_packet()
        assert reply.endswith("replaylog:end;")     # no watch was kept: to the end
        assert time.monotonic() - started < ANSWER_SECONDS
        assert "rrvm: cannot watch 281474976710640 bytes at 0x0: a watch covers" in told
        assert gdb.request(f"Z2,80200000,{MAX_WATCH_BYTES:x}") == "OK"


def test_dap_and_the_repl_share_the_check(timer_trace):
    """DAP's setDataBreakpoints adds its watches with Debugger.add_watchpoint, as the
    REPL's watch does: a range no watch may cover is refused there, and nothing is kept."""
    from rr.cli import build_parser
    from rr.repl.app import open_history
    from rr.repl.debugger import Debugger

    args = build_parser().parse_args(["repl", str(timer_trace)])
    history, symbols, _origin = open_history(args, lambda data: None)
    debugger = Debugger(history, symbols)
    try:
        with pytest.raises(WatchRangeError, match="a watch covers 1 to 4096 bytes"):
            debugger.add_watchpoint(0, 1 << 40, WatchKind.WRITE, "huge")
        assert not debugger.stops
        assert debugger.add_watchpoint(0x80200000, 8, WatchKind.WRITE, "ok").length == 8
    finally:
        history.close(debugger.timeline)
