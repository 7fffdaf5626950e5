"""`rrvm info` and `rrvm dump` on recorded traces, and the progress line of long records."""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from pathlib import Path

import pytest

from conftest import REPO, RRVM, patch_symbol, run_rrvm
from rr.commands import progress
from rr.log.events import format_event, kind_names
from rr.log.trace_reader import TraceReader

BIN = REPO / "guests" / "bin"
ECHO_INPUT = b"hello\nquit\n"


def out(proc) -> str:
    return proc.stdout.decode(errors="replace")


def err(proc) -> str:
    return proc.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("traces")
    made = {}
    for name, argv, stdin in (
            ("echo", ["echo.elf"], ECHO_INPUT),
            ("timer", ["timer.elf"], b""),
            ("timer-host", ["timer.elf", "--clock", "host"], b""),
            ("hello-board", ["hello.elf", "--mem", "64M", "--append", "console=ttyS0 quiet"],
             b"")):
        trace = directory / f"{name}.rrt"
        image, *options = argv
        proc = run_rrvm("record", str(BIN / image), *options, "-o", str(trace), stdin=stdin)
        assert proc.returncode == 0, err(proc)
        made[name] = trace
    return made


def field(info: str, name: str) -> str:
    match = re.search(rf"^{name}\s+(.*)$", info, re.M)
    assert match, f"no {name!r} line in:\n{info}"
    return match.group(1)


# --- info ---------------------------------------------------------------------------------

def test_info_echo(traces):
    trace = traces["echo"]
    proc = run_rrvm("info", str(trace))
    assert proc.returncode == 0 and err(proc) == ""
    info = out(proc)
    with TraceReader(trace) as reader:
        footer = reader.footer
    digest = hashlib.sha256((BIN / "echo.elf").read_bytes()).hexdigest()
    assert field(info, "guest").startswith(f"echo.elf  sha256 {digest[:16]}")
    assert "RAM 128.0 MiB" in field(info, "board")
    assert "virtual clock" in field(info, "board")
    assert field(info, "command") == f"rrvm record {BIN / 'echo.elf'} -o {trace}"
    assert field(info, "length") == f"{footer.final_icount:,} instructions"
    duration = field(info, "duration")
    assert "recorded (wall time)" in duration and "virtual time" in duration
    assert field(info, "exit") == "poweroff, code 0, exit status 0"
    assert field(info, "complete").startswith("yes")
    inputs = footer.event_counts["console_input"]
    assert field(info, "events").startswith(f"{inputs + 1} in 1 chunk")
    assert re.search(rf"^  console_input\s+{inputs}$", info, re.M)
    assert re.search(r"^  guest_exit\s+1$", info, re.M)
    assert f"({trace.stat().st_size:,} bytes)" in field(info, "size")
    assert re.search(r"^  image\s+35\.\d KiB, ", info, re.M)
    assert re.search(r"^  dtb\s+", info, re.M)
    assert re.match(r"\d+\.\d\dx \(events \d+ B \+ embedded", field(info, "compression"))


def test_info_virtual_time_is_instructions_over_rate(traces):
    info = out(run_rrvm("info", str(traces["timer"])))
    with TraceReader(traces["timer"]) as reader:
        final = reader.footer.final_icount
        rate = reader.header.insns_per_tick * reader.header.timebase_hz
    assert f"{final / rate * 1000:.3f} ms virtual time" in field(info, "duration")


def test_info_host_clock(traces):
    info = out(run_rrvm("info", str(traces["timer-host"])))
    assert "host clock" in field(info, "board")
    assert "virtual time" not in field(info, "duration")
    with TraceReader(traces["timer-host"]) as reader:
        reads = reader.footer.event_counts["clock_read"]
    assert re.search(rf"^  clock_read\s+{reads:,}$", info, re.M)


def test_info_board_options(traces):
    board = field(out(run_rrvm("info", str(traces["hello-board"]))), "board")
    assert "RAM 64.0 MiB" in board
    assert "bootargs 'console=ttyS0 quiet'" in board


