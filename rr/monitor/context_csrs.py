"""Where CSRs sit in a saved CPU context: reading and writing them there needs no
privilege switch.

The scheduler asks of every hart, between runs, whether an interrupt is
pending and enabled (``mip & sie``). Through unicorn's API each CSR read
switches the hart to M and back and saves the LR/SC reservation around it
(cpu.py, reservation.py): some ten library calls per CSR, which made that
question a large part of a switch between harts. A CPU context (registers
only, about 1.5 KiB) is copied in one call, and ``mip``, ``mie`` and
``mideleg`` sit at fixed offsets in it; ``sie`` is ``mie & mideleg`` (QEMU's
``read_sie``): ``Cpu.pending_interrupts`` reads them in the hart's own saved
context. The harts' engine also writes a waiting hart's mip, and reads its
mstatus, satp and privilege, there (hart_engine.py). The offsets are found
once per process on a scratch engine, as reservation.py finds the
reservation's, by writing known values and looking for them;
tests/monitor/test_cpu_csrs.py compares the answers with the API's on random
values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc
from unicorn import riscv_const as rc

from rr.errors import CalibrationError
from rr.monitor.constants import PRIV_M
from rr.monitor.reservation import context_offsets, use_cpu_only_contexts

# Values written to (mip, mie, mideleg) on the scratch engine: each CSR's column
# differs from the others' in every row, so only its own offset matches them all.
_PROBES = ((0x222, 0x0A2, 0x020), (0x002, 0x8AA, 0x202), (0x220, 0x028, 0x222),
           (0x200, 0x222, 0x002))
_CSR_IDS = (rc.UC_RISCV_REG_MIP, rc.UC_RISCV_REG_MIE, rc.UC_RISCV_REG_MIDELEG)
# Values written to find mstatus (distinct FS, SUM, MXR and SIE bits; its low 32 bits
# are compared), satp (Sv39 with distinct ASIDs and root pages; all 64 bits) and the
# privilege level (written last: the others are written in M-mode).
_STATUS_PROBES = (0x42000, 0x84000, 0x6000, 0xC2002, 0x20)
_SATP_PROBES = (8 << 60 | 0x123 << 44 | 0x12345, 8 << 60 | 0x321 << 44 | 0x54321, 8 << 60 | 0xABCDE)
_PRIV_PROBES = (1, 3, 0, 1, 3)


@dataclass(frozen=True)
class ContextLayout:
    """Byte offsets in a saved CPU context: of mip, mie, mideleg and mstatus (their low
    32 bits), and of satp and the privilege level (64 bits)."""

    mip: int
    mie: int
    mideleg: int
    mstatus: int
    satp: int
    priv: int


def _only_offset(found: set[int] | None, name: str) -> int:
    if not found or len(found) != 1:
        raise CalibrationError(f"cannot locate {name} in unicorn's CPU context; "
                               "rrvm needs unicorn 2.1.4")
    return next(iter(found))


def _offset_of(uc: Uc, reg: int, probes: tuple[int, ...], width: int, name: str) -> int:
    """Where a register's value sits in a saved context: the one offset that held every
    probe written to it."""
    found: set[int] | None = None
    for value in probes:
        uc.reg_write(reg, value)
        offsets = context_offsets(bytes(uc.context_save()), value, width)
        found = offsets if found is None else found & offsets
    return _only_offset(found, name)


@lru_cache(maxsize=1)
def context_layout() -> ContextLayout:
    """The offsets, found once per process on one scratch engine."""
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
    interrupts = [_only_offset(offsets, name)
                  for offsets, name in zip(found, ("mip", "mie", "mideleg"))]
    return ContextLayout(
        *interrupts,
        mstatus=_offset_of(uc, rc.UC_RISCV_REG_MSTATUS, _STATUS_PROBES, 4, "mstatus"),
        satp=_offset_of(uc, rc.UC_RISCV_REG_SATP, _SATP_PROBES, 8, "satp"),
        priv=_offset_of(uc, rc.UC_RISCV_REG_PRIV, _PRIV_PROBES, 8, "the privilege level"))
