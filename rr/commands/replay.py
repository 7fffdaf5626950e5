"""`rrvm replay`: re-execute a trace, print the guest's console as recorded, verify the end."""

from __future__ import annotations

import argparse
import sys

from rr.errors import RrError
from rr.printable import clipped, printable

HELP = "replay a trace exactly, checking it against the recording"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a trace written by rrvm record")
    parser.add_argument("--to", type=int, metavar="N",
                        help="stop at instruction count N and print the registers")
    parser.add_argument("--quiet", action="store_true", help="do not print the guest's console output")


def run(args: argparse.Namespace) -> int:
    from rr.log.trace_reader import TraceReader
    from rr.monitor.host_console import HostConsoleOutput
    from rr.replay.registers import format_registers
    from rr.replay.replay_session import ReplaySession

    if args.to is not None and args.to < 0:
        raise RrError(f"--to {args.to}: an instruction count is never negative")
    reader = TraceReader(args.trace)
    output = (lambda data: None) if args.quiet else HostConsoleOutput()
    session = ReplaySession(reader, output)
    outcome = session.run(args.to)
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
