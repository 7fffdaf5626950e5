"""A guest machine assembled once: its inputs, board and run loop, the hart bound to the inputs.

Every way rrvm runs a guest builds one here: a replay of a trace
(rr/replay/replay_session.py), a live guest whose history is kept
(rr/replay/live_session.py), and a guest run once on this machine's console
(rr/commands/console_run.py). They differ in where the inputs come from and
in what happens when the guest ends.
"""

from __future__ import annotations

from typing import Any, Callable

from rr.errors import RrError
from rr.monitor.board import Board, BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.cpu import Cpu
from rr.monitor.exits import GuestExit
from rr.monitor.inputs import InputSource
from rr.monitor.smp_run_loop import make_run_loop
from rr.record.recording import Recording
from rr.replay.console_log import ConsoleLog


class Session:
    """Inputs, board and run loop; with a recording, the trace that ends with the run."""

    def __init__(self, config: BoardConfig, payload: BootPayload, inputs: InputSource,
                 console_out: Callable[[bytes], None], instruction_limit: int | None = None,
                 recording: Recording | None = None) -> None:
        self.config = config
        self.inputs = inputs
        self.recording = recording
        self.board = Board(config, payload, inputs, console_out)
        self.payload = self.board.payload
        self._bind(self.board.running_cpu())
        self.loop = make_run_loop(self.board, instruction_limit)

    def _bind(self, cpu: Cpu) -> None:
        """What notes where the guest is follows the board's hart (once the board is built)."""
        board = self.board
        self.inputs.bind(cpu, (lambda: board.current) if len(board.harts) > 1 else None)

    def history_ended(self, ended: GuestExit | RrError) -> None:
        """The guest's end was reached for the first time (the board is in its end state):
        a trace being written ends here, so it holds exactly this run."""
        if self.recording is not None:
            self.recording.finish(self.board, ended)


class HistorySession(Session):
    """A session a Timeline drives back and forth: checkpointed through get_state and
    set_state, its console output kept by position and printed once."""

    live = False                     # True: history grows as the guest runs on past it

    def __init__(self, config: BoardConfig, payload: BootPayload, inputs: InputSource,
                 console_out: Callable[[bytes], None], instruction_limit: int | None = None,
                 recording: Recording | None = None) -> None:
        self.console = ConsoleLog(console_out)
        super().__init__(config, payload, inputs, self.console, instruction_limit, recording)

    @property
    def end_icount(self) -> int | None:
        """Where history is known to end before it is run out (None: not known)."""
        return None

    def _bind(self, cpu: Cpu) -> None:
        super()._bind(cpu)
        self.console.bind(cpu)

    def get_state(self) -> dict[str, Any]:
        """Everything a checkpoint keeps besides the harts' CPU contexts and RAM: the
        board's devices and clocks, the inputs' place in the event stream, the run
        loop's position state, and each hart's accrued FP flags (not in a context)."""
        return {"board": self.board.get_state(), "inputs": self.inputs.get_state(),
                "loop": self.loop.get_state(),
                "fp_flags": [hart.cpu.fp_flags() for hart in self.board.harts]}

    def set_state(self, state: dict[str, Any]) -> None:
        """Put back ``get_state``'s state (after the harts' contexts: the FP flags go
        beside them)."""
        self.board.set_state(state["board"])
        self.inputs.set_state(state["inputs"])
        self.loop.set_state(state["loop"])
        # Indexes written before the flags were kept have none: the flags stay as they are.
        for hart, flags in zip(self.board.harts, state.get("fp_flags", ())):
            hart.cpu.set_fp_flags(flags)
