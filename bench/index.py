#!/usr/bin/env python3
"""The checkpoint index: goto end from a fresh process, searches on 1 and 2 jobs.

    python bench/index.py [--repeat 3] [--no-linux] [--long ELF]

Records guests/bin/long.elf (500 M instructions, a write to `progress` every
5,000,004) and, when the Linux guest is built (guests/linux/build.sh), the
README's Linux crash run (64 M instructions), into a temporary directory,
indexes each with `rrvm index` (every 10 M instructions), then times whole
processes, best of --repeat, each with its peak memory (largest resident set
of the process and its workers):

- header load: `rrvm info TRACE` (opens the trace, reads its header, footer
  and chunk index, checks the index's header against the trace);
- goto end: `rrvm replay TRACE --to END --quiet` (prints the registers there)
  with the index and with `--no-index`; the target is the first under 3x the
  header load;
- when: `rrvm repl TRACE -c "when VAR"` sequentially (`--no-index`), and with
  the index on `-j 1` (this process alone) and `-j 2` (this process and one
  worker, split by segment); the target is 2 jobs at least 1.6x faster than
  1. Whole processes include starting the worker and Python itself; a further
  `when` in the same REPL session (a process running it three times against
  one running it once) leaves those out, and the same search is also timed
  in this process on a warm pool (second query), which is the speedup of the
  search itself;
- the index's size per million instructions, and the time `rrvm index` took.

Prints the table and the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
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
from rr.repl.symbols import SymbolTable  # noqa: E402
from rr.replay.checkpoint_index import index_path, open_index  # noqa: E402
from rr.replay.hits import Watchpoint  # noqa: E402
from rr.replay.segments import SegmentSearch  # noqa: E402

RRVM = [sys.executable, "-m", "rr"]
LONG = REPO / "guests" / "bin" / "long.elf"
GOTO_TARGET = 3.0
WORKERS_TARGET = 1.6
PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], "
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def timed(argv: list[str], repeat: int) -> tuple[float, int]:
    """Best wall time of ``repeat`` fresh processes, and the peak resident set (KiB)."""
    best, peak = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PEAK, *argv], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
        best = min(best, time.perf_counter() - start)
        peak = max(peak, int(out.split()[-1]))
    return best, peak


def record_long(workdir: Path, elf: Path = LONG) -> Path:
    trace = workdir / "long.rrt"
    subprocess.run([*RRVM, "record", str(elf), "-o", str(trace)], cwd=REPO, check=True,
                   capture_output=True)
    return trace


def record_linux(workdir: Path) -> tuple[Path, int, int] | None:
    trace = workdir / "crash.rrt"
    vmlinux = record_linux_crash(trace)
    if vmlinux is None:
        print(f"(no Linux build in {LINUX}: the Linux rows are left out)")
        return None
    symbol = SymbolTable.from_elf(vmlinux.read_bytes()).get("jiffies")
    return trace, symbol.address, 8


def long_variable(trace: Path, elf: Path = LONG) -> tuple[Path, int, int]:
    symbol = SymbolTable.from_elf(elf.read_bytes()).get("progress")
    return trace, symbol.address, 8


def measure(name: str, trace: Path, address: int, length: int, repeat: int) -> list[str]:
    with TraceReader(trace) as reader:
        end = reader.footer.final_icount
    start = time.perf_counter()
    subprocess.run([*RRVM, "index", str(trace)], cwd=REPO, check=True, capture_output=True)
    t_index = time.perf_counter() - start
    size = index_path(trace).stat().st_size
    when = f"when 0x{address:x} {length}"
    header, header_peak = timed([*RRVM, "info", str(trace)], repeat)
    with_index, with_peak = timed([*RRVM, "replay", str(trace), "--to", str(end), "--quiet"],
                                  repeat)
    without, without_peak = timed([*RRVM, "replay", str(trace), "--to", str(end), "--quiet",
                                   "--no-index"], repeat)
    sequential, seq_peak = timed([*RRVM, "repl", str(trace), "--no-index", "-c", when], repeat)
    one, one_peak = timed([*RRVM, "repl", str(trace), "-j", "1", "-c", when], repeat)
    two, two_peak = timed([*RRVM, "repl", str(trace), "-j", "2", "-c", when], repeat)
    in_session = [session_query(trace, when, jobs, repeat) for jobs in (1, 2)]
    warm_one, warm_two = warm_searches(trace, address, length, repeat)
    cpu_one, cpu_two = cpu_split(trace, address, length)
    goto_ratio = with_index / header
    verdict = "met" if goto_ratio < GOTO_TARGET else "NOT met"
    speedup, warm_speedup = one / two, warm_one / warm_two
    verdict2 = "met" if speedup >= WORKERS_TARGET else "NOT met"
    verdict3 = "met" if warm_speedup >= WORKERS_TARGET else "NOT met"
    mib = 1 << 20
    return [
        f"{name}: {end / 1e6:,.1f} M instructions, {len(open_index(TraceReader(trace)).positions)}"
        f" checkpoints",
        f"  rrvm index                          {t_index:7.2f} s   index {size / mib:7.2f} MiB, "
        f"{size / (end / 1e6) / 1024:.2f} KiB per M instructions",
        f"  header load (rrvm info)             {header:7.2f} s   peak {header_peak / 1024:6.0f} MiB",
        f"  goto end, with the index            {with_index:7.2f} s   peak "
        f"{with_peak / 1024:6.0f} MiB   {goto_ratio:5.2f}x header (target < {GOTO_TARGET}x: "
        f"{verdict})",
        f"  goto end, without (replay from 0)   {without:7.2f} s   peak {without_peak / 1024:6.0f} MiB"
        f"   {without / with_index:5.1f}x slower",
        f"  when, sequential (--no-index)       {sequential:7.2f} s   peak {seq_peak / 1024:6.0f} MiB",
        f"  when, 1 job (-j 1)                  {one:7.2f} s   peak {one_peak / 1024:6.0f} MiB",
        f"  when, 2 jobs (-j 2)                 {two:7.2f} s   peak {two_peak / 1024:6.0f} MiB"
        f"   speedup {speedup:.2f}x (target >= {WORKERS_TARGET}x: {verdict2})",
        f"  when, a further query in a session  1 job {in_session[0]:6.2f} s, 2 jobs "
        f"{in_session[1]:6.2f} s   speedup {in_session[0] / in_session[1]:.2f}x "
        f"({'met' if in_session[0] / in_session[1] >= WORKERS_TARGET else 'NOT met'})",
        f"  same search in process, warm pool   1 job {warm_one:6.2f} s, 2 jobs "
        f"{warm_two:6.2f} s   speedup {warm_speedup:.2f}x ({verdict3})",
        f"  CPU time of that search             1 job {cpu_one:6.2f} s, the busier of 2 "
        f"jobs {cpu_two:6.2f} s   {cpu_one / cpu_two:.2f}x on two idle cores",
    ]


def session_query(trace: Path, when: str, jobs: int, repeat: int) -> float:
    """What one more `when` costs in a REPL session on ``jobs`` jobs: a process running
    it three times against one running it once, the difference halved (best of
    ``repeat`` each); the session's start, which no query repeats, drops out."""
    argv = [*RRVM, "repl", str(trace), "-j", str(jobs), "-c"]
    once, _ = timed([*argv, when], repeat)
    thrice, _ = timed([*argv, "; ".join([when] * 3)], repeat)
    return (thrice - once) / 2


