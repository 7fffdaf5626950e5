"""Record and replay in real processes: `python -m rr record`, then `python -m rr replay`.

Every guest in guests/bin is recorded in both clock modes and replayed in a
fresh process, which must print the same console bytes and exit with the same
status (a replay that ends differently from the footer, or in another final
state, is a divergence with its own status). U-Boot is recorded through a
terminal with keystrokes at host-chosen moments. Then the traces are damaged:
altered events, an altered final state hash, a cut file, a killed recorder,
files that are not traces.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import rewrite, REPO, RRVM, run_rrvm
from rr.log.events import ConsoleInput
from rr.log.index import TraceFooter
from rr.log.trace_reader import TraceReader
from rr.replay.divergence import DIVERGENCE_STATUS

GUESTS = ("hello", "timer", "echo", "paging", "demo")
CLOCKS = ("virtual", "host")
BIN = REPO / "guests" / "bin"
EXPECTED = REPO / "guests" / "expected"
ECHO_PROMPT = b"'quit' powers off"
ECHO_LINES = (b"hello world\n", b"abc\x7fd\n", b"quit\n")
TIMEOUT = 60


@dataclasses.dataclass
class Recorded:
    trace: Path
    stdout: bytes
    stderr: bytes
    status: int


# --- recording ------------------------------------------------------------------

def record(guest: str, clock: str, trace: Path) -> Recorded:
    argv = ["record", str(BIN / f"{guest}.elf"), "--clock", clock, "-o", str(trace)]
    if guest == "echo":
        return record_typing(argv, ECHO_PROMPT, ECHO_LINES)
    proc = run_rrvm(*argv, timeout=TIMEOUT)
    return Recorded(trace, proc.stdout, proc.stderr, proc.returncode)


class Reader(threading.Thread):
    """Collects a pipe's bytes and lets the test wait for some of them."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream, self.data, self.cond = stream, bytearray(), threading.Condition()

    def run(self) -> None:
        while chunk := os.read(self.stream.fileno(), 4096):
            with self.cond:
                self.data += chunk
                self.cond.notify_all()

    def wait_for(self, needle: bytes, timeout: float = TIMEOUT) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: needle in self.data, timeout):
                raise AssertionError(f"{needle!r} never came; output: {bytes(self.data)!r}")


