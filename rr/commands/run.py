"""`rrvm run`: boot a guest on the board with the console on stdin/stdout."""

from __future__ import annotations

import argparse
import signal
import sys

from rr.commands.board_options import add_board_arguments, board_config, boot_payload
from rr.monitor.board import Board
from rr.monitor.exits import POWEROFF
from rr.monitor.host_console import HostConsole, HostConsoleOutput
from rr.monitor.inputs import HostInputs
from rr.monitor.run_loop import RunLoop

HELP = "run a guest (the bundled demo if no image is given)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_board_arguments(parser)
    parser.add_argument("--max-insns", type=int, metavar="N",
                        help="stop with an error after N instructions")


def run(args: argparse.Namespace) -> int:
    config = board_config(args)
    payload = boot_payload(args)
    console = HostConsole()
    board = Board(config, payload, HostInputs(console), HostConsoleOutput())
    previous = signal.signal(signal.SIGINT, lambda *_: console.request_quit())
    console.start()
    try:
        exit_ = RunLoop(board, args.max_insns).run()
    finally:
        console.close()
        signal.signal(signal.SIGINT, previous)
    if exit_.kind != POWEROFF:
        print(f"\nrrvm: {exit_.detail} (exit status {exit_.status})", file=sys.stderr)
    return exit_.status
