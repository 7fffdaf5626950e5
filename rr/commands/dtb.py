"""`rrvm dtb`: write the board's generated device tree to a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from rr.commands.board_options import add_board_arguments, board_config, boot_payload
from rr.errors import RrError
from rr.monitor import fdt
from rr.monitor.loader import initrd_address

HELP = "write the device tree the board would give the guest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_board_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the .dtb")


def run(args: argparse.Namespace) -> int:
    config = board_config(args)
    payload = boot_payload(args)
    if payload.initrd is not None:
        start = initrd_address(payload.image, config.ram_size, len(payload.initrd))
        config.initrd_start, config.initrd_end = start, start + len(payload.initrd)
    blob = payload.dtb if payload.dtb is not None else fdt.build_dtb(config)
    try:
        Path(args.output).write_bytes(blob)
    except OSError as exc:
        raise RrError(f"cannot write {args.output}: {exc.strerror}") from None
    return 0