def cpu_split(trace: Path, address: int, length: int) -> tuple[float, float]:
    """CPU seconds of the whole search on one job, and the most either of two jobs
    (this process and its worker) spent on its share (after a first search): the
    speedup two idle cores give."""
    from segment_timing import timed_search
    index = open_index(TraceReader(trace))
    watch = [Watchpoint(address, length)]
    search = SegmentSearch(trace, index, jobs=1)
    tasks = search.tasks(search.segments(), (), watch)
    search.run(timed_search, tasks, None, "warming up")
    one = sum(cpu for _, cpu in search.run(timed_search, tasks, None, "one job"))
    search = SegmentSearch(trace, index, jobs=2)
    try:
        search.run(timed_search, tasks, None, "warming up")
        by_worker: dict[int, float] = {}
        for pid, cpu in search.run(timed_search, tasks, None, "two workers"):
            by_worker[pid] = by_worker.get(pid, 0.0) + cpu
    finally:
        search.close()
    return one, max(by_worker.values())


def warm_searches(trace: Path, address: int, length: int, repeat: int) -> tuple[float, float]:
    """all_hits over the whole trace after a first one (worker started, replays
    built): 1 job (the segments one after the other in this process) and 2 jobs
    (this process and a worker)."""
    index = open_index(TraceReader(trace))
    watch = [Watchpoint(address, length)]
    times = []
    for jobs in (1, 2):
        search = SegmentSearch(trace, index, jobs=jobs)
        try:
            search.all_hits(watchpoints=watch)
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                search.all_hits(watchpoints=watch)
                best = min(best, time.perf_counter() - start)
            times.append(best)
        finally:
            search.close()
    return times[0], times[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-linux", action="store_true")
    parser.add_argument("--long", type=Path, default=LONG, metavar="ELF",
                        help="another build of guests/long (e.g. more rounds: "
                             "400 rounds for 2e9 instructions: bench/README.md says how)")
    args = parser.parse_args()
    lines = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="rrvm-index-bench-") as tmp:
        workdir = Path(tmp)
        name = "long.elf" if args.long == LONG else f"{args.long}"
        lines += measure(name, *long_variable(record_long(workdir, args.long), args.long),
                         args.repeat)
        linux = None if args.no_linux else record_linux(workdir)
        if linux is not None:
            lines += measure("Linux crash run", *linux, args.repeat)
    load = os.getloadavg()[0]
    print(f"best of {args.repeat}; {time.time() - started:.0f} s in all; load average "
          f"{load:.1f} on {os.cpu_count()} CPUs")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
