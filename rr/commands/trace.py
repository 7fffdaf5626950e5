"""`rrvm trace`: retroactive logpoints over a whole trace (rr.analysis.logpoints)."""

from __future__ import annotations

import argparse
import sys

from rr.commands.analysis_options import add_output_arguments, print_json, user_errors
from rr.commands.index_options import add_index_arguments, for_history, start_workers

HELP = "list every time the pc reached an address or function in a trace, with values there"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a trace written by rrvm record")
    parser.add_argument("location", metavar="ADDR|FUNCTION",
                        help="an address expression or a function (its entry)")
    parser.add_argument("expressions", nargs="*", metavar="EXPR",
                        help="values to print at each hit: $reg, symbol, *ADDR, sums")
    parser.add_argument("--csv", action="store_true", help="comma-separated values")
    add_output_arguments(parser)
    add_index_arguments(parser)


def run(args: argparse.Namespace) -> int:
    start_workers(args, args.trace)          # before the imports below: they overlap
    from rr.analysis.logpoints import logpoint
    from rr.analysis.subject import close_trace, open_trace

    with user_errors():
        subject = open_trace(args.trace, args.symbols, index_options=for_history(args))
        try:
            report = logpoint(subject, args.location, args.expressions)
        finally:
            close_trace(subject)
    if args.json:
        print_json(report.to_json())
    else:
        sys.stdout.write(report.csv() if args.csv else report.text() + "\n")
    return 0
