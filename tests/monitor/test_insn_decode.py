"""Tests of rr.monitor.insn_decode.

Two layers: fixed vectors (encodings taken from GNU as 2.40 once and written
down, so they always run), and a cross-check that assembles hundreds of forms
with random registers and every legal compressed offset through
riscv64-unknown-elf-as and compares the decoder with the operands written in
the source (skipped when the assembler is missing).
"""

from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from rr.monitor.constants import CSR_CYCLE, CSR_INSTRET, CSR_SSTATUS, CSR_TIME
from rr.monitor.insn_decode import (
    CsrRead,
    MemAccess,
    decode_counter_read,
    decode_mem_access,
    fault_address,
)
from rr.monitor.riscv import insn_length

AS = "riscv64-unknown-elf-as"
OBJCOPY = "riscv64-unknown-elf-objcopy"
MARCH = "rv64gcqv_zfh"

# --- fixed vectors -----------------------------------------------------------

MEM_VECTORS = [
    # (encoding, length, expected)                       source line
    (0x00813503, 4, MemAccess("load", 2, 8, 8, 10)),       # ld a0, 8(sp)
    (0x80048283, 4, MemAccess("load", 9, -2048, 1, 5)),    # lb t0, -2048(s1)
    (0x7FF05F83, 4, MemAccess("load", 0, 2047, 2, 31)),    # lhu x31, 2047(x0)
    (0xFEF72E23, 4, MemAccess("store", 14, -4, 4, 15)),    # sw a5, -4(a4)
    (0x7E113C23, 4, MemAccess("store", 2, 2040, 8, 1)),    # sd ra, 2040(sp)
    (0x00C52507, 4, MemAccess("fload", 10, 12, 4, 10)),    # flw fa0, 12(a0)
    (0xFE93BC27, 4, MemAccess("fstore", 7, -8, 8, 9)),     # fsd fs1, -8(t2)
    (0x0EB6252F, 4, MemAccess("amo", 12, 0, 4, 10)),       # amoswap.w.aqrl a0, a1, (a2)
    (0xE021B0AF, 4, MemAccess("amo", 3, 0, 8, 1)),         # amomaxu.d x1, x2, (x3)
    (0x2000202F, 4, MemAccess("amo", 0, 0, 4, 0)),        # amoxor.w x0, x0, (x0)
    (0x1004332F, 4, MemAccess("lr", 8, 0, 8, 6)),          # lr.d t1, (s0)
    (0x18E7A6AF, 4, MemAccess("sc", 15, 0, 4, 14)),        # sc.w a3, a4, (a5)
    (0x0105C507, 4, MemAccess("fload", 11, 16, 16, 10)),   # flq fa0, 16(a1)
    (0xFEA5C827, 4, MemAccess("fstore", 11, -16, 16, 10)),  # fsq fa0, -16(a1)
    (0x00259507, 4, MemAccess("fload", 11, 2, 2, 10)),     # flh fa0, 2(a1)
    (0x5FE8, 2, MemAccess("load", 15, 124, 4, 10)),        # c.lw a0, 124(a5)
    (0x7CE0, 2, MemAccess("load", 9, 248, 8, 8)),          # c.ld s0, 248(s1)
    (0x2500, 2, MemAccess("fload", 10, 8, 8, 8)),          # c.fld fs0, 8(a0)
    (0xC2D0, 2, MemAccess("store", 13, 4, 4, 12)),         # c.sw a2, 4(a3)
    (0xE3B8, 2, MemAccess("store", 15, 64, 8, 14)),        # c.sd a4, 64(a5)
    (0xA05C, 2, MemAccess("fstore", 8, 128, 8, 15)),       # c.fsd fa5, 128(s0)
    (0x50FE, 2, MemAccess("load", 2, 252, 4, 1)),          # c.lwsp ra, 252(sp)
    (0x757E, 2, MemAccess("load", 2, 504, 8, 10)),         # c.ldsp a0, 504(sp)
    (0x2022, 2, MemAccess("fload", 2, 8, 8, 0)),           # c.fldsp ft0, 8(sp)
    (0xDFFE, 2, MemAccess("store", 2, 252, 4, 31)),        # c.swsp x31, 252(sp)
    (0xFFEE, 2, MemAccess("store", 2, 504, 8, 27)),        # c.sdsp s11, 504(sp)
    (0xA82E, 2, MemAccess("fstore", 2, 16, 8, 11)),        # c.fsdsp fa1, 16(sp)
]

