"""The one unicorn engine every hart of a board runs in, their CPU contexts swapped in turn.

Harts run one at a time (smp_run_loop.py), so one engine serves them all, as
QEMU's round-robin vCPUs share one translation cache: code translated while
one hart ran is run by every hart, and a switch finds the engine's code
and lookup tables warm. (An engine per hart translated the kernel once per
hart and ran about half as fast per instruction: bench/README.md.)

Each hart's registers are a CPU context (registers only: RAM is the board's,
mapped once). The engine holds one hart's, ``loaded``; the others' wait in
their saved contexts. Touching a register of a hart that is not loaded
swaps it in (``load``), between runs only:

- the loaded hart's context is saved and the other's restored, and with them
  the accrued FP exception flags (fflags), which QEMU keeps outside the
  context, in its softfloat status: a hart's FP instructions must not set
  another hart's flags;
- mip is written back when either has an interrupt pending: QEMU keeps "an
  interrupt is requested" outside the context and sets or clears it when
  mip is written (``Cpu.restore_context``);
- the TLB is flushed, and with it the block lookup cache: both hold the
  previous hart's virtual addresses (its satp and privilege).

Inside a run only the running hart's registers are at hand. What a hook does
to another hart waits until the run returns (``Cpu.later``): nothing can
see that hart in between, since it does not run and the scheduler looks at
harts only between runs. Its interrupt bits are the exception: mip is read
and written in the saved context directly (context_csrs.py finds its place),
which needs no swap.

Translated code needs no fence between harts: a store by any hart drops the
blocks translated from the page it writes (QEMU's self-modifying-code
detection works on physical pages), and RAM written behind the engine's back
(DMA, restores) drops them through ``forget_code`` (ram.py).
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Callable

from unicorn import UC_ARCH_RISCV, UC_HOOK_MEM_UNMAPPED, UC_MODE_RISCV64, Uc
from unicorn import riscv_const as rc
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH
from unicorn.unicorn_py3.unicorn import uclib

from rr.monitor.constants import MSTATUS_FS
from rr.monitor.context_csrs import InterruptCsrReader
from rr.monitor.engine_choice import make_engine
from rr.monitor.reservation import ReservationKeeper, use_cpu_only_contexts

if TYPE_CHECKING:
    from rr.monitor.cpu import Cpu


class HartSwapDuringRun(RuntimeError):
    """A hart's registers were asked for while another hart's run was under way (a
    monitor bug: such a hook must use ``Cpu.later``)."""


class HartEngine:
    """A unicorn engine, its counting engine (native or hook) and the hart loaded in it."""

    def __init__(self) -> None:
        self.uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
        use_cpu_only_contexts(self.uc)
        self.handle = self.uc._uch  # noqa: SLF001 - no public accessor
        self._cell = ctypes.c_uint64()
        self._cell_ref = ctypes.byref(self._cell)
        self.reservation = ReservationKeeper(self.uc)
        self.interrupts = InterruptCsrReader(self.uc)
        self.engine = make_engine(self.uc)
        self.loaded: Cpu | None = None
        self.running = False
        self.swaps = 0
        self._later: list[Callable[[], None]] = []
        self._traps_hooked = False

    # --- the hart in the engine ------------------------------------------------
    def load(self, cpu: "Cpu") -> None:
        """Swap ``cpu``'s registers in (see the module doc)."""
        if self.running:
            raise HartSwapDuringRun("a hart's registers were touched inside another hart's run")
        old = self.loaded
        if old is not None:
            uclib.uc_context_save(self.handle, old.context.context)
            old.fflags = self._fp_flags(old)
        uclib.uc_context_restore(self.handle, cpu.context.context)
        if old is None or cpu.fflags != old.fflags:
            self._set_fp_flags(cpu)
        self.loaded = cpu
        self.swaps += 1
        if (old is not None and old.saved_mip()) or cpu.saved_mip():
            cpu.set_csr("mip", cpu.csr("mip"))
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def _fp_flags(self, cpu: "Cpu") -> int:
        """fflags of ``cpu``, whose registers were just saved (and are still the engine's).
        The API reads them only with the FPU on: with it off, from a copy of the
        registers with FS on (the next restore puts the real ones back)."""
        status = cpu.saved_mstatus
        if not status.value & MSTATUS_FS:
            status.value |= MSTATUS_FS
            uclib.uc_context_restore(self.handle, cpu.context.context)
            status.value &= ~MSTATUS_FS
        uclib.uc_reg_read(self.handle, rc.UC_RISCV_REG_FFLAGS, self._cell_ref)
        return self._cell.value

    def _set_fp_flags(self, cpu: "Cpu") -> None:
        """Make the engine's fflags ``cpu.fflags``, its registers restored. Writing fflags
        through the API needs the FPU on and marks it dirty, so the write goes to a copy
        of the registers with FS on, and the registers are restored after it."""
        status = cpu.saved_mstatus
        real = status.value
        status.value = real | MSTATUS_FS
        uclib.uc_context_restore(self.handle, cpu.context.context)
        self._cell.value = cpu.fflags
        uclib.uc_reg_write(self.handle, rc.UC_RISCV_REG_FFLAGS, self._cell_ref)
        status.value = real
        uclib.uc_context_restore(self.handle, cpu.context.context)

    def later(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current run returns (from a hook)."""
        self._later.append(action)

    def after_run(self) -> None:
        """The run returned: do what hooks left for then, in order."""
        while self._later:
            self._later.pop(0)()

    # --- hooks, each given to the hart that runs --------------------------------
    def hook_traps(self) -> None:
        """Route synchronous traps, ebreak and unmapped accesses to the loaded hart's
        handlers (``Cpu.on_exception`` and friends); registered once per engine."""
        if self._traps_hooked:
            return
        self._traps_hooked = True
        self.engine.on_exception(lambda uc, cause, user: self.loaded.exception_hook(uc, cause, user))
        self.engine.on_invalid(lambda uc, user: self.loaded.invalid_hook(uc, user))
        self.uc.hook_add(UC_HOOK_MEM_UNMAPPED,
                         lambda uc, access, address, size, value, user:
                         self.loaded.unmapped_hook(uc, access, address, size, value, user))
