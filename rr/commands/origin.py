"""`rrvm origin`: where a value at an instruction count came from (rr.analysis.origin)."""

from __future__ import annotations

import argparse

from rr.commands.analysis_options import add_output_arguments, print_json, user_errors
from rr.errors import RrError
from rr.monitor.constants import ORIGIN_DEPTH

HELP = "walk a value in memory or a register back to where it came from"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a trace written by rrvm record")
    parser.add_argument("icount", metavar="ICOUNT",
                        help="the instruction count the value is taken at (or 'end')")
    parser.add_argument("target", metavar="ADDR|$REG",
                        help="an address expression (a data symbol: its size) or $register")
    parser.add_argument("length", metavar="LEN", type=int, nargs="?",
                        help="bytes of memory followed (1 to 8; default the symbol's size or 8)")
    parser.add_argument("--depth", type=int, default=ORIGIN_DEPTH,
                        help=f"at most this many steps (default {ORIGIN_DEPTH})")
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from rr.analysis.origin import check_depth, origin
    from rr.analysis.subject import open_trace
    from rr.repl.expressions import parse_count

    with user_errors():
        check_depth(args.depth)
        subject = open_trace(args.trace, args.symbols)
        length = subject.length
        icount = length if args.icount == "end" else parse_count(args.icount,
                                                                 "instruction count")
        if icount > length:
            raise RrError(f"instruction {icount} is past the end of the trace "
                          f"(instruction {length})")
        subject.timeline.seek(icount)
        report = origin(subject, args.target, args.depth, args.length)
    if args.json:
        print_json(report.to_json())
    else:
        print(report.text())
    return 0
