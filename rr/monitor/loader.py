"""Putting a guest into RAM: an ELF or a raw image, an initrd and a device tree.

Placement copies what QEMU virt does with ``-kernel``/``-initrd`` under
OpenSBI, so a guest finds things where it would on QEMU: raw images at
0x80200000, ELF segments at their physical addresses, the initrd halfway up
RAM (at most 128 MiB above the kernel), the device tree at the top of RAM
aligned down to 2 MiB.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from rr.errors import ImageError
from rr.monitor.constants import KERNEL_LOAD_ADDR, RAM_BASE

EM_RISCV = 243
ELF_MAGIC = b"\x7fELF"
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


def read_file(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{what} {path}: is a directory") from None
    except OSError as exc:
        raise ImageError(f"{what} {path}: {exc.strerror}") from None


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
    try:
        elf = ELFFile(io.BytesIO(data))
        machine = elf.header["e_machine"]
        if elf.elfclass != 64 or machine not in ("EM_RISCV", EM_RISCV):
            arch = machine if isinstance(machine, str) else f"machine {machine}"
            raise ImageError(f"image {path}: not a RISC-V 64 ELF ({elf.elfclass}-bit {arch})")
        segments = []
        entry = elf.header["e_entry"]
        phys_entry = None
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            segments.append(Segment(seg["p_paddr"], seg.data(), seg["p_memsz"]))
            if seg["p_vaddr"] <= entry < seg["p_vaddr"] + seg["p_memsz"]:
                phys_entry = entry - seg["p_vaddr"] + seg["p_paddr"]
    except ELFError as exc:
        raise ImageError(f"image {path}: corrupt ELF file ({exc})") from None
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
