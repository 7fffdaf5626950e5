"""A guest running live on this machine's console, optionally recorded (run and record share it)."""

from __future__ import annotations

import argparse
import signal
import sys

from rr.commands import progress
from rr.commands.board_options import board_config, boot_payload
from rr.errors import RrError
from rr.log.recording import Recording
from rr.monitor.board import Board, settle_payload
from rr.monitor.exits import POWEROFF
from rr.monitor.host_console import HostConsole, HostConsoleOutput
from rr.monitor.inputs import HostInputs
from rr.monitor.run_loop import RunLoop


def run_live(args: argparse.Namespace, record_to: str | None) -> int:
    config = board_config(args)
    payload = settle_payload(config, boot_payload(args))
    console = HostConsole()
    live = HostInputs(console)
    recording = (Recording(record_to, config, payload, args.command_line, live)
                 if record_to else None)
    board = Board(config, payload, recording.inputs if recording else live, HostConsoleOutput())
    if recording:
        recording.attach(board)
    previous = signal.signal(signal.SIGINT, lambda *_: console.request_quit())
    status = (progress.Progress(lambda: board.cpu.icount, lambda: recording.writer.bytes_written)
              if recording and progress.wanted() else None)
    console.start()
    if status:
        status.start()
    try:
        exit_ = RunLoop(board, args.max_insns).run()
    except RrError as error:
        if recording:
            recording.finish_with_error(error)
        raise
    finally:
        if status:
            status.stop()
        console.close()
        signal.signal(signal.SIGINT, previous)
    if recording:
        recording.finish(exit_)
    if exit_.kind != POWEROFF:
        print(f"\nrrvm: {exit_.detail} (exit status {exit_.status})", file=sys.stderr)
    return exit_.status