def start_typing(argv: list[str], prompt: bytes) -> tuple[subprocess.Popen, Reader, Reader]:
    proc = subprocess.Popen([*RRVM, *argv], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    out.start()
    err.start()
    out.wait_for(prompt)
    return proc, out, err


def type_line(proc: subprocess.Popen, line: bytes) -> None:
    """One byte at a time, at moments the host chooses."""
    for byte in line:
        proc.stdin.write(bytes([byte]))
        proc.stdin.flush()
        time.sleep(random.uniform(0, 0.01))


def record_typing(argv: list[str], prompt: bytes, lines: tuple[bytes, ...]) -> Recorded:
    """Run a recording, type ``lines`` after ``prompt`` appeared, keep stdin open to the end."""
    proc, out, err = start_typing(argv, prompt)
    try:
        for line in lines:
            type_line(proc, line)
            time.sleep(random.uniform(0.01, 0.05))
        status = proc.wait(TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    out.join(5)
    err.join(5)
    return Recorded(Path(argv[-1]), bytes(out.data), bytes(err.data), status)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """recorded(guest, clock) -> Recorded, each recording made once per module."""
    cache: dict[tuple[str, str], Recorded] = {}
    directory = tmp_path_factory.mktemp("traces")

    def get(guest: str, clock: str) -> Recorded:
        if (guest, clock) not in cache:
            cache[guest, clock] = record(guest, clock, directory / f"{guest}-{clock}.rrt")
        return cache[guest, clock]

    return get


def replay(trace: Path, *args: str) -> subprocess.CompletedProcess:
    return run_rrvm("replay", str(trace), *args, timeout=TIMEOUT)


def text(data: bytes) -> str:
    return data.decode(errors="replace")


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    err = text(proc.stderr)
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.strip()]


# --- every guest, both clocks --------------------------------------------------------

@pytest.mark.parametrize("clock", CLOCKS)
@pytest.mark.parametrize("guest", GUESTS)
def test_replay_reproduces_recording(recorded, guest, clock):
    rec = recorded(guest, clock)
    assert "Traceback" not in text(rec.stderr), text(rec.stderr)
    if guest != "demo":                        # the demo crashes or not, by its seed
        assert rec.status == 0, text(rec.stderr)
    expected = EXPECTED / f"{guest}.out"
    if guest in ("hello", "timer", "paging"):
        assert text(rec.stdout).replace("\r", "") == expected.read_text()
    if guest == "echo":
        assert b"echo: hello world\r\n" in rec.stdout and b"echo: abd\r\n" in rec.stdout
        assert rec.stdout.endswith(b"bye\r\n")

    with TraceReader(rec.trace, strict=True) as reader:
        footer = reader.footer
        assert footer.exit_status == rec.status
        assert footer.state_hash
        kinds = set(footer.event_counts)
    if clock == "host" and guest == "timer":
        assert "clock_read" in kinds
    if guest == "echo":
        assert footer.event_counts["console_input"] >= 1

    proc = replay(rec.trace)
    assert error_lines(proc) == [] or rec.status != 0, text(proc.stderr)
    assert "diverged" not in text(proc.stderr)
    assert proc.stdout == rec.stdout            # byte for byte
    assert proc.returncode == rec.status


def test_echo_input_is_logged_after_the_prompt(recorded):
    rec = recorded("echo", "virtual")
    with TraceReader(rec.trace) as reader:
        inputs = list(reader.events("console_input"))
    assert b"".join(e.data for e in inputs) == b"".join(ECHO_LINES)
    counts = [e.icount for e in inputs]
    assert all(type(n) is int for n in counts)
    assert counts == sorted(counts) and len(set(counts)) == len(counts)


# --- U-Boot through a terminal -----------------------------------------------------------

UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
AUTOBOOT = "Hit any key to stop autoboot"
PROMPT = "\n=> "
UBOOT_COMMANDS = ("version", "crc32 80200000 1000", "poweroff")


def record_uboot(trace: Path, transcript: Path) -> bytes:
    """Record a U-Boot session typed into a terminal; returns the bytes typed.

    stdin is the terminal (raw mode, keys arrive one by one when pexpect sends
    them); stdout goes through tee so the exact bytes the guest printed are
    kept for the comparison with the replay; stderr goes to a file.
    """
    pexpect = pytest.importorskip("pexpect", reason="pexpect is needed to drive a terminal")
    if not UBOOT.is_file():
        pytest.skip(f"{UBOOT} not found (install Debian's u-boot-qemu package)")
    script = '"$@" 2>"$ERR" | tee "$OUT"'
    env = dict(os.environ, ERR=str(transcript) + ".err", OUT=str(transcript))
    child = pexpect.spawn("/bin/sh", ["-c", script, "sh", *RRVM, "record", str(UBOOT),
                                      "-o", str(trace)],
                          cwd=str(REPO), env=env, timeout=TIMEOUT, encoding="utf-8",
                          codec_errors="replace", dimensions=(40, 200))
    typed = bytearray()

    def send(keys: str) -> None:
        for key in keys:
            time.sleep(random.uniform(0, 0.03))
            child.send(key)
            typed.extend(key.encode())

    try:
        child.expect_exact(AUTOBOOT)
        send(" ")
        child.expect_exact(PROMPT)
        for line in UBOOT_COMMANDS:
            time.sleep(random.uniform(0, 0.1))
            send(line + "\r")
            child.expect_exact(line)
            if line != "poweroff":
                child.expect_exact(PROMPT)
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)
    err = Path(str(transcript) + ".err").read_text(errors="replace")
    assert "Traceback" not in err and "error" not in err, err
    return bytes(typed)


def test_uboot_session_keystrokes_at_exact_counts(tmp_path):
    trace, transcript = tmp_path / "uboot.rrt", tmp_path / "uboot.out"
    typed = record_uboot(trace, transcript)

    with TraceReader(trace, strict=True) as reader:
        inputs = list(reader.events("console_input"))
        footer = reader.footer
    assert footer.exit_kind == "poweroff" and footer.exit_status == 0
    assert b"".join(event.data for event in inputs) == typed
    counts = [event.icount for event in inputs]
    assert all(type(n) is int for n in counts)
    assert all(a < b for a, b in zip(counts, counts[1:])), counts
    assert counts[-1] <= footer.final_icount

    recorded_out = transcript.read_bytes()
    assert b"U-Boot 2023.01" in recorded_out and b"crc32 for 80200000" in recorded_out
    proc = replay(trace)
    assert error_lines(proc) == []
    assert proc.stdout == recorded_out
    assert proc.returncode == 0


# --- altered traces ------------------------------------------------------------------------