NOT_MEM_VECTORS = [
    (0x00150513, 4),   # addi a0, a0, 1
    (0xC0102573, 4),   # rdtime a0
    (0x0000006F, 4),   # j .
    (0x0FF0000F, 4),   # fence
    (0x02056087, 4),   # vle32.v v1, (a0)  (vector: not rs1 + imm in general)
    (0x0000F007, 4),   # LOAD-FP funct3 7: vector, not claimed
    (0x0000F003, 4),   # LOAD funct3 7: reserved
    (0x0000C023, 4),   # STORE funct3 4: reserved
    (0x1015202F, 4),   # lr.w with rs2 != 0: reserved
    (0x0000402F, 4),   # AMO funct3 4: reserved
    (0x0808, 2),       # c.addi4spn a0, sp, 16
    (0x0505, 2),       # c.addi a0, 1
    (0x8082, 2),       # c.jr ra (ret)
    (0x9002, 2),       # c.ebreak
    (0x4002, 2),       # c.lwsp x0, 0(sp): reserved (rd = 0)
    (0x6002, 2),       # c.ldsp x0, 0(sp): reserved (rd = 0)
    (0x8000, 2),       # quadrant 0 funct3 100: reserved (Zcb, absent here)
    (0x0000, 2),       # the all-zero illegal instruction
]


@pytest.mark.parametrize("insn,length,expected", MEM_VECTORS)
def test_fixed_mem_vectors(insn: int, length: int, expected: MemAccess) -> None:
    assert insn_length(insn & 0xFFFF) == length
    assert decode_mem_access(insn, length) == expected


@pytest.mark.parametrize("insn,length", NOT_MEM_VECTORS)
def test_fixed_non_memory(insn: int, length: int) -> None:
    assert decode_mem_access(insn, length) is None


def test_insn_length() -> None:
    assert insn_length(0x0003) == 4
    assert insn_length(0x3503) == 4
    for low in (0, 1, 2):
        assert insn_length(0xFFFC | low) == 2


def test_compressed_ignores_upper_bits() -> None:
    """A 4-byte fetch of a compressed insn carries the next insn's bits."""
    assert decode_mem_access(0xDEAD_757E, 2) == MemAccess("load", 2, 504, 8, 10)


def test_bad_length_rejected() -> None:
    with pytest.raises(ValueError):
        decode_mem_access(0x00813503, 6)


def test_all_amo_ops() -> None:
    for funct5 in (0b00001, 0b00000, 0b00100, 0b01100, 0b01000,
                   0b10000, 0b10100, 0b11000, 0b11100):
        for funct3, size in ((2, 4), (3, 8)):
            insn = (funct5 << 27) | (3 << 25) | (7 << 20) | (6 << 15) | (funct3 << 12) | (5 << 7) | 0x2F
            assert decode_mem_access(insn, 4) == MemAccess("amo", 6, 0, size, 5)
    unknown = (0b11111 << 27) | (2 << 12) | 0x2F
    assert decode_mem_access(unknown, 4) is None


def _regs(values: dict[int, int]):
    def read_reg(n: int) -> int:
        assert n != 0, "x0 must not be read"
        return values[n]
    return read_reg


