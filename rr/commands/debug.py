"""`rrvm debug TRACE --gdb PORT`: a replay gdb can drive, backwards too.

The guest's console output goes to stdout as history is first executed
(once, however often gdb goes back and forth); the stub's own messages go
to stderr, starting with one "waiting for gdb" line. The server ends when
gdb detaches or kills; a gdb that just disconnects can be replaced by another.
"""

from __future__ import annotations

import argparse
import sys

from rr.errors import RrError
from rr.gdbstub.constants import DEFAULT_ADDRESS, MAX_PORT
from rr.gdbstub.listener import GdbListener
from rr.gdbstub.replay_target import ReplayTarget
from rr.gdbstub.server import GdbServer
from rr.log.trace_reader import TraceReader
from rr.monitor.host_console import HostConsoleOutput
from rr.replay.replay_session import ReplaySession
from rr.replay.timeline import Timeline

HELP = "replay a trace under gdb, with reverse execution (gdb-multiarch: target remote :PORT)"


class DebugOptionError(RrError):
    """A debug command line that cannot work (bad port)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a trace written by rrvm record")
    parser.add_argument("--gdb", type=int, required=True, metavar="PORT",
                        help="TCP port for gdb's 'target remote' (0: any free port, printed)")
    parser.add_argument("--address", default=DEFAULT_ADDRESS, metavar="ADDR",
                        help=f"address to listen on (default {DEFAULT_ADDRESS}: this machine only)")
    parser.add_argument("--debug-protocol", action="store_true",
                        help="log every packet to stderr")


def _log(text: str) -> None:
    print(f"rrvm: {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.gdb <= MAX_PORT:
        raise DebugOptionError(f"--gdb {args.gdb}: a TCP port is 0 to {MAX_PORT}")
    reader = TraceReader(args.trace)
    listener = GdbListener(args.address, args.gdb)     # a busy port fails before the replay loads
    try:
        timeline = Timeline(ReplaySession(reader, HostConsoleOutput()))
    except BaseException:
        listener.close()
        raise
    target = ReplayTarget(timeline, reader, log=_log)
    _log(f"waiting for gdb on {listener.address}:{listener.port}")
    trace = (lambda text: print(f"rrvm gdb: {text}", file=sys.stderr, flush=True)) \
        if args.debug_protocol else None
    listener.serve(GdbServer(target, _log), _log, trace)
    return 0
