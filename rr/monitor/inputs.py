"""The narrow door through which the outside world reaches the guest.

Everything the guest can observe that is not a function of its initial state
and its instruction stream comes through an ``InputSource``: console bytes,
host clock reads, wall-clock time, entropy, and the user's request to quit.
Every call carries the instruction count at which the guest observes the
value, so a recording source can log it and a replay source can hand back the
logged value (and check that it is asked at the same point). Devices never
hold an ``InputSource`` directly: the board gives them small callables.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:                    # the hart is bound after the board is built
    from rr.monitor.cpu import Cpu


class InputSource(ABC):
    """Supplier of nondeterministic inputs; live, recording and replay implement it."""

    _cpu: Cpu | None = None
    _hart: Callable[[], int] | None = None

    def bind(self, cpu: Cpu, hart: Callable[[], int] | None = None) -> None:
        """The hart whose pc goes with the inputs it observes: recording logs it, replay
        checks it. Bound once the board exists, so what the board reads while it is
        being built (the host clock's start) carries no pc. ``hart``: with several
        harts, which one runs (logged and checked too)."""
        self._cpu = cpu
        self._hart = hart

    def pc(self) -> int | None:
        """The bound hart's pc; None before ``bind``."""
        cpu = self._cpu
        return None if cpu is None else cpu.pc

    def hart(self) -> int | None:
        """The hart that runs, on a board with several; else None."""
        hart = self._hart
        return None if hart is None else hart()

    @abstractmethod
    def console_bytes(self, icount: int, max_bytes: int) -> bytes:
        """Bytes typed at the console that the guest receives at ``icount``."""

    @abstractmethod
    def wait_console(self, timeout: float | None) -> None:
        """Block until console input may be available, at most ``timeout`` seconds."""

    @abstractmethod
    def host_time_ns(self, icount: int) -> int:
        """Monotonic host time in ns (the guest clock in --clock host mode)."""

    @abstractmethod
    def wall_time_ns(self, icount: int) -> int:
        """Wall-clock time in ns since the epoch (the RTC)."""

    @abstractmethod
    def entropy(self, icount: int, size: int) -> bytes:
        """``size`` random bytes."""

    @abstractmethod
    def quit_requested(self, icount: int) -> bool:
        """True once the user asked to stop the guest (Ctrl-A x, Ctrl-C)."""

    @abstractmethod
    def console_closed(self, icount: int) -> bool:
        """True when no console byte will ever arrive again (stdin at end of file)."""

    def progress(self, icount: int) -> None:
        """The run has reached ``icount`` (called between runs of the hart, every few
        tenths of a second). Not an input: a recording notes it now and then, so a
        trace cut before its end still tells how far it went."""

    def quit_pending(self) -> bool:
        """True once the user asked to stop, whether or not the guest was told yet.

        Not an input (no position, nothing logged): it lets the run loop stop a
        guest that does not reach the next position where a quit is taken."""
        return False


class HostInputs(InputSource):
    """Inputs taken from this machine: a console, its clocks and os.urandom."""

    def __init__(self, console: "ConsoleInput") -> None:
        self.console = console

    def console_bytes(self, icount: int, max_bytes: int) -> bytes:
        return self.console.read_available(max_bytes)

    def wait_console(self, timeout: float | None) -> None:
        self.console.wait(timeout)

    def host_time_ns(self, icount: int) -> int:
        return time.monotonic_ns()

    def wall_time_ns(self, icount: int) -> int:
        return time.time_ns()

    def entropy(self, icount: int, size: int) -> bytes:
        return os.urandom(size)

    def quit_requested(self, icount: int) -> bool:
        return self.console.quit_requested

    def console_closed(self, icount: int) -> bool:
        return self.console.closed

    def quit_pending(self) -> bool:
        return self.console.quit_requested


class ConsoleInput(ABC):
    """Host-side console input as the run loop sees it."""

    quit_requested: bool = False
    closed: bool = False

    @abstractmethod
    def read_available(self, max_bytes: int) -> bytes:
        """Return up to ``max_bytes`` bytes already typed, without blocking."""

    @abstractmethod
    def wait(self, timeout: float | None) -> None:
        """Block until a byte is available, the user quits, or ``timeout`` passes."""
