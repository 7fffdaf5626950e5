"""Options that describe a board and its guest, shared by run, record, repl and dtb.

Every value is checked here, before a board exists: sizes and counts in
range, inputs that are regular files read with a bound (a FIFO or a device
would block or never end), outputs that are named and are not one of the
inputs (`rrvm record x.elf -o x.elf` would overwrite its own guest).
"""

from __future__ import annotations

import argparse
import os
import re
from typing import TYPE_CHECKING, Callable

from rr.errors import ImageError, RrError
from rr.monitor.clock import ClockKind
from rr.monitor.constants import (DEFAULT_EPOCH_INSNS, DEFAULT_QUANTUM_INSNS, DEFAULT_RAM_SIZE,
                                  MAX_DTB_SIZE, MAX_EPOCH_INSNS, MAX_HARTS, MAX_QUANTUM_INSNS,
                                  MAX_RAM_SIZE, MIN_EPOCH_INSNS, MIN_QUANTUM_INSNS, MIN_RAM_SIZE,
                                  RAM_SIZE_ALIGN, RNG_SEED_BYTES)

if TYPE_CHECKING:             # the engine is imported by the functions that build a board:
    from rr.monitor.board import BootPayload       # the CLI parses arguments without it
    from rr.monitor.board_config import BoardConfig

_SIZE = re.compile(r"^(\d+)\s*([kmgt]?)(i?b)?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
MAX_INSNS = (1 << 63) - 1
# Files a run reads, by option: an output naming one of them is refused.
INPUT_OPTIONS = (("image", "the guest image"), ("initrd", "--initrd"), ("dtb", "--dtb"),
                 ("disk", "--disk"), ("symbols", "--symbols"))
OUTPUT_OPTIONS = (("output", "-o"), ("record", "--record"))


def parse_size(text: str) -> int:
    """'128M', '1G', '256MiB' or a byte count. A bare number below 4096 means MiB, as in QEMU."""
    match = _SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid size '{text}' (examples: 128M, 1G)")
    number, unit = int(match.group(1)), match.group(2).lower()
    if not unit and number < 4096:
        unit = "m"
    return number * _UNITS[unit]


def add_board_arguments(parser: argparse.ArgumentParser, image_required: bool = False) -> None:
    parser.add_argument("image", nargs=None if image_required else "?",
                        help="guest image: a RISC-V 64 ELF or a raw image loaded at 0x80200000"
                             + ("" if image_required else " (default: the bundled demo guest)"))
    parser.add_argument("--mem", type=parse_size, default=DEFAULT_RAM_SIZE, metavar="SIZE",
                        help="RAM size (default 128M)")
    parser.add_argument("--append", default="", metavar="ARGS", help="kernel command line (bootargs)")
    parser.add_argument("--initrd", metavar="FILE", help="initial ramdisk")
    parser.add_argument("--dtb", metavar="FILE", help="use this device tree instead of the generated one")
    parser.add_argument("--clock", choices=[kind.value for kind in ClockKind],
                        default=ClockKind.VIRTUAL.value,
                        help="virtual: time follows the instruction count (default); host: real time")
    parser.add_argument("--disk", metavar="FILE",
                        help="raw disk image for a virtio-blk device (guest writes stay in "
                             "memory unless --disk-writable)")
    parser.add_argument("--disk-writable", action="store_true",
                        help="let guest writes to --disk go through to the file")
    parser.add_argument("--rng", action="store_true",
                        help="add a virtio-rng entropy device and a device-tree rng-seed "
                             "(both recorded)")
    parser.add_argument("--sstc", action="store_true",
                        help="offer Sstc: stimecmp (emulated) and sstc in the device tree's "
                             "riscv,isa, as QEMU's virt CPU has (Linux then programs its "
                             "timer without the SBI)")
    parser.add_argument("--smp", type=int, default=1, metavar="N",
                        help=f"harts (1 to {MAX_HARTS}; default 1): hart 0 boots, the others "
                             "wait for SBI HSM hart_start")


def add_epoch_argument(parser: argparse.ArgumentParser) -> None:
    """For the commands that run a guest (a device tree does not depend on it)."""
    parser.add_argument("--epoch", type=int, default=DEFAULT_EPOCH_INSNS, metavar="N",
                        help="instructions between the positions where console input, "
                             "interrupts and host-clock timers reach the guest (default "
                             f"{DEFAULT_EPOCH_INSNS:,}; {MIN_EPOCH_INSNS:,} to "
                             f"{MAX_EPOCH_INSNS:,}; a trace records it)")
    parser.add_argument("--quantum", type=int, default=DEFAULT_QUANTUM_INSNS, metavar="N",
                        help="with --smp: instructions a hart runs before the next takes its "
                             f"turn (default {DEFAULT_QUANTUM_INSNS:,}; {MIN_QUANTUM_INSNS:,} to "
                             f"{MAX_QUANTUM_INSNS:,}; a trace records it)")


def bounded_int(what: str, low: int, high: int, allowed: str) -> Callable[[str], int]:
    """An argparse type: an integer (decimal or 0x hex) from ``low`` to ``high``; ``what``
    names it in 'invalid WHAT', ``allowed`` says the range in 'out of range (ALLOWED)'."""
    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {what} '{text}'") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range ({allowed})")
        return value
    return parse


