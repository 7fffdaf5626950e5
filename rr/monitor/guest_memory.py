"""The guest's memory as the hart sees it: physical, or virtual through satp.

Unicorn only reads physical memory (docs/unicorn-facts.md, fact 16); the trap path needs
the faulting instruction at a virtual pc, and the debugger needs virtual
reads and writes, so both come through here.
"""

from __future__ import annotations

from unicorn import UcError
from unicorn import riscv_const as rc

from rr.monitor import mmu
from rr.monitor.constants import PAGE_SIZE, PRIV_M, PRIV_S, SSTATUS_MXR, SSTATUS_SUM
from rr.monitor.cpu import Cpu
from rr.monitor.ram import GuestRam

FETCH_CACHE_LIMIT = 4096


class GuestMemory:
    """Virtual-address access for the monitor and the debugger.

    With ``ram`` given, physical accesses outside it are refused: reading a
    device register through unicorn runs its MMIO callback (a UART read pops
    its FIFO), and a debugger must never change the machine by looking at it.
    """

    def __init__(self, cpu: Cpu, ram: GuestRam | None = None) -> None:
        self.cpu = cpu
        self.ram = ram
        # (pc, satp) -> (paddr, instruction bytes, bits, length) of trapping
        # instructions; rdtime in a busy loop traps at the same pc over and over.
        self._fetch_cache: dict[tuple[int, int], tuple[int, bytes, int, int]] = {}
        # satp as rr.monitor.address_spaces knows it while it traps every satp access
        # (None: read it). Then the API cannot read it in S-mode (docs/unicorn-facts.md,
        # fact 22), and a memory hook must not switch the privilege to read it: that
        # changes the MMU mode under the access (it crashed the native engine).
        self.known_satp: int | None = None

    def _check_ram(self, addr: int, size: int) -> None:
        if self.ram is not None and not self.ram.contains(addr, size):
            raise mmu.PageFault(addr, "not RAM: device registers are not read or written here")

    def _read_phys(self, addr: int, size: int) -> bytes:
        self._check_ram(addr, size)
        try:
            return self.cpu.read_phys(addr, size)
        except UcError:
            raise mmu.PageFault(addr, "physical address not mapped") from None

    def _satp_for(self, priv: int) -> int:
        return 0 if priv == PRIV_M else self.cpu.csr("satp")

    def _trap_satp(self, priv: int) -> int:
        """satp as it stands in a trap hook (TVM may be set: docs/watchpoints.md)."""
        if priv == PRIV_M:
            return 0
        if self.known_satp is not None:
            return self.known_satp
        return self.cpu.reg(rc.UC_RISCV_REG_SATP) if priv == PRIV_S else self.cpu.csr("satp")

    def fetch_trapping_instruction(self, pc: int, priv: int) -> tuple[int, int]:
        """Like ``fetch_instruction``, cached per (pc, satp) and re-checked against memory."""
        cpu = self.cpu
        satp = self._trap_satp(priv)
        hit = self._fetch_cache.get((pc, satp))
        if hit is not None and cpu.read_phys_small(hit[0], hit[3]) == hit[1]:
            return hit[2], hit[3]
        insn, length = mmu.fetch_instruction(satp, pc, self._read_phys, priv)
        if (pc & (PAGE_SIZE - 1)) + length <= PAGE_SIZE:
            paddr = self.translate(pc, "execute") if satp and priv != PRIV_M else pc
            if len(self._fetch_cache) >= FETCH_CACHE_LIMIT:
                self._fetch_cache.clear()
            self._fetch_cache[(pc, satp)] = (paddr, insn.to_bytes(length, "little"), insn, length)
        return insn, length

    def load(self, vaddr: int, size: int, priv: int) -> bytes:
        """A load by the hart at privilege ``priv``, from a trap hook (an SBI call reading
        its argument as OpenSBI does, with mstatus.MPRV): translated with that privilege's
        permissions and sstatus.SUM/MXR. Raises ``mmu.PageFault`` as the hart would fault,
        or ``mmu.AccessFault`` for memory that is not RAM (device registers are not read
        behind the guest's back)."""
        status = self.cpu.csr("sstatus")
        read64 = lambda addr: int.from_bytes(self._read_phys(addr, 8), "little")  # noqa: E731
        data = bytearray()
        for here, piece in mmu.page_pieces(vaddr, size):
            paddr = mmu.translate(self._trap_satp(priv), here, read64, "read", priv,
                                  bool(status & SSTATUS_SUM), bool(status & SSTATUS_MXR)).paddr
            if self.ram is not None and not self.ram.contains(paddr, piece):
                raise mmu.AccessFault(here, "not RAM")
            try:
                data += self.cpu.read_phys(paddr, piece)
            except UcError:
                raise mmu.AccessFault(here, "physical address not mapped") from None
        return bytes(data)

    def fetch_instruction(self, pc: int) -> tuple[int, int]:
        """(bits, length) of the instruction at virtual ``pc``; raises mmu.PageFault."""
        priv = self.cpu.priv
        return mmu.fetch_instruction(self._satp_for(priv), pc, self._read_phys, priv)

    def translate(self, vaddr: int, access: str = "debug") -> int:
        """Physical address of ``vaddr`` in the current address space."""
        priv = self.cpu.priv
        satp = self._satp_for(priv)
        status = self.cpu.csr("sstatus")
        read64 = lambda addr: int.from_bytes(self._read_phys(addr, 8), "little")  # noqa: E731
        return mmu.translate(satp, vaddr, read64, access, priv,
                             bool(status & SSTATUS_SUM), bool(status & SSTATUS_MXR)).paddr

    def read(self, vaddr: int, size: int) -> bytes:
        """Debugger read: any valid mapping, whatever its permissions."""
        priv = self.cpu.priv
        return mmu.read_virtual(self._satp_for(priv), vaddr, size, self._read_phys, "debug", priv)

    def read_prefix(self, vaddr: int, size: int) -> tuple[bytes, mmu.PageFault | None]:
        """Debugger read that goes as far as it can: the bytes before the first page
        that cannot be read, and why that page cannot (None when all were read)."""
        data = bytearray()
        for here, piece in mmu.page_pieces(vaddr, size):
            try:
                data += self.read(here, piece)
            except mmu.PageFault as fault:
                return bytes(data), fault
        return bytes(data), None

    def try_read(self, vaddr: int, size: int) -> bytes | None:
        """Debugger read of the whole range, or None when any of it cannot be read."""
        try:
            return self.read(vaddr, size)
        except mmu.PageFault:
            return None

    def write(self, vaddr: int, data: bytes) -> None:
        """Debugger write through the current translation: every page is translated
        (and must be RAM) before any is written, so a failed write changes nothing."""
        pieces = []
        offset = 0
        for here, room in mmu.page_pieces(vaddr, len(data)):
            paddr = self.translate(here)
            self._check_ram(paddr, room)
            pieces.append((paddr, data[offset:offset + room]))
            offset += room
        for paddr, piece in pieces:
            try:
                self.cpu.write_phys(paddr, piece)
            except UcError:
                raise mmu.PageFault(paddr, "physical address not mapped") from None
