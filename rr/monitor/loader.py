"""Putting a guest into RAM: an ELF or a raw image, an initrd and a device tree.

Placement copies what QEMU virt does with ``-kernel``/``-initrd`` under
OpenSBI, so a guest finds things where it would on QEMU: raw images at
0x80200000, ELF segments at their physical addresses, the initrd halfway up
RAM (at most 128 MiB above the kernel), the device tree at the top of RAM
aligned down to 2 MiB.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

from rr.errors import ImageError
from rr.monitor.constants import KERNEL_LOAD_ADDR, MAX_RAM_SIZE, MIN_RAM_SIZE, RAM_BASE

# The few ELF64 fields loading needs, read directly: a full ELF library (and
# the DWARF support it brings) would cost every `rrvm run` its import time.
ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB = 1
EM_RISCV = 243
PT_LOAD = 1
# e_ident, e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags,
# e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
ELF64_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
# p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
ELF64_PHDR = struct.Struct("<IIQQQQQQ")
# Names for the machines an image given by mistake most likely is.
_MACHINES = {3: "x86", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 40: "ARM", 62: "x86-64",
             183: "AArch64", 243: "RISC-V"}
FDT_MAGIC = b"\xd0\x0d\xfe\xed"
FDT_ALIGN = 2 * 1024 * 1024
INITRD_MAX_OFFSET = 128 * 1024 * 1024
# Signatures of files that are certainly not a RISC-V raw image.
_FOREIGN_SIGNATURES = {
    b"MZ": "a PE/COFF executable",
    b"\x1f\x8b": "a gzip file (decompress it first)",
    b"\xcf\xfa\xed\xfe": "a Mach-O executable",
    b"PK\x03\x04": "a zip archive",
    b"#!": "a script",
}


@dataclass(frozen=True)
class Segment:
    paddr: int
    data: bytes
    memsz: int


@dataclass(frozen=True)
class GuestImage:
    """A loadable guest: what goes where, and where it starts."""

    path: str
    kind: str                      # "elf" or "raw"
    entry: int
    segments: tuple[Segment, ...]
    raw: bytes = field(repr=False)  # the file as given (traces embed it)

    @property
    def end(self) -> int:
        return max(s.paddr + max(s.memsz, len(s.data)) for s in self.segments)


def read_file(path: str | Path, what: str, limit: int = MAX_RAM_SIZE,
              whole: bool = True) -> bytes:
    """A regular file's bytes, at most ``limit`` of them; anything else is one line.

    The file is opened without blocking and checked before it is read: a FIFO
    would block until some writer came, a device such as /dev/zero never
    ends. With ``whole=False`` the first ``limit`` bytes are enough.
    """
    name = f"{what} {os.fspath(path)}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except OSError as exc:
        raise ImageError(f"{name}: {exc.strerror}") from None
    try:
        mode, size = os.fstat(fd).st_mode, os.fstat(fd).st_size
        if stat.S_ISDIR(mode):
            raise ImageError(f"{name}: is a directory")
        if not stat.S_ISREG(mode):
            raise ImageError(f"{name}: not a regular file ({_file_kind(mode)})")
        if whole and size > limit:
            raise ImageError(f"{name}: {size} bytes, more than the {limit} this run can take"
                             + (" (use --mem to enlarge RAM)" if limit >= MIN_RAM_SIZE else ""))
        chunks, left = [], min(size, limit)
        while left > 0:
            data = os.read(fd, left)
            if not data:
                break                      # it shrank: what is there is the file
            chunks.append(data)
            left -= len(data)
        return b"".join(chunks)
    except OSError as exc:
        raise ImageError(f"{name}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a plain file"


def parse_image(path: str, data: bytes) -> GuestImage:
    """Recognise ``data`` as a RISC-V 64 ELF or a raw image."""
    if not data:
        raise ImageError(f"image {path}: file is empty")
    if data.startswith(ELF_MAGIC):
        return _parse_elf(path, data)
    for magic, what in _FOREIGN_SIGNATURES.items():
        if data.startswith(magic):
            raise ImageError(f"image {path}: not a RISC-V image, it is {what}")
    if data.startswith(FDT_MAGIC):
        raise ImageError(f"image {path}: not a RISC-V image, it is a device tree blob")
    return GuestImage(path, "raw", KERNEL_LOAD_ADDR,
                      (Segment(KERNEL_LOAD_ADDR, data, len(data)),), data)


def _parse_elf(path: str, data: bytes) -> GuestImage:
    ident = data[:20].ljust(20, b"\0")
    order = "little" if ident[5] == ELFDATA2LSB else "big"
    machine = int.from_bytes(ident[18:20], order)      # e_machine: the same offset in ELF32
    if ident[4] != ELFCLASS64 or order != "little" or machine != EM_RISCV:
        bits = {1: "32-bit", 2: "64-bit"}.get(ident[4], f"class {ident[4]}")
        endian = "" if order == "little" else "big-endian "
        arch = _MACHINES.get(machine, f"machine {machine}")
        raise ImageError(f"image {path}: not a RISC-V 64 ELF ({endian}{bits} {arch})")
    if len(data) < ELF64_HEADER.size:
        raise ImageError(f"image {path}: corrupt ELF file (truncated header)")
    (_ident, _type, _machine, _version, entry, phoff, _shoff, _flags, _ehsize, phentsize, phnum,
     *_rest) = ELF64_HEADER.unpack_from(data)
    if phnum and (phentsize < ELF64_PHDR.size or phoff + phnum * phentsize > len(data)):
        raise ImageError(f"image {path}: corrupt ELF file (program headers past the end)")
    segments = []
    phys_entry = None
    for n in range(phnum):
        p_type, _pflags, offset, vaddr, paddr, filesz, memsz, _align = ELF64_PHDR.unpack_from(
            data, phoff + n * phentsize)
        if p_type != PT_LOAD or memsz == 0:
            continue
        if offset + filesz > len(data):
            raise ImageError(f"image {path}: corrupt ELF file (segment {n} data past the end)")
        segments.append(Segment(paddr, data[offset:offset + filesz], memsz))
        if vaddr <= entry < vaddr + memsz:
            phys_entry = entry - vaddr + paddr
    if not segments:
        raise ImageError(f"image {path}: ELF file has no loadable segments")
    return GuestImage(path, "elf", phys_entry if phys_entry is not None else entry,
                      tuple(segments), data)


def load_image(path: str) -> GuestImage:
    return parse_image(path, read_file(path, "image"))


def check_fits(image: GuestImage, ram_size: int) -> None:
    """Refuse an image that does not lie inside RAM, with where it went wrong."""
    ram_end = RAM_BASE + ram_size
    for seg in image.segments:
        end = seg.paddr + max(seg.memsz, len(seg.data))
        if seg.paddr < RAM_BASE or end > ram_end:
            raise ImageError(
                f"image {image.path}: segment {seg.paddr:#x}-{end:#x} does not fit in RAM "
                f"{RAM_BASE:#x}-{ram_end:#x} (use --mem to enlarge RAM)")


def initrd_address(image: GuestImage, ram_size: int, initrd_size: int) -> int:
    """Where QEMU virt puts an initrd: half of RAM (at most 128 MiB) above the kernel."""
    start = image.entry + min(ram_size // 2, INITRD_MAX_OFFSET)
    start = max(start, (image.end + 0xFFF) & ~0xFFF)
    if start + initrd_size > RAM_BASE + ram_size:
        raise ImageError(f"initrd of {initrd_size} bytes does not fit in RAM after the kernel "
                         f"(use --mem to enlarge RAM)")
    return start


def dtb_address(ram_size: int, dtb_size: int) -> int:
    """Top of RAM aligned down to 2 MiB, as QEMU's riscv_compute_fdt_addr does."""
    top = RAM_BASE + min(ram_size, 3 * 1024 * 1024 * 1024 - RAM_BASE)
    return (top - dtb_size) & ~(FDT_ALIGN - 1)
