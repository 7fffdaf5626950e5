"""Keeping the hart's LR/SC reservation across the monitor's privilege switches.

The monitor reads and writes M-level CSRs by switching the hart to M and
back (docs/unicorn-facts.md, fact 5), and QEMU clears the load reservation on every
privilege change, even to the same mode. An access between a guest's lr
and its sc (a debugger stopping there and reading registers, a state hash)
then made the sc fail, the guest retry, and history go another way than
the recording: seen on a Linux trace, where stopping inside panic()'s
cmpxchg loop changed everything after it.

Unicorn has no register for the reservation, but it is part of the CPU
context: its offsets in a saved context are found once per process on a
scratch engine (an lr on known addresses and values), as insn_counter.py
finds the instruction counter. ``ReservationKeeper`` reads the reservation
before a switch and, when one was held, puts it back afterwards.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, TypeVar

from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc
from unicorn.riscv_const import UC_RISCV_REG_A4, UC_RISCV_REG_A5, UC_RISCV_REG_PRIV
from unicorn.unicorn_const import UC_CTL_CONTEXT_CPU, UC_CTL_CONTEXT_MODE, UC_CTL_IO_WRITE

from rr.errors import CalibrationError
from rr.monitor.constants import PRIV_S, RAM_BASE, UNTIL_NEVER

NO_RESERVATION = 0xFFFF_FFFF_FFFF_FFFF      # QEMU's load_res when none is held
# lr.d a4, (a5): funct5 00010, rs1 = a5 (x15), funct3 011 (doubleword), rd = a4 (x14)
_LR_D = (0b00010 << 27 | 15 << 15 | 0b011 << 12 | 14 << 7 | 0b0101111).to_bytes(4, "little")
_PROBES = ((0x800, 0x1122_3344_5566_7788), (0xA08, 0x0BAD_F00D_CAFE_D00D))
T = TypeVar("T")


def use_cpu_only_contexts(uc: Uc) -> None:
    """Contexts hold the registers only: RAM is the board's business
    (docs/unicorn-facts.md, fact 19)."""
    uc.ctl(UC_CTL_CONTEXT_MODE, UC_CTL_IO_WRITE, ctypes.c_int(UC_CTL_CONTEXT_CPU))


@dataclass(frozen=True)
class ReservationLayout:
    """Byte offsets of the reserved address and the loaded value in a saved CPU context."""

    address: int
    value: int


def context_offsets(data: bytes, word: int, width: int = 8) -> set[int]:
    """The aligned offsets in a saved context's bytes that hold ``word`` (``width``
    bytes): probing a scratch engine with known values finds a field's place."""
    return {i for i in range(0, len(data) - width + 1, width)
            if int.from_bytes(data[i:i + width], "little") == word}


@lru_cache(maxsize=1)
def reservation_layout() -> ReservationLayout:
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    use_cpu_only_contexts(uc)
    uc.mem_map(RAM_BASE, 0x1000)
    uc.mem_write(RAM_BASE, _LR_D)
    uc.reg_write(UC_RISCV_REG_PRIV, PRIV_S)
    addresses: set[int] | None = None
    values: set[int] | None = None
    for offset, value in _PROBES:
        uc.mem_write(RAM_BASE + offset, value.to_bytes(8, "little"))
        uc.reg_write(UC_RISCV_REG_A5, RAM_BASE + offset)
        uc.emu_start(RAM_BASE, UNTIL_NEVER, 0, 1)
        uc.reg_write(UC_RISCV_REG_A4, 0)           # only the reservation keeps them now
        uc.reg_write(UC_RISCV_REG_A5, 0)
        data = bytes(uc.context_save())
        found = context_offsets(data, RAM_BASE + offset), context_offsets(data, value)
        addresses = found[0] if addresses is None else addresses & found[0]
        values = found[1] if values is None else values & found[1]
    if not addresses or not values or len(addresses) != 1 or len(values) != 1:
        raise CalibrationError("cannot locate unicorn's LR/SC reservation in a CPU context; "
                               "rrvm needs unicorn 2.1.4")
    return ReservationLayout(addresses.pop(), values.pop())


class ReservationKeeper:
    """Runs accesses that switch privilege without losing a held reservation."""

    def __init__(self, uc: Uc) -> None:
        self.uc = uc
        self.layout = reservation_layout()
        self._context = uc.context_save()
        # The context's buffer stays where it is: its two words are looked up once.
        base = ctypes.cast(self._context.context, ctypes.c_void_p).value
        self._address = ctypes.c_uint64.from_address(base + self.layout.address)
        self._value = ctypes.c_uint64.from_address(base + self.layout.value)

    def keep(self, access: Callable[[], T]) -> T:
        uc = self.uc
        uc.context_update(self._context)
        address = self._address.value
        if address == NO_RESERVATION:
            return access()
        value = self._value.value
        result = access()
        uc.context_update(self._context)           # the state the access left...
        self._address.value = address               # ...with the reservation back
        self._value.value = value
        uc.context_restore(self._context)
        return result

    def drop(self) -> None:
        """Forget a held reservation: the hart's next sc fails (another hart ran since
        its lr: smp_run_loop.py)."""
        uc = self.uc
        uc.context_update(self._context)
        if self._address.value == NO_RESERVATION:
            return
        self._address.value = NO_RESERVATION
        uc.context_restore(self._context)
