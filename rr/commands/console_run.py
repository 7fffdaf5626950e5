"""A guest running live on this machine's console, optionally recorded (run and record share it)."""

from __future__ import annotations

import argparse
import signal
import sys
from contextlib import contextmanager
from typing import Iterator

from rr.commands import progress
from rr.commands.board_options import board_config, boot_payload
from rr.errors import RrError
from rr.record.recording import Recording
from rr.monitor.board import Board, settle_payload
from rr.monitor.exits import POWEROFF, GuestExit
from rr.monitor.host_console import HostConsole, HostConsoleOutput
from rr.monitor.inputs import HostInputs
from rr.monitor.run_loop import RunLoop


def run_live(args: argparse.Namespace, record_to: str | None) -> int:
    config = board_config(args)
    payload = settle_payload(config, boot_payload(args))
    recording = Recording(record_to, config, payload, args.command_line) if record_to else None
    with host_console() as console:
        live = HostInputs(console)
        inputs = recording.inputs(live) if recording else live
        board = Board(config, payload, inputs, HostConsoleOutput())
        if recording:
            recording.attach(board)
        status = (progress.Progress(lambda: board.cpu.icount,
                                    lambda: recording.writer.bytes_written)
                  if recording and progress.wanted() else None)
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
    if recording:
        recording.finish(exit_)
    report_exit(exit_)
    return exit_.status


@contextmanager
def host_console() -> Iterator[HostConsole]:
    """This process's stdin as the guest's console, for the time of a run; Ctrl-C (SIGINT)
    quits the guest as Ctrl-A x does."""
    console = HostConsole()
    previous = signal.signal(signal.SIGINT, lambda *_: console.request_quit())
    console.start()
    try:
        yield console
    finally:
        console.close()
        signal.signal(signal.SIGINT, previous)


def report_exit(exit_: GuestExit) -> None:
    """One line on stderr for a run that did not end in a clean poweroff."""
    if exit_.kind != POWEROFF:
        print(f"\nrrvm: {exit_.detail} (exit status {exit_.status})", file=sys.stderr)
