"""A board with a one-instruction guest, for tests that poke the monitor directly."""

from __future__ import annotations

from rr.monitor.board import Board, BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.inputs import InputSource
from rr.monitor.loader import parse_image

SPIN = bytes.fromhex("6f000000")        # j .


class ScriptedInputs(InputSource):
    """Console bytes given up front, a wall clock that ticks by one second per read."""

    def __init__(self, console: bytes = b"") -> None:
        self.console = bytearray(console)
        self.wall = 1_000_000_000

    def console_bytes(self, icount, max_bytes):
        data = bytes(self.console[:max_bytes])
        del self.console[:max_bytes]
        return data

    def wait_console(self, timeout):
        pass

    def host_time_ns(self, icount):
        return icount * 100

    def wall_time_ns(self, icount):
        self.wall += 1_000_000_000
        return self.wall

    def entropy(self, icount, size):
        return bytes(range(size))

    def quit_requested(self, icount):
        return False

    def console_closed(self, icount):
        return not self.console


def make_board(code: bytes = SPIN, console: bytes = b"", clock: str = "virtual"):
    output: list[bytes] = []
    board = Board(BoardConfig(clock=clock), BootPayload(parse_image("test", code)),
                  ScriptedInputs(console), output.append)
    return board, output
