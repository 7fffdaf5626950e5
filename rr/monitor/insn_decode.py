"""Just enough RISC-V instruction decoding for the monitor's trap path.

Unicorn reports synchronous exceptions without ``stval`` (docs/unicorn-facts.md, fact 3),
yet Linux demand paging needs the faulting virtual address.  The monitor
therefore re-decodes the faulting instruction: every RV64 load, store, AMO,
LR/SC and their compressed forms, giving the base register and offset from
which the effective address is recomputed.  It also recognises the counter
reads (``rdtime``, ``rdcycle``, ``rdinstret``); of those only ``rdtime``
traps here, as an illegal instruction, and the monitor emulates it (fact 11).

The module is pure Python with no unicorn dependency: registers come through a
callable so everything here is unit-testable against the real assembler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rr.monitor.constants import PAGE_SIZE
from rr.monitor.riscv import field, sign_extend

MASK64 = (1 << 64) - 1

# --- Major opcodes (insn[6:0]) of the 32-bit encodings we decode ------------
_OP_LOAD = 0x03
_OP_LOAD_FP = 0x07
_OP_STORE = 0x23
_OP_STORE_FP = 0x27
_OP_AMO = 0x2F
_OP_SYSTEM = 0x73

# funct3 -> access size in bytes.  Missing keys are other instructions (for
# LOAD-FP/STORE-FP those are the vector loads and stores, whose address is not
# rs1 + imm in general, so we do not claim them).
_LOAD_SIZES = {0: 1, 1: 2, 2: 4, 3: 8, 4: 1, 5: 2, 6: 4}   # LB LH LW LD LBU LHU LWU
_STORE_SIZES = {0: 1, 1: 2, 2: 4, 3: 8}                    # SB SH SW SD
_FP_SIZES = {1: 2, 2: 4, 3: 8, 4: 16}                      # FLH/FSH FLW/FSW FLD/FSD FLQ/FSQ
_AMO_SIZES = {2: 4, 3: 8}                                  # .W .D

# funct5 (insn[31:27]) of the A extension.
_FUNCT5_LR = 0b00010
_FUNCT5_SC = 0b00011
_AMO_FUNCT5 = frozenset({
    0b00001,  # AMOSWAP
    0b00000,  # AMOADD
    0b00100,  # AMOXOR
    0b01100,  # AMOAND
    0b01000,  # AMOOR
    0b10000,  # AMOMIN
    0b10100,  # AMOMAX
    0b11000,  # AMOMINU
    0b11100,  # AMOMAXU
})

# funct3 of the Zicsr instructions that only read when their source is zero.
_CSRRW, _CSRRS, _CSRRC, _CSRRWI, _CSRRSI, _CSRRCI = 1, 2, 3, 5, 6, 7

_SP = 2  # x2, the implicit base of the C.*SP forms


@dataclass(frozen=True)
class MemAccess:
    """What a memory instruction touches: enough to recompute its address.

    ``kind`` is one of "load", "store", "amo", "lr", "sc", "fload", "fstore".
    The effective address is ``regs[rs1] + offset`` (mod 2**64); AMO, LR and
    SC always have ``offset`` 0.  ``rd_or_rs2`` is the destination register
    for loads, FP loads, LR and AMOs (an x register, or an f register for
    "fload"), and the data source register for stores, FP stores and SC.
    """

    kind: str
    rs1: int
    offset: int
    size: int
    rd_or_rs2: int


@dataclass(frozen=True)
class CsrRead:
    """A CSR instruction that only reads ``csr`` into x``rd`` (e.g. rdtime)."""

    rd: int
    csr: int


# --- 32-bit forms ------------------------------------------------------------

def _decode_load32(insn: int, sizes: dict[int, int], kind: str) -> MemAccess | None:
    size = sizes.get(field(insn, 14, 12))
    if size is None:
        return None
    return MemAccess(kind, field(insn, 19, 15), sign_extend(field(insn, 31, 20), 12),
                     size, field(insn, 11, 7))


def _decode_store32(insn: int, sizes: dict[int, int], kind: str) -> MemAccess | None:
    size = sizes.get(field(insn, 14, 12))
    if size is None:
        return None
    imm = (field(insn, 31, 25) << 5) | field(insn, 11, 7)
    return MemAccess(kind, field(insn, 19, 15), sign_extend(imm, 12), size,
                     field(insn, 24, 20))


def _decode_amo32(insn: int) -> MemAccess | None:
    size = _AMO_SIZES.get(field(insn, 14, 12))
    if size is None:
        return None
    funct5 = field(insn, 31, 27)
    rs1, rs2, rd = field(insn, 19, 15), field(insn, 24, 20), field(insn, 11, 7)
    if funct5 == _FUNCT5_LR:
        return MemAccess("lr", rs1, 0, size, rd) if rs2 == 0 else None
    if funct5 == _FUNCT5_SC:
        return MemAccess("sc", rs1, 0, size, rs2)
    if funct5 in _AMO_FUNCT5:
        return MemAccess("amo", rs1, 0, size, rd)
    return None


def _decode_mem32(insn: int) -> MemAccess | None:
    opcode = insn & 0x7F
    if opcode == _OP_LOAD:
        return _decode_load32(insn, _LOAD_SIZES, "load")
    if opcode == _OP_LOAD_FP:
        return _decode_load32(insn, _FP_SIZES, "fload")
    if opcode == _OP_STORE:
        return _decode_store32(insn, _STORE_SIZES, "store")
    if opcode == _OP_STORE_FP:
        return _decode_store32(insn, _FP_SIZES, "fstore")
    if opcode == _OP_AMO:
        return _decode_amo32(insn)
    return None


# --- 16-bit forms ------------------------------------------------------------
# The compressed immediates are unsigned, scaled by the access size and
# scattered over the instruction; each helper below assembles one layout
# exactly as drawn in the C-extension chapter.

def _creg(field: int) -> int:
    """The 3-bit rs1'/rs2'/rd' fields name x8..x15 (or f8..f15)."""
    return 8 + field


