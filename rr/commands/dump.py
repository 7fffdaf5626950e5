"""`rrvm dump`: a trace's events, one per line, filtered by kind and instruction count."""

from __future__ import annotations

import argparse
import sys

from rr.commands.broken_pipe import silence_stdout
from rr.errors import RrError
from rr.log.events import format_event, kind_names, tags_for
from rr.log.trace_reader import TraceReader

HELP = "print a trace's events, one per line"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a trace written by rrvm record")
    parser.add_argument("--kind", action="append", metavar="K",
                        help="only events of kind K (repeat, or separate with commas): "
                             + ", ".join(kind_names()))
    parser.add_argument("--from", dest="start", type=int, metavar="N",
                        help="only events at instruction count N or later")
    parser.add_argument("--to", dest="end", type=int, metavar="N",
                        help="only events at instruction count N or earlier")


def run(args: argparse.Namespace) -> int:
    kinds = None
    if args.kind:
        kinds = [name.strip() for value in args.kind for name in value.split(",") if name.strip()]
        tags_for(kinds)                    # an unknown kind fails before the trace is opened
    for name, value in (("--from", args.start), ("--to", args.end)):
        if value is not None and value < 0:
            raise RrError(f"{name} {value}: an instruction count is never negative")
    end = args.end + 1 if args.end is not None else None
    with TraceReader(args.trace) as reader:
        out = sys.stdout
        try:
            for event in reader.events(kinds, args.start, end):
                out.write(format_event(event) + "\n")
            out.flush()
        except BrokenPipeError:            # `rrvm dump T | head`
            silence_stdout()
            return 0
        if not reader.complete:
            print(f"rrvm: {reader.path}: the trace is incomplete; these are the events of its "
                  "whole chunks", file=sys.stderr)
    return 0

