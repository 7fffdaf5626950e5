"""What an instruction does to the general registers and memory: its destination and the
sources its value comes from. The one table the data-flow walk (rr.analysis.origin) reads.

Capstone decodes the instruction and names its operands; but its operand list
says nothing about which operand is written, and it prints aliases (``jal
4`` links ra, ``c.addi a3, -1`` reads a3), so the kinds that decide the walk
come from the encoding: memory accesses from rr.monitor.insn_decode (every
load, store, AMO, LR/SC and compressed form, with base and offset), jumps
and links, CSR reads, lui/auipc and the compressed constants. Everything else
is arithmetic: capstone's first register operand is written, the other
register operands are read (with the compressed two-operand forms, whose
destination is also a source, named below).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from rr.monitor.constants import CSR_CYCLE, CSR_INSTRET, CSR_TIME, REG_RA, SUPERVISOR_CSRS
from rr.monitor.insn_decode import MemAccess, decode_mem_access
from rr.monitor.riscv import disassembler, field
from rr.repl.expressions import GPR_NUMBERS

_OP_LUI, _OP_AUIPC, _OP_JAL, _OP_JALR, _OP_SYSTEM = 0x37, 0x17, 0x6F, 0x67, 0x73
_INSN_ECALL = 0x00000073
REG_A0, REG_A1 = 10, 11

# Compressed forms whose destination is also their first source (capstone lists it once).
_DEST_IS_SOURCE = frozenset({"c.addi", "c.addiw", "c.slli", "c.srli", "c.srai", "c.andi",
                             "c.addi16sp", "c.add", "c.addw", "c.sub", "c.subw", "c.and",
                             "c.or", "c.xor"})
_MOVES = frozenset({"mv", "c.mv"})
CSR_NAMES_BY_NUMBER = {number: name for name, number in SUPERVISOR_CSRS}
CSR_NAMES_BY_NUMBER.update({CSR_TIME: "time", CSR_CYCLE: "cycle", CSR_INSTRET: "instret"})


class Effect(StrEnum):
    """What the instruction does with the value it produces."""

    LOAD = "load"                # rd <- memory (lr too)
    ATOMIC = "atomic"            # rd <- memory, memory <- f(memory, rs2)
    STORE = "store"              # memory <- a register
    STORE_CONDITIONAL = "store-conditional"   # memory <- rs2; rd <- success flag
    COMPUTE = "compute"          # rd <- f(source registers, immediates)
    CONSTANT = "constant"        # rd <- a constant written in the code (lui, auipc, li)
    LINK = "link"                # rd <- the return address (jal, jalr)
    CSR_READ = "csr-read"        # rd <- a CSR
    ECALL = "ecall"              # from S-mode, the SBI answers in a0 and a1
    NONE = "none"                # writes no general register and no memory


@dataclass(frozen=True)
class Semantics:
    effect: Effect
    text: str                            # 'c.ld a2, 0(a0)'
    dest: int | None = None              # the general register written
    sources: tuple[int, ...] = ()        # general registers the written value comes from
    memory: MemAccess | None = None      # loads and stores: base register, offset, size
    stored: int | None = None            # stores: the register stored
    csr: int | None = None               # CSR reads: the CSR's number
    float_source: bool = False           # the value comes from a floating-point register
    move: bool = False                   # rd is a copy of its one source (mv, c.mv)

    def writes(self, register: int) -> bool:
        """Does the instruction write general register ``register``? (An ecall only does
        when the SBI answers it: the caller checks that it came back at the next pc.)"""
        if self.effect is Effect.ECALL:
            return register in (REG_A0, REG_A1)
        return self.dest is not None and self.dest == register

    @property
    def csr_name(self) -> str:
        if self.csr is None:
            return ""
        return CSR_NAMES_BY_NUMBER.get(self.csr, f"csr {self.csr:#x}")


@lru_cache(maxsize=65536)
def semantics(raw: bytes) -> Semantics:
    """The semantics of the instruction in ``raw`` (2 or 4 bytes)."""
    bits = int.from_bytes(raw, "little")
    text, operands = _capstone(raw)
    access = decode_mem_access(bits, len(raw))
    if access is not None:
        return _memory(access, bits, text)
    if len(raw) == 4:
        found = _encoded32(bits, text)
    else:
        found = _encoded16(bits, text)
    if found is not None:
        return found
    return _arithmetic(text, operands)


def _capstone(raw: bytes) -> tuple[str, list[str | int]]:
    """Capstone's text and operands (register names, immediates); '.insn' when undecodable."""
    import capstone
    md = disassembler()
    md.detail = True
    for insn in md.disasm(raw, 0, 1):
        operands: list[str | int] = []
        for op in insn.operands:
            if op.type == capstone.riscv.RISCV_OP_REG:
                operands.append(insn.reg_name(op.reg))
            elif op.type == capstone.riscv.RISCV_OP_IMM:
                operands.append(op.imm)
        return f"{insn.mnemonic} {insn.op_str}".strip(), operands
    return f".insn {int.from_bytes(raw, 'little'):#x}", []


