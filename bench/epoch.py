#!/usr/bin/env python3
"""How the epoch size moves recording speed, on the compute loop and the Linux boot.

    python bench/epoch.py [--epochs 20000,50000,200000] [--repeat 3] [--iterations N]

Every round records both workloads once per epoch (`rrvm record --epoch N`),
rounds alternating; the median of --repeat rounds is kept. Times are whole
processes (start-up included); the engine is whatever RRVM_ENGINE selects.
The compute guest runs N loop iterations of 5 instructions (default 2e8,
1e9 instructions); the Linux boot runs to poweroff, with an empty console
line when init asks for one. Prints seconds and the change against the
first epoch given; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engines import (compute_elf, linux_built, patched_compute, rrvm, rrvm_linux,  # noqa: E402
                     timed_run)

PROMPT = (b"type a line within 3 s:", b"\r")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", default="20000,50000,200000",
                        help="comma-separated epoch sizes; the first is the reference")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=200_000_000)
    args = parser.parse_args()
    epochs = [int(text) for text in args.epochs.split(",")]
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="rrvm-epoch-") as tmp:
        work = Path(tmp)
        compute = patched_compute(compute_elf(work), args.iterations, work)
        workloads = {"compute": lambda e: rrvm("record", str(compute), "--epoch", str(e),
                                               "-o", str(work / "c.rrt"))}
        if linux_built():
            workloads["Linux boot"] = lambda e: rrvm_linux("record", "--epoch", str(e),
                                                           "-o", str(work / "l.rrt"))
        for number in range(args.repeat):
            print(f"round {number + 1} of {args.repeat} ...", file=sys.stderr, flush=True)
            for name, argv in workloads.items():
                for epoch in epochs:
                    run = timed_run(argv(epoch), answer=PROMPT)
                    if run.status != 0:
                        sys.exit(f"epoch.py: {name} at epoch {epoch} ended with {run.status}:\n"
                                 + run.stderr.decode(errors="replace")[-2000:])
                    times.setdefault((name, epoch), []).append(run.seconds)
    print(f"rrvm record, whole processes, median of {args.repeat} alternating rounds\n")
    print(f"{'workload':<14}" + "".join(f"{epoch:>14,}" for epoch in epochs))
    for name in workloads:
        medians = [statistics.median(times[name, epoch]) for epoch in epochs]
        print(f"{name + ' (s)':<14}" + "".join(f"{m:>14.2f}" for m in medians))
        print(f"{'  change':<14}" + "".join(f"{(m / medians[0] - 1) * 100:>+13.1f}%"
                                             for m in medians))
    return 0


if __name__ == "__main__":
    sys.exit(main())
