"""Synchronous traps: what unicorn hands the monitor, and where it goes next.

Unicorn never runs the RISC-V trap entry for synchronous exceptions
(docs/unicorn-facts.md, facts 1-4): they arrive at ``UC_HOOK_INTR`` with the
cause as ``intno`` and pc already advanced by 4, and ebreak arrives at
``UC_HOOK_INSN_INVALID`` with pc at the ebreak. The monitor, playing M-mode, decides:

- ecall from S-mode: an SBI call, served in Python;
- a time read (rdtime) that trapped: emulated from the guest clock;
- with Sstc offered, an S-mode access to stimecmp: emulated (rr/monitor/stimecmp.py);
- a satp access or sfence.vma that trapped because the monitor set
  mstatus.TVM to follow address-space changes: emulated (rr/monitor/address_spaces.py);
- any other cause the board delegates: delivered to S-mode exactly as the
  hardware would (sepc, scause, stval, sstatus, privilege, stvec);
- anything else: the run stops with a one-line diagnostic.

Two things keep a trap-bound guest in hand. A trap taken again and again
at one position with nothing else changing (stvec not fetchable, say, after
paging was turned on with tables that map neither the code nor the
handler) can never end, since no instruction completes and no interrupt is
enabled in the handler: the run stops with a diagnostic after
``STUCK_TRAPS`` of them. And every ``TRAP_CHECK_EVERY`` traps the hook
calls ``on_many_traps``, which the run loop uses to get the run back when
it has not been able to poll for a while (a guest trapping on every
instruction runs ~50 times slower, so an epoch can take seconds).
"""

from __future__ import annotations

from typing import Callable

from unicorn import UC_MEM_FETCH_UNMAPPED, UC_MEM_WRITE_UNMAPPED
from unicorn import riscv_const as rc

from rr.errors import GuestFault
from rr.monitor import mmu
from rr.monitor.constants import (
    STUCK_TRAPS, TRAP_CHECK_EVERY, CAUSE_BREAKPOINT, CAUSE_FETCH_ACCESS, CAUSE_FETCH_PAGE_FAULT, CAUSE_ILLEGAL_INSTRUCTION,
    CAUSE_MISALIGNED_FETCH, CAUSE_USER_ECALL, DELEGATED_EXCEPTIONS,
    INSN_C_EBREAK, INSN_EBREAK, PRIV_M, PRIV_S, PRIV_U, SSTATUS_SIE, SSTATUS_SPIE, SSTATUS_SPP,
)
from rr.monitor.address_spaces import AddressSpaces
from rr.monitor.counters import CounterEmulator
from rr.monitor.cpu import Cpu
from rr.monitor.guest_memory import GuestMemory
from rr.monitor.insn_decode import fault_address
from rr.monitor.riscv import cause_name, disassemble_one, priv_name
from rr.monitor.sbi import Sbi, SbiTrap
from rr.monitor.stimecmp import StimecmpEmulator

# unicorn reports pc + 4 for every synchronous exception, whatever the length
UNICORN_EPC_SKEW = 4
_INSTRUCTION_FAULTS = (CAUSE_MISALIGNED_FETCH, CAUSE_FETCH_ACCESS, CAUSE_FETCH_PAGE_FAULT)


def _nothing() -> None:
    pass


def _instructions(count: int) -> str:
    return f"{count} instruction" + ("" if count == 1 else "s")


