"""Instructions for the REPL: capstone listings and the control flow that next/rnext need.

Calls are recognised from the encoding (jal/jalr with rd = ra, c.jalr), as
are direct jump and branch targets (capstone prints those relative to the
instruction; listings show the absolute target and its symbol instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rr.monitor.constants import INSN_C_RET, INSN_RET, REG_RA
from rr.monitor.riscv import disassembler, field, insn_length, sign_extend


@dataclass(frozen=True)
class Instruction:
    address: int
    raw: bytes
    mnemonic: str            # capstone's; '.insn' when it cannot decode the bytes
    operands: str

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def bits(self) -> int:
        return int.from_bytes(self.raw, "little")

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {self.operands}".strip()

    @property
    def is_call(self) -> bool:
        return is_call(self.bits, self.size)

    @property
    def is_return(self) -> bool:
        return self.bits == (INSN_RET if self.size == 4 else INSN_C_RET)

    @property
    def target(self) -> int | None:
        return direct_target(self.bits, self.size, self.address)


def decode_at(read: Callable[[int, int], bytes], address: int) -> Instruction:
    """The instruction at ``address``; ``read(address, size)`` may raise (unmapped memory)."""
    size = insn_length(int.from_bytes(read(address, 2), "little"))
    return decode(read(address, size), address)


def decode(raw: bytes, address: int) -> Instruction:
    for insn in disassembler().disasm(raw, address, 1):
        return Instruction(address, raw, insn.mnemonic, insn.op_str)
    width = 4 if len(raw) == 4 else 2
    return Instruction(address, raw, ".insn", f"{int.from_bytes(raw, 'little'):#0{2 + 2 * width}x}")


def listing(read: Callable[[int, int], bytes], address: int, count: int) -> list[Instruction]:
    """``count`` instructions from ``address`` (stops early at unreadable memory)."""
    result = []
    for _ in range(count):
        try:
            insn = decode_at(read, address)
        except Exception:             # noqa: BLE001 - unmapped: the listing ends here
            break
        result.append(insn)
        address += insn.size
    return result


def boundaries(raw: bytes, address: int) -> list[int]:
    """Start addresses of the instructions in ``raw`` decoded linearly from ``address``."""
    starts, offset = [], 0
    while offset + 2 <= len(raw):
        starts.append(address + offset)
        offset += insn_length(int.from_bytes(raw[offset:offset + 2], "little"))
    return starts


# --- control flow from the encoding ---------------------------------------------------

def is_call(insn: int, size: int) -> bool:
    """jal/jalr with rd = ra, or c.jalr."""
    if size == 4:
        return insn & 0x7F in (0x6F, 0x67) and field(insn, 11, 7) == REG_RA
    return insn & 0xF07F == 0x9002 and field(insn, 11, 7) != 0


def is_control_transfer(insn: int, size: int) -> bool:
    """Anything after which the next pc may differ from pc + size (traps included)."""
    if size == 4:
        opcode = insn & 0x7F
        return opcode in (0x6F, 0x67, 0x63) or (opcode == 0x73 and field(insn, 14, 12) == 0)
    quadrant, funct3 = insn & 0b11, field(insn, 15, 13)
    if quadrant == 1 and funct3 in (0b101, 0b110, 0b111):        # c.j c.beqz c.bnez
        return True
    if quadrant == 2 and funct3 == 0b100 and field(insn, 6, 2) == 0:  # c.jr c.jalr c.ebreak
        return True
    return False


def direct_target(insn: int, size: int, address: int) -> int | None:
    """Where a jal, branch, c.j, c.beqz or c.bnez goes when taken."""
    mask = (1 << 64) - 1
    if size == 4:
        opcode = insn & 0x7F
        if opcode == 0x6F:
            imm = (field(insn, 31, 31) << 20 | field(insn, 19, 12) << 12
                   | field(insn, 20, 20) << 11 | field(insn, 30, 21) << 1)
            return (address + sign_extend(imm, 21)) & mask
        if opcode == 0x63:
            imm = (field(insn, 31, 31) << 12 | field(insn, 7, 7) << 11
                   | field(insn, 30, 25) << 5 | field(insn, 11, 8) << 1)
            return (address + sign_extend(imm, 13)) & mask
        return None
    quadrant, funct3 = insn & 0b11, field(insn, 15, 13)
    if quadrant == 1 and funct3 == 0b101:
        imm = (field(insn, 12, 12) << 11 | field(insn, 8, 8) << 10 | field(insn, 10, 9) << 8
               | field(insn, 6, 6) << 7 | field(insn, 7, 7) << 6 | field(insn, 2, 2) << 5
               | field(insn, 11, 11) << 4 | field(insn, 5, 3) << 1)
        return (address + sign_extend(imm, 12)) & mask
    if quadrant == 1 and funct3 in (0b110, 0b111):
        imm = (field(insn, 12, 12) << 8 | field(insn, 6, 5) << 6 | field(insn, 2, 2) << 5
               | field(insn, 11, 10) << 3 | field(insn, 4, 3) << 1)
        return (address + sign_extend(imm, 9)) & mask
    return None


def find_word(data: bytes, word: int) -> list[int]:
    """Offsets (2-byte aligned) of a 32-bit instruction word in ``data``."""
    needle = word.to_bytes(4, "little")
    found, start = [], 0
    while True:
        at = data.find(needle, start)
        if at < 0:
            return found
        if at % 2 == 0:
            found.append(at)
        start = at + 1
