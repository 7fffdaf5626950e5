#!/usr/bin/env python3
"""rrvm's speed against QEMU on four workloads, in one table.

    python bench/table.py [--repeat 3] [--iterations N] [--crash-insns N] [--steps 5]

Workloads, each run by every engine once per round, rounds alternating, the
median of --repeat rounds kept:

1. compute: guests/bin/compute.elf patched to N loop iterations (default 2e8:
   1e9 instructions), to poweroff;
2. Linux boot to poweroff (guests/linux/, virtio disk and rng);
3. the Linux sysrq crash run (`crash` on the kernel command line): rrvm
   records --crash-insns instructions (default 80 M, the end of which is
   panic()'s delay loop, an rdtime every few instructions); QEMU cannot stop
   at an instruction count, so all engines are also timed to panic()'s last
   line ("end Kernel panic"), and rrvm's whole run is compared with its own
   clean boot as instructions per second;
4. reverse-stepi from gdb-multiarch at the end of the crash trace of the
   last round (`rrvm debug`, gdb `continue` to the end of history, then
   --steps reverse-stepi in a row): the first and the median.

Engines: `rrvm record` with RRVM_ENGINE=native and with RRVM_ENGINE=hook (the
engine that really ran is what `rrvm info` says of the trace, or the count
hook when the trace names none), QEMU plain, and QEMU with
`-icount shift=auto,rr=record` (sleep=off for Linux). Times are whole
processes, start-up included. When init asks for a console line, every
engine gets an empty one, so that none sits in init's 3-second wait in real
time (QEMU plain would). Ratios are QEMU record's time over the other's:
above 1 is faster than QEMU record. Prints the table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engines import (COMPUTE_BODY_INSNS, LINUX, REPO, Run, compute_elf,  # noqa: E402
                     linux_built, patched_compute, qemu_available, qemu_compute, qemu_linux,
                     qemu_record, rrvm, rrvm_linux, timed_run)
from rr.log.trace_reader import TraceReader  # noqa: E402

ENGINES = ("rrvm native", "rrvm hook", "QEMU plain", "QEMU record")
PROMPT = (b"type a line within 3 s:", b"\r")
PANIC_END = b"end Kernel panic"
CRASH_APPEND = "console=ttyS0 crash"
GDB = shutil.which("gdb-multiarch")
INSN_LIMIT_STATUS = 4                # rrvm's exit status for --max-insns


def engine_env(name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RRVM_ENGINE", None)
    if name.startswith("rrvm "):
        env["RRVM_ENGINE"] = name.split()[1]
    return env


def engine_that_ran(trace: Path, stderr: bytes) -> str:
    """What the trace says recorded it; the one engine this rrvm has when it says nothing."""
    info = subprocess.run(rrvm("info", str(trace)), cwd=REPO, capture_output=True, text=True)
    for line in info.stdout.splitlines():
        if line.startswith("engine"):
            return line.split(None, 1)[1].strip()
    notes = [line for line in stderr.decode(errors="replace").splitlines() if "engine" in line]
    return "count hook (the trace names no engine)" + (f"; {notes[0]}" if notes else "")


class Table:
    """Times by (workload, engine), one list of runs each."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], list[Run]] = {}
        self.engines_seen: dict[str, str] = {}

    def add(self, workload: str, engine: str, run: Run) -> None:
        self.runs.setdefault((workload, engine), []).append(run)

    def median(self, workload: str, engine: str, mark: bytes | None = None) -> float | None:
        runs = self.runs.get((workload, engine))
        if not runs:
            return None
        values = [run.marks[mark] if mark else run.seconds for run in runs
                  if mark is None or mark in run.marks]
        return statistics.median(values) if values else None


def checked(run: Run, argv: list[str], statuses: tuple[int | None, ...]) -> Run:
    if run.status not in statuses:
        sys.exit(f"table.py: {' '.join(argv)} ended with {run.status}:\n"
                 + run.stderr.decode(errors="replace")[-2000:])
    return run