def test_fault_address_basic() -> None:
    # ld a0, 8(sp) with sp = 0x1000
    assert fault_address(0x00813503, 4, _regs({2: 0x1000})) == 0x1008
    # lb t0, -2048(s1): negative offsets wrap modulo 2**64
    assert fault_address(0x80048283, 4, _regs({9: 0x100})) == (0x100 - 2048) % 2**64
    assert fault_address(0x80048283, 4, _regs({9: 0xFFFF_FFFF_FFFF_F900})) == 0xFFFF_FFFF_FFFF_F100
    # sd ra, 2040(sp) with sp near the top wraps past 2**64
    assert fault_address(0x7E113C23, 4, _regs({2: 0xFFFF_FFFF_FFFF_FFF8})) == 2040 - 8
    # lhu x31, 2047(x0): x0 reads as zero without asking
    assert fault_address(0x7FF05F83, 4, _regs({})) == 2047
    # amoswap.w.aqrl a0, a1, (a2): the address is rs1 itself
    assert fault_address(0x0EB6252F, 4, _regs({12: 0x8000_1234})) == 0x8000_1234
    # c.lw a0, 124(a5)
    assert fault_address(0x5FE8, 2, _regs({15: 0x4000})) == 0x4000 + 124
    # c.sdsp s11, 504(sp)
    assert fault_address(0xFFEE, 2, _regs({2: 0x3F_FFFF_F000})) == 0x3F_FFFF_F000 + 504
    # not a memory instruction
    assert fault_address(0x00150513, 4, _regs({})) is None


def test_fault_address_page_crossing() -> None:
    ld = 0x00813503   # ld a0, 8(sp): 8 bytes at sp + 8
    regs = _regs({2: 0x1FF8 - 8 + 4})  # ea = 0x1FFC, bytes 0x1FFC..0x2003
    assert fault_address(ld, 4, regs) == 0x1FFC
    assert fault_address(ld, 4, regs, page_mapped=lambda va: va >> 12 != 2) == 0x2000
    # first page unmapped: the fault is at the first byte
    assert fault_address(ld, 4, regs, page_mapped=lambda va: False) == 0x1FFC
    # no crossing: never refined
    aligned = _regs({2: 0x1FF0})
    assert fault_address(ld, 4, aligned, page_mapped=lambda va: True) == 0x1FF8
    # wrapping at the top of the address space
    top = _regs({2: 0xFFFF_FFFF_FFFF_FFF4})   # ea = 2**64 - 4
    assert fault_address(ld, 4, top, page_mapped=lambda va: va != 0) == 0


COUNTER_VECTORS = [
    (0xC0102573, CsrRead(10, CSR_TIME)),       # rdtime a0
    (0xC02022F3, CsrRead(5, CSR_INSTRET)),     # csrr x5, instret
    (0xC0006373, CsrRead(6, CSR_CYCLE)),       # csrrsi x6, cycle, 0
    (0xC01035F3, CsrRead(11, CSR_TIME)),       # csrrc a1, time, zero
    (0xC0107073, CsrRead(0, CSR_TIME)),        # csrrci x0, time, 0
    (0x10002573, CsrRead(10, CSR_SSTATUS)),    # csrr a0, sstatus (caller filters CSRs)
]

NOT_COUNTER_VECTORS = [
    0xC015A573,   # csrrs a0, time, a1: may write
    0x14051073,   # csrw sscratch, a0
    0xC001F3F3,   # csrrci t2, cycle, 3
    0xC01013F3,   # csrrw t2, time, zero: CSRRW always writes
    0xC0105573,   # csrrwi a0, time, 0: likewise
    0x00000073,   # ecall
    0x10500073,   # wfi
    0x00813503,   # ld a0, 8(sp)
]


@pytest.mark.parametrize("insn,expected", COUNTER_VECTORS)
def test_counter_reads(insn: int, expected: CsrRead) -> None:
    assert decode_counter_read(insn, 4) == expected


@pytest.mark.parametrize("insn", NOT_COUNTER_VECTORS)
def test_not_counter_reads(insn: int) -> None:
    assert decode_counter_read(insn, 4) is None


def test_counter_read_compressed_is_none() -> None:
    assert decode_counter_read(0x2573, 2) is None   # low half of rdtime, as a 2-byte insn


# --- assembler cross-check ---------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One source line and what the decoder must say about it."""

    text: str
    length: int
    access: MemAccess | None = None
    csr: CsrRead | None = None
    check_csr: bool = False


def _xr(rng: random.Random, lo: int = 0) -> int:
    return rng.randrange(lo, 32)


def _offsets(rng: random.Random) -> list[int]:
    return [-2048, -1, 0, 1, 2047] + [rng.randrange(-2048, 2048) for _ in range(4)]


