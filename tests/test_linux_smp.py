"""Linux 6.1 with SMP (guests/linux/build.sh --smp) on four harts, against QEMU -smp 4.

The kernel brings up every hart through SBI HSM (init reads all four online
from sysfs), prints the same init lines on rrvm and on QEMU, and a recording
of the boot replays byte for byte with its final state verified; states at
positions reached by seeking back and forth match a straight replay's.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, RRVM, run_rrvm
from rr.log.trace_reader import TraceReader
from rr.monitor.state_digest import state_digest
from rr.replay.replay_session import ReplaySession
from rr.replay.timeline import Timeline
from test_linux import QEMU, TIMEOUT, init_lines

LINUX_SMP = Path(os.environ.get("RRVM_CACHE", Path.home() / ".cache" / "rrvm")) / "linux-smp"
IMAGE, INITRD, DISK = (LINUX_SMP / name for name in ("Image", "initramfs.cpio.gz", "disk.img"))
HARTS = 4
BROUGHT_UP = f"smp: Brought up 1 node, {HARTS} CPUs"

pytestmark = pytest.mark.skipif(
    not all(path.is_file() for path in (IMAGE, INITRD, DISK)),
    reason=f"no SMP Linux build in {LINUX_SMP} (guests/linux/build.sh --smp makes it)")


def boot_args() -> list[str]:
    return [str(IMAGE), "--initrd", str(INITRD), "--append", "console=ttyS0",
            "--disk", str(DISK), "--rng", "--smp", str(HARTS)]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[Path, bytes]:
    trace = tmp_path_factory.mktemp("linux-smp") / "boot.rrt"
    rec = run_rrvm("record", *boot_args(), "-o", str(trace), timeout=4 * TIMEOUT)
    assert rec.returncode == 0, rec.stderr.decode(errors="replace")
    return trace, rec.stdout


def test_boots_on_four_harts_like_qemu(recorded):
    _, output = recorded
    text = output.decode(errors="replace")
    assert BROUGHT_UP in text, text[-3000:]
    lines = init_lines(output)
    assert f"rrvm init: cpus online: 0-{HARTS - 1}" in lines   # what nproc counts
    assert lines[-1] == "rrvm init: goodbye, powering off"
    if QEMU is None:
        pytest.skip("qemu-system-riscv64 is not installed")
    qemu = subprocess.run(
        [QEMU, "-M", "virt", "-smp", str(HARTS), "-m", "128M", "-nographic", "-bios", "default",
         "-kernel", str(IMAGE), "-initrd", str(INITRD), "-append", "console=ttyS0",
         "-global", "virtio-mmio.force-legacy=false",
         "-drive", f"file={DISK},if=none,format=raw,id=d0,readonly=on",
         "-device", "virtio-blk-device,drive=d0", "-device", "virtio-rng-device",
         # A virtual clock, as ours: on host time, a busy host can keep a secondary hart
         # from coming online before the kernel gives up on it ("cpus online: 0,2-3").
         "-icount", "shift=auto"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=4 * TIMEOUT)
    assert BROUGHT_UP in qemu.stdout.decode(errors="replace")
    assert init_lines(qemu.stdout) == lines


def test_replay_is_byte_identical_and_verified(recorded):
    trace, output = recorded
    replay = run_rrvm("replay", str(trace), timeout=4 * TIMEOUT)
    assert replay.returncode == 0, replay.stderr.decode(errors="replace")   # state verified
    assert replay.stdout == output
    info = run_rrvm("info", str(trace)).stdout.decode()
    counts = [int(n.replace(",", "")) for n in re.findall(r"hart \d: ([\d,]+)", info)]
    assert len(counts) == HARTS and all(counts), info


def test_seeks_match_a_straight_replay(recorded):
    trace, _ = recorded
    with TraceReader(trace) as reader:
        end = reader.footer.final_icount
    rng = random.Random(20261202)
    positions = [rng.randrange(end) for _ in range(6)]
    straight = ReplaySession(TraceReader(trace), lambda data: None)
    expected = {}
    for position in sorted(positions):
        straight.loop.run(position)
        expected[position] = state_digest(straight.board)
    timeline = Timeline(ReplaySession(TraceReader(trace), lambda data: None))
    for position in positions:                  # in random order: back and forth
        assert timeline.seek(position) == position
        assert state_digest(timeline.board) == expected[position], position


SSTC_TIMER = "riscv-timer: Timer interrupt in S-mode is available via sstc extension"


def test_with_sstc_linux_programs_stimecmp_and_replays(tmp_path):
    """--sstc: Linux finds sstc in riscv,isa and programs each hart's timer through the
    emulated stimecmp, as it does on QEMU (whose virt CPU has Sstc); its init prints
    the same, and the recording replays byte for byte with its final state verified."""
    trace = tmp_path / "sstc.rrt"
    rec = run_rrvm("record", *boot_args(), "--sstc", "-o", str(trace), timeout=4 * TIMEOUT)
    assert rec.returncode == 0, rec.stderr.decode(errors="replace")
    text = rec.stdout.decode(errors="replace")
    assert SSTC_TIMER in text and BROUGHT_UP in text, text[-3000:]
    plain = run_rrvm("run", *boot_args(), timeout=4 * TIMEOUT)
    assert SSTC_TIMER not in plain.stdout.decode(errors="replace")
    assert init_lines(rec.stdout) == init_lines(plain.stdout)
    replay = run_rrvm("replay", str(trace), timeout=4 * TIMEOUT)
    assert replay.returncode == 0, replay.stderr.decode(errors="replace")
    assert replay.stdout == rec.stdout
