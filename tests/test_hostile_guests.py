"""Misbehaving guests (guests/hostile/) under every command that runs one.

- nomap turns paging on with tables that map neither its code nor stvec: the
  hart takes the same fetch fault for ever without completing an instruction.
  Every command ends it at once with one clear line, and a replay reproduces it.
- trapstorm traps on every instruction for ever: --max-insns, Ctrl-C (SIGINT),
  gdb's interrupt (0x03) and the REPL's Ctrl-C answer within a second, on both
  engines, and the recording the user stopped replays to the same end.
- dbcn asks the SBI debug console to write 4 GiB, 2^63 and 2^64-1 bytes: each
  call is cut to the documented bound and the guest goes on.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from conftest import ENGINES, REPO, RRVM, run_rrvm
from rr.monitor.constants import MAX_EPOCH_INSNS, USER_STOP_STATUS

sys.path.insert(0, str(REPO / "tests" / "gdbstub"))
from gdb_helpers import DebugServer, RspClient, StubServer  # noqa: E402

BIN = REPO / "guests" / "bin"
ANSWER_SECONDS = 1.0            # what the user waits at most after Ctrl-C or 0x03
RUN_FIRST = 1.5                 # seconds the storm runs before it is interrupted
LONG_EPOCH = ("--epoch", str(MAX_EPOCH_INSNS))
STORM_INSNS = 600_000           # the recorded storm gdb interrupts in replay
STUCK = "guest is stuck: instruction page fault (cause 12)"


def one_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.startswith("rrvm: error:")]
    assert len(lines) == 1, text
    return lines[0]


def test_a_stuck_guest_ends_at_once_and_replays(engine, tmp_path):
    done = run_rrvm("run", str(BIN / "nomap.elf"), timeout=60)
    assert done.returncode == 3 and STUCK in one_line(done.stderr)
    limited = run_rrvm("run", str(BIN / "nomap.elf"), "--max-insns", "1000", timeout=60)
    assert limited.returncode == 4
    assert "stopped after 1000 instructions (--max-insns)" in one_line(limited.stderr)
    trace = tmp_path / "nomap.rr"
    recorded = run_rrvm("record", str(BIN / "nomap.elf"), "-o", str(trace), timeout=60)
    assert recorded.returncode == 3 and STUCK in one_line(recorded.stderr)
    replayed = run_rrvm("replay", str(trace), timeout=60)
    assert replayed.returncode == 3, replayed.stderr
    assert f"replay reproduced the recorded error: {STUCK}" in replayed.stderr.decode()


def interrupt_after(args: list[str], wait: float = RUN_FIRST) -> tuple[subprocess.CompletedProcess, float]:
    """Start `rrvm ARGS`, SIGINT it once the guest storms, and time its answer (its exit)."""
    proc = subprocess.Popen([*RRVM, *args], cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = b""
    while b"every instruction traps" not in started:      # the storm has begun
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        started += line
    time.sleep(wait)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(args, proc.returncode, started + out, err), \
        time.monotonic() - sent


def test_ctrl_c_stops_a_trap_storm_and_the_recording_replays(engine, tmp_path):
    """The longest epoch, so the storm (one instruction per trap) reaches no epoch where
    the guest could take the quit: the run must stop where it is, at any machine speed."""
    ran, took = interrupt_after(["run", str(BIN / "trapstorm.elf"), *LONG_EPOCH])
    assert took < ANSWER_SECONDS and ran.returncode == USER_STOP_STATUS
    assert "stopped by the user after" in one_line(ran.stderr)
    trace = tmp_path / "storm.rr"
    recorded, took = interrupt_after(["record", str(BIN / "trapstorm.elf"), "-o", str(trace),
                                      *LONG_EPOCH])
    assert took < ANSWER_SECONDS and recorded.returncode == USER_STOP_STATUS
    stopped = one_line(recorded.stderr)
    icount = int(stopped.split("stopped by the user after ")[1].split()[0])
    for replay_engine in ENGINES:
        replayed = subprocess.run([*RRVM, "replay", str(trace)], cwd=REPO, capture_output=True,
                                  timeout=120, env={**_env(), "RRVM_ENGINE": replay_engine})
        assert replayed.returncode == USER_STOP_STATUS, replayed.stderr
        assert (f"replay reproduced the recorded error: stopped after {icount} instructions "
                f"(where the user stopped the recording)") in replayed.stderr.decode()
        assert replayed.stdout == recorded.stdout


def _env() -> dict[str, str]:
    import os
    return dict(os.environ)


def interrupt_stub(server: StubServer) -> None:
    """Continue, interrupt with 0x03 while the guest storms, twice: each stop reply comes
    within ANSWER_SECONDS, and the guest went on in between."""
    with RspClient(server.port) as gdb:
        gdb.start_no_ack()
        positions = []
        for _ in range(2):
            gdb.send("vCont;c")
            time.sleep(RUN_FIRST)
            sent = time.monotonic()
            gdb.send_raw(b"\x03")
            assert gdb.read_packet() == "T02thread:1;"
            assert time.monotonic() - sent < ANSWER_SECONDS
            positions.append(int(gdb.monitor("icount").split()[1]))
        assert 0 < positions[0] < positions[1]


def test_gdb_interrupts_a_live_trap_storm(engine):
    with StubServer("run", str(BIN / "trapstorm.elf"), "--gdb", "0", "--wait") as server:
        interrupt_stub(server)


@pytest.fixture(scope="module")
def storm_trace(tmp_path_factory):
    """A recorded storm long enough that two RUN_FIRST continues never reach its end: it
    replays at about 60,000 traps a second, so 600,000 instructions take some 10 s (with
    200,000, an idle machine once replayed to the end before the second interrupt)."""
    trace = tmp_path_factory.mktemp("storm") / "storm.rr"
    recorded = run_rrvm("record", str(BIN / "trapstorm.elf"), "-o", str(trace),
                        "--max-insns", str(STORM_INSNS), timeout=120)
    assert recorded.returncode == 4, recorded.stderr          # stopped by --max-insns
    return trace


def test_gdb_interrupts_a_replayed_trap_storm(engine, storm_trace):
    with DebugServer(storm_trace) as server:
        interrupt_stub(server)


def test_gdb_sees_a_stuck_guest_stop(engine):
    with StubServer("run", str(BIN / "nomap.elf"), "--gdb", "0", "--wait") as server:
        with RspClient(server.port) as gdb:
            gdb.start_no_ack()
            sent = time.monotonic()
            assert gdb.request("vCont;c") == "T0bthread:1;"      # SIGSEGV, kept to look at
            assert time.monotonic() - sent < 30
            assert gdb.request("?") == "T0bthread:1;"


def test_repl_ctrl_c_interrupts_continue_in_a_trap_storm(engine, tmp_path):
    sys.path.insert(0, str(REPO / "tests" / "repl"))
    from repl_helpers import PROMPT, spawn
    child = spawn(BIN / "trapstorm.elf", tmp_path / "history")
    child.sendline("continue")
    time.sleep(RUN_FIRST + 1)
    sent = time.monotonic()
    child.sendintr()
    child.expect(r"interrupted at instruction (\d+)")
    assert time.monotonic() - sent < ANSWER_SECONDS
    child.expect(PROMPT)
    child.sendline("quit")
    child.expect("\n")
    child.wait()


def test_huge_dbcn_lengths_are_cut(engine):
    done = run_rrvm("run", str(BIN / "dbcn.elf"), timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    for what in ("4 GiB", "2^63 bytes", "all ones"):
        assert f"dbcn: {what}: error 0, wrote 4096" in out
    assert "dbcn: past the end of RAM: error -3, wrote 0" in out
    assert out.endswith("dbcn: done\n") or "dbcn: done" in out