def _cases_32(rng: random.Random) -> list[Case]:
    cases: list[Case] = []
    int_loads = [("lb", 1), ("lh", 2), ("lw", 4), ("ld", 8), ("lbu", 1), ("lhu", 2), ("lwu", 4)]
    int_stores = [("sb", 1), ("sh", 2), ("sw", 4), ("sd", 8)]
    fp_loads = [("flh", 2), ("flw", 4), ("fld", 8), ("flq", 16)]
    fp_stores = [("fsh", 2), ("fsw", 4), ("fsd", 8), ("fsq", 16)]
    for group, kind, prefix in ((int_loads, "load", "x"), (int_stores, "store", "x"),
                                (fp_loads, "fload", "f"), (fp_stores, "fstore", "f")):
        for mnemonic, size in group:
            for offset in _offsets(rng):
                reg, rs1 = _xr(rng), _xr(rng)
                cases.append(Case(f"{mnemonic} {prefix}{reg}, {offset}(x{rs1})", 4,
                                  MemAccess(kind, rs1, offset, size, reg)))
    amo_ops = ["amoswap", "amoadd", "amoxor", "amoand", "amoor",
               "amomin", "amomax", "amominu", "amomaxu"]
    for width, size in (("w", 4), ("d", 8)):
        for ordering in ("", ".aq", ".rl", ".aqrl"):
            for op in amo_ops:
                rd, rs2, rs1 = _xr(rng), _xr(rng), _xr(rng)
                cases.append(Case(f"{op}.{width}{ordering} x{rd}, x{rs2}, (x{rs1})", 4,
                                  MemAccess("amo", rs1, 0, size, rd)))
            rd, rs1 = _xr(rng), _xr(rng)
            cases.append(Case(f"lr.{width}{ordering} x{rd}, (x{rs1})", 4,
                              MemAccess("lr", rs1, 0, size, rd)))
            rd, rs2, rs1 = _xr(rng), _xr(rng), _xr(rng)
            cases.append(Case(f"sc.{width}{ordering} x{rd}, x{rs2}, (x{rs1})", 4,
                              MemAccess("sc", rs1, 0, size, rs2)))
    return cases


def _cases_16(rng: random.Random) -> list[Case]:
    cases: list[Case] = []
    # (mnemonic, kind, size, register prefix, max offset, sp-relative, rd may be 0)
    forms = [
        ("c.lw", "load", 4, "x", 124, False, True),
        ("c.ld", "load", 8, "x", 248, False, True),
        ("c.fld", "fload", 8, "f", 248, False, True),
        ("c.sw", "store", 4, "x", 124, False, True),
        ("c.sd", "store", 8, "x", 248, False, True),
        ("c.fsd", "fstore", 8, "f", 248, False, True),
        ("c.lwsp", "load", 4, "x", 252, True, False),
        ("c.ldsp", "load", 8, "x", 504, True, False),
        ("c.fldsp", "fload", 8, "f", 504, True, True),
        ("c.swsp", "store", 4, "x", 252, True, True),
        ("c.sdsp", "store", 8, "x", 504, True, True),
        ("c.fsdsp", "fstore", 8, "f", 504, True, True),
    ]
    for mnemonic, kind, size, prefix, max_offset, sp_relative, zero_ok in forms:
        for offset in range(0, max_offset + 1, size):   # every legal offset
            if sp_relative:
                reg, rs1, base = _xr(rng, 0 if zero_ok else 1), 2, "sp"
            else:
                reg, rs1 = rng.randrange(8, 16), rng.randrange(8, 16)
                base = f"x{rs1}"
            cases.append(Case(f"{mnemonic} {prefix}{reg}, {offset}({base})", 2,
                              MemAccess(kind, rs1, offset, size, reg)))
    return cases


