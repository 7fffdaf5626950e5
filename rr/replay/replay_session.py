"""A board rebuilt from a trace and driven by its recorded inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rr.errors import InstructionLimit, RrError
from rr.log.errors import TraceError
from rr.log.event_sequence import TraceEvents
from rr.log.trace_reader import TraceReader
from rr.monitor.board import BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.disk_image import DiskImage, open_recorded_disk
from rr.monitor.exits import GuestExit
from rr.monitor.loader import parse_image
from rr.monitor.run_loop import UserStop
from rr.monitor.state_digest import state_digest
from rr.record.recording import ERROR_EXIT
from rr.replay.cancellation import CTRL_C
from rr.replay.divergence import Divergence, EndOfHistory
from rr.replay.replay_inputs import ReplayInputs
from rr.replay.session import HistorySession


@dataclass(frozen=True)
class ReplayOutcome:
    icount: int
    exit: GuestExit | None          # None: stopped before the end (--to, or an incomplete trace)
    error: RrError | None           # the board error the recording also ended with
    verified: bool                  # final state hash compared with the footer (False: no
                                    # footer, or a footer that records no final state)


class ReplaySession(HistorySession):
    """A trace's board, driven by its recorded inputs."""

    inputs: ReplayInputs

    def __init__(self, reader: TraceReader, console_out: Callable[[bytes], None]) -> None:
        self.reader = reader
        header = reader.header
        image = header.image
        if image is None:
            raise RrError(f"{reader.path}: the trace embeds no guest image")
        config = BoardConfig.from_dict(header.board)
        config.clock = header.clock_mode
        # The recorded disk contents with a fresh overlay: guest writes during a
        # replay stay in memory, whatever --disk-writable did while recording.
        recorded, disk = config.disk, None
        if recorded is not None:
            disk = (DiskImage.from_bytes(reader.embedded_bytes("disk"), recorded.path)
                    if header.disk is not None
                    else open_recorded_disk(recorded.path, recorded.sha256, recorded.size))
        payload = BootPayload(parse_image(image.path or image.name, reader.image_bytes()),
                              reader.initrd_bytes(), reader.dtb_bytes(), disk)
        events = TraceEvents(reader)
        events.verify()                     # a damaged chunk fails now, not mid-replay
        super().__init__(config, payload, ReplayInputs(events, complete=reader.complete),
                         console_out, self._recorded_instruction_limit())
        if self.reader.footer is not None and self.reader.footer.exit_code == UserStop.exit_status:
            self.loop.limit_error = UserStop
            self.loop.limit_words = "where the user stopped the recording"

    def _recorded_instruction_limit(self) -> int | None:
        """A recording stopped by --max-insns ends where the limit was: the replay stops
        there with the same error (the limit itself is a command-line option, not
        an input, so the footer is what tells)."""
        footer = self.reader.footer
        if footer is not None and footer.exit_kind == ERROR_EXIT \
                and footer.exit_code in (InstructionLimit.exit_status, UserStop.exit_status):
            return footer.final_icount
        return None

    @property
    def end_icount(self) -> int | None:
        """Where recorded history ends, when the trace is incomplete."""
        # A trace cut before its first chunk has history up to its first position only.
        return None if self.reader.complete else self.reader.last_icount or 0

    def run(self, stop_at: int | None = None, every: int | None = None,
            at_checkpoint: Callable[[], None] | None = None) -> ReplayOutcome:
        """Replay to the end (or to ``stop_at``), checking every event and the final state.

        ``at_checkpoint``: called at the start and then every ``every`` instructions
        (at multiples of it), the run stopped there: a persistent index is taken so."""
        limit = stop_at if stop_at is not None else self.end_icount
        try:
            exit_ = self._run_slices(limit, every, at_checkpoint)
        except EndOfHistory:
            return ReplayOutcome(self.board.cpu.icount, None, None, False)
        except (Divergence, TraceError):   # a damaged chunk is not the guest's error
            raise
        except RrError as error:
            icount = self.board.cpu.icount
            self.inputs.expect_exit(icount, ERROR_EXIT, error.exit_status)
            return ReplayOutcome(icount, None, error, self._verify())
        icount = self.board.cpu.icount
        if exit_ is None:
            return ReplayOutcome(icount, None, None, False)
        self.inputs.expect_exit(icount, exit_.kind, exit_.code)
        return ReplayOutcome(icount, exit_, None, self._verify())

    def _run_slices(self, limit: int | None, every: int | None,
                    at_checkpoint: Callable[[], None] | None) -> GuestExit | None:
        loop, board = self.loop, self.board
        if at_checkpoint is None or every is None:
            return loop.run(limit)
        loop.run(0)                 # position 0 as a timeline sees it: inputs recorded there fed
        while True:
            # The position is the current hart's count (with several harts, the
            # scheduler changes which one that is between runs).
            CTRL_C.check()
            if board.cpu.icount % every == 0:
                at_checkpoint()
            step_end = (board.cpu.icount // every + 1) * every
            exit_ = loop.run(step_end if limit is None else min(limit, step_end))
            if exit_ is not None or board.cpu.icount == limit:
                return exit_

    def _verify(self) -> bool:
        footer = self.reader.footer
        if footer is None:
            return False
        board = self.board
        if footer.final_icount != board.cpu.icount:
            raise Divergence(f"replay ended at instruction {board.cpu.icount}, "
                             f"the recording at {footer.final_icount}")
        if not footer.state_hash:           # allowed by the format: nothing to compare
            return False
        digest = state_digest(board)
        if digest != footer.state_hash:
            raise Divergence(f"final state differs from the recording at instruction "
                             f"{board.cpu.icount}: state hash {digest[:16]}..., "
                             f"recorded {footer.state_hash[:16]}...")
        return True
