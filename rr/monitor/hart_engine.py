"""The one unicorn engine every hart of a board runs in, their CPU contexts swapped in turn.

Harts run one at a time (smp_run_loop.py), so one engine serves them all, as
QEMU's round-robin vCPUs share one translation cache: code translated while
one hart ran is run by every hart, and a switch finds the engine's code
and lookup tables warm (bench/README.md, smp.py, measures it against an
engine per hart).

Each hart's registers are a CPU context (registers only: RAM is the board's,
mapped once). The engine holds one hart's, ``loaded``; the others' wait in
their saved contexts. Touching a register of a hart that is not loaded
swaps it in (``load``), between runs only:

- the loaded hart's context is saved and the other's restored, and with them
  the accrued FP exception flags (fflags), which QEMU keeps outside the
  context, in its softfloat status: a hart's FP instructions must not set
  another hart's flags;
- mip is written back when one of the two harts has an interrupt pending
  and the other none: QEMU keeps "an interrupt is requested" outside the
  context, set exactly while mip is not zero (every mip write sets or clears
  it: ``Cpu.restore_context``);
- the TLB is flushed, and with it the block lookup cache, unless the two
  harts translate alike: the same satp, and the same mstatus bits QEMU
  flushes its TLB on (a hart's entries are valid for the other then, as
  entries its own walk would have made), and no remote sfence.vma reached
  the hart while it waited (``Cpu.flush_tlb``).

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

from rr.monitor.constants import MSTATUS_FS, PRIV_M, TLB_STATUS_BITS
from rr.monitor.engine_choice import make_engine
from rr.monitor.reservation import ReservationKeeper, use_cpu_only_contexts

if TYPE_CHECKING:
    from rr.monitor.cpu import Cpu

# uc_ctl's code for "flush the TLB" (unicorn.h: UC_CTL_WRITE(UC_CTL_TLB_FLUSH, 0)).
_TLB_FLUSH = UC_CTL_IO_WRITE << 30 | UC_CTL_TLB_FLUSH


def _same_translation(old: "Cpu", new: "Cpu") -> bool:
    """Would the TLB entries ``old`` made translate the same for ``new``? The same satp
    (root page table and ASID), and the same mstatus bits QEMU flushes its TLB on
    when they change (MXR, SUM, MPRV, MPP); the privilege picks its own entries."""
    return (old.saved_satp.value == new.saved_satp.value
            and not (old.saved_mstatus.value ^ new.saved_mstatus.value) & TLB_STATUS_BITS)


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
        self.engine = make_engine(self.uc)
        self.loaded: Cpu | None = None      # the first hart made loads itself
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
        uclib.uc_context_save(self.handle, old.context.context)
        old.fflags = self._fp_flags(old)
        # QEMU's flag is set exactly while mip is not zero (every mip write keeps it so):
        # it is left as the previous hart left it unless that is wrong for this one.
        write_mip = bool(old.saved_mip()) != bool(cpu.saved_mip())
        write_fflags = cpu.fflags != old.fflags
        if write_mip or write_fflags:
            self._restore_with_outside_state(cpu, write_mip, write_fflags)
        else:
            uclib.uc_context_restore(self.handle, cpu.context.context)
        self.loaded = cpu
        self.swaps += 1
        if cpu.tlb_stale or not _same_translation(old, cpu):
            uclib.uc_ctl(self.handle, _TLB_FLUSH)
        cpu.tlb_stale = False

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

    def _restore_with_outside_state(self, cpu: "Cpu", mip: bool, fflags: bool) -> None:
        """Restore ``cpu``'s registers and set what QEMU keeps outside them: the "interrupt
        requested" flag (a write of mip sets or clears it) and the FP flags.

        The API writes mip only in M-mode and fflags only with the FPU on, and either
        change would leave a mark (a mode switch drops the LR/SC reservation, an fflags
        write marks the FPU dirty). So both are written on a copy of the registers in
        M-mode with FS on, and the registers are restored after."""
        priv, status = cpu.saved_priv, cpu.saved_mstatus
        real_priv, real_status = priv.value, status.value
        priv.value, status.value = PRIV_M, real_status | MSTATUS_FS
        uclib.uc_context_restore(self.handle, cpu.context.context)
        priv.value, status.value = real_priv, real_status
        if mip:
            self._cell.value = cpu.saved_mip()
            uclib.uc_reg_write(self.handle, rc.UC_RISCV_REG_MIP, self._cell_ref)
        if fflags:
            self._cell.value = cpu.fflags
            uclib.uc_reg_write(self.handle, rc.UC_RISCV_REG_FFLAGS, self._cell_ref)
        uclib.uc_context_restore(self.handle, cpu.context.context)

    def put_fp_flags(self, cpu: "Cpu", value: int) -> None:
        """Make the loaded hart's fflags ``value``, its registers as they are."""
        uclib.uc_context_save(self.handle, cpu.context.context)
        cpu.fflags = value
        self._restore_with_outside_state(cpu, mip=False, fflags=True)

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
        self.engine.on_exception(
            lambda uc, cause, user: self.loaded.exception_hook(uc, cause, user))
        self.engine.on_invalid(lambda uc, user: self.loaded.invalid_hook(uc, user))
        self.uc.hook_add(UC_HOOK_MEM_UNMAPPED,
                         lambda uc, access, address, size, value, user:
                         self.loaded.unmapped_hook(uc, access, address, size, value, user))