def one_round(table: Table, engines: list[str], work: Path, args: argparse.Namespace,
              compute: Path) -> None:
    for engine in engines:
        env = engine_env(engine)
        tag = engine.replace(" ", "-")
        # 1. compute
        if engine.startswith("rrvm"):
            argv = rrvm("record", str(compute), "-o", str(work / f"compute-{tag}.rrt"))
        else:
            argv = qemu_compute(compute)
            if engine == "QEMU record":
                argv += qemu_record(work / "compute.qrr")
        table.add("compute", engine, checked(timed_run(argv, env=env), argv, (0,)))
        if not linux_built():
            continue
        # 2. Linux boot to poweroff
        trace = work / f"boot-{tag}.rrt"
        if engine.startswith("rrvm"):
            argv = rrvm_linux("record", "-o", str(trace))
        else:
            argv = qemu_linux(*(qemu_record(work / "boot.qrr", sleep=False)
                                if engine == "QEMU record" else ()))
        run = checked(timed_run(argv, answer=PROMPT, env=env), argv, (0,))
        table.add("boot", engine, run)
        if engine.startswith("rrvm"):
            table.engines_seen[engine] = engine_that_ran(trace, run.stderr)
            with TraceReader(trace) as reader:
                table.add("boot insns", engine, Run(reader.footer.final_icount, 0))
        # 3. the crash run
        if engine.startswith("rrvm"):
            argv = rrvm_linux("record", "--max-insns", str(args.crash_insns),
                              "-o", str(work / f"crash-{tag}.rrt"), append=CRASH_APPEND)
            run = timed_run(argv, marks=(PANIC_END,), answer=PROMPT, env=env)
            checked(run, argv, (INSN_LIMIT_STATUS,))
        else:
            argv = qemu_linux(*(qemu_record(work / "crash.qrr", sleep=False)
                                if engine == "QEMU record" else ()), append=CRASH_APPEND)
            run = timed_run(argv, marks=(PANIC_END,), until=PANIC_END, answer=PROMPT, env=env)
        if PANIC_END not in run.marks:
            sys.exit(f"table.py: {engine} never printed '{PANIC_END.decode()}'")
        table.add("crash", engine, run)


GDB_SCRIPT = """
import time
gdb.execute("continue", to_string=True)
times = []
for _ in range({steps}):
    start = time.perf_counter()
    gdb.execute("reverse-stepi", to_string=True)
    times.append(time.perf_counter() - start)
print("REVERSE-STEPI " + " ".join("%.6f" % t for t in times))
"""