# --max-insns: a count of instructions, 1 or more.
max_insns = bounded_int("instruction count", 1, MAX_INSNS,
                        f"an instruction count from 1 to {MAX_INSNS}")


def describe_size(size: int) -> str:
    """'128 MiB', '4 KiB', or a byte count when it is not a whole unit."""
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"


def board_config(args: argparse.Namespace) -> BoardConfig:
    from rr.monitor.board_config import BoardConfig, check_epoch, check_harts, check_quantum

    check_outputs(args)
    if not MIN_RAM_SIZE <= args.mem <= MAX_RAM_SIZE:
        raise RrError(f"--mem {describe_size(args.mem)} is out of range "
                      f"({describe_size(MIN_RAM_SIZE)} to {describe_size(MAX_RAM_SIZE)})")
    if args.mem % RAM_SIZE_ALIGN:
        raise RrError(f"--mem {describe_size(args.mem)} is not a whole number of "
                      f"{describe_size(RAM_SIZE_ALIGN)} pages")
    if args.disk_writable and not args.disk:
        raise RrError("--disk-writable needs --disk FILE")
    # With an entropy device the kernel also gets a seed in the device tree, from
    # this machine; the trace keeps it (board configuration and device tree).
    seed = os.urandom(RNG_SEED_BYTES) if args.rng else None
    epoch = check_epoch(getattr(args, "epoch", DEFAULT_EPOCH_INSNS), "--epoch")
    harts = check_harts(getattr(args, "smp", 1), "--smp")
    quantum = check_quantum(getattr(args, "quantum", DEFAULT_QUANTUM_INSNS), "--quantum")
    return BoardConfig(ram_size=args.mem, bootargs=args.append, clock=args.clock,
                       virtio_rng=args.rng, rng_seed=seed, epoch_insns=epoch,
                       harts=harts, quantum_insns=quantum,
                       chaos_seed=getattr(args, "chaos", None),
                       sstc=getattr(args, "sstc", False))


def check_outputs(args: argparse.Namespace) -> None:
    """An output path must name a file, and not one the run reads."""
    for attr, option in OUTPUT_OPTIONS:
        path = getattr(args, attr, None)
        if path is None:
            continue
        if not path.strip():
            raise RrError(f"{option} '{path}': an empty path names no file to write")
        for input_attr, what in INPUT_OPTIONS:
            source = getattr(args, input_attr, None)
            if source and _same_file(path, source):
                raise RrError(f"{option} {path} is {what} {source}: writing it would "
                              "overwrite an input of the run")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:                      # one does not exist (yet): compare the names
        return os.path.realpath(a) == os.path.realpath(b)


def is_trace_file(path: str) -> bool:
    """True when ``path`` is meant as a trace (even a damaged one): read it as one."""
    from rr.log.frames import SNIFF_SIZE, looks_like_trace
    from rr.monitor.loader import read_file

    try:
        size = os.stat(path).st_size
    except OSError as exc:                   # neither a trace nor an image: say which file
        raise RrError(f"{path}: {exc.strerror or exc}") from None
    return looks_like_trace(read_file(path, "image", SNIFF_SIZE, whole=False), size)


def boot_payload(args: argparse.Namespace) -> BootPayload:
    from rr.guests import DEMO, bundled_guest
    from rr.log.frames import SNIFF_SIZE, looks_like_trace
    from rr.monitor.board import BootPayload
    from rr.monitor.disk_image import open_disk
    from rr.monitor.loader import parse_image, read_file

    path = args.image if args.image else str(bundled_guest(DEMO))
    data = read_file(path, "image", args.mem)
    if looks_like_trace(data[:SNIFF_SIZE], len(data)):
        raise ImageError(f"image {path}: is an rrvm trace, not a guest image "
                         "(rrvm replay, repl or debug read traces)")
    image = parse_image(path, data)
    initrd = read_file(args.initrd, "initrd", args.mem) if args.initrd else None
    dtb = read_file(args.dtb, "device tree", MAX_DTB_SIZE) if args.dtb else None
    if dtb is not None and not dtb.startswith(b"\xd0\x0d\xfe\xed"):
        raise RrError(f"device tree {args.dtb}: not a flattened device tree blob")
    disk = open_disk(args.disk, args.disk_writable) if args.disk else None
    return BootPayload(image, initrd, dtb, disk)
