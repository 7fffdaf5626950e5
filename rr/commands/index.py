"""`rrvm index TRACE`: write the trace's checkpoint index (TRACE.idx), for quick seeks
and searches split over cores or machines."""

from __future__ import annotations

import argparse
import sys

from rr.commands.board_options import parse_size
from rr.errors import RrError
from rr.monitor.constants import INDEX_EVERY, INDEX_MAX_SIZE, MIN_INDEX_EVERY

HELP = "write a trace's checkpoint index (TRACE.idx): whole-machine states every N instructions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from_defaults = "(default %(default)s)"
    parser.add_argument("trace", help="a trace written by rrvm record")
    parser.add_argument("--every", type=int, default=INDEX_EVERY, metavar="N",
                        help=f"instructions between checkpoints {from_defaults}")
    parser.add_argument("--max-size", type=parse_size, default=INDEX_MAX_SIZE, metavar="SIZE",
                        help="largest index file, e.g. 500M or 2G (default 2G); checkpoints "
                             "past it are left out")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="write the index here (default: TRACE.idx, where it is looked for)")


def run(args: argparse.Namespace) -> int:
    from rr.commands import progress
    from rr.log.trace_reader import TraceReader
    from rr.replay.checkpoint_index import IndexRecorder, check_index
    from rr.replay.replay_session import ReplaySession

    if args.every < MIN_INDEX_EVERY:
        raise RrError(f"--every {args.every}: checkpoints at least {MIN_INDEX_EVERY:,} "
                      "instructions apart")
    reader = TraceReader(args.trace)
    session = ReplaySession(reader, lambda data: None)
    recorder = IndexRecorder(reader, session, args.output, every=args.every,
                             max_size=args.max_size)
    total = reader.footer.final_icount if reader.footer is not None else reader.last_icount
    status = progress.indexing(lambda: session.board.cpu.icount, total,
                               lambda: recorder.writer.size) \
        if progress.on_terminal() else None
    try:
        if status is not None:
            status.start()
        session.run(None, every=args.every, at_checkpoint=recorder.take)
    except BaseException:
        recorder.abandon()
        raise
    finally:
        if status is not None:
            status.stop()
    path = recorder.finish()
    if path is None:
        raise RrError(f"--max-size {args.max_size}: too small for the first checkpoint")
    index = check_index(reader, path)
    print(f"{path}: {index.describe()}", file=sys.stdout)
    if not index.file.complete:
        print(f"rrvm: the index stops at instruction {index.positions[-1]:,}: raise "
              "--max-size or --every to cover the whole trace", file=sys.stderr)
    return 0
