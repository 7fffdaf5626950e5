"""`rrvm info`: what a trace holds (the words are rr.replay.trace_summary's)."""

from __future__ import annotations

import argparse

HELP = "summarize a trace: guest, board, length, duration, exit, events, sizes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a trace written by rrvm record")


def run(args: argparse.Namespace) -> int:
    from rr.log.trace_reader import TraceReader
    from rr.replay.checkpoint_index import index_status
    from rr.replay.trace_summary import describe

    with TraceReader(args.trace) as reader:
        print(describe(reader))
        print(f"index        {index_status(reader)}")
    return 0
