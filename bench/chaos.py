#!/usr/bin/env python3
"""Runs to the first failure of the SMP race guest: chaos scheduling against plain recording.

    python bench/chaos.py [--harts 2] [--starts 1,1001,2001,3001,4001] [--limit 300]
                          [--plain-runs 20]

guests/smp races two or more harts on an unlocked counter; it fails (exit 1)
when a switch between harts falls inside one hart's load-store window while
another updates the counter. Plain recording (`rrvm record --smp N`) is the
same run every time, so its runs to failure are "none in --plain-runs". Chaos
mode (`rrvm record --smp N --chaos S --until-fail LIMIT`) is run from each
start seed; the table gives the number of runs each took to keep a failing
trace. Asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GUEST = REPO / "guests" / "bin" / "smp.elf"
RRVM = [sys.executable, "-m", "rr"]
KEPT = re.compile(rb"rrvm: run (\d+) \(--chaos \d+\) failed")


def record(argv: list[str], trace: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*RRVM, "record", str(GUEST), *argv, "-o", str(trace)], cwd=REPO,
                          capture_output=True, timeout=3600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--harts", type=int, default=2)
    parser.add_argument("--starts", default="1,1001,2001,3001,4001")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--plain-runs", type=int, default=20)
    args = parser.parse_args()
    smp = ["--smp", str(args.harts)]
    with tempfile.TemporaryDirectory(prefix="rrvm-chaos-") as tmp:
        trace = Path(tmp) / "run.rrt"
        plain_failures = sum(record(smp, trace).returncode != 0 for _ in range(args.plain_runs))
        chaos: list[int | None] = []
        for start in (int(text) for text in args.starts.split(",")):
            proc = record([*smp, "--chaos", str(start), "--until-fail", str(args.limit)], trace)
            match = KEPT.search(proc.stderr)
            chaos.append(int(match.group(1)) if match else None)
    found = [runs for runs in chaos if runs is not None]
    print(f"guests/smp, {args.harts} harts, default quantum\n")
    print("| recording | runs | failing runs | runs to the first failure |")
    print("|---|---|---|---|")
    print(f"| plain | {args.plain_runs} | {plain_failures} | "
          f"{'none in %d' % args.plain_runs if not plain_failures else 1} |")
    for start, runs in zip(args.starts.split(","), chaos):
        print(f"| chaos from seed {start} | {runs or args.limit} | {int(runs is not None)} | "
              f"{runs if runs is not None else 'none in %d' % args.limit} |")
    if found:
        print(f"\nchaos: median {statistics.median(found):g} runs to the first failure "
              f"({len(found)} of {len(chaos)} searches found one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
