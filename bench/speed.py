#!/usr/bin/env python3
"""Guest instructions per second: rrvm against QEMU TCG, plain and recording.

    python bench/speed.py [--iterations N] [--repeat R] [--no-qemu]

Every engine runs the same compute guest twice: with N loop iterations and
with 1 iteration (the baseline: boot, OpenSBI for QEMU, the console output,
process start-up, poweroff). The loop body is exactly 5 instructions, so
the N-iteration run executes 5 * (N - 1) more instructions than the baseline
(plus a handful from printing a longer number), and

    M instr/s = 5 * (N - 1) / (t(N) - t(1)) / 1e6

with each time the best (minimum) wall time of R runs. The guest is
guests/bin/compute.elf; when that is missing, bench/compute.S is built with
riscv64-unknown-elf-gcc. Its `iterations` word is patched in copies of the ELF.
Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engines import (COMPUTE_BODY_INSNS as BODY_INSNS, QEMU, REPO, compute_elf,  # noqa: E402
                     patched_compute, qemu_available, qemu_compute, qemu_record, rrvm)

TARGET_RATIO = 0.3                   # rrvm >= 0.3 x QEMU record
CHECKSUM = re.compile(rb"checksum=(0x[0-9a-f]+)")


def engines(workdir: Path, with_qemu: bool) -> dict[str, callable]:
    table = {"rrvm": lambda elf: rrvm("run", str(elf))}
    if with_qemu and qemu_available():
        table["QEMU plain"] = lambda elf: qemu_compute(elf)
        table["QEMU record"] = lambda elf: [*qemu_compute(elf),
                                            *qemu_record(workdir / (elf.stem + ".qrr"))]
    return table


def timed(argv: list[str], repeat: int) -> tuple[float, bytes]:
    best, checksum = float("inf"), b""
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=REPO, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=600)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"speed.py: {' '.join(argv)} exited with {proc.returncode}:\n"
                     + proc.stderr.decode(errors="replace")[-2000:])
        match = CHECKSUM.search(proc.stdout)
        if not match:
            sys.exit(f"speed.py: {' '.join(argv)} printed no checksum")
        best, checksum = min(best, elapsed), match.group(1)
    return best, checksum


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=100_000_000,
                        help="loop iterations of the measured run (default 1e8 = 5e8 instructions)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement, best kept")
    parser.add_argument("--no-qemu", action="store_true", help="measure rrvm only")
    args = parser.parse_args()
    if args.iterations < 2:
        parser.error("--iterations must be at least 2")

    insns = BODY_INSNS * (args.iterations - 1)
    with tempfile.TemporaryDirectory(prefix="rrvm-bench-") as tmp:
        workdir = Path(tmp)
        elf = compute_elf(workdir)
        big, small = patched_compute(elf, args.iterations, workdir), patched_compute(elf, 1, workdir)
        print(f"guest {elf.relative_to(REPO) if elf.is_relative_to(REPO) else elf.name}: "
              f"{args.iterations} iterations x {BODY_INSNS} = {insns / 1e6:.0f} M instructions "
              f"over the baseline; best of {args.repeat}")
        results, checksums = {}, {}
        for name, argv in engines(workdir, not args.no_qemu).items():
            t_big, checksums[name] = timed(argv(big), args.repeat)
            t_small, _ = timed(argv(small), args.repeat)
            results[name] = (t_big, t_small, insns / max(t_big - t_small, 1e-9) / 1e6)

    if len(set(checksums.values())) > 1:
        print(f"WARNING: engines disagree on the checksum: {checksums}")
    print()
    print(f"{'engine':<12} {'run (s)':>8} {'baseline (s)':>13} {'loop (s)':>9} {'M instr/s':>10}")
    for name, (t_big, t_small, mips) in results.items():
        print(f"{name:<12} {t_big:8.3f} {t_small:13.3f} {t_big - t_small:9.3f} {mips:10.0f}")
    print()
    rr = results["rrvm"][2]
    if "QEMU plain" in results:
        print(f"rrvm / QEMU plain  = {rr / results['QEMU plain'][2]:.2f}")
    if "QEMU record" in results:
        ratio = rr / results["QEMU record"][2]
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"rrvm / QEMU record = {ratio:.2f}   "
              f"(target rrvm >= {TARGET_RATIO} x QEMU record: {verdict})")
    else:
        print(f"{QEMU} not measured: no ratios")
    return 0


if __name__ == "__main__":
    sys.exit(main())
