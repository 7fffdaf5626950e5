"""Reading the interrupt CSRs of a hart from a saved CPU context, without a privilege switch.

The scheduler asks of every hart, between runs, whether an interrupt is
pending and enabled (``mip & sie``). Through unicorn's API each CSR read
switches the hart to M and back and saves the LR/SC reservation around it
(cpu.py, reservation.py): some ten library calls per CSR, which made that
question a large part of a switch between harts. A CPU context (registers
only, about 1.5 KiB) is copied in one call, and ``mip``, ``mie`` and
``mideleg`` sit at fixed offsets in it; ``sie`` is ``mie & mideleg`` (QEMU's
``read_sie``). The offsets are found once per process on a scratch engine,
as reservation.py finds the reservation's, by writing known values and
looking for them; tests/monitor/test_cpu_csrs.py compares the answers
with the API's on random values.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache

from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc
from unicorn import riscv_const as rc
from unicorn.unicorn_py3.unicorn import uclib

from rr.errors import CalibrationError
from rr.monitor.constants import PRIV_M
from rr.monitor.reservation import context_offsets, use_cpu_only_contexts

# Values written to (mip, mie, mideleg) on the scratch engine: each CSR's column
# differs from the others' in every row, so only its own offset matches them all.
_PROBES = ((0x222, 0x0A2, 0x020), (0x002, 0x8AA, 0x202), (0x220, 0x028, 0x222),
           (0x200, 0x222, 0x002))
_CSR_IDS = (rc.UC_RISCV_REG_MIP, rc.UC_RISCV_REG_MIE, rc.UC_RISCV_REG_MIDELEG)


@dataclass(frozen=True)
class InterruptCsrLayout:
    """Byte offsets of mip, mie and mideleg (their low 32 bits) in a saved CPU context."""

    mip: int
    mie: int
    mideleg: int


@lru_cache(maxsize=1)
def interrupt_csr_layout() -> InterruptCsrLayout:
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    use_cpu_only_contexts(uc)
    uc.reg_write(rc.UC_RISCV_REG_PRIV, PRIV_M)
    found: list[set[int] | None] = [None, None, None]
    for values in _PROBES:
        for reg, value in zip(_CSR_IDS, values):
            uc.reg_write(reg, value)
        data = bytes(uc.context_save())
        for n, value in enumerate(values):
            offsets = context_offsets(data, value, 4)
            found[n] = offsets if found[n] is None else found[n] & offsets
    if any(offsets is None or len(offsets) != 1 for offsets in found):
        raise CalibrationError("cannot locate mip, mie and mideleg in unicorn's CPU context; "
                               "rrvm needs unicorn 2.1.4")
    return InterruptCsrLayout(*(offsets.pop() for offsets in found))


# mstatus values written to find its place: distinct FS, SUM, MXR and SIE bits.
_STATUS_PROBES = (0x42000, 0x84000, 0x6000, 0xC2002, 0x20)


@lru_cache(maxsize=1)
def mstatus_offset() -> int:
    """Byte offset of mstatus (its low 32 bits) in a saved CPU context: the harts' engine
    turns the FPU on in a copy of a hart's registers (hart_engine.py)."""
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    use_cpu_only_contexts(uc)
    uc.reg_write(rc.UC_RISCV_REG_PRIV, PRIV_M)
    found: set[int] | None = None
    for value in _STATUS_PROBES:
        uc.reg_write(rc.UC_RISCV_REG_MSTATUS, value)
        offsets = context_offsets(bytes(uc.context_save()), value, 4)
        found = offsets if found is None else found & offsets
    if not found or len(found) != 1:
        raise CalibrationError("cannot locate mstatus in unicorn's CPU context; "
                               "rrvm needs unicorn 2.1.4")
    return found.pop()


class InterruptCsrReader:
    """``mip`` and ``mip & sie`` of one engine from a snapshot of its context (see the
    module doc)."""

    def __init__(self, uc: Uc) -> None:
        layout = interrupt_csr_layout()
        self._handle = uc._uch  # noqa: SLF001 - no public accessor
        self._context = uc.context_save()
        base = ctypes.cast(self._context.context, ctypes.c_void_p).value
        self._mip, self._mie, self._mideleg = (ctypes.c_uint32.from_address(base + off)
                                               for off in (layout.mip, layout.mie, layout.mideleg))

    def pending_enabled(self) -> int:
        """The interrupts pending and enabled in sie (what wakes a wfi)."""
        uclib.uc_context_save(self._handle, self._context.context)
        return self._mip.value & self._mie.value & self._mideleg.value

    def mip(self) -> int:
        uclib.uc_context_save(self._handle, self._context.context)
        return self._mip.value