def _cases_other() -> list[Case]:
    """Instructions that are not memory accesses, and the CSR reads."""
    plain = ["addi x5, x6, -7", "jal x0, 0", "fence", "ecall", "wfi",
             "vle32.v v1, (x10)", "vse8.v v2, (x11)", "vlse64.v v3, (x12), x13",
             "lui x5, 0x12345", "csrrw x5, sstatus, x6"]
    cases = [Case(text, 4, check_csr=True) for text in plain]
    cases += [Case(text, 2) for text in
              ("c.addi4spn x8, sp, 16", "c.addi x10, 1", "c.li x5, 3", "c.mv x5, x6",
               "c.jr x1", "c.ebreak", "c.nop", "c.addi16sp sp, 32", "c.lui x5, 1")]
    reads = [("rdtime x10", 10, CSR_TIME), ("rdcycle x11", 11, CSR_CYCLE),
             ("rdinstret x12", 12, CSR_INSTRET), ("csrr x13, time", 13, CSR_TIME),
             ("csrrs x14, cycle, x0", 14, CSR_CYCLE), ("csrrc x15, instret, x0", 15, CSR_INSTRET),
             ("csrrsi x16, time, 0", 16, CSR_TIME), ("csrrci x17, cycle, 0", 17, CSR_CYCLE),
             ("csrr x0, time", 0, CSR_TIME), ("csrr x5, sstatus", 5, CSR_SSTATUS)]
    cases += [Case(text, 4, csr=CsrRead(rd, csr), check_csr=True) for text, rd, csr in reads]
    writes = ["csrrs x5, time, x6", "csrrc x5, cycle, x7", "csrrsi x5, time, 1",
              "csrrci x5, instret, 31", "csrrw x5, time, x0", "csrrwi x5, time, 0",
              "csrw sscratch, x5", "csrs sstatus, x5", "csrci sstatus, 2"]
    cases += [Case(text, 4, check_csr=True) for text in writes]
    return cases


def _assemble(cases: list[Case], workdir: Path) -> bytes:
    lines = []
    for case in cases:
        lines.append(".option rvc" if case.length == 2 else ".option norvc")
        lines.append(case.text)
    source = workdir / "forms.S"
    source.write_text("\n".join(lines) + "\n")
    obj, binary = workdir / "forms.o", workdir / "forms.bin"
    subprocess.run([AS, f"-march={MARCH}", "-o", str(obj), str(source)],
                   check=True, capture_output=True)
    subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", str(obj), str(binary)],
                   check=True, capture_output=True)
    return binary.read_bytes()


@pytest.mark.skipif(shutil.which(AS) is None or shutil.which(OBJCOPY) is None,
                    reason="riscv64-unknown-elf binutils not installed")
def test_against_assembler(tmp_path: Path) -> None:
    rng = random.Random(20240611)
    cases = _cases_32(rng) + _cases_16(rng) + _cases_other()
    code = _assemble(cases, tmp_path)
    position = 0
    for case in cases:
        first = int.from_bytes(code[position:position + 2], "little")
        length = insn_length(first)
        assert length == case.length, case.text
        insn = int.from_bytes(code[position:position + length], "little")
        assert decode_mem_access(insn, length) == case.access, f"{case.text}: {insn:#x}"
        if case.check_csr:
            assert decode_counter_read(insn, length) == case.csr, f"{case.text}: {insn:#x}"
        position += length
    assert position == len(code)
    assert len(cases) > 700


@pytest.mark.parametrize("insn, old, x_value, new, rd", [
    (0x14D5_1573, 5, 9, 9, 10),          # csrrw a0, stimecmp, a0
    (0x14D0_2573, 5, 0, None, 10),       # csrr a0, stimecmp (csrrs with x0: no write)
    (0x14D5_A073, 0b0101, 0b0011, 0b0111, 0),   # csrs stimecmp, a1
    (0x14D5_B073, 0b0111, 0b0011, 0b0100, 0),   # csrc stimecmp, a1
    (0x14D2_D073, 0, 0, 5, 0),           # csrwi stimecmp, 5
])
def test_csr_access_reads_and_writes_as_the_hart_would(insn, old, x_value, new, rd):
    from rr.monitor.insn_decode import decode_csr_access
    access = decode_csr_access(insn, 4)
    assert access is not None and access.csr == 0x14D and access.rd == rd
    assert access.new_value(old, access.operand(lambda _n: x_value)) == new


def test_csr_access_is_none_for_other_system_instructions():
    from rr.monitor.insn_decode import decode_csr_access
    assert decode_csr_access(0x0000_0073, 4) is None      # ecall
    assert decode_csr_access(0x1050_0073, 4) is None      # wfi
    assert decode_csr_access(0x14D5_1573, 2) is None