class TrapHandler:
    """Owns the trap hooks of one hart."""

    def __init__(self, cpu: Cpu, memory: GuestMemory, sbi: Sbi, counters: CounterEmulator,
                 address_spaces: AddressSpaces | None = None,
                 stimecmp: StimecmpEmulator | None = None) -> None:
        self.cpu = cpu
        self.memory = memory
        self.sbi = sbi
        self.counters = counters
        self.address_spaces = address_spaces if address_spaces is not None \
            else AddressSpaces(cpu, memory)
        self.stimecmp = stimecmp            # None: no Sstc, stimecmp is illegal
        # Set when a hook delivered an ebreak, so unicorn's UC_ERR_EXCEPTION
        # that follows means "resume", not "fail".
        self.breakpoint_delivered = False
        self.fault: GuestFault | None = None
        # The last trap delivered (position, cause, epc, tval, priv) and how many
        # times in a row exactly that trap was taken.
        self._last_trap: tuple[int, int, int, int, int] | None = None
        self._repeats = 0
        self._taken = 0
        self.on_many_traps: Callable[[], None] = _nothing
        cpu.on_exception(self._on_exception)
        cpu.on_invalid(self._on_invalid)
        cpu.on_unmapped(self._on_unmapped)

    # --- hooks --------------------------------------------------------------
    def _on_exception(self, _uc, cause: int, _user) -> None:
        cpu = self.cpu
        priv = cpu.priv
        epc = cpu.pc - UNICORN_EPC_SKEW
        if cause == CAUSE_USER_ECALL:
            if priv == PRIV_S:
                try:
                    self.sbi.handle()       # pc already points after the ecall
                except SbiTrap as trap:     # the call faulted reading its argument
                    self.deliver(trap.cause, epc, trap.tval, priv)
                return
            if priv == PRIV_U:
                self.deliver(CAUSE_USER_ECALL, epc, 0, priv)
                return
        if cause == CAUSE_ILLEGAL_INSTRUCTION:
            self._illegal_instruction(epc, priv)
            return
        if cause in DELEGATED_EXCEPTIONS and priv != PRIV_M:
            self.deliver(cause, epc, self._tval(cause, epc), priv)
            return
        self._fatal(cause, epc, priv, "the trap would go to M-mode")

    def _on_invalid(self, _uc, _user) -> bool:
        pc = self.cpu.pc
        priv = self.cpu.priv
        try:
            insn, length = self.memory.fetch_instruction(pc)
        except mmu.PageFault:
            return False
        if insn not in (INSN_EBREAK, INSN_C_EBREAK) or priv == PRIV_M:
            return False
        self.deliver(CAUSE_BREAKPOINT, pc, pc, priv)
        self.breakpoint_delivered = True
        return True

    def _on_unmapped(self, _uc, access: int, address: int, size: int, _value: int, _user) -> bool:
        cpu = self.cpu
        if access == UC_MEM_FETCH_UNMAPPED:
            # No code hook ran for an instruction that could not be fetched.
            self.fault = GuestFault(
                f"guest jumped to unmapped physical address {address:#x}, "
                f"after {_instructions(cpu.icount_in_hook() + 1)}")
            return False
        kind = "wrote" if access == UC_MEM_WRITE_UNMAPPED else "read"
        pc = cpu.pc
        self.fault = GuestFault(
            f"guest {kind} unmapped physical address {address:#x} ({size} bytes) "
            f"at pc {pc:#x}{self.describe_insn(pc)}, after {_instructions(cpu.icount_in_hook())}")
        return False

    # --- cases --------------------------------------------------------------
    def _illegal_instruction(self, epc: int, priv: int) -> None:
        try:
            insn, length = self.memory.fetch_trapping_instruction(epc, priv)
        except mmu.PageFault:
            self._fatal(CAUSE_ILLEGAL_INSTRUCTION, epc, priv, "the instruction cannot be read")
            return
        if priv != PRIV_M and self.counters.try_emulate(insn, length, epc, priv):
            return
        if self.stimecmp is not None and self.stimecmp.try_emulate(insn, length, epc, priv):
            return
        if self.address_spaces.try_emulate(insn, length, epc, priv):
            return
        if priv == PRIV_M:
            self._fatal(CAUSE_ILLEGAL_INSTRUCTION, epc, priv, "the hart is in M-mode")
            return
        self.deliver(CAUSE_ILLEGAL_INSTRUCTION, epc, insn, priv)

    def _tval(self, cause: int, epc: int) -> int:
        """stval for a delegated trap (docs/unicorn-facts.md, fact 3)."""
        if cause in _INSTRUCTION_FAULTS:
            try:
                self.memory.fetch_instruction(epc)
            except mmu.PageFault as fault:
                return fault.vaddr          # the part of the instruction that faulted
            return epc
        if cause == CAUSE_BREAKPOINT:
            return epc
        try:
            insn, length = self.memory.fetch_instruction(epc)
        except mmu.PageFault:
            return 0
        address = fault_address(insn, length, self.cpu.x, self._data_page_mapped)
        return address if address is not None else 0

    def _data_page_mapped(self, vaddr: int) -> bool:
        try:
            self.memory.translate(vaddr, "read")
            return True
        except mmu.PageFault:
            return False

    def deliver(self, cause: int, epc: int, tval: int, priv: int) -> None:
        """Enter the guest's S-mode trap handler, as the hardware trap entry would."""
        cpu = self.cpu
        self._taken += 1
        if self._taken % TRAP_CHECK_EVERY == 0:
            self.on_many_traps()
        if self._stuck(cause, epc, tval, priv):
            return
        uc = cpu.uc
        cpu.priv = PRIV_M
        old = uc.reg_read(rc.UC_RISCV_REG_SSTATUS)
        status = old & ~(SSTATUS_SPP | SSTATUS_SPIE | SSTATUS_SIE)
        if priv == PRIV_S:
            status |= SSTATUS_SPP
        if old & SSTATUS_SIE:
            status |= SSTATUS_SPIE
        uc.reg_write(rc.UC_RISCV_REG_SSTATUS, status)
        uc.reg_write(rc.UC_RISCV_REG_SEPC, epc)
        uc.reg_write(rc.UC_RISCV_REG_SCAUSE, cause)
        uc.reg_write(rc.UC_RISCV_REG_STVAL, tval)
        stvec = uc.reg_read(rc.UC_RISCV_REG_STVEC)
        cpu.priv = PRIV_S
        cpu.pc = stvec & ~3                 # exceptions always use the base address

    def _stuck(self, cause: int, epc: int, tval: int, priv: int) -> bool:
        """True (and the run stopped with a fault) when this trap is the same one taken
        ``STUCK_TRAPS`` times in a row without an instruction completing in between.

        The trap entry clears sstatus.SIE and enters S-mode, so after the second
        identical trap the hart is at a fixed point: same pc, same CSRs, no
        interrupt it could take. It would take this trap for ever."""
        trap = (self.cpu.icount_in_hook(), cause, epc, tval, priv)
        if trap != self._last_trap:
            self._last_trap, self._repeats = trap, 1
            return False
        self._repeats += 1
        if self._repeats < STUCK_TRAPS:
            return False
        self._last_trap, self._repeats = None, 0
        stvec = self.cpu.uc.reg_read(rc.UC_RISCV_REG_STVEC) & ~3
        # A fetch that faulted began no instruction: the one before it is the last done.
        done = trap[0] + (cause in (CAUSE_FETCH_ACCESS, CAUSE_FETCH_PAGE_FAULT))
        self.fault = GuestFault(
            f"guest is stuck: {cause_name(cause)} (cause {cause}) at pc {epc:#x} "
            f"(stval {tval:#x}) in {priv_name(priv)}-mode goes to stvec {stvec:#x}, "
            f"which takes the same trap again, {STUCK_TRAPS} times without completing "
            f"an instruction, after {_instructions(done)}")
        self.cpu.stop()
        return True

    def describe_insn(self, pc: int) -> str:
        """' (mnemonic operands)' of the instruction at ``pc``, or '' if it cannot be read."""
        try:
            insn, length = self.memory.fetch_instruction(pc)
        except mmu.PageFault:
            return ""
        return f" ({disassemble_one(insn.to_bytes(length, 'little'), pc)})"

    def _fatal(self, cause: int, epc: int, priv: int, why: str) -> None:
        self.fault = GuestFault(
            f"unhandled trap: {cause_name(cause)} (cause {cause}) in {priv_name(priv)}-mode "
            f"at pc {epc:#x}{self.describe_insn(epc)}, {why}, "
            f"after {_instructions(self.cpu.icount_in_hook())}")
        self.cpu.stop()
