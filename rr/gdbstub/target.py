"""What the GDB server needs from a debuggable machine, live or replayed.

The server (server.py) speaks the protocol and keeps gdb's view (stop points,
the last stop); a target owns the machine and decides where a resume stops.
A replay (replay_target.py) and a live guest (live_target.py) implement the
same interface, so the protocol code never asks which one it is driving.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Protocol

from rr.errors import RrError
from rr.gdbstub.registers import Register, RegisterTable
from rr.gdbstub.stop_points import StopPoints
from rr.replay.hits import WatchKind


class Direction(Enum):
    FORWARD = "forward"
    BACKWARD = "backward"


@dataclass(frozen=True)
class Resume:
    """One resume request: c, s, vCont, bs or bc."""

    direction: Direction
    step: bool
    hart: int | None = None          # the hart a step steps (None: the current one)


class StopKind(Enum):
    STEP = "step"                    # a step completed; nothing else to say
    BREAKPOINT = "breakpoint"        # before the instruction at ``address`` executes
    WATCHPOINT = "watchpoint"        # ``address`` was accessed (see ReplayTarget for where)
    HISTORY_BEGIN = "history-begin"  # at instruction 0, did not move further back
    HISTORY_END = "history-end"      # at the end of recorded history, did not move further
    INTERRUPTED = "interrupted"      # Ctrl-C from gdb
    EXITED = "exited"                # a live guest powered off (``code``: its exit status)
    FAULTED = "faulted"              # a live guest stopped on a board error (kept inspectable)


@dataclass(frozen=True)
class Stop:
    kind: StopKind
    address: int | None = None       # breakpoint pc, or the data address of a watchpoint hit
    watch_kind: WatchKind | None = None    # the kind of the watchpoint that hit
    hardware: bool = False           # a Z1 (hardware) breakpoint rather than Z0
    code: int = 0                    # EXITED: the exit status
    hart: int | None = None          # the hart the stop is about (None: the current one)


class MemoryFault(RrError):
    """Guest memory that cannot be read or written at this address (unmapped, a device)."""


class ReadOnly(RrError):
    """The target refuses a change of state; the message says why."""


class DebugTarget(Protocol):
    """A machine gdb can inspect and resume."""

    def registers(self) -> RegisterTable:
        """The registers its harts have (stimecmp on a board that offers Sstc)."""

    def read_register(self, register: Register) -> int | None:
        """The register's value, or None when it cannot be supplied (shown as unavailable)."""

    def write_register(self, register: Register, value: int) -> None:
        """Change a register, or raise ReadOnly saying why not."""

    def read_memory(self, address: int, length: int) -> bytes:
        """Bytes at a virtual address in the current address space; may return fewer than
        asked when a later page is unmapped; raises MemoryFault when the first is."""

    def write_memory(self, address: int, data: bytes) -> None:
        """Change guest memory, or raise ReadOnly / MemoryFault."""

    def resume(self, how: Resume, points: StopPoints, interrupted: Callable[[], bool]) -> Stop:
        """Run as asked until a stop; ``interrupted()`` is polled while running (Ctrl-C)."""

    def monitor(self, command: str) -> str:
        """Run a `monitor` command; its output (errors included) as text."""

    def describe_position(self) -> str:
        """Where the target is, for the stub's own log lines."""

    def hart_count(self) -> int:
        """How many harts (gdb threads 1 to N) the machine has."""

    def current_hart(self) -> int:
        """The hart that executes the next instruction."""

    def view_hart(self, hart: int | None) -> None:
        """Registers and memory are read (and written) on ``hart`` from now on (None:
        whichever is current)."""
