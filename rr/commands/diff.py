"""`rrvm diff`: where two recordings of one guest part (rr.analysis.diff)."""

from __future__ import annotations

import argparse

from rr.commands.analysis_options import add_output_arguments, print_json, user_errors

HELP = ("compare two traces of one guest: the first differing input, the first instruction "
        "whose result differs, the first control-flow difference")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("good", help="a trace written by rrvm record")
    parser.add_argument("bad", help="another trace of the same guest image and board")
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from rr.analysis.diff import diff
    from rr.analysis.subject import open_trace

    with user_errors():
        report = diff(open_trace(args.good, args.symbols), open_trace(args.bad, args.symbols))
    if args.json:
        print_json(report.to_json())
    else:
        print(report.text())
    return 0
