"""`rrvm run`: boot a guest on the board with the console on stdin/stdout."""

from __future__ import annotations

import argparse

from rr.commands.board_options import (add_board_arguments, add_epoch_argument,
                                       max_insns)
from rr.commands.gdb_options import add_gdb_arguments
from rr.commands.live_debug import add_live_gdb_arguments, run_maybe_under_gdb

HELP = "run a guest (the bundled demo if no image is given)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_board_arguments(parser)
    add_epoch_argument(parser)
    parser.add_argument("--max-insns", type=max_insns, metavar="N",
                        help="stop with an error after N instructions")
    add_gdb_arguments(parser, required=False)
    add_live_gdb_arguments(parser)
    parser.add_argument("--record", metavar="TRACE", help="also record the run into TRACE")


def run(args: argparse.Namespace) -> int:
    return run_maybe_under_gdb(args, args.record)
