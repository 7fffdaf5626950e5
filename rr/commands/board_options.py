"""Options that describe a board and its guest, shared by run, record and dtb."""

from __future__ import annotations

import argparse
import os
import re

from rr.errors import RrError
from rr.guests import DEMO, bundled_guest
from rr.monitor.board import BootPayload
from rr.monitor.board_config import BoardConfig, check_epoch
from rr.monitor.constants import (DEFAULT_EPOCH_INSNS, DEFAULT_RAM_SIZE, MAX_EPOCH_INSNS,
                                  MIN_EPOCH_INSNS, RNG_SEED_BYTES)
from rr.monitor.disk_image import open_disk
from rr.monitor.loader import load_image, read_file

_SIZE = re.compile(r"^(\d+)\s*([kmgt]?)(i?b)?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
MIN_RAM = 16 << 20
MAX_RAM = 16 << 30


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
    parser.add_argument("--clock", choices=("virtual", "host"), default="virtual",
                        help="virtual: time follows the instruction count (default); host: real time")
    parser.add_argument("--disk", metavar="FILE",
                        help="raw disk image for a virtio-blk device (guest writes stay in "
                             "memory unless --disk-writable)")
    parser.add_argument("--disk-writable", action="store_true",
                        help="let guest writes to --disk go through to the file")
    parser.add_argument("--rng", action="store_true",
                        help="add a virtio-rng entropy device and a device-tree rng-seed "
                             "(both recorded)")


def add_epoch_argument(parser: argparse.ArgumentParser) -> None:
    """For the commands that run a guest (a device tree does not depend on it)."""
    parser.add_argument("--epoch", type=int, default=DEFAULT_EPOCH_INSNS, metavar="N",
                        help="instructions between the positions where console input, "
                             "interrupts and host-clock timers reach the guest (default "
                             f"{DEFAULT_EPOCH_INSNS:,}; {MIN_EPOCH_INSNS:,} to "
                             f"{MAX_EPOCH_INSNS:,}; a trace records it)")


def board_config(args: argparse.Namespace) -> BoardConfig:
    if not MIN_RAM <= args.mem <= MAX_RAM:
        raise RrError(f"--mem {args.mem >> 20} MiB is out of range (16 MiB to 16 GiB)")
    if args.disk_writable and not args.disk:
        raise RrError("--disk-writable needs --disk FILE")
    # With an entropy device the kernel also gets a seed in the device tree, from
    # this machine; the trace keeps it (board configuration and device tree).
    seed = os.urandom(RNG_SEED_BYTES) if args.rng else None
    epoch = check_epoch(getattr(args, "epoch", DEFAULT_EPOCH_INSNS), "--epoch")
    return BoardConfig(ram_size=args.mem, bootargs=args.append, clock=args.clock,
                       virtio_rng=args.rng, rng_seed=seed, epoch_insns=epoch)


def boot_payload(args: argparse.Namespace) -> BootPayload:
    path = args.image if args.image else str(bundled_guest(DEMO))
    image = load_image(path)
    initrd = read_file(args.initrd, "initrd") if args.initrd else None
    dtb = read_file(args.dtb, "device tree") if args.dtb else None
    if dtb is not None and not dtb.startswith(b"\xd0\x0d\xfe\xed"):
        raise RrError(f"device tree {args.dtb}: not a flattened device tree blob")
    disk = open_disk(args.disk, args.disk_writable) if args.disk else None
    return BootPayload(image, initrd, dtb, disk)
