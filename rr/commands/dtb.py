"""`rrvm dtb`: write the board's generated device tree to a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from rr.commands.board_options import add_board_arguments, board_config, boot_payload
from rr.errors import RrError

HELP = "write the device tree the board would give the guest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_board_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the .dtb")


def run(args: argparse.Namespace) -> int:
    from rr.monitor.board import settle_payload

    blob = settle_payload(board_config(args), boot_payload(args)).dtb
    try:
        Path(args.output).write_bytes(blob)
    except OSError as exc:
        raise RrError(f"cannot write {args.output}: {exc.strerror}") from None
    return 0
