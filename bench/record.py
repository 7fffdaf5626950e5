#!/usr/bin/env python3
"""What recording costs: time against a plain run, and trace bytes per million instructions.

    python bench/record.py [--repeat R] [--no-uboot]

1. Record overhead = t(record) / t(run) for the same guest, best of R each:
   - compute (guests/bin/compute.elf, 5 x 10^8 instructions, deterministic):
     whole processes, `rrvm run` against `rrvm record -o T`;
   - demo (guests/bin/demo.elf): its task timings are seeded from the RTC, so
     two processes run different lengths; it is measured in this process
     instead, on the same board code the CLI uses, with the wall clock pinned
     to one seed so that run and record execute the same instructions. The
     time covers everything between the command line and the exit: board
     construction (with the trace header and embedded images when recording),
     the run, and the trace's end (final state hash, index, footer).
2. Trace bytes per million instructions, for the demo (CLI recording) and for
   a U-Boot session (Debian's u-boot-qemu, driven through a terminal with
   pexpect: stop autoboot, `version`, `crc32 80200000 1000`, `poweroff`),
   with the instruction count taken from the trace footer. The whole file is
   mostly the embedded guest image; the events alone are shown too.

Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rr.log.trace_reader import TraceReader  # noqa: E402
from rr.monitor.board import BootPayload, settle_payload  # noqa: E402
from rr.monitor.board_config import BoardConfig  # noqa: E402
from rr.monitor.inputs import InputSource  # noqa: E402
from rr.monitor.loader import load_image  # noqa: E402
from rr.monitor.state_digest import state_digest  # noqa: E402
from rr.record.recording import Recording  # noqa: E402
from rr.replay.session import Session  # noqa: E402

RRVM = [sys.executable, "-m", "rr"]
COMPUTE = REPO / "guests" / "bin" / "compute.elf"
DEMO = REPO / "guests" / "bin" / "demo.elf"
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
TARGET = 1.15
# RTC time (ns since the epoch) the in-process demo runs are pinned to.
DEMO_SEED_NS = 1_704_067_302_000_000_000


# --- whole processes -------------------------------------------------------------------

def timed_process(argv: list[str], repeat: int, pick=min) -> float:
    """Wall time of a whole process: the best (or ``pick``) of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=600)
        times.append(time.perf_counter() - start)
        if "Traceback" in proc.stderr.decode(errors="replace") or proc.returncode not in (0, 1):
            sys.exit(f"record.py: {' '.join(argv)} exited with {proc.returncode}:\n"
                     + proc.stderr.decode(errors="replace")[-2000:])
    return pick(times)


def footer_icount(trace: Path) -> int:
    with TraceReader(trace, strict=True) as reader:
        return reader.footer.final_icount


def trace_sizes(trace: Path) -> tuple[int, int, int]:
    """(instructions, file bytes, event chunk bytes on disk incl. frame headers)."""
    with TraceReader(trace, strict=True) as reader:
        events = sum(chunk.stored_size + 40 for chunk in reader.index)
        return reader.footer.final_icount, reader.size, events


# --- in this process, with a pinned wall clock ---------------------------------------------

class PinnedInputs(InputSource):
    """No console, a fixed RTC: the same demo run every time."""

    def console_bytes(self, icount: int, max_bytes: int) -> bytes:
        return b""

    def wait_console(self, timeout: float | None) -> None:
        time.sleep(timeout or 0)

    def host_time_ns(self, icount: int) -> int:
        return time.monotonic_ns()

    def wall_time_ns(self, icount: int) -> int:
        return DEMO_SEED_NS

    def entropy(self, icount: int, size: int) -> bytes:
        return bytes(size)

    def quit_requested(self, icount: int) -> bool:
        return False

    def console_closed(self, icount: int) -> bool:
        return True


def in_process(image: Path, trace: Path | None) -> tuple[float, int, float]:
    """One run as run_live does it (console discarded): (seconds, instructions, hash seconds).

    The last value is what one final state hash costs on that board, measured
    after the timed part (a recording computes it once, for the footer).
    """
    start = time.perf_counter()
    config = BoardConfig()
    payload = settle_payload(config, BootPayload(load_image(str(image))))
    live = PinnedInputs()
    recording = (Recording(str(trace), config, payload, ["rrvm", "record", str(image)])
                 if trace else None)
    session = Session(config, payload, recording.inputs(live) if recording else live,
                      lambda data: None, recording=recording)
    session.history_ended(session.loop.run())
    board = session.board
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    state_digest(board)
    return elapsed, board.cpu.icount, time.perf_counter() - start


def timed_in_process(image: Path, trace: Path | None, repeat: int) -> tuple[float, int, float]:
    runs = [in_process(image, trace) for _ in range(repeat)]
    counts = {icount for _, icount, _ in runs}
    if len(counts) != 1:
        sys.exit(f"record.py: {image.name} runs differ in length: {sorted(counts)}")
    return min(r[0] for r in runs), counts.pop(), min(r[2] for r in runs)


