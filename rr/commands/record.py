"""`rrvm record`: run a guest exactly like `rrvm run` and write a trace of the run."""

from __future__ import annotations

import argparse

from rr.commands.board_options import add_board_arguments
from rr.commands.live_session import run_live

HELP = "run a guest and record every nondeterministic input into a trace"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_board_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="TRACE", help="the trace to write")
    parser.add_argument("--max-insns", type=int, metavar="N",
                        help="stop with an error after N instructions")


def run(args: argparse.Namespace) -> int:
    return run_live(args, args.output)
