"""A software page-table walker (bare, Sv39, Sv48, Sv57).

Unicorn 2.1.4's Python binding can only read physical memory
(docs/unicorn-facts.md, fact 16), yet the monitor must read the faulting
instruction at a virtual pc and the debugger must show virtual memory.  This
module walks the guest's page tables the way the privileged specification
describes, reading page-table entries through a callable so it has no
unicorn dependency.

It never writes: Accessed/Dirty bits are neither required nor updated, because
a debugger that peeks at memory must not change guest state (and so replay
stays bit-identical).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from rr.monitor.constants import (
    CAUSE_FETCH_PAGE_FAULT,
    CAUSE_LOAD_ACCESS,
    CAUSE_LOAD_PAGE_FAULT,
    CAUSE_STORE_PAGE_FAULT,
    PAGE_SHIFT,
    PAGE_SIZE,
    PRIV_M,
    PRIV_S,
    PRIV_U,
    SATP_MODE_BARE,
    SATP_MODE_SHIFT,
    SATP_MODE_SV39,
    SATP_MODE_SV48,
    SATP_MODE_SV57,
    SATP_PPN_MASK,
    PTE_V,
    PTE_R,
    PTE_W,
    PTE_X,
    PTE_U,
    PTE_A,
    PTE_D,
    PTE_FLAGS_MASK,
    PTE_PPN_SHIFT,
    PTE_PPN_MASK,
    PTE_RESERVED_MASK,
    PTE_SIZE,
    VPN_BITS,
)
from rr.monitor.riscv import insn_length

MASK64 = (1 << 64) - 1


# satp mode -> number of levels of the walk.
_LEVELS = {SATP_MODE_SV39: 3, SATP_MODE_SV48: 4, SATP_MODE_SV57: 5}

ACCESS_KINDS = ("read", "write", "execute", "debug")

_CAUSE_BY_ACCESS = {
    "read": CAUSE_LOAD_PAGE_FAULT,
    "debug": CAUSE_LOAD_PAGE_FAULT,
    "write": CAUSE_STORE_PAGE_FAULT,
    "execute": CAUSE_FETCH_PAGE_FAULT,
}


class PageFault(Exception):
    """A translation failed.

    Not an ``RrError``: a page fault during a walk is normal guest behaviour
    (the monitor turns it into a trap, the debugger into an error reply), not
    a user mistake.  ``vaddr`` is what stval must hold.
    """

    def __init__(self, vaddr: int, reason: str, access: str = "read") -> None:
        super().__init__(f"page fault at {vaddr:#x} ({access}): {reason}")
        self.vaddr = vaddr
        self.reason = reason
        self.access = access

    @property
    def cause(self) -> int:
        """The scause of the trap this fault becomes (12, 13 or 15)."""
        return _CAUSE_BY_ACCESS.get(self.access, CAUSE_LOAD_PAGE_FAULT)


class AccessFault(PageFault):
    """The address translated, but no memory answers the access there (the hart
    reports a load access fault rather than a page fault)."""

    @property
    def cause(self) -> int:
        return CAUSE_LOAD_ACCESS


@dataclass(frozen=True)
class Translation:
    """Where a virtual address lives.

    ``page_size`` is that of the leaf that mapped it (4 KiB or a superpage),
    so callers may reuse the translation for the rest of that page.  ``flags``
    are the leaf PTE's low 10 bits (PTE_* constants); a bare/M-mode translation
    reports V|R|W|X|A|D.
    """

    paddr: int
    page_size: int
    flags: int


_BARE_FLAGS = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D


def satp_mode(satp: int) -> int:
    """The MODE field of satp."""
    return (satp >> SATP_MODE_SHIFT) & 0xF


def va_bits(mode: int) -> int:
    """Virtual-address width of a paging mode (39, 48 or 57)."""
    return PAGE_SHIFT + VPN_BITS * _LEVELS[mode]


def is_canonical(vaddr: int, bits: int) -> bool:
    """Bits 63..bits-1 all equal (the address is sign-extended from bit bits-1)."""
    top = vaddr >> (bits - 1)
    return top == 0 or top == (MASK64 >> (bits - 1))


def translate(satp: int, vaddr: int, read_phys64: Callable[[int], int],
              access: str = "read", priv: int = PRIV_S, sum_bit: bool = False,
              mxr: bool = False) -> Translation:
    """Translate ``vaddr`` as the hart would, or raise ``PageFault``.

    ``access`` is "read", "write", "execute" or "debug"; "debug" accepts any
    valid leaf whatever its R/W/X/U bits (a debugger may look at everything
    mapped).  ``priv`` is the effective privilege (M-mode is never
    translated); ``sum_bit`` and ``mxr`` are sstatus.SUM and sstatus.MXR.
    ``read_phys64(paddr)`` returns the little-endian 64-bit word at paddr.
    """
    if access not in ACCESS_KINDS:
        raise ValueError(f"unknown access kind {access!r}")
    vaddr &= MASK64
    mode = satp_mode(satp)
    if mode == SATP_MODE_BARE or priv >= PRIV_M:
        return Translation(vaddr, PAGE_SIZE, _BARE_FLAGS)
    if mode not in _LEVELS:
        raise PageFault(vaddr, f"unsupported satp mode {mode}", access)
    if not is_canonical(vaddr, va_bits(mode)):
        raise PageFault(vaddr, f"non-canonical address for {va_bits(mode)}-bit VA", access)
    level, pte = _walk(satp, mode, vaddr, read_phys64, access)
    _check_permissions(pte, vaddr, access, priv, sum_bit, mxr)
    return _leaf_translation(pte, level, vaddr, access)


def _walk(satp: int, mode: int, vaddr: int, read_phys64: Callable[[int], int],
          access: str) -> tuple[int, int]:
    """Follow the tree from the root to a leaf; return (level, leaf PTE)."""
    table = (satp & SATP_PPN_MASK) << PAGE_SHIFT
    for level in range(_LEVELS[mode] - 1, -1, -1):
        vpn = (vaddr >> (PAGE_SHIFT + VPN_BITS * level)) & ((1 << VPN_BITS) - 1)
        pte = read_phys64(table + vpn * PTE_SIZE) & MASK64
        _check_valid(pte, vaddr, level, access)
        if pte & (PTE_R | PTE_X):
            return level, pte
        table = _pte_ppn(pte) << PAGE_SHIFT
    raise PageFault(vaddr, "non-leaf PTE at level 0", access)


def _pte_ppn(pte: int) -> int:
    return (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK


def _check_valid(pte: int, vaddr: int, level: int, access: str) -> None:
    """Structural checks that apply to every access kind, "debug" included."""
    if not pte & PTE_V:
        raise PageFault(vaddr, f"invalid PTE at level {level}", access)
    if pte & PTE_W and not pte & PTE_R:
        raise PageFault(vaddr, f"reserved W-without-R PTE at level {level}", access)
    if pte & PTE_RESERVED_MASK:
        raise PageFault(vaddr, f"reserved bits set in PTE at level {level}", access)


def _check_permissions(pte: int, vaddr: int, access: str, priv: int,
                       sum_bit: bool, mxr: bool) -> None:
    """R/W/X and U/S checks on a leaf; "debug" skips them all."""
    if access == "debug":
        return
    if access == "execute":
        allowed = bool(pte & PTE_X)
    elif access == "write":
        allowed = bool(pte & PTE_W)
    else:  # read: MXR makes execute-only pages readable
        allowed = bool(pte & PTE_R) or (mxr and bool(pte & PTE_X))
    if not allowed:
        raise PageFault(vaddr, f"leaf does not permit {access}", access)
    user_page = bool(pte & PTE_U)
    if priv == PRIV_U and not user_page:
        raise PageFault(vaddr, "U-mode access to a supervisor page", access)
    if priv == PRIV_S and user_page:
        if access == "execute":
            raise PageFault(vaddr, "S-mode execute of a user page", access)
        if not sum_bit:
            raise PageFault(vaddr, "S-mode access to a user page without SUM", access)


def _leaf_translation(pte: int, level: int, vaddr: int, access: str) -> Translation:
    """Combine leaf PPN and the untranslated low VPNs of a (super)page."""
    ppn = _pte_ppn(pte)
    low_ppn_mask = (1 << (VPN_BITS * level)) - 1
    if ppn & low_ppn_mask:
        raise PageFault(vaddr, f"misaligned superpage at level {level}", access)
    page_size = PAGE_SIZE << (VPN_BITS * level)
    paddr = (ppn << PAGE_SHIFT) | (vaddr & (page_size - 1))
    return Translation(paddr, page_size, pte & PTE_FLAGS_MASK)


def page_pieces(vaddr: int, length: int) -> Iterator[tuple[int, int]]:
    """(address, length) of each part of a virtual range that lies in one 4 KiB page, in
    order: each may translate somewhere else."""
    done = 0
    while done < length:
        here = (vaddr + done) & MASK64
        piece = min(length - done, PAGE_SIZE - (here & (PAGE_SIZE - 1)))
        yield here, piece
        done += piece


def read_virtual(satp: int, vaddr: int, size: int,
                 read_phys: Callable[[int, int], bytes], access: str = "read",
                 priv: int = PRIV_S, sum_bit: bool = False,
                 mxr: bool = False) -> bytes:
    """Read ``size`` bytes at virtual ``vaddr``, page by page.

    Consecutive virtual pages may live anywhere physically, so each page is
    translated on its own.  A fault on a later page raises ``PageFault`` with
    the first address of that page, which is what the hardware reports.
    """
    read_phys64 = _phys64_reader(read_phys)
    chunks: list[bytes] = []
    vaddr &= MASK64
    remaining = size
    while remaining > 0:
        tr = translate(satp, vaddr, read_phys64, access, priv, sum_bit, mxr)
        in_page = tr.page_size - (vaddr & (tr.page_size - 1))
        count = min(remaining, in_page)
        chunks.append(read_phys(tr.paddr, count))
        vaddr = (vaddr + count) & MASK64
        remaining -= count
    return b"".join(chunks)


def fetch_instruction(satp: int, pc: int, read_phys: Callable[[int, int], bytes],
                      priv: int = PRIV_S, access: str = "execute") -> tuple[int, int]:
    """Read the instruction at virtual ``pc``: return (bits, length in bytes).

    Reads the first halfword, then the second only for a 32-bit instruction,
    so a compressed instruction at the very end of a mapped page is read
    without touching the (maybe unmapped) next page.
    """
    first = int.from_bytes(read_virtual(satp, pc, 2, read_phys, access, priv), "little")
    if insn_length(first) == 2:
        return first, 2
    second = int.from_bytes(read_virtual(satp, pc + 2, 2, read_phys, access, priv), "little")
    return first | (second << 16), 4


def _phys64_reader(read_phys: Callable[[int, int], bytes]) -> Callable[[int], int]:
    """Adapt a byte reader to the 64-bit PTE reader translate() wants."""
    def read_phys64(paddr: int) -> int:
        return int.from_bytes(read_phys(paddr, PTE_SIZE), "little")
    return read_phys64
