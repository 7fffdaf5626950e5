"""`rrvm replay`: re-execute a trace, print the guest's console as recorded, verify the end."""

from __future__ import annotations

import argparse
import sys

from rr.commands.index_options import add_index_arguments, start_workers
from rr.errors import RrError
from rr.printable import clipped, printable

HELP = "replay a trace exactly, checking it against the recording"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a trace written by rrvm record")
    parser.add_argument("--to", type=int, metavar="N",
                        help="stop at instruction count N and print the registers")
    parser.add_argument("--quiet", action="store_true", help="do not print the guest's console output")
    parser.add_argument("--verify", action="store_true",
                        help="check the trace's checkpoint index: replay every segment (side "
                             "by side, see --jobs) and compare its end with the next checkpoint "
                             "and the recorded final state")
    add_index_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.verify:
        start_workers(args, args.trace)      # before the imports below: they overlap
    from rr.log.trace_reader import TraceReader
    from rr.monitor.host_console import HostConsoleOutput
    from rr.replay.registers import format_registers
    from rr.replay.replay_session import ReplaySession
    from rr.commands.index_options import open_for

    if args.to is not None and args.to < 0:
        raise RrError(f"--to {args.to}: an instruction count is never negative")
    reader = TraceReader(args.trace)
    if args.verify:
        return _verify(args, reader)
    output = (lambda data: None) if args.quiet else HostConsoleOutput()
    session = ReplaySession(reader, output)
    index, recorder = open_for(args, reader, session)
    if args.to is not None:
        recorder = None                 # a run that stops early writes no index
        if index is not None:
            session = _start_near(index, session, args.to)
    try:
        outcome = session.run(args.to, recorder.every if recorder else None,
                              recorder.take if recorder else None)
    except BaseException:
        if recorder is not None:
            recorder.abandon()
        raise
    if recorder is not None:
        recorder.finish()
    if args.to is not None and outcome.icount == args.to:
        print(format_registers(session.board), file=sys.stdout)
        return 0
    if reader.footer is None:
        why = printable(reader.problems[-1]) if reader.problems else "its recording was cut off"
        print(f"\nrrvm: the trace is incomplete ({why}); replayed to instruction "
              f"{outcome.icount}, the end of recorded history; the final state was not "
              "checked", file=sys.stderr)
    elif reader.problems:
        print(f"rrvm: warning: {printable(reader.problems[0])}", file=sys.stderr)
    if reader.footer is not None and not outcome.verified:
        print("rrvm: the trace records no final state: the end of the replay was not "
              "verified", file=sys.stderr)
    if outcome.error is not None:
        print(f"rrvm: replay reproduced the recorded error: {clipped(str(outcome.error))}",
              file=sys.stderr)
        return outcome.error.exit_status
    return outcome.exit.status if outcome.exit is not None else 0


def _start_near(index, session, target: int):
    """The session at the index's checkpoint nearest before ``target`` (its console
    output printed as if replayed); a new session from 0 when the checkpoint is
    unusable (one warning line)."""
    from rr.commands.index_options import warn
    from rr.replay.checkpoint_index import IndexRejected
    from rr.replay.replay_session import ReplaySession

    number = index.at_or_before(target)
    if number is None or number == 0:
        return session
    try:
        index.restore(session, number)
    except IndexRejected as exc:
        warn(f"{exc}; not using the index")
        return ReplaySession(session.reader, session.console.sink)
    start = index.positions[number]
    session.console.skipped(index.console_between(0, start), start)
    return session


def _verify(args: argparse.Namespace, reader) -> int:
    """`rrvm replay --verify`: every segment of the index replayed and checked."""
    from rr.commands.index_options import search_for, warn
    from rr.replay.checkpoint_index import open_index
    from rr.replay.segments import SegmentSearch

    index = open_index(reader, warn)
    if index is None:
        raise RrError(f"{args.trace}: --verify checks the trace's checkpoint index, and it "
                      "has no usable one (`rrvm index` writes it)")
    search = search_for(args, reader, index) or SegmentSearch(reader.path, index)
    try:
        checks = search.verify()
    finally:
        search.close()
    bad = [check for check in checks if check.problem is not None]
    for check in bad:
        print(f"rrvm: segment {check.segment.number} (from instruction "
              f"{check.segment.start}): {clipped(check.problem)}", file=sys.stderr)
    print(f"verified {len(checks) - len(bad)} of {len(checks)} segments of {args.trace} "
          f"against its index ({search.workers})", file=sys.stdout)
    return 1 if bad else 0