# --- U-Boot ------------------------------------------------------------------------------

def record_uboot(trace: Path, clock: str) -> None:
    import random
    import pexpect
    child = pexpect.spawn(RRVM[0], [*RRVM[1:], "record", str(UBOOT), "--clock", clock,
                                    "-o", str(trace)],
                          cwd=str(REPO), timeout=120, encoding="utf-8", codec_errors="replace")
    try:
        child.expect_exact("Hit any key to stop autoboot")
        child.send(" ")
        child.expect_exact("\n=> ")
        for line in ("version", "crc32 80200000 1000", "poweroff"):
            for key in line + "\r":
                time.sleep(random.uniform(0, 0.03))
                child.send(key)
            child.expect_exact(line)
            if line != "poweroff":
                child.expect_exact("\n=> ")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)


# --- main --------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement, best kept")
    parser.add_argument("--no-uboot", action="store_true", help="skip the U-Boot session")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rrvm-bench-") as tmp:
        work = Path(tmp)
        overhead = []

        compute_trace = work / "compute.rrt"
        t_run = timed_process([*RRVM, "run", str(COMPUTE)], args.repeat)
        t_rec = timed_process([*RRVM, "record", str(COMPUTE), "-o", str(compute_trace)],
                              args.repeat)
        overhead.append(("compute, processes", footer_icount(compute_trace), t_run, t_rec))

        # The demo's length depends on its RTC seed: medians of more runs.
        runs = 3 * args.repeat
        demo_trace = work / "demo.rrt"
        t_run = timed_process([*RRVM, "run", str(DEMO)], runs, statistics.median)
        t_rec = timed_process([*RRVM, "record", str(DEMO), "-o", str(demo_trace)], runs,
                              statistics.median)
        overhead.append((f"demo, processes (median of {runs})", None, t_run, t_rec))

        in_process(DEMO, None)                        # warm up imports and caches
        t_run, n_run, t_hash = timed_in_process(DEMO, None, runs)
        t_rec, n_rec, _ = timed_in_process(DEMO, work / "demo-pinned.rrt", runs)
        if n_run != n_rec:
            sys.exit(f"record.py: the demo ran {n_run} instructions, recorded {n_rec}")
        overhead.append(("demo, in process, one seed", n_run, t_run, t_rec))
        overhead.append(("  same, minus the final hash", n_run, t_run, t_rec - t_hash))

        sizes = []
        lengths = []
        for number in range(runs):                     # the demo: lengths vary with the seed
            trace = work / f"demo-{number}.rrt"
            subprocess.run([*RRVM, "record", str(DEMO), "-o", str(trace)], cwd=REPO,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
            lengths.append(trace_sizes(trace))
        sizes.append((f"demo (longest of {runs} runs)", *max(lengths)))
        if not args.no_uboot:
            try:
                import pexpect  # noqa: F401
                have_pexpect = True
            except ImportError:
                have_pexpect = False
            if not have_pexpect or not UBOOT.is_file():
                print(f"U-Boot session skipped ({UBOOT if have_pexpect else 'pexpect'} "
                      "missing)")
            else:
                for clock in ("virtual", "host"):
                    trace = work / f"uboot-{clock}.rrt"
                    record_uboot(trace, clock)
                    sizes.append((f"U-Boot session ({clock} clock)", *trace_sizes(trace)))

    print(f"record overhead (best of {args.repeat} unless stated; target record <= {TARGET}x run)")
    print()
    print(f"{'guest':<36} {'M instr':>8} {'run (s)':>8} {'record (s)':>11} {'ratio':>6}")
    for name, icount, t_run, t_rec in overhead:
        ratio = t_rec / t_run
        verdict = "" if ratio <= TARGET else "  over target"
        shown = f"{icount / 1e6:8.2f}" if icount is not None else f"{'varies':>8}"
        print(f"{name:<36} {shown} {t_run:8.3f} {t_rec:11.3f} {ratio:6.2f}{verdict}")
    print()
    ram = BoardConfig().ram_size >> 20
    print(f"final state hash (sha256 over the registers, devices and the touched part of "
          f"{ram} MiB of RAM), once per recording: {t_hash:.3f} s")
    print()
    print("trace size")
    print()
    print(f"{'session':<30} {'M instr':>8} {'file (B)':>9} {'B / M instr':>12} "
          f"{'events (B)':>11} {'events B / M instr':>19}")
    for name, icount, size, events in sizes:
        millions = icount / 1e6
        print(f"{name:<30} {millions:8.2f} {size:9d} {size / millions:12.0f} {events:11d} "
              f"{events / millions:19.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