def shift_console_input(events, delta: int, which: bytes = b"q"):
    """Move the console_input event holding ``which`` by ``delta`` instructions."""
    events = list(events)
    index = next(i for i, e in enumerate(events)
                 if isinstance(e, ConsoleInput) and e.data == which)
    events[index] = dataclasses.replace(events[index], icount=events[index].icount + delta)
    return events


def assert_divergence(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    lines = error_lines(proc)
    assert proc.returncode == DIVERGENCE_STATUS, text(proc.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("rrvm: error: replay diverged") or "final state" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_console_input_moved_earlier_diverges(recorded, tmp_path):
    rec = recorded("echo", "virtual")
    altered = rewrite(rec.trace, tmp_path / "moved.rrt",
                      edit_events=lambda events: shift_console_input(events, -1))
    line = assert_divergence(replay(altered, "--quiet"), "console_input", "data=b'q'")
    assert "last matching event" in line


def test_console_input_moved_later_diverges(recorded, tmp_path):
    rec = recorded("echo", "virtual")
    altered = rewrite(rec.trace, tmp_path / "later.rrt",
                      edit_events=lambda events: shift_console_input(events, +1))
    try:
        proc = run_rrvm("replay", str(altered), "--quiet", timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("replay hung")
    assert_divergence(proc, "console_input")


def test_altered_final_state_hash_diverges(recorded, tmp_path):
    rec = recorded("hello", "virtual")

    def flip(footer: TraceFooter) -> TraceFooter:
        digest = footer.state_hash
        footer.state_hash = ("0" if digest[0] != "0" else "1") + digest[1:]
        return footer

    altered = rewrite(rec.trace, tmp_path / "hash.rrt", edit_footer=flip)
    proc = replay(altered)
    line = assert_divergence(proc, "final state")
    assert proc.stdout == rec.stdout         # the whole run was replayed before the check
    assert "state hash" in line


# --- incomplete traces -------------------------------------------------------------------------

def assert_incomplete_replay(proc: subprocess.CompletedProcess, full_stdout: bytes) -> None:
    err = text(proc.stderr)
    assert "Traceback" not in err and "diverged" not in err, err
    assert proc.returncode == 0, err
    assert "incomplete" in err
    assert full_stdout.startswith(proc.stdout)


def cut_in_chunk(trace: Path, dst: Path, chunk_number: int) -> int:
    """A copy of ``trace`` cut in the middle of chunk ``chunk_number``; returns its first icount."""
    with TraceReader(trace) as reader:
        chunk = reader.index[chunk_number]
    data = trace.read_bytes()
    dst.write_bytes(data[:chunk.offset + 40 + chunk.stored_size // 2])
    return chunk.first_icount


def test_truncated_trace_replays_to_last_whole_chunk(recorded, tmp_path):
    rec = recorded("echo", "virtual")
    chunked = rewrite(rec.trace, tmp_path / "chunked.rrt", max_events=3)
    with TraceReader(chunked) as reader:
        chunks = reader.index
    assert len(chunks) >= 4
    cut = tmp_path / "cut.rrt"
    cut_in_chunk(chunked, cut, len(chunks) // 2)
    whole = chunks[len(chunks) // 2 - 1]

    proc = replay(cut)
    assert_incomplete_replay(proc, rec.stdout)
    assert f"instruction {whole.last_icount}" in text(proc.stderr)

    info = run_rrvm("info", str(cut))
    assert info.returncode == 0, text(info.stderr)
    assert "incomplete" in text(info.stdout)
    assert f"at least {whole.last_icount:,}" in text(info.stdout)


def test_truncated_host_clock_trace_replays(recorded, tmp_path):
    rec = recorded("timer", "host")
    chunked = rewrite(rec.trace, tmp_path / "chunked.rrt", max_events=256)
    with TraceReader(chunked) as reader:
        middle = len(reader.index) // 2
    cut = tmp_path / "cut.rrt"
    cut_in_chunk(chunked, cut, middle)
    assert_incomplete_replay(replay(cut), rec.stdout)


def test_killed_recording_replays_what_was_flushed(tmp_path):
    trace = tmp_path / "killed.rrt"
    argv = ["record", str(BIN / "echo.elf"), "-o", str(trace)]
    proc, out, err = start_typing(argv, ECHO_PROMPT)
    try:
        type_line(proc, b"hello world\n")
        out.wait_for(b"echo: hello world")
        time.sleep(2.5)                    # chunks are flushed at least once per second
        proc.send_signal(signal.SIGKILL)
        proc.wait(TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    out.join(5)
    assert proc.returncode == -signal.SIGKILL

    with TraceReader(trace) as reader:
        assert not reader.complete
        inputs = list(reader.events("console_input"))
    assert b"".join(e.data for e in inputs) == b"hello world\n"

    replayed = replay(trace)
    assert_incomplete_replay(replayed, bytes(out.data))
    assert b"'quit' powers off" in replayed.stdout
    info = run_rrvm("info", str(trace))
    assert "incomplete" in text(info.stdout) and info.returncode == 0


# --- files that are not (good) traces --------------------------------------------------------

def damaged(kind: str, good: Path, path: Path) -> tuple[Path, tuple[str, ...]]:
    """A bad trace file and fragments its one-line error must hold."""
    data = bytearray(good.read_bytes())
    if kind == "missing":
        return path, ("no such file",)
    if kind == "not-a-trace":
        path.write_bytes(b"#!/bin/sh\necho this is not a trace\n" * 10)
        return path, ("not an rrvm trace", "offset 0")
    if kind == "future-version":
        data[8:12] = (99).to_bytes(4, "little")
        path.write_bytes(data)
        return path, ("newer rrvm", "offset 8")
    if kind == "flipped-header":
        data[16 + 40 + 100] ^= 0x40
        path.write_bytes(data)
        return path, ("header frame at offset 16", "checksum")
    if kind == "flipped-chunk":
        with TraceReader(good) as reader:
            chunk = reader.index[-2]          # not the first: replay meets it while running
        data[chunk.offset + 40 + chunk.stored_size // 2] ^= 0xff
        path.write_bytes(data)
        return path, (f"chunk {chunk.number} at offset {chunk.offset}", "checksum")
    raise AssertionError(kind)


@pytest.fixture(scope="module")
def chunked_echo(recorded, tmp_path_factory):
    rec = recorded("echo", "virtual")
    return rewrite(rec.trace, tmp_path_factory.mktemp("chunked") / "echo.rrt", max_events=3)


@pytest.mark.parametrize("kind", ["missing", "not-a-trace", "future-version", "flipped-header",
                                  "flipped-chunk"])
@pytest.mark.parametrize("command", ["info", "dump", "replay"])
def test_bad_trace_is_one_error_line(chunked_echo, tmp_path, command, kind):
    path, fragments = damaged(kind, chunked_echo, tmp_path / f"{kind}.rrt")
    proc = run_rrvm(command, str(path), timeout=TIMEOUT)
    lines = error_lines(proc)
    assert proc.returncode not in (0, DIVERGENCE_STATUS), text(proc.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("rrvm: error:"), lines[0]
    assert str(path) in lines[0]
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), lines[0]


# --- the same positions whatever the chunking --------------------------------------------------

REGISTERS = re.compile(r"^icount \d+  pc ", re.M)


def test_replay_to_positions_is_deterministic(recorded):
    """Registers at N: one process getting there in many small runs, fresh ones going straight."""
    from rr.replay.registers import format_registers
    from rr.replay.replay_session import ReplaySession

    rec = recorded("demo", "host")
    with TraceReader(rec.trace) as reader:
        final = reader.footer.final_icount
    rng = random.Random(final)
    targets = sorted(rng.randrange(final // 10, final) for _ in range(3))

    stepped = {}
    reader = TraceReader(rec.trace)
    try:
        session = ReplaySession(reader, lambda data: None)
        position = 0
        for target in targets:
            for stop in sorted(rng.randrange(position, target) for _ in range(20)):
                session.run(stop)
            outcome = session.run(target)
            assert outcome.icount == target
            stepped[target] = format_registers(session.board)
            position = target
        outcome = session.run()
        assert outcome.verified and outcome.icount == final
    finally:
        reader.close()

    for target in targets:
        proc = replay(rec.trace, "--quiet", "--to", str(target))
        assert proc.returncode == 0, text(proc.stderr)
        assert REGISTERS.search(text(proc.stdout))
        assert text(proc.stdout).strip() == stepped[target]


def test_a_recording_stopped_by_max_insns_replays_to_the_same_stop(tmp_path):
    trace = tmp_path / "limited.rrt"
    rec = run_rrvm("record", "--max-insns", "300000", "-o", str(trace),
                   str(REPO / "guests" / "bin" / "compute.elf"))
    assert rec.returncode == 4, text(rec.stderr)
    proc = replay(trace)
    assert proc.returncode == 4, text(proc.stderr)
    assert "replay reproduced the recorded error: stopped after 300000 instructions " \
           "(--max-insns)" in text(proc.stderr)
    assert proc.stdout == rec.stdout
