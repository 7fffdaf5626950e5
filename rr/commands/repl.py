"""`rrvm repl`: a time-travel REPL over a trace, or over a guest running live
(prompt-toolkit; scriptable with -c)."""

from __future__ import annotations

import argparse

from rr.commands.board_options import add_board_arguments
from rr.commands.index_options import add_index_arguments, start_workers

HELP = ("explore a trace interactively (or a guest image, run live with its history kept): "
        "step both ways, watch memory, ask when it changed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_board_arguments(parser, image_required=True)
    parser.description = (HELP + ". IMAGE is a trace written by rrvm record, or a guest image "
                          "to run live; the board options apply to a live guest only.")
    add_history_arguments(parser)
    parser.add_argument("-c", dest="commands", metavar="COMMANDS",
                        help='run these commands (separated by ";") and exit, e.g. '
                             '-c "goto 1000; regs"')


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    """What a trace-or-image explorer (the REPL, the DAP server) takes besides the board."""
    parser.add_argument("--record", metavar="TRACE",
                        help="a live guest: also record what it runs into TRACE")
    parser.add_argument("--symbols", metavar="ELF",
                        help="guest symbols from this ELF (default: the guest image, if an "
                             "ELF); rrvm dap also reads its DWARF")
    add_index_arguments(parser)


def run(args: argparse.Namespace) -> int:
    start_workers(args, args.image)          # before the imports below: they overlap
    from rr.repl.app import main
    return main(args)
