"""`rrvm repl`: a time-travel REPL over a trace (prompt-toolkit; scriptable with -c)."""

from __future__ import annotations

import argparse

HELP = "explore a trace interactively: step both ways, watch memory, ask when it changed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a trace written by rrvm record")
    parser.add_argument("--symbols", metavar="ELF",
                        help="guest symbols from this ELF (default: the trace's image, if an ELF)")
    parser.add_argument("-c", dest="commands", metavar="COMMANDS",
                        help='run these commands (separated by ";") and exit, e.g. '
                             '-c "goto 1000; regs"')


def run(args: argparse.Namespace) -> int:
    from rr.repl.app import main
    return main(args.trace, args.symbols, args.commands)