def test_info_incomplete(traces, tmp_path):
    data = traces["timer-host"].read_bytes()
    with TraceReader(traces["timer-host"]) as reader:
        chunk = reader.index[0]
    cut = tmp_path / "cut.rrt"
    cut.write_bytes(data[:chunk.offset + 40 + chunk.stored_size // 2])
    proc = run_rrvm("info", str(cut))
    assert proc.returncode == 0, err(proc)
    info = out(proc)
    assert field(info, "length").startswith("incomplete, at least 0")
    assert "replay stops at the end of recorded history" in field(info, "complete")
    assert field(info, "complete").startswith("no")


# --- dump ---------------------------------------------------------------------------------

def dump(trace: Path, *args: str) -> list[str]:
    proc = run_rrvm("dump", str(trace), *args)
    assert proc.returncode == 0 and err(proc) == "", err(proc)
    return out(proc).splitlines()


def test_dump_all_events(traces):
    lines = dump(traces["echo"])
    with TraceReader(traces["echo"]) as reader:
        events = list(reader.events())
    assert lines == [format_event(event) for event in events]
    kinds = [line.split()[1] for line in lines]
    assert kinds == ["console_input"] * (len(events) - 1) + ["guest_exit"]
    assert b"".join(event.data for event in events[:-1]) == ECHO_INPUT


def test_dump_filter_by_kind(traces):
    assert [line.split()[1] for line in dump(traces["echo"], "--kind", "guest_exit")] \
        == ["guest_exit"]
    inputs = dump(traces["echo"], "--kind", "console_input")
    assert inputs and all(line.split()[1] == "console_input" for line in inputs)
    both = dump(traces["echo"], "--kind", "console_input", "--kind", "guest_exit")
    assert both == dump(traces["echo"], "--kind", "console_input,guest_exit")
    assert both == dump(traces["echo"])
    assert dump(traces["echo"], "--kind", "clock_read") == []
    host = dump(traces["timer-host"], "--kind", "clock_read")
    assert host and all(line.split()[1] == "clock_read" for line in host)


def test_dump_filter_by_range(traces):
    with TraceReader(traces["echo"]) as reader:
        counts = [event.icount for event in reader.events()]
    low, high = counts[2], counts[5]
    assert len(counts) >= 6 and len(set(counts)) == len(counts)
    lines = dump(traces["echo"], "--from", str(low), "--to", str(high))
    assert [int(line.split()[0]) for line in lines] == counts[2:6]     # both ends included
    assert len(dump(traces["echo"], "--from", str(counts[-1] + 1))) == 0
    assert [int(x.split()[0]) for x in dump(traces["echo"], "--to", str(counts[0]))] \
        == counts[:1]
    assert len(dump(traces["echo"], "--kind", "console_input", "--from", str(low))) \
        == len(counts) - 3                      # not the first two, not the guest_exit


def test_dump_bad_kind(traces):
    proc = run_rrvm("dump", str(traces["echo"]), "--kind", "keyboard")
    lines = [line for line in err(proc).splitlines() if line.strip()]
    assert proc.returncode != 0 and out(proc) == ""
    assert len(lines) == 1 and lines[0].startswith("rrvm: error: unknown event kind 'keyboard'")
    for kind in kind_names():
        assert kind in lines[0]


def test_dump_incomplete_says_so(traces, tmp_path):
    data = traces["echo"].read_bytes()
    with TraceReader(traces["echo"]) as reader:
        index_offset = reader.index[-1].offset + 40 + reader.index[-1].stored_size
    cut = tmp_path / "cut.rrt"
    cut.write_bytes(data[:index_offset + 10])          # whole chunk, torn index
    proc = run_rrvm("dump", str(cut))
    assert proc.returncode == 0
    assert out(proc).splitlines() == dump(traces["echo"])
    assert "incomplete" in err(proc)


# --- progress -------------------------------------------------------------------------------

def test_progress_line_updates_and_clears():
    stream = io.StringIO()
    icount = [0]
    status = progress.Progress(lambda: icount[0], lambda: 3 << 20, stream, interval=0.02)
    with status:
        for _ in range(5):
            icount[0] += 1_000_000
            time.sleep(0.03)
    written = stream.getvalue()
    assert "rrvm: recording: " in written and "M instr/s, trace 3.0 MiB" in written
    assert written.endswith(progress.CLEAR_LINE)
    assert "\n" not in written


def test_indexing_and_segment_lines():
    """The lines `rrvm index` and a search split over workers show while they run."""
    stream = io.StringIO()
    icount, done = [0], [0]
    with progress.indexing(lambda: icount[0], 50_000_000, lambda: 5 << 20, stream,
                           interval=0.02):
        for _ in range(5):
            icount[0] += 5_000_000
            time.sleep(0.03)
    with progress.segments(lambda: done[0], 51, "searching", stream, interval=0.02):
        for _ in range(3):
            done[0] += 1
            time.sleep(0.03)
    written = stream.getvalue()
    assert "rrvm: indexing: " in written and " of 50,000,000 (" in written
    assert "index 5.0 MiB" in written
    assert "rrvm: searching: " in written and " of 51 segments done" in written
    assert written.endswith(progress.CLEAR_LINE) and "\n" not in written


def test_progress_only_when_stderr_is_a_terminal_and_stdout_is_not(tmp_path):
    master, slave = os.openpty()
    try:
        with os.fdopen(os.dup(slave), "w") as tty, open(tmp_path / "f", "w") as plain:
            assert progress.wanted(stdout=plain, stderr=tty)
            assert not progress.wanted(stdout=tty, stderr=tty)
            assert not progress.wanted(stdout=plain, stderr=plain)
    finally:
        os.close(master)
        os.close(slave)


# compute.elf's loop turns for a recording of several seconds on a fast machine (5
# instructions a turn: 5e9; the bar shows only after the first second)
LONG_RECORD_ITERATIONS = 1_000_000_000


def test_progress_on_a_long_record(tmp_path):
    pexpect = pytest.importorskip("pexpect", reason="pexpect is needed to drive a terminal")
    trace, console = tmp_path / "compute.rrt", tmp_path / "console.out"
    guest = patch_symbol(BIN / "compute.elf", tmp_path / "compute_long.elf", "iterations",
                         LONG_RECORD_ITERATIONS)
    child = pexpect.spawn("/bin/sh", ["-c", '"$@" >"$OUT"; echo "STATUS<$?>"', "sh", *RRVM,
                                      "record", str(guest), "-o", str(trace)],
                          cwd=str(REPO), env=dict(os.environ, OUT=str(console)), timeout=60,
                          encoding="utf-8", codec_errors="replace")
    child.expect(r"STATUS<(\d+)>")
    terminal = child.before
    child.expect(pexpect.EOF)
    assert child.match is not None
    assert re.search(r"rrvm: recording: [\d,]+ instructions, [\d.]+ M instr/s, trace [\d.]+ KiB",
                     terminal), terminal
    assert terminal.endswith(progress.CLEAR_LINE), repr(terminal[-80:])
    assert "compute: done" in console.read_text()
    assert "recording" not in console.read_text()