def reverse_stepi(trace: Path, engine: str, steps: int, work: Path) -> list[float]:
    """Seconds per reverse-stepi from gdb at the end of ``trace``, in order."""
    script = work / "reverse_stepi.py"
    script.write_text(GDB_SCRIPT.format(steps=steps))
    server = subprocess.Popen(rrvm("debug", str(trace), "--gdb", "0"), cwd=REPO,
                              env=engine_env(engine), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        match = re.search(r"waiting for gdb on [\d.]+:(\d+)", line)
        if not match:
            sys.exit(f"table.py: rrvm debug did not start: {line}{server.stderr.read()[-2000:]}")
        gdb = subprocess.run([GDB, "-nx", "-batch", "-ex", "set pagination off",
                              "-ex", "set confirm off", "-ex", f"file {LINUX / 'vmlinux'}",
                              "-ex", f"target remote 127.0.0.1:{match.group(1)}",
                              "-x", str(script)], capture_output=True, text=True, timeout=3600)
    finally:
        server.kill()
        server.wait()
    found = re.search(r"^REVERSE-STEPI (.*)$", gdb.stdout, re.M)
    if not found:
        sys.exit(f"table.py: gdb did not report its reverse steps:\n{gdb.stdout[-2000:]}"
                 f"{gdb.stderr[-2000:]}")
    return [float(value) for value in found.group(1).split()]


# --- printing -----------------------------------------------------------------------------

def cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_table(table: Table, engines: list[str], args: argparse.Namespace,
                steps: dict[str, list[float]]) -> None:
    width = 14
    head = f"{'':<44}" + "".join(f"{name:>{width}}" for name in engines)
    compute_insns = COMPUTE_BODY_INSNS * args.iterations

    def row(label: str, values: list[str]) -> None:
        print(f"{label:<44}" + "".join(f"{v:>{width}}" for v in values))

    def ratio_row(workload: str, mark: bytes | None = None) -> None:
        reference = table.median(workload, "QEMU record", mark)
        values = []
        for engine in engines:
            mine = table.median(workload, engine, mark)
            values.append("-" if reference is None or mine is None
                          else f"{reference / mine:.2f}x")
        row("  speed / QEMU record's", values)

    print(head)
    row(f"compute, {compute_insns / 1e6:,.0f} M instr (s)",
        [cell(table.median("compute", e), ".2f") for e in engines])
    row("  M instr/s (whole process)",
        [cell(None if table.median("compute", e) is None
              else compute_insns / table.median("compute", e) / 1e6, ".0f") for e in engines])
    ratio_row("compute")
    if linux_built():
        boot_insns = table.median("boot insns", "rrvm hook") or table.median("boot insns",
                                                                             "rrvm native")
        row(f"Linux boot to poweroff, {boot_insns / 1e6:.1f} M instr (s)",
            [cell(table.median("boot", e), ".2f") for e in engines])
        ratio_row("boot")
        row("Linux crash run, to panic's last line (s)",
            [cell(table.median("crash", e, PANIC_END), ".2f") for e in engines])
        ratio_row("crash", PANIC_END)
        row(f"  whole {args.crash_insns / 1e6:.0f} M instr run (s)",
            [cell(table.median("crash", e) if e.startswith("rrvm") else None, ".2f")
             for e in engines])
        rates = []
        for engine in engines:
            crash, boot = table.median("crash", engine), table.median("boot", engine)
            own_boot = table.median("boot insns", engine)
            if not engine.startswith("rrvm") or None in (crash, boot, own_boot):
                rates.append("-")
                continue
            rates.append(f"{(args.crash_insns / crash) / (own_boot / boot):.2f}x")
        row("  instr/s, as a share of its clean boot's", rates)
        if steps:
            row("reverse-stepi at the crash trace's end (ms)", [""] * len(engines))
            row("  first", [cell(steps[e][0] * 1e3 if e in steps else None, ".0f")
                            for e in engines])
            row(f"  median of {args.steps}", [cell(statistics.median(steps[e]) * 1e3
                                                   if e in steps else None, ".0f")
                                              for e in engines])
    print()
    for engine, what in table.engines_seen.items():
        print(f"{engine}: ran {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (medians; at least 3)")
    parser.add_argument("--iterations", type=int, default=200_000_000,
                        help="compute loop iterations, 5 instructions each (default 2e8)")
    parser.add_argument("--crash-insns", type=int, default=80_000_000,
                        help="instructions of the recorded crash run (default 80 M)")
    parser.add_argument("--steps", type=int, default=5, help="reverse-stepi in a row")
    parser.add_argument("--no-qemu", action="store_true", help="rrvm engines only")
    args = parser.parse_args()
    if args.repeat < 1 or args.iterations < 1 or args.steps < 1:
        parser.error("--repeat, --iterations and --steps must be positive")
    engines = [e for e in ENGINES
               if e.startswith("rrvm") or (not args.no_qemu and qemu_available())]
    table = Table()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rrvm-table-") as tmp:
        work = Path(tmp)
        compute = patched_compute(compute_elf(work), args.iterations, work)
        for number in range(args.repeat):
            print(f"round {number + 1} of {args.repeat} ...", file=sys.stderr, flush=True)
            one_round(table, engines, work, args, compute)
        steps = {}
        if linux_built() and GDB and (LINUX / "vmlinux").is_file():
            for engine in (e for e in engines if e.startswith("rrvm")):
                tag = engine.replace(" ", "-")
                steps[engine] = reverse_stepi(work / f"crash-{tag}.rrt", engine, args.steps, work)
    print(f"medians of {args.repeat} alternating rounds; "
          f"{time.perf_counter() - started:.0f} s in all; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    if not linux_built():
        print(f"(no Linux build in {LINUX}: guests/linux/build.sh makes it)\n")
    print_table(table, engines, args, steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
