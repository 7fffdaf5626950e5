"""What a hostile or careless user can hand `rrvm`: each gets one true line, never a hang.

Command-line inputs that are not regular files, empty or clashing output
paths, numbers out of range, output piped into `head`, RAM that cannot be
allocated; traces whose text would drive the terminal, whose end is
damaged, whose final state is not recorded, or whose replay stops inside a
device read.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, RRVM, rewrite, run_rrvm
from test_cli_errors import assert_one_error, assert_usage_error

from rr.log import Entropy, TraceReader, WallClockRead
from rr.log.events import ConsoleInput
from rr.log.frames import TRAILER

DEMO = REPO / "guests" / "bin" / "demo.elf"
HELLO = REPO / "guests" / "bin" / "hello.elf"
VIRTIO = REPO / "guests" / "bin" / "virtio.elf"
BLOCKING = 20          # seconds: far more than any refusal takes, far less than a hang


@pytest.fixture(scope="module")
def demo_trace(tmp_path_factory) -> Path:
    """A complete recording of the demo guest (it reads the RTC once, at instruction 22795)."""
    path = tmp_path_factory.mktemp("demo") / "demo.rrt"
    proc = run_rrvm("record", str(DEMO), "-o", str(path))
    assert path.exists(), proc.stderr
    return path


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


# --- inputs that are not regular files ------------------------------------------------------

@pytest.mark.parametrize("option", ["image", "--initrd", "--dtb"])
def test_a_fifo_input_is_refused_without_blocking(fifo, option):
    args = [str(fifo)] if option == "image" else [str(HELLO), option, str(fifo)]
    what = {"image": "image", "--initrd": "initrd", "--dtb": "device tree"}[option]
    proc = run_rrvm("run", *args, timeout=BLOCKING)
    assert_one_error(proc, f"{what} {fifo}: not a regular file (a FIFO)")


def test_dev_zero_as_initrd_is_refused_without_reading_it():
    proc = run_rrvm("run", str(HELLO), "--initrd", "/dev/zero", timeout=BLOCKING)
    assert_one_error(proc, "initrd /dev/zero: not a regular file (a character device)")


def test_a_fifo_given_to_repl_is_refused_without_blocking(fifo):
    proc = run_rrvm("repl", str(fifo), "-c", "regs", timeout=BLOCKING)
    assert_one_error(proc, f"image {fifo}: not a regular file (a FIFO)")


def test_an_initrd_larger_than_ram_is_refused_before_it_is_read(tmp_path):
    initrd = tmp_path / "big.cpio"
    with open(initrd, "wb") as f:
        f.truncate(64 << 20)                          # sparse: nothing is read to refuse it
    proc = run_rrvm("run", str(HELLO), "--initrd", str(initrd), "--mem", "32M")
    assert_one_error(proc, f"initrd {initrd}: {64 << 20} bytes, more than the {32 << 20}",
                     "use --mem")


def test_a_trace_is_not_run_as_an_image(demo_trace):
    assert_one_error(run_rrvm("run", str(demo_trace)),
                     f"image {demo_trace}: is an rrvm trace, not a guest image")


@pytest.mark.parametrize("damage", ["bit", "cut1", "cut7"])
@pytest.mark.parametrize("verb", ["repl", "debug"])
def test_a_damaged_trace_is_never_run_as_a_raw_image(demo_trace, tmp_path, damage, verb):
    data = demo_trace.read_bytes()
    damaged = tmp_path / "damaged.rrt"
    damaged.write_bytes({"bit": bytes([data[0] ^ 1]) + data[1:], "cut1": data[:1],
                         "cut7": data[:7]}[damage])
    extra = ["-c", "regs"] if verb == "repl" else ["--gdb", "0"]
    proc = run_rrvm(verb, str(damaged), *extra, timeout=BLOCKING)
    expected = ("not an rrvm trace (bad magic at offset 0)" if damage == "bit"
                else "inside the 16-byte preamble")
    assert_one_error(proc, str(damaged), expected)
    assert proc.stdout == b""


# --- outputs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, option", [
    (["record", str(HELLO), "-o", ""], "-o"),
    (["run", str(HELLO), "--record", ""], "--record"),
    (["repl", str(HELLO), "--record", "", "-c", "regs"], "--record"),
    (["dtb", "-o", ""], "-o"),
])
def test_an_empty_output_path_is_refused(args, option):
    assert_one_error(run_rrvm(*args), f"{option} '': an empty path names no file to write")


@pytest.mark.parametrize("args", [
    ["record", "{guest}", "-o", "{guest}"],
    ["run", "{guest}", "--record", "{guest}"],
    ["record", "{other}", "--initrd", "{guest}", "-o", "{guest}"],
    ["dtb", "{other}", "--dtb", "{guest}", "-o", "{guest}"],
])
def test_an_output_naming_an_input_is_refused_and_the_input_kept(tmp_path, args):
    guest = tmp_path / "guest.elf"
    guest.write_bytes(HELLO.read_bytes())
    words = [w.format(guest=guest, other=HELLO) for w in args]
    proc = run_rrvm(*words)
    assert_one_error(proc, f"{guest}: writing it would overwrite an input of the run")
    assert guest.read_bytes() == HELLO.read_bytes()


# --- numbers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["-1", "0", "lots"])
def test_max_insns_is_a_positive_count(value):
    proc = run_rrvm("run", str(HELLO), "--max-insns", value)
    assert_usage_error(proc, "argument --max-insns:")
    assert ("out of range" if value != "lots" else "invalid instruction count") in \
        proc.stderr.decode()


@pytest.mark.parametrize("value, message", [
    ("4096", "--mem 4 KiB is out of range (16 MiB to 16 GiB)"),
    ("8", "--mem 8 MiB is out of range (16 MiB to 16 GiB)"),
    ("32G", "--mem 32 GiB is out of range (16 MiB to 16 GiB)"),
    ("100000000", "--mem 100000000 bytes is not a whole number of 4 KiB pages"),
])
def test_mem_out_of_range_says_the_size_given(value, message):
    assert_one_error(run_rrvm("run", str(HELLO), "--mem", value), message)


def test_replay_to_a_negative_count_is_refused(demo_trace):
    assert_one_error(run_rrvm("replay", str(demo_trace), "--to", "-5"),
                     "--to -5: an instruction count is never negative")


# --- the process's own limits -------------------------------------------------------------------

@pytest.mark.parametrize("command", [["info", "{trace}"], ["replay", "{trace}", "--to", "1000"],
                                     ["dump", "{trace}"]])
def test_output_piped_into_head_ends_quietly(demo_trace, command):
    words = " ".join(w.format(trace=demo_trace) for w in command)
    proc = subprocess.run(f"{sys.executable} -m rr {words} | head -c 1 >/dev/null; "
                          "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", cwd=REPO,
                          capture_output=True, timeout=60)
    assert proc.stderr == b"", proc.stderr.decode()
    assert proc.returncode == 0


def test_ram_that_cannot_be_allocated_is_one_line():
    """6 GiB of address space hold the engine (its translation buffers are reserved at
    start) but not 8 GiB of guest RAM."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    proc = subprocess.run([*RRVM, "run", str(HELLO), "--mem", "8G"], cwd=REPO,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                          preexec_fn=limit)
    assert_one_error(proc, "cannot allocate 8192 MiB of guest RAM")