def _cl_imm_w(insn: int) -> int:
    """C.LW/C.SW: uimm[5:3] = insn[12:10], uimm[2] = insn[6], uimm[6] = insn[5]."""
    return (field(insn, 12, 10) << 3) | (field(insn, 6, 6) << 2) | (field(insn, 5, 5) << 6)


def _cl_imm_d(insn: int) -> int:
    """C.LD/C.SD/C.FLD/C.FSD: uimm[5:3] = insn[12:10], uimm[7:6] = insn[6:5]."""
    return (field(insn, 12, 10) << 3) | (field(insn, 6, 5) << 6)


def _ci_sp_imm_w(insn: int) -> int:
    """C.LWSP: uimm[5] = insn[12], uimm[4:2] = insn[6:4], uimm[7:6] = insn[3:2]."""
    return (field(insn, 12, 12) << 5) | (field(insn, 6, 4) << 2) | (field(insn, 3, 2) << 6)


def _ci_sp_imm_d(insn: int) -> int:
    """C.LDSP/C.FLDSP: uimm[5] = insn[12], uimm[4:3] = insn[6:5], uimm[8:6] = insn[4:2]."""
    return (field(insn, 12, 12) << 5) | (field(insn, 6, 5) << 3) | (field(insn, 4, 2) << 6)


def _css_imm_w(insn: int) -> int:
    """C.SWSP: uimm[5:2] = insn[12:9], uimm[7:6] = insn[8:7]."""
    return (field(insn, 12, 9) << 2) | (field(insn, 8, 7) << 6)


def _css_imm_d(insn: int) -> int:
    """C.SDSP/C.FSDSP: uimm[5:3] = insn[12:10], uimm[8:6] = insn[9:7]."""
    return (field(insn, 12, 10) << 3) | (field(insn, 9, 7) << 6)


def _decode_c0(insn: int, funct3: int) -> MemAccess | None:
    """Quadrant 0: register-based loads and stores on x8..x15 / f8..f15."""
    rs1 = _creg(field(insn, 9, 7))
    reg = _creg(field(insn, 4, 2))      # rd' for loads, rs2' for stores
    if funct3 == 0b001:
        return MemAccess("fload", rs1, _cl_imm_d(insn), 8, reg)     # C.FLD
    if funct3 == 0b010:
        return MemAccess("load", rs1, _cl_imm_w(insn), 4, reg)      # C.LW
    if funct3 == 0b011:
        return MemAccess("load", rs1, _cl_imm_d(insn), 8, reg)      # C.LD
    if funct3 == 0b101:
        return MemAccess("fstore", rs1, _cl_imm_d(insn), 8, reg)    # C.FSD
    if funct3 == 0b110:
        return MemAccess("store", rs1, _cl_imm_w(insn), 4, reg)     # C.SW
    if funct3 == 0b111:
        return MemAccess("store", rs1, _cl_imm_d(insn), 8, reg)     # C.SD
    return None                                                      # C.ADDI4SPN, reserved


def _decode_c2(insn: int, funct3: int) -> MemAccess | None:
    """Quadrant 2: the stack-pointer-relative loads and stores."""
    rd = field(insn, 11, 7)
    rs2 = field(insn, 6, 2)
    if funct3 == 0b001:
        return MemAccess("fload", _SP, _ci_sp_imm_d(insn), 8, rd)   # C.FLDSP
    if funct3 == 0b010:                                              # C.LWSP (rd=0 reserved)
        return MemAccess("load", _SP, _ci_sp_imm_w(insn), 4, rd) if rd else None
    if funct3 == 0b011:                                              # C.LDSP (rd=0 reserved)
        return MemAccess("load", _SP, _ci_sp_imm_d(insn), 8, rd) if rd else None
    if funct3 == 0b101:
        return MemAccess("fstore", _SP, _css_imm_d(insn), 8, rs2)   # C.FSDSP
    if funct3 == 0b110:
        return MemAccess("store", _SP, _css_imm_w(insn), 4, rs2)    # C.SWSP
    if funct3 == 0b111:
        return MemAccess("store", _SP, _css_imm_d(insn), 8, rs2)    # C.SDSP
    return None


