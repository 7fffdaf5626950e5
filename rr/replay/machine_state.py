"""A whole machine's state as plain data, for checkpoints that leave the process.

In-memory checkpoints (rr/replay/checkpoints.py) keep unicorn context objects
and RAM pages in the process. A checkpoint written to a file, or handed to
another process or machine, is this plain form instead: every hart's
registers, the session's state (devices, clocks, the inputs' cursor, the run
loop), and RAM as pages by offset. This module is the one place that turns a
running machine into that form and back, so a board that grows harts only
grows the ``harts`` list here.

A hart's registers are the data part of a CPU-only unicorn context: a fixed
layout of plain values for one unicorn build (the pinned 2.1.4), without the
pointers unicorn keeps in the context's own header (those are different in
every process, so the header is never stored: docs/checkpoint-index.md).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Iterable

from rr.monitor.constants import PAGE_SIZE
from rr.monitor.cpu import Cpu
from rr.monitor.ram import differing_pages, ZERO_ADDRESS, BLOCK
from rr.replay.session import HistorySession


@dataclass
class MachineState:
    """Everything but RAM at one instruction count, as plain data."""

    icount: int
    harts: list[bytes]            # each hart's registers (unicorn CPU context data)
    machine: dict[str, Any]       # HistorySession.get_state()

    def to_plain(self) -> dict[str, Any]:
        return {"icount": self.icount, "harts": list(self.harts), "machine": self.machine}


def hart_registers(cpu: Cpu) -> bytes:
    """The hart's registers as bytes (the data part of a CPU-only context)."""
    raw = bytes(cpu.context_save())
    return raw[len(raw) - int.from_bytes(raw[:8], "little"):]


def load_hart_registers(cpu: Cpu, data: bytes) -> None:
    """Put back registers taken by ``hart_registers`` (in this or another process).

    Raises ValueError when the size is not this unicorn's context size."""
    context = cpu.context_save()
    size = int.from_bytes(bytes(context)[:8], "little")
    if len(data) != size:
        raise ValueError(f"hart registers are {len(data)} bytes, this engine's are {size}")
    header = context.size - size
    ctypes.memmove(context.context.value + header, data, size)
    cpu.restore_context(context)


def capture(session: HistorySession) -> MachineState:
    """The session's machine as it is now (between runs): every hart's registers."""
    board = session.board
    return MachineState(board.cpu.icount, [hart_registers(hart.cpu) for hart in board.harts],
                        session.get_state())


def apply(session: HistorySession, state: MachineState) -> None:
    """Make the session's machine ``state`` (RAM is the caller's: ``load_ram``)."""
    board = session.board
    if len(state.harts) != len(board.harts):
        raise ValueError(f"the state has {len(state.harts)} harts, the board "
                         f"{len(board.harts)}")
    for hart, registers in zip(board.harts, state.harts):
        load_hart_registers(hart.cpu, registers)
        hart.address_spaces.sync()
        hart.cpu.icount = state.icount
    session.set_state(state.machine)     # the current hart among them
    for hart in board.harts:
        hart.cpu.invalidate_caches()     # all of RAM may have changed behind unicorn


def nonzero_pages(session: HistorySession) -> Iterable[int]:
    """Offsets of the RAM pages that hold anything but zeros."""
    ram = session.board.ram
    for block in ram.nonzero_blocks():
        length = min(BLOCK, ram.size - block)
        for page in differing_pages(ram.address + block, ZERO_ADDRESS, length):
            yield block + page


def page_of(session: HistorySession, offset: int) -> bytes:
    return bytes(session.board.ram.map[offset:offset + PAGE_SIZE])


def load_ram(session: HistorySession, pages: dict[int, bytes]) -> None:
    """RAM becomes ``pages`` (offset -> contents), every other page zero."""
    ram = session.board.ram
    ram.zero()
    view = ram.map
    for offset, data in pages.items():
        view[offset:offset + PAGE_SIZE] = data
