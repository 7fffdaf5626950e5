"""A hart: its registers in the board's unicorn RISC-V 64 engine, exact positions and
safe CSR access.

The board's harts share one engine (hart_engine.py); touching a register of
a hart swaps its CPU context in when another hart's is loaded.

Two unicorn behaviours shape this class (docs/unicorn-facts.md, facts 5 and 13): CSR
access through the API obeys the current privilege, so every CSR access runs
with the privilege switched to M and back; and unicorn keeps no exact
instruction count of its own that is cheap: a counting engine
(``engine_choice.py``: per block in C, or unicorn's per-instruction hook)
keeps it.

Positions: ``icount`` is the number of instructions completed since reset,
which is also the index of the next instruction to execute. Inside a hook,
``icount_in_hook()`` is the index of the instruction being executed.
"""

from __future__ import annotations

import ctypes
import gc
from typing import Callable

from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64
from unicorn import riscv_const as rc
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH
from unicorn.unicorn_py3.unicorn import UcContext, uclib

from rr.monitor.clock import VirtualClock
from rr.monitor.constants import MSTATUS_FS, PRIV_M
from rr.monitor.context_csrs import context_layout
from rr.monitor.engine_choice import engine_name
from rr.monitor.hart_engine import HartEngine
from rr.monitor.hook_engine import HOOK_ENGINE
from rr.monitor.insn_counter import counter_offset
from rr.monitor.reservation import NO_RESERVATION, reservation_layout
from rr.monitor.run_stop import RunStop

GPR_IDS = [rc.UC_RISCV_REG_X0 + i for i in range(32)]
FPR_IDS = [rc.UC_RISCV_REG_F0 + i for i in range(32)]

# CSRs reachable through unicorn, by name.
CSR_IDS = {
    "sstatus": rc.UC_RISCV_REG_SSTATUS, "sie": rc.UC_RISCV_REG_SIE,
    "stvec": rc.UC_RISCV_REG_STVEC, "scounteren": rc.UC_RISCV_REG_SCOUNTEREN,
    "sscratch": rc.UC_RISCV_REG_SSCRATCH, "sepc": rc.UC_RISCV_REG_SEPC,
    "scause": rc.UC_RISCV_REG_SCAUSE, "stval": rc.UC_RISCV_REG_STVAL,
    "sip": rc.UC_RISCV_REG_SIP, "satp": rc.UC_RISCV_REG_SATP,
    "mstatus": rc.UC_RISCV_REG_MSTATUS, "misa": rc.UC_RISCV_REG_MISA,
    "medeleg": rc.UC_RISCV_REG_MEDELEG, "mideleg": rc.UC_RISCV_REG_MIDELEG,
    "mie": rc.UC_RISCV_REG_MIE, "mip": rc.UC_RISCV_REG_MIP,
    "mcounteren": rc.UC_RISCV_REG_MCOUNTEREN, "mtvec": rc.UC_RISCV_REG_MTVEC,
    "fflags": rc.UC_RISCV_REG_FFLAGS, "frm": rc.UC_RISCV_REG_FRM,
    "fcsr": rc.UC_RISCV_REG_FCSR,
}
FP_CSRS = frozenset({"fflags", "frm", "fcsr"})


def prepare_engines() -> None:
    """Run every calibration on its scratch engines, and free them, before a board
    makes its harts' engine.

    An engine's translated code lives in one mapping, placed by the kernel below
    the mappings already there. Code within 2 GiB of libunicorn calls its helpers
    (the block hook, memory accesses, block lookups) directly, further away through
    a register: an engine whose code landed below scratch engines not yet freed ran
    a block-bound loop about a third slower (tests/monitor/test_engine_placement.py).
    """
    reservation_layout()
    context_layout()
    if engine_name() == HOOK_ENGINE:
        counter_offset()
    gc.collect()                    # scratch engines with hooks sit in reference cycles


def _unhandled(*_args) -> bool:
    return False


def _address_of(context) -> int:
    return ctypes.cast(context.context, ctypes.c_void_p).value


