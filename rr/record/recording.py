"""One live run being recorded: the trace's header at the start, its end when the run ends."""

from __future__ import annotations

from rr.errors import RrError
from rr.log.events import GuestExit as GuestExitEvent
from rr.log.header import EmbeddedFile, TraceHeader
from rr.log.index import TraceFooter
from rr.log.trace_writer import TraceWriter
from rr.monitor.board import Board, SettledPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.constants import DISK_EMBED_LIMIT, TIMEBASE_HZ, VIRTUAL_INSNS_PER_TICK
from rr.monitor.engine_choice import engine_name
from rr.monitor.exits import GuestExit
from rr.monitor.inputs import InputSource
from rr.monitor.state_digest import state_digest
from rr.record.recording_inputs import RecordingInputs

# The exit kind of a run that ended in a board error (a guest fault, --max-insns).
ERROR_EXIT = "error"


def trace_header(config: BoardConfig, payload: SettledPayload,
                 command_line: list[str]) -> TraceHeader:
    """A self-contained description of the run: board, clock, and every byte it boots from.

    The disk image is embedded as it is before the run (the header is written
    before the guest starts) when it is at most DISK_EMBED_LIMIT bytes; a
    larger one is named by ``board["disk"]`` (path, size, sha256) only.
    """
    image, disk = payload.image, payload.disk
    return TraceHeader(
        board=config.to_dict(), clock_mode=config.clock,
        insns_per_tick=VIRTUAL_INSNS_PER_TICK, timebase_hz=TIMEBASE_HZ,
        image=EmbeddedFile.from_bytes(image.raw, image.path),
        initrd=EmbeddedFile.from_bytes(payload.initrd, "initrd") if payload.initrd is not None else None,
        dtb=EmbeddedFile.from_bytes(payload.dtb, "device-tree.dtb"),
        disk=(EmbeddedFile.from_bytes(disk.original_bytes(), disk.path)
              if disk is not None and disk.size <= DISK_EMBED_LIMIT else None),
        command_line=command_line, engine=engine_name())


class Recording:
    """The trace of one live run: created before the board, finished after the run."""

    def __init__(self, path: str, config: BoardConfig, payload: SettledPayload,
                 command_line: list[str]) -> None:
        self.path = path
        self.writer = TraceWriter(path, trace_header(config, payload, command_line))

    def inputs(self, live: InputSource) -> RecordingInputs:
        """``live``, with every input the guest observes written to this trace."""
        return RecordingInputs(live, self.writer)

    def finish(self, board: Board, ended: GuestExit | RrError) -> None:
        """The run ended (``board`` in its end state): the exit and the footer end the trace.

        A board error is part of the run: replay must reproduce it at the same instruction."""
        if isinstance(ended, GuestExit):
            self._close(board, ended.kind.value, ended.code, ended.status)   # a plain str
        else:
            self._close(board, ERROR_EXIT, ended.exit_status, ended.exit_status)

    def _close(self, board: Board, kind: str, code: int, status: int) -> None:
        icount = board.cpu.icount
        self.writer.write(GuestExitEvent(icount, kind, code, pc=board.cpu.pc,
                                         hart=board.current if len(board.harts) > 1 else None))
        harts = board.harts
        self.writer.close(TraceFooter(final_icount=icount, exit_status=status, exit_kind=kind,
                                      exit_code=code, state_hash=state_digest(board),
                                      hart_insns=([hart.retired for hart in harts]
                                                  if len(harts) > 1 else None)))
