"""Our guests print the same console output on rrvm as on QEMU virt.

QEMU (`-M virt -bios default`, OpenSBI in M-mode) is the oracle: anything
the board models differently from QEMU shows up as a difference in what the
guest prints. OpenSBI's banner comes before the guest's "<name>: start" line
and is cut off. The demo guest is excluded: its output depends on the RTC.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUESTS = ROOT / "guests" / "bin"
QEMU = shutil.which("qemu-system-riscv64")
# Input is typed once the guest has printed its prompt, as a user would: bytes
# sent earlier may be dropped by a guest that resets its UART FIFO at start.
INPUTS = {"echo": (b"powers off", b"hello rrvm\n\nsecond line\nquit\n"),
          "flow": (b"type a character", b"A")}
TIMEOUT = 300


def guest_output(raw: bytes, name: str) -> bytes:
    marker = f"{name}: start".encode()
    assert marker in raw, raw[-2000:]
    text = raw[raw.index(marker):].replace(b"\r\n", b"\n")
    return text


def converse(argv: list[str], name: str) -> tuple[bytes, bytes, int]:
    """Run argv; type the guest's input after its prompt; return (stdout, stderr, status)."""
    prompt, typed = INPUTS.get(name, (None, b""))
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    out = bytearray()
    if prompt is None:
        proc.stdin.close()
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if not selector.select(timeout=1):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        out += chunk
        if prompt is not None and prompt in out:
            proc.stdin.write(typed)
            proc.stdin.close()
            prompt = None
    else:
        proc.kill()
    status = proc.wait(timeout=30)
    return bytes(out), proc.stderr.read(), status


def run_qemu(elf: Path, name: str):
    return converse([QEMU, "-M", "virt", "-bios", "default", "-kernel", str(elf), "-nographic",
                     "-no-reboot", "-monitor", "none", "-serial", "stdio"], name)


def run_rrvm(elf: Path, name: str):
    return converse([sys.executable, "-m", "rr", "run", str(elf)], name)


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 not installed (apt-get install qemu-system-misc)")
@pytest.mark.parametrize("name", ["hello", "timer", "echo", "paging", "compute", "remap",
                                  "stale", "flow", "long", "fpflags"])
def test_same_output_as_qemu(name):
    elf = GUESTS / f"{name}.elf"
    qemu_out, _, qemu_status = run_qemu(elf, name)
    our_out, our_err, our_status = run_rrvm(elf, name)
    assert our_err == b"", our_err
    assert guest_output(our_out, name) == guest_output(qemu_out, name)
    assert our_status == qemu_status == 0


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 not installed (apt-get install qemu-system-misc)")
@pytest.mark.parametrize("name, harts", [("smp", 2), ("smp", 4), ("legacy", 2), ("legacy", 4),
                                         ("spaces", 2)])
def test_smp_guest_same_output_as_qemu(name, harts):
    """The SMP guests. smp: harts started with HSM, reporting in turn, an IPI to a hart
    mask, hart_stop; QEMU runs its harts round robin on one thread (as rrvm does), so
    its short race does not show on either and both print the same. legacy: the SBI
    v0.1 IPI and remote fence calls on masks read from guest memory (OpenSBI on QEMU),
    faults reading the mask, IPIs passing stopped harts. spaces: two harts in address
    spaces of their own, storing through one virtual address."""
    elf = GUESTS / f"{name}.elf"
    qemu_out, _, qemu_status = converse(
        [QEMU, "-M", "virt", "-smp", str(harts), "-accel", "tcg,thread=single", "-bios", "default",
         "-kernel", str(elf), "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio"],
        name)
    our_out, our_err, our_status = converse(
        [sys.executable, "-m", "rr", "run", str(elf), "--smp", str(harts)], name)
    assert our_err == b"", our_err
    assert guest_output(our_out, name) == guest_output(qemu_out, name)
    assert f"{name}: {harts} harts\n".encode() in guest_output(our_out, name)
    assert our_status == qemu_status == 0


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 not installed (apt-get install qemu-system-misc)")
@pytest.mark.parametrize("harts", [1, 3])
def test_sstc_guest_with_sstc_same_output_as_qemu(harts):
    """guests/sstc on rrvm --sstc and on QEMU, whose virt CPU has Sstc (OpenSBI enables it
    and programs stimecmp for set_timer): each hart's stimecmp, its interrupt, the value
    read back, set_timer writing the same comparator."""
    elf = GUESTS / "sstc.elf"
    qemu_out, _, qemu_status = converse(
        [QEMU, "-M", "virt", "-smp", str(harts), "-accel", "tcg,thread=single", "-bios", "default",
         "-kernel", str(elf), "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio"],
        "sstc")
    our_out, our_err, our_status = converse(
        [sys.executable, "-m", "rr", "run", str(elf), "--smp", str(harts), "--sstc"], "sstc")
    assert our_err == b"", our_err
    assert guest_output(our_out, "sstc") == guest_output(qemu_out, "sstc")
    assert b"illegal" not in our_out and f"sstc: {harts} harts done".encode() in our_out
    assert our_status == qemu_status == 0