def _decode_mem16(insn: int) -> MemAccess | None:
    quadrant = insn & 0b11
    funct3 = field(insn, 15, 13)
    if quadrant == 0b00:
        return _decode_c0(insn, funct3)
    if quadrant == 0b10:
        return _decode_c2(insn, funct3)
    return None


def decode_mem_access(insn: int, length: int) -> MemAccess | None:
    """Decode a memory-accessing instruction, or None for anything else.

    ``insn`` holds the instruction bits little-endian as fetched (bits above
    ``length`` bytes are ignored, so a 4-byte read of a compressed instruction
    is fine).  Vector loads/stores and reserved encodings give None.
    """
    if length == 2:
        return _decode_mem16(insn & 0xFFFF)
    if length == 4:
        return _decode_mem32(insn & 0xFFFF_FFFF)
    raise ValueError(f"unsupported instruction length {length}")


def effective_address(insn: int, length: int, read_reg: Callable[[int], int]) -> int | None:
    """rs1 + offset of a load, store, AMO, LR or SC (None for any other instruction),
    with the registers as they are before it executes."""
    access = decode_mem_access(insn, length)
    if access is None:
        return None
    base = read_reg(access.rs1) if access.rs1 else 0
    return (base + access.offset) & MASK64


def fault_address(insn: int, length: int, read_reg: Callable[[int], int],
                  page_mapped: Callable[[int], bool] | None = None) -> int | None:
    """The stval of a load/store/AMO fault raised by ``insn``, or None.

    ``read_reg(n)`` returns the value of x``n``; x0 is never asked for.  The
    architectural answer is rs1 + offset.  An access that straddles two pages
    may fault on the second page only: then QEMU reports the first byte of that
    page, and Linux needs it (faulting in the already mapped first page would
    loop forever).  Pass ``page_mapped(vaddr)`` (is the page of ``vaddr``
    accessible?) to get that refinement.
    """
    address = effective_address(insn, length, read_reg)
    if address is None:
        return None
    access = decode_mem_access(insn, length)
    assert access is not None
    if page_mapped is not None:
        next_page = (address | (PAGE_SIZE - 1)) + 1
        crosses = address + access.size > next_page
        if crosses and page_mapped(address):
            return next_page & MASK64
    return address


@dataclass(frozen=True)
class CsrAccess:
    """A Zicsr instruction (csrrw, csrrs, csrrc and their immediate forms) on ``csr``."""

    csr: int
    rd: int
    funct3: int
    source: int          # rs1, or the 5-bit immediate of the I forms

    def operand(self, x: Callable[[int], int]) -> int:
        """The value the instruction writes, sets or clears (``x`` reads a register)."""
        return self.source if self.funct3 >= _CSRRWI else x(self.source)

    def new_value(self, old: int, operand: int) -> int | None:
        """The CSR after the instruction, or None when it only reads (csrrs/csrrc with
        x0 or an immediate 0 do not write)."""
        op = self.funct3 & 3
        if op == _CSRRW:
            return operand
        if not self.source:
            return None
        return old | operand if op == _CSRRS else old & ~operand


def decode_csr_access(insn: int, length: int) -> CsrAccess | None:
    """The Zicsr instruction ``insn`` is, or None for anything else."""
    if length != 4 or insn & 0x7F != _OP_SYSTEM:
        return None
    funct3 = field(insn, 14, 12)
    if funct3 in (0, 4):
        return None
    return CsrAccess(field(insn, 31, 20), field(insn, 11, 7), funct3, field(insn, 19, 15))


def decode_counter_read(insn: int, length: int) -> CsrRead | None:
    """Recognise a pure CSR read (``csrr rd, csr`` and its equivalents).

    ``rdtime``/``rdcycle``/``rdinstret`` assemble to CSRRS rd, csr, x0.  CSRRC
    with x0 and CSRRSI/CSRRCI with uimm 0 also read without writing, so they
    are accepted too.  Anything that may write the CSR gives None, so the
    monitor never emulates a write as a read.  The caller checks ``csr``.
    """
    if length != 4:
        return None
    insn &= 0xFFFF_FFFF
    if insn & 0x7F != _OP_SYSTEM:
        return None
    if field(insn, 14, 12) not in (_CSRRS, _CSRRC, _CSRRSI, _CSRRCI):
        return None
    if field(insn, 19, 15) != 0:
        return None
    return CsrRead(rd=field(insn, 11, 7), csr=field(insn, 31, 20))