class Cpu:
    """One hart: its registers in the board's ``HartEngine`` (hart_engine.py), swapped in
    when they are touched, and its position."""

    def __init__(self, shares: "Cpu | None" = None) -> None:
        """A hart in a new engine, or in the engine of the hart ``shares`` (the board's
        other harts)."""
        self.hart_engine = shares.hart_engine if shares is not None else HartEngine()
        self.uc = self.hart_engine.uc
        self.engine = self.hart_engine.engine
        # This hart's registers while another hart's are loaded: a reset engine's
        # registers to start with (the board resets every hart before it runs).
        self.context = self.uc.context_save()
        layout = context_layout()
        base = _address_of(self.context)
        self._saved_mip, self._saved_mie, self._saved_mideleg = (
            ctypes.c_uint32.from_address(base + offset)
            for offset in (layout.mip, layout.mie, layout.mideleg))
        self.saved_mstatus = ctypes.c_uint32.from_address(base + layout.mstatus)
        self.saved_satp = ctypes.c_uint64.from_address(base + layout.satp)
        self.saved_priv = ctypes.c_uint64.from_address(base + layout.priv)
        self._saved_reservation = ctypes.c_uint64.from_address(
            base + reservation_layout().address)
        # A remote sfence.vma reached this hart while it was not loaded: the engine's TLB
        # is flushed when it is (hart_engine.py).
        self.tlb_stale = False
        # The accrued FP exception flags are not in a CPU context (QEMU keeps them in
        # its softfloat status): the engine keeps them here while the hart is out.
        self.fflags = 0
        if self.hart_engine.loaded is None:
            self.hart_engine.loaded = self
        # True while an MMIO callback runs: there only the engine's record of the
        # access says which instruction of a block is executing.
        self.in_mmio = False
        self.icount = 0          # instructions completed before the current run
        # The binding's reg_read/reg_write cost ~2.7 us each; the trap path
        # calls the C library directly with a preallocated cell (~1.3 us).
        self._handle = self.hart_engine.handle
        self._cell = ctypes.c_uint64()
        self._cell_ref = ctypes.byref(self._cell)
        self._buffer = ctypes.create_string_buffer(16)
        self._width = ctypes.c_size_t(8)
        self._width_ref = ctypes.byref(self._width)
        self.exception_hook: Callable = _unhandled
        self.invalid_hook: Callable = _unhandled
        self.unmapped_hook: Callable = _unhandled

    @property
    def loaded(self) -> bool:
        """Are this hart's registers the engine's now?"""
        return self.hart_engine.loaded is self

    def _load(self) -> None:
        if self.hart_engine.loaded is not self:
            self.hart_engine.load(self)

    def later(self, action: Callable[[], None]) -> None:
        """Run ``action`` (which touches this hart's registers) now, or, from a hook of
        another hart's run, as soon as that run returns (hart_engine.py)."""
        engine = self.hart_engine
        if engine.running and engine.loaded is not self:
            engine.later(action)
        else:
            action()

    # --- registers ----------------------------------------------------------
    def reg(self, reg_id: int) -> int:
        """Read any 64-bit register by unicorn id, obeying the current privilege."""
        if self.hart_engine.loaded is not self:
            self.hart_engine.load(self)
        uclib.uc_reg_read(self._handle, reg_id, self._cell_ref)
        return self._cell.value

    def set_reg(self, reg_id: int, value: int) -> None:
        if self.hart_engine.loaded is not self:
            self.hart_engine.load(self)
        self._cell.value = value & 0xFFFF_FFFF_FFFF_FFFF
        uclib.uc_reg_write(self._handle, reg_id, self._cell_ref)

    @property
    def pc(self) -> int:
        return self.reg(rc.UC_RISCV_REG_PC)

    @pc.setter
    def pc(self, value: int) -> None:
        # uc_reg_write would leave unicorn's "skip pc sync" flag set inside a
        # hook, and later memory hooks of the run would see a stale pc.
        self._load()
        self._cell.value = value & 0xFFFF_FFFF_FFFF_FFFF
        self._width.value = 8
        uclib.uc_reg_write2(self._handle, rc.UC_RISCV_REG_PC, self._cell_ref, self._width_ref)

    def x(self, n: int) -> int:
        return self.reg(GPR_IDS[n]) if n else 0

    def set_x(self, n: int, value: int) -> None:
        if n:
            self.set_reg(GPR_IDS[n], value)

    def f(self, n: int) -> int:
        return self.reg(FPR_IDS[n])

    def set_f(self, n: int, value: int) -> None:
        self.set_reg(FPR_IDS[n], value)

    @property
    def priv(self) -> int:
        return self.reg(rc.UC_RISCV_REG_PRIV)

    @priv.setter
    def priv(self, value: int) -> None:
        self.set_reg(rc.UC_RISCV_REG_PRIV, value)

    def csr(self, name: str) -> int:
        """Read a CSR with M privilege, whatever mode the hart is in."""
        if name == "mip" and not self.loaded:
            return self._saved_mip.value
        if name in FP_CSRS:
            return self._with_fpu(lambda: self._csr_as_m(CSR_IDS[name], None))
        return self._csr_as_m(CSR_IDS[name], None)

    def set_csr(self, name: str, value: int) -> None:
        """Write a CSR with M privilege, whatever mode the hart is in (mip of a hart that
        is not loaded: in its saved context, which loading it writes back)."""
        if name == "mip" and not self.loaded:
            self._saved_mip.value = value & 0xFFFF_FFFF
            return
        if name in FP_CSRS:
            self._with_fpu(lambda: self._csr_as_m(CSR_IDS[name], value))
            return
        self._csr_as_m(CSR_IDS[name], value)

    def _csr_as_m(self, reg: int, value: int | None) -> int:
        """Read (``value`` None) or write a CSR with the privilege switched to M (keeping
        the guest's LR/SC reservation, which a privilege change clears)."""
        def access() -> int:
            if value is None:
                return self.reg(reg)
            self.set_reg(reg, value)
            return value

        old = self.priv
        if old == PRIV_M:
            return access()

        def switched() -> int:
            self.priv = PRIV_M
            try:
                return access()
            finally:
                self.priv = old
        return self.hart_engine.reservation.keep(switched)

    def pending_interrupts(self) -> int:
        """``mip & sie``: the interrupts pending and enabled, from the hart's saved
        context (saved again first while it is loaded: one library call), where the
        scheduler asks this of every hart at every switch (context_csrs.py)."""
        if self.hart_engine.loaded is self:
            uclib.uc_context_save(self._handle, self.context.context)
        return self._saved_mip.value & self._saved_mie.value & self._saved_mideleg.value

    def mip(self) -> int:
        """``csr("mip")`` from the saved context, as ``pending_interrupts`` reads it."""
        if self.hart_engine.loaded is self:
            uclib.uc_context_save(self._handle, self.context.context)
        return self._saved_mip.value

    def fp_flags(self) -> int:
        """The accrued FP exception flags (fflags): a CPU context does not hold them
        (docs/unicorn-facts.md, fact 23), so checkpoints keep them beside it."""
        if not self.loaded:
            return self.fflags
        return self.csr("fflags")

    def set_fp_flags(self, value: int) -> None:
        """Put back flags ``fp_flags`` gave, leaving the registers as they are (a write
        through the API would also mark the FPU dirty)."""
        if self.loaded:
            self.hart_engine.put_fp_flags(self, value)
        else:
            self.fflags = value

    def saved_mip(self) -> int:
        """mip as this hart's saved context holds it (current while it is not loaded)."""
        return self._saved_mip.value

    def drop_reservation(self) -> None:
        """Make the hart's next sc fail, as a store by another hart would have (in the
        saved context of a hart that is not loaded)."""
        if self.loaded:
            self.hart_engine.reservation.drop()
        else:
            self._saved_reservation.value = NO_RESERVATION

    def _with_fpu(self, access: Callable[[], int]) -> int:
        """Run ``access`` with mstatus.FS on: unicorn refuses the FP CSRs while the FPU is
        off (a read then returns whatever its buffer held, a write is dropped), which
        is most of the time in a kernel."""
        mstatus = self._csr_as_m(rc.UC_RISCV_REG_MSTATUS, None)
        if mstatus & MSTATUS_FS:
            return access()
        self._csr_as_m(rc.UC_RISCV_REG_MSTATUS, mstatus | MSTATUS_FS)
        try:
            return access()
        finally:
            self._csr_as_m(rc.UC_RISCV_REG_MSTATUS, mstatus)

    # --- memory -------------------------------------------------------------
    def read_phys(self, addr: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(addr, size))

    def read_phys_small(self, addr: int, size: int) -> bytes | None:
        """Up to 16 bytes through the C library; None where nothing is mapped."""
        if uclib.uc_mem_read(self._handle, ctypes.c_uint64(addr), self._buffer, ctypes.c_size_t(size)):
            return None
        return self._buffer.raw[:size]

    def write_phys(self, addr: int, data: bytes) -> None:
        self.uc.mem_write(addr, data)

    # --- execution ----------------------------------------------------------
    def on_exception(self, callback: Callable) -> None:
        """``callback(uc, cause, user)`` for every synchronous trap of this hart
        (UC_HOOK_INTR)."""
        self.exception_hook = callback
        self.hart_engine.hook_traps()

    def on_invalid(self, callback: Callable) -> None:
        """``callback(uc, user) -> handled`` for this hart's ebreak (UC_HOOK_INSN_INVALID)."""
        self.invalid_hook = callback
        self.hart_engine.hook_traps()

    def on_unmapped(self, callback: Callable) -> None:
        """``callback(uc, access, address, size, value, user) -> handled`` for this hart's
        accesses outside RAM and the devices (UC_HOOK_MEM_UNMAPPED)."""
        self.unmapped_hook = callback
        self.hart_engine.hook_traps()

    def use_clock(self, clock: VirtualClock | None) -> None:
        """The virtual clock S-mode time reads may be answered from without a trip
        to Python (None for the host clock, a logged input)."""
        self.engine.use_clock(clock)

    def memory_hooks_set(self, present: bool) -> None:
        """Say whether memory-access hooks are set: positions inside them then come
        from code the engine copies as each block starts (``native_engine.py``)."""
        self.engine.keep_block_code(present)

    def icount_in_hook(self) -> int:
        """Index of the instruction being executed, valid inside hooks."""
        return self.icount + self.engine.hook_raw(self.in_mmio) - 1

    def run(self, max_insns: int) -> RunStop:
        """Execute at most ``max_insns`` instructions from the current pc.

        ``executed`` counts every instruction begun: one that trapped, or
        whose hook stopped the run, counts; the instruction after a wfi that
        halted does not.
        """
        hart_engine = self.hart_engine
        pc = self.pc
        hart_engine.running = True
        try:
            return self.engine.run(pc, max_insns, self.icount)
        finally:
            # Also when a hook raised: positions must stay exact.
            self.icount += self.engine.executed
            hart_engine.running = False
            hart_engine.after_run()

    def flush_tlb(self) -> None:
        """Forget the hart's TLB entries: now, or when it is next loaded (the engine's TLB
        may hold entries other harts made: hart_engine.py)."""
        if self.loaded:
            self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
        else:
            self.tlb_stale = True

    def invalidate_caches(self) -> None:
        """Forget translated code (every hart's: they share it) and TLB entries (after
        memory changed behind unicorn)."""
        self.uc.ctl_flush_tb()
        self.flush_tlb()

    def context_save(self):
        """This hart's registers as a new ``UcContext`` (a CPU-only context)."""
        if self.loaded:
            return self.uc.context_save()
        context = UcContext(self._handle, UC_ARCH_RISCV, UC_MODE_RISCV64)
        ctypes.memmove(_address_of(context), _address_of(self.context), self.context.size)
        return context

    def restore_context(self, context) -> None:
        """Bring back registers saved with ``context_save()`` (in the saved context of a
        hart that is not loaded).

        QEMU keeps "an interrupt is requested" in its CPU object, outside the
        register context unicorn saves and restores, and sets or clears it
        when mip is written. Restored alone, a state with an interrupt
        pending kept the flag of the state before the restore: the guest
        did not take the interrupt when it enabled it (seen seeking back in
        a Linux trace: the timer interrupt came late and history diverged).
        Writing mip back makes QEMU recompute the flag.
        """
        if not self.loaded:                 # written back when it is loaded
            ctypes.memmove(_address_of(self.context), _address_of(context), context.size)
            return
        self.uc.context_restore(context)
        self.set_csr("mip", self.csr("mip"))

    def stop(self) -> None:
        """Ask the current run to return after the instruction being executed (from a
        hook; from an MMIO callback only to end the run for good: the access is
        then executed again on resume)."""
        self.engine.stop(self.in_mmio)
