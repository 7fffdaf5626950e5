"""`rrvm debug TRACE --gdb PORT`: a replay gdb can drive, backwards too.

The guest's console output goes to stdout as history is first executed
(once, however often gdb goes back and forth); the stub's own messages go
to stderr, starting with one "waiting for gdb" line. The server ends when
gdb detaches or kills; a gdb that just disconnects can be replaced by another.
"""

from __future__ import annotations

import argparse

from rr.commands.gdb_options import (add_gdb_arguments, gdb_symbols, open_listener,
                                     protocol_trace, stub_log)
from rr.commands.index_options import (add_index_arguments, open_for, search_for,
                                       start_workers, warn)
from rr.printable import printable

HELP = "replay a trace under gdb, with reverse execution (gdb-multiarch: target remote :PORT)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", help="a trace written by rrvm record")
    add_gdb_arguments(parser, required=True)
    add_index_arguments(parser)


def run(args: argparse.Namespace) -> int:
    start_workers(args, args.trace)          # before the imports below: they overlap
    from rr.gdbstub.replay_target import ReplayTarget
    from rr.gdbstub.server import GdbServer
    from rr.log.trace_reader import TraceReader
    from rr.monitor.host_console import HostConsoleOutput
    from rr.replay.replay_session import ReplaySession
    from rr.replay.timeline import Timeline
    from rr.replay.trace_summary import brief

    reader = TraceReader(args.trace)
    image = reader.header.image
    symbols = gdb_symbols(args, reader.image_bytes() or b"",
                          f"the embedded {printable(image.name)}" if image else "no image")
    listener = open_listener(args)
    try:
        session = ReplaySession(reader, HostConsoleOutput())
        index, recorder = open_for(args, reader, session)
        timeline = Timeline(session, index=index, recorder=recorder, warn=warn)
        timeline.search = search_for(args, reader, index)
    except BaseException:
        listener.close()
        raise
    target = ReplayTarget(timeline, lambda: brief(reader), log=stub_log, symbols=symbols)
    stub_log(f"waiting for gdb on {listener.address}:{listener.port}")
    try:
        listener.serve(GdbServer(target, stub_log), stub_log, protocol_trace(args))
    finally:
        if timeline.recorder is not None:         # history was not run to its end
            timeline.recorder.abandon()
        if timeline.search is not None:
            timeline.search.close()
    return 0
