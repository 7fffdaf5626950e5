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
from rr.monitor.board import BootPayload, settle_payload
from rr.monitor.board_config import BoardConfig
from rr.monitor.exits import ExitKind, GuestExit
from rr.monitor.host_console import HostConsole, HostConsoleOutput
from rr.monitor.inputs import HostInputs, InputSource
from rr.record.recording import Recording
from rr.replay.session import Session


class ConsoleRun(Session):
    """A guest run once, straight to its end, on this machine's console (`rrvm run` and
    `rrvm record` without --gdb). No history is kept and nothing goes back: that is
    what a LiveSession adds, for a debugger."""

    def __init__(self, config: BoardConfig, payload: BootPayload, live: InputSource,
                 recording: Recording | None = None, max_insns: int | None = None) -> None:
        super().__init__(config, payload, recording.inputs(live) if recording else live,
                         HostConsoleOutput(), max_insns, recording)


def run_live(args: argparse.Namespace, record_to: str | None) -> int:
    config = board_config(args)
    payload = settle_payload(config, boot_payload(args))
    recording = Recording(record_to, config, payload, args.command_line) if record_to else None
    with host_console() as console:
        run = ConsoleRun(config, payload, HostInputs(console), recording, args.max_insns)
        status = (progress.Progress(lambda: run.board.cpu.icount,
                                    lambda: recording.writer.bytes_written)
                  if recording and progress.wanted() else None)
        if status:
            status.start()
        try:
            exit_ = run.loop.run()
        except RrError as error:
            run.history_ended(error)
            raise
        finally:
            if status:
                status.stop()
    run.history_ended(exit_)
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
    if exit_.kind is not ExitKind.POWEROFF:
        print(f"\nrrvm: {exit_.detail} (exit status {exit_.status})", file=sys.stderr)
