"""The count-hook engine: unicorn counts every instruction in its own code hook.

``emu_start(..., count=n)`` installs a per-instruction hook that counts into
``uc_struct.emu_counter`` (docs/unicorn-facts.md, fact 13) and stops the run when the count
passes n. Exact everywhere and about four times slower than counting per
translated block (``native_engine.py``); it is the reference the native
engine is tested against and what runs when that one cannot attach.
"""

from __future__ import annotations

from typing import Callable

from unicorn import UC_HOOK_INSN_INVALID, UC_HOOK_INTR, Uc, UcError

from rr.monitor.clock import VirtualClock
from rr.monitor.constants import UNTIL_NEVER
from rr.monitor.insn_counter import InstructionCounter
from rr.monitor.run_stop import RunStop

HOOK_ENGINE = "hook"


class HookEngine:
    """Positions from unicorn's per-instruction counter."""

    name = HOOK_ENGINE

    def __init__(self, uc: Uc) -> None:
        self.uc = uc
        self._counter = InstructionCounter(uc)
        self.executed = 0            # instructions completed by the last run

    def on_exception(self, callback: Callable) -> None:
        self.uc.hook_add(UC_HOOK_INTR, callback)

    def on_invalid(self, callback: Callable) -> None:
        self.uc.hook_add(UC_HOOK_INSN_INVALID, callback)

    def use_clock(self, clock: VirtualClock | None) -> None:
        """Time reads all go through the monitor with this engine."""

    def run(self, pc: int, max_insns: int, icount: int) -> RunStop:
        """A count stop leaves the counter at max_insns + 1 (the next instruction's
        hook ran but it did not execute); any earlier stop leaves the exact number."""
        error = None
        try:
            self.uc.emu_start(pc, UNTIL_NEVER, 0, max_insns)
        except UcError as exc:
            error = exc
        finally:
            # Also when a hook raised: positions must stay exact.
            raw = self._counter.raw
            count_reached = raw > max_insns
            self.executed = max_insns if count_reached else raw
        return RunStop(self.executed, count_reached, error)

    def keep_block_code(self, keep: bool) -> None:
        """Nothing to keep: this engine's count needs no code read in hooks."""

    def hook_raw(self, mmio: bool) -> int:
        """Instructions of the current run whose hook ran, the current one included."""
        return self._counter.raw

    def stop(self, mmio: bool) -> None:
        self.uc.emu_stop()
