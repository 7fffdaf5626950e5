#!/usr/bin/env python3
"""Time travel on a long trace: first replay, reverse step, reverse continue.

    python bench/replay.py [--guest uboot|compute] [--samples 30] [--repeat 5] [--spacing N]
    python bench/replay.py --linux-only      # section 4 alone

Records one trace of more than 100 M instructions into a temporary directory
(default: Debian's U-Boot running `crc32` over 16 MiB twice with a 16 MiB
`mw.l` fill in between, about 300 M instructions, so that history writes
memory; `--guest compute`: guests/bin/compute.elf with its `iterations` word
patched to 30 M, 150 M instructions of pure register work), then measures in
this process, on the replay engine's Python API (rr.replay.timeline):

1. plain replay to the end (ReplaySession.run, verifies the footer hash), and
   the first replay to the end with checkpoints (Timeline.seek past the end):
   time, number of checkpoints, their memory (undo records and side
   checkpoint pages; plus the 1x RAM shadow copy the stack keeps);
2. reverse_step() from --samples random positions, each reached with seek(P)
   first (as a debugger gets there), median and p90 (target: median < 50 ms);
   also a second reverse_step() in a row, and one at the end straight after the
   first replay, the case with no checkpoint near;
3. reverse-continue over a 10 M instruction interval: Q is the last console
   store (UART THR write) before the guest's longest silent stretch, P = Q +
   10 M; from P, run_backward with a breakpoint on the pc of that store (and
   separately a write watchpoint on the THR) must stop at Q. Compared with
   replaying Q..P forwards in a fresh session without hooks (target: under 2x).
   Median of --repeat runs, each from a fresh seek(P).
4. with the Linux guest built (guests/linux/build.sh), a watch search over a
   Linux boot: the README's crash recording (64 M instructions, paging on
   from about 94 K), every write to the kernel variable `panic_cpu` watched
   from instruction 0 (queries.writes, the REPL's `when`: the watch follows
   satp writes and sfence.vma, docs/watchpoints.md) against a first replay
   of the same span with checkpoints and no hooks (target: under 2x).

Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from engines import LINUX, record_linux_crash  # noqa: E402
from rr.log.trace_reader import TraceReader  # noqa: E402
from rr.replay import queries  # noqa: E402
from rr.repl.symbols import SymbolTable  # noqa: E402
from rr.replay.hits import HitCollector, Watchpoint  # noqa: E402
from rr.replay.replay_session import ReplaySession  # noqa: E402
from rr.replay.timeline import DEFAULT_SPACING, Timeline  # noqa: E402

RRVM = [sys.executable, "-m", "rr"]
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
UBOOT_INPUT = (b" \ncrc32 80000000 1000000\nmw.l 81000000 12345678 400000\n"
               b"crc32 81000000 1000000\nversion\npoweroff\n")
COMPUTE = REPO / "guests" / "bin" / "compute.elf"
COMPUTE_ITERATIONS = 30_000_000
UART_THR = 0x1000_0000
INTERVAL = 10_000_000
REVERSE_STEP_TARGET = 0.050
REVERSE_CONTINUE_TARGET = 2.0
WATCH_SEARCH_TARGET = 2.0


def record(guest: str, workdir: Path) -> tuple[Path, str, float]:
    trace = workdir / f"{guest}.rrt"
    if guest == "uboot":
        if not UBOOT.is_file():
            sys.exit(f"replay.py: {UBOOT} not found (Debian's u-boot-qemu); try --guest compute")
        argv, stdin = [str(UBOOT)], UBOOT_INPUT
        what = "U-Boot: crc32 16 MiB, mw.l 16 MiB, crc32 16 MiB, version, poweroff"
    else:
        from engines import patched_compute
        argv, stdin = [str(patched_compute(COMPUTE, COMPUTE_ITERATIONS, workdir))], b""
        what = f"compute.elf, {COMPUTE_ITERATIONS:,} iterations"
    start = time.perf_counter()
    proc = subprocess.run([*RRVM, "record", *argv, "-o", str(trace)], cwd=REPO, input=stdin,
                          capture_output=True, timeout=1200)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"replay.py: recording failed ({proc.returncode}):\n"
                 + proc.stderr.decode(errors="replace")[-2000:])
    return trace, what, elapsed


def session(trace: Path) -> ReplaySession:
    return ReplaySession(TraceReader(trace), lambda data: None)


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def checkpoint_memory(timeline: Timeline) -> tuple[int, int, int, int]:
    """(frontier checkpoints, side checkpoints, undo bytes, side page bytes)."""
    stack = timeline.checkpoints
    frontier, side = getattr(stack, "_stack", []), getattr(stack, "_side", [])
    undo = sum(len(data) for c in frontier for data in c.undo.values())
    pages = sum(len(data) for c in side for data in (c.pages or {}).values())
    return len(frontier), len(side), undo, pages


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guest", choices=("uboot", "compute"),
                        default="uboot" if UBOOT.is_file() else "compute")
    parser.add_argument("--samples", type=int, default=30, help="reverse_step positions")
    parser.add_argument("--repeat", type=int, default=5, help="reverse-continue runs (median)")
    parser.add_argument("--spacing", type=int, default=DEFAULT_SPACING,
                        help=f"checkpoint spacing (default {DEFAULT_SPACING:,})")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--linux-only", action="store_true",
                        help="only section 4, the watch search over a Linux boot")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.linux_only:
        with tempfile.TemporaryDirectory(prefix="rrvm-bench-") as tmp:
            linux_watch_search(Path(tmp))
        return 0

    with tempfile.TemporaryDirectory(prefix="rrvm-bench-") as tmp:
        trace, what, t_record = record(args.guest, Path(tmp))
        with TraceReader(trace) as reader:
            end = reader.footer.final_icount
        print(f"trace: {what}")
        print(f"       {end / 1e6:.1f} M instructions, recorded in {t_record:.2f} s; "
              f"checkpoint spacing {args.spacing:,}")
        print()

        # 1. First replay ------------------------------------------------------------------
        plain = session(trace)
        t_plain, outcome = timed(plain.run)
        del plain
        timeline = Timeline(session(trace), spacing=args.spacing)
        t_first, _ = timed(lambda: timeline.seek(end + 1))
        frontier, side, undo, pages = checkpoint_memory(timeline)
        ram = timeline.board.ram.size
        print("first replay to the end")
        print(f"  plain (ReplaySession.run, hash verified={outcome.verified})  "
              f"{t_plain:7.2f} s  {end / t_plain / 1e6:5.0f} M instr/s")
        print(f"  with checkpoints (Timeline)                   {t_first:7.2f} s  "
              f"{end / t_first / 1e6:5.0f} M instr/s")
        print(f"  checkpoints: {frontier} frontier + {side} side; undo records "
              f"{undo / 2**20:.1f} MiB, side pages {pages / 2**20:.1f} MiB "
              f"(+ RAM shadow {ram / 2**20:.0f} MiB)")
        print()

        # 2. reverse_step ------------------------------------------------------------------
        t_end_step, _ = timed(timeline.reverse_step)
        first, second = [], []
        for _ in range(args.samples):
            timeline.seek(rng.randrange(1, end))
            first.append(timed(timeline.reverse_step)[0])
            second.append(timed(timeline.reverse_step)[0])
        median = statistics.median(first)
        verdict = "met" if median < REVERSE_STEP_TARGET else "NOT met"
        print(f"reverse_step() from {args.samples} random positions (each after seek(P))")
        print(f"  first:  median {ms(median)}   p90 {ms(quantile(first, 0.9))}   "
              f"max {ms(max(first))}   (target median < 50 ms: {verdict})")
        print(f"  second: median {ms(statistics.median(second))}   "
              f"p90 {ms(quantile(second, 0.9))}   max {ms(max(second))}")
        print(f"  at the end right after the first replay (no checkpoint near): {ms(t_end_step)}")
        print()

        # 3. reverse continue --------------------------------------------------------------
        thr = Watchpoint(UART_THR, 1, "write")
        t_scan, stores = timed(lambda: timeline.all_hits(watchpoints=[thr]))
        gap_start, gap_end = max(zip(stores, stores[1:]), key=lambda ab: ab[1].icount - ab[0].icount)
        q = gap_start.icount
        p = q + INTERVAL
        if gap_end.icount <= p:
            print(f"longest silent stretch is {gap_end.icount - q:,} instructions: "
                  f"shorter than {INTERVAL:,}, no reverse-continue measurement")
            return 0
        timeline.seek(q)
        store_pc = timeline.board.cpu.pc
        calls = [h.icount for h in timeline.all_hits(breakpoints=[store_pc])]
        assert max(c for c in calls if c < p) == q, "the breakpoint is hit between Q and P"

        forward = session(trace)
        forward.loop.run(q)
        t_forward, _ = timed(lambda: forward.loop.run(p))
        del forward
        # What a backward search pays on top: hooks slow execution down, and every
        # checkpoint interval it searches starts with a restore.
        hooked = session(trace)
        hooked.loop.run(q)
        collector = HitCollector(hooked.board, [store_pc], [], q)
        t_hooked, _ = timed(lambda: hooked.loop.run(p))
        collector.remove()
        del hooked
        stack = timeline.checkpoints
        restores = []
        for _ in range(args.repeat):
            timeline.seek(p)
            restores.append(timed(lambda: stack.restore(stack.at_or_before(q)))[0])
        t_restore = statistics.median(restores)
        timeline.seek(p)
        searched = [c for c in stack.positions() if c <= p]
        intervals = len(searched) - searched.index(stack.at_or_before(q).icount)

        def backward(**points) -> float:
            times = []
            for _ in range(args.repeat):
                timeline.seek(p)
                elapsed, hit = timed(lambda: timeline.run_backward(**points))
                if hit is None or hit.icount != q:
                    sys.exit(f"replay.py: run_backward({points}) stopped at {hit}, not at {q}")
                times.append(elapsed)
            return statistics.median(times)

        t_break = backward(breakpoints=[store_pc])
        t_watch = backward(watchpoints=[thr])
        print(f"reverse-continue over {INTERVAL / 1e6:.0f} M instructions "
              f"(Q = {q:,}, P = {p:,}; median of {args.repeat})")
        print(f"  forward replay Q..P, fresh session, no hooks   {ms(t_forward)}")
        print(f"  forward Q..P with the breakpoint hook present  {ms(t_hooked)}  "
              f"{t_hooked / t_forward:5.2f}x")
        print(f"  one checkpoint restore                         {ms(t_restore)}  "
              f"(the search from P restores {intervals} checkpoints, then one more to stop at Q)")
        for name, elapsed in (("breakpoint on the store's pc", t_break),
                              ("write watchpoint on the UART THR", t_watch)):
            ratio = elapsed / t_forward
            verdict = "met" if ratio < REVERSE_CONTINUE_TARGET else "NOT met"
            print(f"  run_backward, {name:<33}{ms(elapsed)}  {ratio:5.2f}x  "
                  f"(target < 2x: {verdict})")
        print(f"  (all_hits over the whole trace, THR watchpoint: {t_scan:.2f} s, "
              f"{len(stores)} console stores)")
        print()
        linux_watch_search(Path(tmp))
    return 0


def linux_watch_search(workdir: Path) -> None:
    """Section 4: `when panic_cpu` over the Linux crash recording, against a plain replay."""
    trace = workdir / "crash.rrt"
    vmlinux = record_linux_crash(trace)
    if vmlinux is None:
        print(f"watch search over a Linux boot: no Linux build in {LINUX}, skipped")
        return
    symbol = SymbolTable.from_elf(vmlinux.read_bytes()).get("panic_cpu")
    assert symbol is not None, "vmlinux has no panic_cpu"
    with TraceReader(trace) as reader:
        end = reader.footer.final_icount
    plain = Timeline(session(trace))
    t_plain, _ = timed(lambda: plain.seek(end + 1))
    del plain
    watched = Timeline(session(trace))
    t_watch, writes = timed(lambda: queries.writes(watched, symbol.address, 4))
    changes = watched.board.address_spaces.changes
    ratio = t_watch / t_plain
    verdict = "met" if ratio < WATCH_SEARCH_TARGET else "NOT met"
    print(f"watch search over a Linux boot ({end / 1e6:.0f} M instructions, from instruction 0)")
    print(f"  first replay with checkpoints, no hooks          {t_plain:7.2f} s")
    print(f"  every write to panic_cpu (REPL's when)           {t_watch:7.2f} s  {ratio:5.2f}x  "
          f"(target < 2x: {verdict})")
    print(f"  {len(writes)} write(s) found; {changes} satp writes and sfence.vma followed")


if __name__ == "__main__":
    sys.exit(main())
