#!/usr/bin/env python3
"""Recording the SMP Linux guest on one hart and on several: instructions per second.

    python bench/smp.py                      # --smp 1 and --smp 4, 5 alternating rounds
    python bench/smp.py --harts 1,2,4 --rounds 7
    python bench/smp.py --quantum 100000      # another scheduling quantum for --smp > 1

Each round records the SMP kernel (guests/linux/build.sh --smp) to its
poweroff once per hart count, in turn, so load on the machine falls on every
hart count alike; the table gives medians over the rounds. Three rates per
recording, each guest instructions (the trace's final position) divided by
a time:

- process: wall time of the whole `rrvm record` process (start-up, trace
  header and footer included), what a user waits for;
- CPU: user + system time of that process, the steadiest on a shared machine;
- run: the trace's own duration (writer opened to closed), the run loop
  without the process's start-up.

The ratio of each to the one-hart rate is printed against the 0.8x target
(a 4-hart boot records at no worse than 0.8x the one-hart instructions per
second), with the load average before and after. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rr.log.trace_reader import TraceReader  # noqa: E402

LINUX_SMP = Path(os.environ.get("RRVM_CACHE", Path.home() / ".cache" / "rrvm")) / "linux-smp"
TARGET = 0.8


@dataclass
class Recording:
    insns: int
    wall: float          # the process
    cpu: float           # user + system of the process
    run: float           # the trace's duration

    def rates(self) -> tuple[float, float, float]:
        return tuple(self.insns / seconds / 1e6 for seconds in (self.wall, self.cpu, self.run))


def record(harts: int, trace: Path, quantum: int | None) -> Recording:
    argv = [sys.executable, "-m", "rr", "record", str(LINUX_SMP / "Image"),
            "--initrd", str(LINUX_SMP / "initramfs.cpio.gz"), "--append", "console=ttyS0",
            "--disk", str(LINUX_SMP / "disk.img"), "--rng", "--smp", str(harts), "-o", str(trace)]
    if quantum is not None and harts > 1:
        argv += ["--quantum", str(quantum)]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench/smp.py: recording with --smp {harts} failed: {stderr.strip()[-500:]}")
    with TraceReader(trace) as reader:
        footer, header = reader.footer, reader.header
        insns, run = footer.final_icount, footer.closed - header.created
    return Recording(insns, wall, usage.ru_utime + usage.ru_stime, run)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--harts", default="1,4", help="hart counts, the first is the base")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quantum", type=int, help="--quantum of the recordings with several "
                        "harts (default: rrvm's)")
    args = parser.parse_args()
    if not all((LINUX_SMP / name).is_file() for name in ("Image", "initramfs.cpio.gz", "disk.img")):
        sys.exit(f"bench/smp.py: no SMP Linux build in {LINUX_SMP} "
                 "(run guests/linux/build.sh --smp)")
    counts = [int(text) for text in args.harts.split(",")]
    load_before = os.getloadavg()
    results: dict[int, list[Recording]] = {harts: [] for harts in counts}
    with tempfile.TemporaryDirectory(prefix="rrvm-smp-bench-") as tmp:
        for _ in range(args.rounds):
            for harts in counts:
                results[harts].append(record(harts, Path(tmp) / f"smp{harts}.rrt", args.quantum))
    load_after = os.getloadavg()
    medians = {harts: [statistics.median(r.rates()[k] for r in runs) for k in range(3)]
               for harts, runs in results.items()}
    base = medians[counts[0]]
    quantum = f", quantum {args.quantum:,}" if args.quantum else ""
    print(f"SMP Linux ({LINUX_SMP}) recorded to poweroff, median of {args.rounds} "
          f"alternating rounds{quantum}\n")
    print("| harts | M instructions | process s | CPU s | run s | M instr/s process | "
          "M instr/s CPU | M instr/s run | ratio process | ratio CPU | ratio run |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for harts, runs in results.items():
        rates = medians[harts]
        cells = [f"{statistics.median(r.insns for r in runs) / 1e6:.1f}",
                 *(f"{statistics.median(getattr(r, name) for r in runs):.2f}"
                   for name in ("wall", "cpu", "run")),
                 *(f"{rate:.1f}" for rate in rates),
                 *(f"{rate / b:.2f}" for rate, b in zip(rates, base))]
        print(f"| {harts} | " + " | ".join(cells) + " |")
    print(f"\ntarget: {counts[-1]} harts >= {TARGET}x the {counts[0]}-hart rate: "
          + ", ".join(f"{name} {'met' if medians[counts[-1]][k] / base[k] >= TARGET else 'missed'}"
                      for k, name in enumerate(("process", "CPU", "run"))))
    print("load average before: %.2f %.2f %.2f, after: %.2f %.2f %.2f (%d cores)"
          % (*load_before, *load_after, os.cpu_count() or 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
