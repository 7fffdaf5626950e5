"""A large embedded file of mostly zeros (an initrd) costs about its own size, once.

Opening a trace that embeds 1 GiB of zeros (4 MB on disk) took 2 GB: python-lz4
inflates into a buffer of its own and copies it, and loading the bytes into
guest RAM touched as much again. Now large payloads are inflated in place
(rr/log/frames.py) and zero blocks are not written over zero RAM
(GuestRam.load), and the loaded RAM is the same bytes (the replay checks the
final state hash, RAM included).
"""

from __future__ import annotations

import resource
import subprocess

from rr.monitor.cpu import Cpu
from rr.monitor.ram import BLOCK, GuestRam

from conftest import REPO, RRVM

INITRD_MIB = 256
BASELINE_MIB = 200            # python, unicorn, the guest's own pages


def test_loading_leaves_out_only_zeros_over_zeros():
    ram = GuestRam(Cpu(), 0x8000_0000, 8 * BLOCK)
    ram.map[BLOCK:BLOCK + 4] = b"junk"                  # not zero: must be overwritten
    data = bytearray(4 * BLOCK)
    data[3 * BLOCK + 5] = 7
    ram.load(0x8000_0000, bytes(data))
    assert ram.map[:4 * BLOCK] == bytes(data)
    ram.load(0x8000_0000 + 4 * BLOCK, data)            # a bytearray, as large inflates give
    assert ram.map[4 * BLOCK:] == bytes(data)
    assert list(ram.nonzero_blocks()) == [3 * BLOCK, 7 * BLOCK]


def child_peak_mib(args: list[str]) -> tuple[subprocess.CompletedProcess, int]:
    """Run `rrvm ARGS` in a fresh child and return its peak resident size in MiB."""
    probe = ("import resource, subprocess, sys; "
             "done = subprocess.run(sys.argv[1:], capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024); "
             "sys.stderr.buffer.write(done.stderr); sys.exit(done.returncode)")
    done = subprocess.run([RRVM[0], "-c", probe, *RRVM, *args], cwd=REPO, capture_output=True,
                          timeout=300)
    return done, int(done.stdout.split()[-1])


def test_a_trace_with_a_large_zero_initrd_costs_it_once(tmp_path):
    initrd = tmp_path / "zeros.img"
    with open(initrd, "wb") as f:
        f.truncate(INITRD_MIB << 20)
    trace = tmp_path / "big.rr"
    recorded, record_peak = child_peak_mib(["record", str(REPO / "guests/bin/hello.elf"),
                                            "--mem", "1G", "--initrd", str(initrd),
                                            "-o", str(trace)])
    assert recorded.returncode == 0, recorded.stderr
    assert trace.stat().st_size < (INITRD_MIB << 20) // 100
    replayed, replay_peak = child_peak_mib(["replay", str(trace), "--quiet"])
    assert replayed.returncode == 0, replayed.stderr      # the final state hash matched
    for peak in (record_peak, replay_peak):
        assert peak < INITRD_MIB + BASELINE_MIB, (record_peak, replay_peak)


def test_opening_a_trace_with_a_large_ram_costs_what_the_guest_uses(tmp_path):
    """The checkpoints' shadow of RAM (rr/replay/checkpoints.py) was a full copy: a
    `--mem 4G` trace took 4 GB to open in the REPL or gdb. Now it holds only what
    RAM holds, and seeking back and forth still lands on the recorded states."""
    trace = tmp_path / "large.rr"
    recorded = subprocess.run([*RRVM, "record", str(REPO / "guests/bin/hello.elf"), "--mem",
                               "4G", "-o", str(trace)], cwd=REPO, capture_output=True,
                              timeout=120)
    assert recorded.returncode == 0, recorded.stderr
    commands = ["-c", "goto end", "-c", "goto 100", "-c", "goto end"]
    opened, peak = child_peak_mib(["repl", str(trace), *commands])
    assert opened.returncode == 0, opened.stderr
    assert peak < BASELINE_MIB, peak
