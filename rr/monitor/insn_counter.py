"""Locating unicorn's instruction counter (docs/unicorn-facts.md, fact 13).

``emu_start(..., count=n)`` counts instructions in ``uc_struct.emu_counter``,
which the Python binding does not expose. We find its byte offset once per
process by running a known number of instructions on a scratch engine and
looking for the value, then read it with ctypes after every stop. Without it
no position would be exact, so failing to find it is fatal and said so.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache

from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc
from unicorn.riscv_const import UC_RISCV_REG_PRIV

from rr.errors import CalibrationError
from rr.monitor.constants import PRIV_S, RAM_BASE, UC_EMU_COUNTER_OFFSET, UNTIL_NEVER

# A two-instruction loop: addi t0, t0, 1 ; j -4  (4-byte encodings)
_LOOP = bytes.fromhex("93821200") + bytes.fromhex("6ff0dfff")
_SCAN_BYTES = 8192


def handle_address(uc: Uc) -> int:
    """The address of the engine's uc_struct."""
    return ctypes.cast(uc._uch, ctypes.c_void_p).value  # noqa: SLF001 - no public accessor


def _run_counted(uc: Uc, count: int) -> None:
    uc.emu_start(RAM_BASE, UNTIL_NEVER, 0, count)


def _candidates(base: int, value: int, offsets) -> list[int]:
    return [off for off in offsets
            if ctypes.c_size_t.from_address(base + off).value == value]


@lru_cache(maxsize=1)
def counter_offset() -> int:
    """Byte offset of emu_counter in uc_struct, verified on a scratch engine.

    After a count-bounded run of n instructions the counter reads n + 1: the
    hook of the instruction that was then not executed has run.
    """
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(RAM_BASE, 0x1000)
    uc.mem_write(RAM_BASE, _LOOP)
    uc.reg_write(UC_RISCV_REG_PRIV, PRIV_S)
    base = handle_address(uc)
    _run_counted(uc, 1237)
    known = [UC_EMU_COUNTER_OFFSET] if UC_EMU_COUNTER_OFFSET < _SCAN_BYTES else []
    offsets = _candidates(base, 1238, known) or _candidates(base, 1238, range(0, _SCAN_BYTES, 8))
    for count in (4711, 77):
        _run_counted(uc, count)
        offsets = _candidates(base, count + 1, offsets)
    if len(offsets) != 1:
        raise CalibrationError(
            "cannot locate unicorn's instruction counter (found %d candidates); "
            "rrvm needs unicorn 2.1.4 for exact instruction counts" % len(offsets))
    return offsets[0]


class InstructionCounter:
    """Reads the running count of the current ``emu_start`` of one engine."""

    def __init__(self, uc: Uc) -> None:
        self._cell = ctypes.c_size_t.from_address(handle_address(uc) + counter_offset())

    @property
    def raw(self) -> int:
        """Instructions whose hook ran in the current/last emu_start."""
        return self._cell.value