# --- what a trace shows and how its replay ends --------------------------------------------------

def test_info_escapes_control_characters_from_the_trace(demo_trace, tmp_path):
    sys.path.insert(0, str(Path(__file__).parent / "log"))
    from hostile_traces import load_base, write_with_header

    base = load_base(demo_trace, b"", 0)

    def hostile(plain: dict) -> None:
        plain["command_line"] = ["rrvm", "\x1b]0;owned\x07\x1b[2J", "\r\nforged: line"]
        plain["rrvm_version"] = "\x1b[31mred"
        plain["image"]["name"] = "evil\x1b[2J"
    path = write_with_header(tmp_path / "escapes.rrt", base, hostile)
    proc = run_rrvm("info", str(path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert "\\x1b]0;owned\\x07\\x1b[2J \\r\\nforged: line" in out
    assert "recorded by rrvm \\x1b[31mred" in out and "evil\\x1b[2J" in out
    assert len(out.splitlines()) == len(run_rrvm("info", str(demo_trace)).stdout.splitlines())


def test_a_damaged_footer_replays_as_incomplete_without_the_final_check(demo_trace, tmp_path):
    data = bytearray(demo_trace.read_bytes())
    data[-TRAILER.size - 10] ^= 0xFF                       # inside the footer frame
    damaged = tmp_path / "footer.rrt"
    damaged.write_bytes(data)
    proc = run_rrvm("replay", str(damaged), "--quiet")
    err = proc.stderr.decode()
    # The chunks still hold the guest's exit: the replay reaches it and ends with its status.
    assert proc.returncode == run_rrvm("replay", str(demo_trace), "--quiet").returncode, err
    assert "Traceback" not in err
    assert "the trace is incomplete (" in err and "the final state was not checked" in err
    info = run_rrvm("info", str(damaged)).stdout.decode()
    assert "complete     no (" in info


def test_junk_after_the_trailer_is_not_complete_yes(demo_trace, tmp_path):
    damaged = tmp_path / "junk.rrt"
    damaged.write_bytes(demo_trace.read_bytes() + b"junk")
    info = run_rrvm("info", str(damaged)).stdout.decode()
    assert "complete     yes" not in info
    assert "complete     damaged (no intact trailer at offset" in info


def test_an_empty_state_hash_is_no_final_state_not_a_difference(demo_trace, tmp_path):
    def no_state(footer):
        footer.state_hash = ""
        return footer
    path = rewrite(demo_trace, tmp_path / "nohash.rrt", edit_footer=no_state)
    recorded = run_rrvm("replay", str(demo_trace), "--quiet")
    proc = run_rrvm("replay", str(path), "--quiet")
    err = proc.stderr.decode()
    assert proc.returncode == recorded.returncode, err
    assert "differs" not in err
    assert "the trace records no final state: the end of the replay was not verified" in err
    assert "state hash   (none: no final state recorded)" in run_rrvm("info", str(path)).stdout.decode()


def test_events_after_guest_exit_are_refused(demo_trace, tmp_path):
    def more(events):
        return events + [ConsoleInput(events[-1].icount + 10, b"late")]
    path = rewrite(demo_trace, tmp_path / "late.rrt", edit_events=more,
                   edit_footer=lambda f: setattr(f, "final_icount", f.final_icount + 10) or f)
    for verb in ("info", "replay"):
        assert_one_error(run_rrvm(verb, str(path)), "console_input at instruction",
                         "follows the guest_exit (event 1), which ends the run")


def test_a_divergence_inside_an_rtc_read_is_one_line(demo_trace, tmp_path):
    """The guest's RTC load finds no recorded value: the replay stops at that load."""
    path = rewrite(demo_trace, tmp_path / "nortc.rrt",
                   edit_events=lambda events: [e for e in events
                                               if not isinstance(e, WallClockRead)])
    proc = run_rrvm("replay", str(path))
    line = assert_one_error(proc, "replay diverged at instruction 22795",
                            "the guest read its wall clock read")
    assert "Exception ignored" not in proc.stderr.decode()
    assert line.startswith("rrvm: error:")


def test_a_trace_cut_before_its_first_chunk_replays_no_further_than_its_history(demo_trace,
                                                                                  tmp_path):
    """Cut before its first chunk, the trace's history ends at instruction 0 (what info and
    repl say too): the replay stops there and says the trace is incomplete, instead of
    running on into the RTC read whose value was never recorded."""
    with TraceReader(demo_trace) as reader:
        first_chunk = reader.index[0].offset
    cut = tmp_path / "cut.rrt"
    cut.write_bytes(demo_trace.read_bytes()[:first_chunk])
    proc = run_rrvm("replay", str(cut), "--quiet", timeout=60)
    err = proc.stderr.decode()
    assert proc.returncode == 0 and "Exception ignored" not in err and "Traceback" not in err
    assert "replayed to instruction 0, the end of recorded history" in err


def test_a_divergence_inside_an_entropy_request_is_one_line(tmp_path):
    """virtio-rng asks for entropy inside the guest's QueueNotify store: a missing event
    is the replay's divergence, not a device failure the guest would run on with."""
    disk = tmp_path / "disk.img"
    disk.write_bytes((REPO / "guests" / "bin" / "virtio-disk.img").read_bytes())
    trace = tmp_path / "rng.rrt"
    run_rrvm("record", str(VIRTIO), "--disk", str(disk), "--rng", "-o", str(trace))
    with TraceReader(trace) as reader:
        first = next(e for e in reader.events() if isinstance(e, Entropy))
    path = rewrite(trace, tmp_path / "norng.rrt",
                   edit_events=lambda events: [e for e in events if e != first])
    proc = run_rrvm("replay", str(path), "--quiet")
    assert_one_error(proc, f"replay diverged at instruction {first.icount}",
                     "the guest read its entropy")


def test_an_oversized_event_makes_a_short_error_line(demo_trace, tmp_path):
    def big(events):
        return [ConsoleInput(5, b"\x1b[2J" * 16000)] + events
    path = rewrite(demo_trace, tmp_path / "big.rrt", edit_events=big)
    line = assert_one_error(run_rrvm("replay", str(path)), "replay diverged",
                            "(64000 in all)")
    assert len(line) < 600 and "\x1b" not in line


def test_a_fifo_as_symbols_is_refused_without_blocking(fifo, demo_trace):
    proc = run_rrvm("repl", str(demo_trace), "--symbols", str(fifo), "-c", "regs",
                    timeout=BLOCKING)
    assert_one_error(proc, f"--symbols {fifo}: not a regular file (a FIFO)")
