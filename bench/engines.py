"""What the benchmarks share: the guests, how each engine is started, how a run is timed.

rrvm and QEMU run the same guests: the compute loop (guests/bin/compute.elf,
its `iterations` word patched in a copy) and the Linux guest of
guests/linux/ (virtio disk and rng, console on ttyS0). QEMU is
`qemu-system-riscv64 -M virt` with OpenSBI, plain or with
`-icount shift=auto,rr=record` (QEMU's own deterministic recording, the
fair comparison), plus `sleep=off` for Linux so that idle time is skipped
as rrvm's virtual clock skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPUTE = REPO / "guests" / "bin" / "compute.elf"
COMPUTE_SOURCE = REPO / "bench" / "compute.S"
COMPUTE_BODY_INSNS = 5               # instructions per loop iteration
LINUX = Path(os.environ.get("RRVM_CACHE", Path.home() / ".cache" / "rrvm")) / "linux"
LINUX_APPEND = "console=ttyS0"
QEMU = "qemu-system-riscv64"
QEMU_BASE = ["-M", "virt", "-m", "128M", "-nographic", "-bios", "default"]


def rrvm(*args: str) -> list[str]:
    return [sys.executable, "-m", "rr", *args]


def qemu_available() -> bool:
    return shutil.which(QEMU) is not None


def qemu(*args: str) -> list[str]:
    return [shutil.which(QEMU) or QEMU, *QEMU_BASE, *args]


def qemu_record(rrfile: Path, sleep: bool = True) -> list[str]:
    """The -icount options of QEMU's record mode (sleep=off: idle time is skipped)."""
    return ["-icount", f"shift=auto,rr=record,rrfile={rrfile}" + ("" if sleep else ",sleep=off")]


# --- the compute guest ---------------------------------------------------------------

def compute_elf(workdir: Path) -> Path:
    """guests/bin/compute.elf, or bench/compute.S built with the cross compiler."""
    if COMPUTE.is_file():
        return COMPUTE
    gcc = shutil.which("riscv64-unknown-elf-gcc")
    if gcc is None:
        sys.exit(f"bench: {COMPUTE} is missing and riscv64-unknown-elf-gcc is not installed")
    elf = workdir / "compute-fallback.elf"
    subprocess.run([gcc, "-nostdlib", "-march=rv64imac", "-mabi=lp64", "-Ttext=0x80200000",
                    "-Wl,-N", "-Wl,--no-warn-rwx-segments", "-o", str(elf),
                    str(COMPUTE_SOURCE)], check=True)
    return elf


def iterations_offset(elf: Path) -> int:
    """File offset of the compute guest's 8-byte `iterations` word."""
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        ef = ELFFile(f)
        symtab = ef.get_section_by_name(".symtab")
        symbols = symtab.get_symbol_by_name("iterations") if symtab else None
        if not symbols:
            sys.exit(f"bench: {elf} has no 'iterations' symbol")
        sym = symbols[0]
        section = ef.get_section(sym["st_shndx"])
        return section["sh_offset"] + sym["st_value"] - section["sh_addr"]


def patched_compute(elf: Path, iterations: int, workdir: Path) -> Path:
    """A copy of the compute guest that runs ``iterations`` loop iterations."""
    data = bytearray(elf.read_bytes())
    offset = iterations_offset(elf)
    data[offset:offset + 8] = iterations.to_bytes(8, "little")
    out = workdir / f"compute-{iterations}.elf"
    out.write_bytes(data)
    return out


def qemu_compute(elf: Path) -> list[str]:
    return qemu("-kernel", str(elf))


# --- the Linux guest -------------------------------------------------------------------

def linux_built() -> bool:
    return all((LINUX / name).is_file() for name in ("Image", "initramfs.cpio.gz", "disk.img"))


def rrvm_linux(command: str, *extra: str, append: str = LINUX_APPEND) -> list[str]:
    return rrvm(command, str(LINUX / "Image"), "--initrd", str(LINUX / "initramfs.cpio.gz"),
                "--append", append, "--disk", str(LINUX / "disk.img"), "--rng", *extra)


LINUX_CRASH_INSNS = "64000000"      # the README's crash run: sysrq crash, then panic()


def record_linux_crash(trace: Path) -> Path | None:
    """Record the README's Linux crash run into ``trace``; the kernel's vmlinux (for
    its symbols), or None when the Linux guest is not built."""
    vmlinux = LINUX / "vmlinux"
    if not linux_built() or not vmlinux.is_file():
        return None
    subprocess.run(rrvm_linux("record", "--max-insns", LINUX_CRASH_INSNS, "-o", str(trace),
                              append=f"{LINUX_APPEND} crash"),
                   cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, timeout=1200)
    return vmlinux


def qemu_linux(*extra: str, append: str = LINUX_APPEND) -> list[str]:
    return qemu("-kernel", str(LINUX / "Image"), "-initrd", str(LINUX / "initramfs.cpio.gz"),
                "-append", append, "-global", "virtio-mmio.force-legacy=false",
                "-drive", f"file={LINUX / 'disk.img'},if=none,format=raw,id=d0,readonly=on",
                "-device", "virtio-blk-device,drive=d0", "-device", "virtio-rng-device", *extra)


# --- timing a process --------------------------------------------------------------------

@dataclass
class Run:
    """One process, timed from its start: when its output showed each marker, when it ended."""

    seconds: float                          # until it exited (or was killed at the last marker)
    status: int | None
    marks: dict[bytes, float] = field(default_factory=dict)
    output: bytes = b""
    stderr: bytes = b""


def timed_run(argv: list[str], *, marks: tuple[bytes, ...] = (), until: bytes | None = None,
              answer: tuple[bytes, bytes] | None = None, env: dict[str, str] | None = None,
              timeout: float = 1800) -> Run:
    """Run ``argv`` from the repository root, noting when each of ``marks`` appears on
    stdout. ``until``: kill the process once that marker appeared (a guest that never
    ends); ``answer``: (prompt, reply) typed once when the prompt appears."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    seen = bytearray()
    found: dict[bytes, float] = {}
    try:
        while True:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            seen += chunk
            now = time.perf_counter() - start
            for mark in marks:
                if mark not in found and mark in seen:
                    found[mark] = now
            if answer is not None and answer[0] in seen:
                proc.stdin.write(answer[1])
                proc.stdin.flush()
                answer = None
            if until is not None and until in seen:
                proc.kill()
                break
            if now > timeout:
                proc.kill()
                sys.exit(f"bench: {' '.join(argv)} took more than {timeout} s")
        status = proc.wait()
        seconds = time.perf_counter() - start
        if until is not None and until in seen:
            seconds, status = found.get(until, seconds), None
        stderr = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    return Run(seconds, status, found, bytes(seen), stderr)


def seconds_to_marker(argv: list[str], marker: bytes) -> float:
    """Wall time until ``marker`` appears on the process's stdout; the process is then killed."""
    run = timed_run(argv, marks=(marker,), until=marker)
    if marker not in run.marks:
        sys.exit(f"bench: {argv[0]} ended before '{marker.decode()}'")
    return run.marks[marker]
