"""One live run being recorded: the trace's header at the start, its end when the run ends."""

from __future__ import annotations

from rr.errors import RrError
from rr.log.events import GuestExit as GuestExitEvent
from rr.log.header import EmbeddedFile, TraceHeader
from rr.log.index import TraceFooter
from rr.log.recording_inputs import RecordingInputs
from rr.log.trace_writer import TraceWriter
from rr.monitor.board import Board, BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.constants import TIMEBASE_HZ, VIRTUAL_INSNS_PER_TICK
from rr.monitor.exits import GuestExit
from rr.monitor.inputs import InputSource
from rr.monitor.state_digest import state_digest

# The exit kind of a run that ended in a board error (a guest fault, --max-insns).
ERROR_EXIT = "error"


def trace_header(config: BoardConfig, payload: BootPayload, command_line: list[str]) -> TraceHeader:
    """A self-contained description of the run: board, clock, and every byte it boots from."""
    image = payload.image
    return TraceHeader(
        board=config.to_dict(), clock_mode=config.clock,
        insns_per_tick=VIRTUAL_INSNS_PER_TICK, timebase_hz=TIMEBASE_HZ,
        image=EmbeddedFile.from_bytes(image.raw, image.path),
        initrd=EmbeddedFile.from_bytes(payload.initrd, "initrd") if payload.initrd is not None else None,
        dtb=EmbeddedFile.from_bytes(payload.dtb, "device-tree.dtb"),
        command_line=command_line)


class Recording:
    """The trace of one live run: created before the board, finished after the run."""

    def __init__(self, path: str, config: BoardConfig, payload: BootPayload,
                 command_line: list[str], live: InputSource) -> None:
        self.writer = TraceWriter(path, trace_header(config, payload, command_line))
        self.inputs = RecordingInputs(live, self.writer)
        self.board: Board | None = None

    def attach(self, board: Board) -> None:
        self.board = board
        self.inputs.pc = lambda: board.cpu.pc

    def finish(self, exit_: GuestExit) -> None:
        self._close(exit_.kind, exit_.code, exit_.status)

    def finish_with_error(self, error: RrError) -> None:
        """A board error is part of the run: replay must reproduce it at the same instruction."""
        self._close(ERROR_EXIT, error.exit_status, error.exit_status)

    def _close(self, kind: str, code: int, status: int) -> None:
        board = self.board
        icount = board.cpu.icount
        self.writer.write(GuestExitEvent(icount, kind, code, pc=board.cpu.pc))
        self.writer.close(TraceFooter(final_icount=icount, exit_status=status, exit_kind=kind,
                                      exit_code=code, state_hash=state_digest(board)))
