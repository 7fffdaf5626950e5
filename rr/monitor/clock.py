"""The guest's notion of time: what rdtime returns and when the timer fires.

Two clocks share one interface. The virtual clock is a function of the
instruction count (plus the time skipped while the guest idled in wfi), so a
run is deterministic without any log. The host clock reads this machine's
monotonic clock through the ``InputSource``, so every read is a logged input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import StrEnum
from typing import Any

from rr.monitor.constants import TIMEBASE_HZ, VIRTUAL_INSNS_PER_TICK
from rr.monitor.inputs import InputSource

NS_PER_S = 1_000_000_000


class ClockKind(StrEnum):
    """--clock and a trace header's clock mode (the value is what the trace holds)."""

    VIRTUAL = "virtual"
    HOST = "host"


class GuestClock(ABC):
    """Time in ticks of the 10 MHz timebase."""

    kind: ClockKind
    # True when time is a function of the instruction count: a timer deadline
    # is then an exact position, checked at every position the run loop
    # services, and with no deadline set an idle guest has nothing that could
    # ever wake it but input. False when time is read from the host (a logged
    # input), which happens only at epoch boundaries.
    instruction_driven: bool = False

    @abstractmethod
    def now(self, icount: int) -> int:
        """The tick count the guest sees at instruction ``icount``."""

    def deadline_icount(self, ticks: int) -> int | None:
        """First instruction count at which ``now() >= ticks``, if time is instruction-driven."""
        return None

    def skip_to(self, ticks: int, icount: int) -> bool:
        """Let time jump forward to ``ticks`` while the guest idles; False when time
        cannot jump (the host's runs by itself)."""
        return False

    def seconds_until(self, ticks: int, icount: int) -> float:
        """Host seconds to wait before ``ticks`` is reached (host clock only)."""
        return 0.0

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


class VirtualClock(GuestClock):
    """ticks = icount / VIRTUAL_INSNS_PER_TICK + time skipped in wfi."""

    kind = ClockKind.VIRTUAL
    instruction_driven = True

    def __init__(self, insns_per_tick: int = VIRTUAL_INSNS_PER_TICK) -> None:
        self.insns_per_tick = insns_per_tick
        self.offset = 0

    def now(self, icount: int) -> int:
        return icount // self.insns_per_tick + self.offset

    def deadline_icount(self, ticks: int) -> int:
        return max(0, ticks - self.offset) * self.insns_per_tick

    def skip_to(self, ticks: int, icount: int) -> bool:
        behind = ticks - self.now(icount)
        if behind > 0:
            self.offset += behind
        return True

    def get_state(self) -> dict[str, Any]:
        return {"offset": self.offset}

    def set_state(self, state: dict[str, Any]) -> None:
        self.offset = state["offset"]


class HostClock(GuestClock):
    """ticks = host monotonic time since the board started, read as a logged input."""

    kind = ClockKind.HOST

    def __init__(self, inputs: InputSource) -> None:
        self.inputs = inputs
        self.start_ns = inputs.host_time_ns(0)

    def now(self, icount: int) -> int:
        elapsed = self.inputs.host_time_ns(icount) - self.start_ns
        return max(0, elapsed) * TIMEBASE_HZ // NS_PER_S

    def seconds_until(self, ticks: int, icount: int) -> float:
        return max(0, ticks - self.now(icount)) / TIMEBASE_HZ

    def get_state(self) -> dict[str, Any]:
        return {"start_ns": self.start_ns}

    def set_state(self, state: dict[str, Any]) -> None:
        self.start_ns = state["start_ns"]


def make_clock(kind: str, inputs: InputSource) -> GuestClock:
    if kind == ClockKind.VIRTUAL:
        return VirtualClock()
    if kind == ClockKind.HOST:
        return HostClock(inputs)
    raise ValueError(f"unknown clock {kind!r}")
