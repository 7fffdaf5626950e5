"""`rrvm replay`: re-execute a trace, print the guest's console as recorded, verify the end."""

from __future__ import annotations

import argparse
import sys

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

    reader = TraceReader(args.trace)
    output = (lambda data: None) if args.quiet else HostConsoleOutput()
    session = ReplaySession(reader, output)
    outcome = session.run(args.to)
    if args.to is not None and outcome.icount == args.to:
        print(format_registers(session.board), file=sys.stdout)
        return 0
    if outcome.exit is None and outcome.error is None:
        print(f"\nrrvm: the trace is incomplete (its recording was cut off); replayed to "
              f"instruction {outcome.icount}, the end of recorded history", file=sys.stderr)
        return 0
    if outcome.error is not None:
        print(f"rrvm: replay reproduced the recorded error: {outcome.error}", file=sys.stderr)
        return outcome.error.exit_status
    return outcome.exit.status
