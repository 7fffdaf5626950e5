"""Noticing the guest change address space, for watchpoints on virtual addresses.

A change of address space on RISC-V is a write to ``satp`` or an
``sfence.vma`` (after which page-table edits must be seen); neither traps in
unicorn, and its memory hooks see physical addresses only
(docs/unicorn-facts.md, fact 17). The monitor plays M-mode, so it can set
``mstatus.TVM``: then every S-mode access to ``satp`` and every
``sfence.vma`` is an illegal instruction that reaches the trap hook (fact 22).
``AddressSpaces`` sets TVM only while something listens, emulates those
instructions exactly as the hart would (the CSR access with the privilege
switched to M, where TVM does not apply; a TLB flush for sfence.vma), and
then tells the listeners. The guest cannot see TVM (sstatus does not show
it), and the trapped instruction counts as one instruction as it would have
(docs/unicorn-facts.md, fact 22; tests/replay/test_virtual_watch.py), so a
run with listeners is the same run as one without.
"""

from __future__ import annotations

from typing import Callable

from rr.monitor.constants import (
    CSR_SATP, INSN_SFENCE_VMA, INSN_SFENCE_VMA_MASK, MSTATUS_TVM, PRIV_S,
)
from rr.monitor.cpu import Cpu
from rr.monitor.guest_memory import GuestMemory
from rr.monitor.insn_decode import decode_csr_access

_OPCODE_SYSTEM = 0x73

# Called in the trap hook after each change; True when the listener must rearrange
# its hooks, which it may only do between runs (its ``settle`` callback).
Listener = Callable[[], bool]


class AddressSpaces:
    """Tells listeners when the hart's address space may have changed."""

    def __init__(self, cpu: Cpu, memory: GuestMemory,
                 stop: Callable[[], None] | None = None) -> None:
        self.cpu = cpu
        self.memory = memory
        self._stop = stop if stop is not None else cpu.stop
        self._listeners: list[Listener] = []
        self._settles: dict[Listener, Callable[[], None]] = {}
        self._unsettled: list[Listener] = []
        self.changes = 0              # satp writes and sfence.vma seen while listened to

    @property
    def listened(self) -> bool:
        return bool(self._listeners)

    def listen(self, listener: Listener, settle: Callable[[], None]) -> None:
        """``listener`` runs in the trap hook after each change; when it returns True
        the run stops after this instruction and ``settle`` runs before the next one
        (hooks must not be added, removed or code flushed inside a hook: the native
        engine recounts the current block after the hook returns)."""
        self._listeners.append(listener)
        self._settles[listener] = settle
        self.sync()

    def unlisten(self, listener: Listener) -> None:
        self._listeners.remove(listener)
        self._settles.pop(listener, None)
        if listener in self._unsettled:
            self._unsettled.remove(listener)
        self.sync()

    def settle(self) -> None:
        """Between runs (the run loop calls it before each): let the listeners that
        asked rearrange their hooks."""
        while self._unsettled:
            self._settles[self._unsettled.pop(0)]()

    def sync(self) -> None:
        """Make mstatus.TVM say whether anyone listens (after a context restore too)."""
        mstatus = self.cpu.csr("mstatus")
        self.memory.known_satp = self.cpu.csr("satp") if self._listeners else None
        wanted = (mstatus | MSTATUS_TVM) if self._listeners else (mstatus & ~MSTATUS_TVM)
        if wanted != mstatus:
            self.cpu.set_csr("mstatus", wanted)

    def reloaded(self) -> None:
        """The monitor set satp itself (an HSM start leaves the MMU off) while the hart
        was not running: tell the listeners; those that move settle before its next run."""
        self.sync()
        self._unsettled.extend(listener for listener in self._listeners
                               if listener() and listener not in self._unsettled)

    def try_emulate(self, insn: int, length: int, epc: int, priv: int) -> bool:
        """Emulate a satp access or sfence.vma that trapped because of TVM; False for
        anything else (or when TVM is off: then it was the guest's own illegal instruction)."""
        if priv != PRIV_S or length != 4 or insn & 0x7F != _OPCODE_SYSTEM:
            return False
        if not self.cpu.csr("mstatus") & MSTATUS_TVM:
            return False
        if insn & INSN_SFENCE_VMA_MASK == INSN_SFENCE_VMA:
            self.cpu.flush_tlb()
        elif not self._satp_access(insn):
            return False
        self.cpu.pc = epc + length
        self.changes += 1
        moved = [listener for listener in self._listeners if listener()]
        if moved:
            self._unsettled.extend(moved)
            self._stop()                # the new hooks apply from the next instruction
        return True

    def _satp_access(self, insn: int) -> bool:
        """csrrw/csrrs/csrrc (and their immediate forms) on satp, emulated."""
        access = decode_csr_access(insn, 4)
        if access is None or access.csr != CSR_SATP:
            return False
        cpu = self.cpu
        old = cpu.csr("satp")
        new = access.new_value(old, access.operand(cpu.x))
        if new is not None:
            cpu.set_csr("satp", new)
        cpu.set_x(access.rd, old)
        self.memory.known_satp = cpu.csr("satp")
        return True