def _memory(access: MemAccess, bits: int, text: str) -> Semantics:
    kind = access.kind
    if kind == "load" or kind == "lr":
        return Semantics(Effect.LOAD, text, dest=_nonzero(access.rd_or_rs2), memory=access)
    if kind == "fload":
        return Semantics(Effect.NONE, text, memory=access)
    if kind == "store":
        return Semantics(Effect.STORE, text, memory=access, stored=access.rd_or_rs2)
    if kind == "fstore":
        return Semantics(Effect.STORE, text, memory=access, float_source=True)
    rs2 = field(bits, 24, 20)
    if kind == "sc":
        return Semantics(Effect.STORE_CONDITIONAL, text, dest=_nonzero(field(bits, 11, 7)),
                         memory=access, stored=rs2)
    return Semantics(Effect.ATOMIC, text, dest=_nonzero(field(bits, 11, 7)), memory=access,
                     stored=rs2)


def _encoded32(bits: int, text: str) -> Semantics | None:
    opcode, rd = bits & 0x7F, field(bits, 11, 7)
    if opcode in (_OP_LUI, _OP_AUIPC):
        return Semantics(Effect.CONSTANT, text, dest=_nonzero(rd))
    if opcode in (_OP_JAL, _OP_JALR):
        return Semantics(Effect.LINK if rd else Effect.NONE, text, dest=_nonzero(rd))
    if opcode == _OP_SYSTEM:
        if bits == _INSN_ECALL:
            return Semantics(Effect.ECALL, text)
        if field(bits, 14, 12) == 0 or rd == 0:       # sret, wfi, sfence.vma; csrw
            return Semantics(Effect.NONE, text)
        return Semantics(Effect.CSR_READ, text, dest=rd, csr=field(bits, 31, 20))
    return None


def _encoded16(bits: int, text: str) -> Semantics | None:
    quadrant, funct3, rd = bits & 0b11, field(bits, 15, 13), field(bits, 11, 7)
    if quadrant == 1 and funct3 == 0b010:                       # c.li
        return Semantics(Effect.CONSTANT, text, dest=_nonzero(rd))
    if quadrant == 1 and funct3 == 0b011 and rd != 2:           # c.lui (rd 2: c.addi16sp)
        return Semantics(Effect.CONSTANT, text, dest=_nonzero(rd))
    if quadrant == 1 and funct3 in (0b101, 0b110, 0b111):       # c.j c.beqz c.bnez
        return Semantics(Effect.NONE, text)
    if quadrant == 2 and funct3 == 0b100 and field(bits, 6, 2) == 0:
        if field(bits, 12, 12) and rd:                          # c.jalr
            return Semantics(Effect.LINK, text, dest=REG_RA)
        return Semantics(Effect.NONE, text)                     # c.jr, c.ebreak
    return None


def _arithmetic(text: str, operands: list[str | int]) -> Semantics:
    mnemonic = text.split()[0]
    registers = [op for op in operands if isinstance(op, str)]
    if not registers:
        return Semantics(Effect.NONE, text)                     # nop, fence, branches
    if mnemonic.startswith("b") or mnemonic in ("jr", "ret"):   # branches (b*, bnez, ...)
        return Semantics(Effect.NONE, text)
    dest = GPR_NUMBERS.get(registers[0])
    if dest is None or dest == 0:
        return Semantics(Effect.NONE, text)                     # writes an f register, or x0
    rest = registers[1:]
    if mnemonic in _DEST_IS_SOURCE:
        rest = [registers[0], *rest]
    floating = any(name not in GPR_NUMBERS for name in rest)
    sources = tuple(GPR_NUMBERS[name] for name in rest
                    if name in GPR_NUMBERS and GPR_NUMBERS[name] != 0)
    if not sources and not floating:
        return Semantics(Effect.CONSTANT, text, dest=dest)      # li, addi rd, zero, imm
    return Semantics(Effect.COMPUTE, text, dest=dest, sources=sources, float_source=floating,
                     move=mnemonic in _MOVES)


def _nonzero(register: int) -> int | None:
    return register or None
