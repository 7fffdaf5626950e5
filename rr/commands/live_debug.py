"""`rrvm run IMAGE --gdb PORT` and `rrvm record IMAGE -o TRACE --gdb PORT`: a live guest
under gdb, with reverse execution inside the history seen so far.

The guest starts at once and keeps running while no gdb is attached, as
under QEMU's ``-s``; ``--wait`` holds it at its first instruction until gdb
attaches (``-s -S``). gdb's detach lets the guest run on to its end; kill
ends it as if the user had quit (a trace being written ends complete).
The exit status is the guest's, as for `rrvm run`.
"""

from __future__ import annotations

import argparse

from rr.commands.board_options import board_config, boot_payload
from rr.commands.gdb_options import gdb_symbols, open_listener, protocol_trace, stub_log
from rr.errors import RrError


def add_live_gdb_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true",
                        help="with --gdb: hold the guest at its first instruction until gdb "
                             "attaches")


def run_maybe_under_gdb(args: argparse.Namespace, record_to: str | None) -> int:
    """`rrvm run` and `rrvm record`: under gdb with --gdb, else on the console alone."""
    from rr.commands.console_run import run_live

    if args.gdb is None:
        if args.wait:
            raise RrError("--wait holds the guest for gdb: it needs --gdb PORT")
        if args.symbols:
            raise RrError("--symbols names addresses in gdb's monitor commands: it needs "
                          "--gdb PORT")
        return run_live(args, record_to)
    return debug_live(args, record_to)


def debug_live(args: argparse.Namespace, record_to: str | None) -> int:
    from rr.commands.console_run import host_console, report_exit
    from rr.gdbstub.live_target import LiveTarget
    from rr.gdbstub.server import GdbServer, SessionEnd
    from rr.record.recording import Recording
    from rr.monitor.board import settle_payload
    from rr.monitor.host_console import HostConsoleOutput
    from rr.monitor.inputs import HostInputs
    from rr.replay.live_session import LiveSession
    from rr.replay.timeline import Timeline

    if args.max_insns is not None:
        raise RrError("--max-insns cannot be combined with --gdb (gdb decides where to stop)")
    config = board_config(args)
    payload = settle_payload(config, boot_payload(args))
    symbols = gdb_symbols(args, payload.image.raw, args.image or "the demo guest")
    listener = open_listener(args)
    try:
        recording = Recording(record_to, config, payload, args.command_line) if record_to else None
    except BaseException:
        listener.close()
        raise
    with host_console() as console:
        session = LiveSession(config, payload, HostInputs(console), HostConsoleOutput(),
                              recording)
        try:
            timeline = Timeline(session)
            target = LiveTarget(timeline, session, log=stub_log, symbols=symbols)
            held = " (the guest holds at its first instruction)" if args.wait else ""
            stub_log(f"waiting for gdb on {listener.address}:{listener.port}{held}")
            end = listener.serve(GdbServer(target, stub_log), stub_log, protocol_trace(args),
                                 run_detached=target.run_detached, hold_first=args.wait)
            if end is SessionEnd.KILLED:
                status = target.end_here(console.request_quit)
            else:
                if end is SessionEnd.DETACHED:
                    target.run_detached(lambda: False)      # the guest runs on to its end
                status = target.exit_status()
        except BaseException:
            session.abort()
            raise
    ended = timeline.ended
    if ended is not None and ended.exit is not None:
        report_exit(ended.exit)
    elif ended is not None:
        stub_log(f"error: {ended.error}")
    return status
