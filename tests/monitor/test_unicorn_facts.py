"""The unicorn 2.1.4 behaviours the monitor is built around, on bare engines.

Each test drives a plain ``Uc`` (no monitor code in the way) and asserts the
behaviour as measured, so a unicorn that behaves differently fails here first,
naming the fact to revisit. The numbers are those of docs/unicorn-facts.md.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Callable

import pytest
from unicorn import (UC_ARCH_RISCV, UC_HOOK_CODE, UC_HOOK_INSN_INVALID, UC_HOOK_INTR,
                     UC_HOOK_MEM_WRITE, UC_MODE_RISCV64, Uc, UcError)
from unicorn import riscv_const as rc
from unicorn.unicorn_const import (UC_CTL_CONTEXT_CPU, UC_CTL_CONTEXT_MEMORY, UC_CTL_CONTEXT_MODE,
                                   UC_CTL_IO_WRITE, UC_ERR_EXCEPTION, UC_ERR_INSN_INVALID,
                                   UC_ERR_READ_UNMAPPED)

from rr.monitor.constants import (
    CAUSE_ILLEGAL_INSTRUCTION, CAUSE_LOAD_PAGE_FAULT, CAUSE_USER_ECALL, INSN_C_EBREAK, INSN_EBREAK,
    INSN_WFI, MIP_DELEGABLE, MIP_STIP, MSTATUS_FS, MSTATUS_TVM, PRIV_M, PRIV_S, PRIV_U, PTE_A, PTE_D, PTE_R,
    PTE_V, PTE_W, PTE_X, RAM_BASE, SATP_MODE_SHIFT, SATP_MODE_SV39, SATP_MODE_SV57, SSTATUS_SIE,
    UC_EMU_COUNTER_OFFSET, UNTIL_NEVER)
from rr.monitor.insn_counter import counter_offset, handle_address

NOP = 0x0000_0013                # addi x0, x0, 0
ADDI_T0 = 0x0012_8293            # addi t0, t0, 1
LOOP = (ADDI_T0, 0xFFDF_F06F)    # addi t0, t0, 1; j -4
SPIN = 0x0000_006F               # j .
ECALL = 0x0000_0073
ILLEGAL = 0xFFFF_FFFF
C_UNIMP = 0x0000                 # the all-zero 16-bit word: an illegal compressed instruction
LD_A0_A1 = 0x0005_B503           # ld a0, 0(a1)
SD_A0_A1 = 0x00A5_B023           # sd a0, 0(a1)
SW_A0_A1 = 0x00A5_A023           # sw a0, 0(a1)
LUI_A1_MMIO = 0x1000_05B7        # lui a1, 0x10000
RDTIME_A0, RDCYCLE_A0, RDINSTRET_A0 = 0xC010_2573, 0xC000_2573, 0xC020_2573
LR_D_SC_D = (0x1007_B72F, 0x18D7_B62F)   # lr.d a4, (a5); sc.d a2, a3, (a5)
MMIO = 0x1000_0000
LEAF = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
SCAUSE_SUPERVISOR_TIMER = (1 << 63) | 5


def words(*values: int) -> bytes:
    return b"".join(v.to_bytes(4, "little") for v in values)


def csrr_a0(csr: int) -> int:
    return csr << 20 | 2 << 12 | 10 << 7 | 0x73


def engine(code: bytes, priv: int = PRIV_S) -> Uc:
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(RAM_BASE, 0x10000)
    uc.mem_write(RAM_BASE, code)
    uc.reg_write(rc.UC_RISCV_REG_PRIV, priv)
    return uc


def as_m(uc: Uc, access: Callable[[], int | None]) -> int | None:
    """Run an API access with the privilege switched to M (fact 5)."""
    old = uc.reg_read(rc.UC_RISCV_REG_PRIV)
    uc.reg_write(rc.UC_RISCV_REG_PRIV, PRIV_M)
    try:
        return access()
    finally:
        uc.reg_write(rc.UC_RISCV_REG_PRIV, old)


def run(uc: Uc, count: int, start: int | None = None) -> None:
    uc.emu_start(uc.reg_read(rc.UC_RISCV_REG_PC) if start is None else start, UNTIL_NEVER, 0, count)


def exceptions_seen(uc: Uc) -> list[tuple[int, int]]:
    """(intno, pc) of every UC_HOOK_INTR call; each one stops the run."""
    seen: list[tuple[int, int]] = []

    def hook(uc_, intno, _user):
        seen.append((intno, uc_.reg_read(rc.UC_RISCV_REG_PC)))
        uc_.emu_stop()
    uc.hook_add(UC_HOOK_INTR, hook)
    return seen


def counter(uc: Uc) -> int:
    return ctypes.c_size_t.from_address(handle_address(uc) + counter_offset()).value


# --- 1-4: traps -------------------------------------------------------------------------

@pytest.mark.parametrize("code", [words(NOP, ILLEGAL, SPIN),
                                  words(NOP) + C_UNIMP.to_bytes(2, "little") + b"\1\0" + words(SPIN)],
                         ids=["4-byte", "2-byte"])
def test_fact_1_exceptions_reach_the_intr_hook_with_pc_plus_4(code):
    uc = engine(code)
    seen = exceptions_seen(uc)
    run(uc, 10, RAM_BASE)
    assert seen == [(CAUSE_ILLEGAL_INSTRUCTION, RAM_BASE + 4 + 4)]   # +4 whatever the length
    assert uc.reg_read(rc.UC_RISCV_REG_PRIV) == PRIV_S                  # no trap entry ran
    assert as_m(uc, lambda: (uc.reg_read(rc.UC_RISCV_REG_SCAUSE), uc.reg_read(rc.UC_RISCV_REG_SEPC),
                             uc.reg_read(rc.UC_RISCV_REG_MCAUSE))) == (0, 0, 0)


@pytest.mark.parametrize("priv", [PRIV_U, PRIV_S])
def test_fact_2_ecall_is_cause_8_in_every_mode(priv):
    uc = engine(words(NOP, ECALL, SPIN), priv)
    seen = exceptions_seen(uc)
    run(uc, 10, RAM_BASE)
    assert seen == [(CAUSE_USER_ECALL, RAM_BASE + 8)]


def test_fact_3_a_page_fault_leaves_stval_unset():
    uc = engine(words(LD_A0_A1, SPIN))
    root = RAM_BASE + 0x1000            # Sv39: VA 1 GiB -> RAM (a gigapage), nothing else
    uc.mem_write(root, struct.pack("<QQ", 0, (RAM_BASE >> 12) << 10 | LEAF))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MEDELEG, 0xFFFF))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_SATP,
                                  SATP_MODE_SV39 << SATP_MODE_SHIFT | root >> 12))
    uc.reg_write(rc.UC_RISCV_REG_A1, 0x1234)                    # unmapped
    seen = exceptions_seen(uc)
    run(uc, 1, 0x4000_0000)
    assert seen == [(CAUSE_LOAD_PAGE_FAULT, 0x4000_0000 + 4)]
    assert as_m(uc, lambda: (uc.reg_read(rc.UC_RISCV_REG_STVAL),
                             uc.reg_read(rc.UC_RISCV_REG_MTVAL))) == (0, 0)


@pytest.mark.parametrize("code, length", [(words(NOP, INSN_EBREAK, NOP, SPIN), 4),
                                          (words(NOP) + INSN_C_EBREAK.to_bytes(2, "little")
                                           + b"\1\0" + words(SPIN), 2)], ids=["ebreak", "c.ebreak"])
@pytest.mark.parametrize("handled", [True, False])
def test_fact_4_ebreak_goes_to_the_invalid_instruction_hook(code, length, handled):
    uc = engine(code)
    seen_intr = exceptions_seen(uc)
    at: list[int] = []

    def on_invalid(uc_, _user) -> bool:
        at.append(uc_.reg_read(rc.UC_RISCV_REG_PC))
        if handled:
            uc_.reg_write(rc.UC_RISCV_REG_PC, RAM_BASE + 4 + length)
        return handled
    uc.hook_add(UC_HOOK_INSN_INVALID, on_invalid)
    with pytest.raises(UcError) as stop:
        run(uc, 10, RAM_BASE)
    assert at == [RAM_BASE + 4] and seen_intr == []           # at the ebreak itself
    # Handled, the run still ends with UC_ERR_EXCEPTION (at the pc the hook set).
    assert stop.value.errno == (UC_ERR_EXCEPTION if handled else UC_ERR_INSN_INVALID)
    assert uc.reg_read(rc.UC_RISCV_REG_PC) == RAM_BASE + 4 + (length if handled else 0)


# --- 5-8: CSRs and the reservation ------------------------------------------------------

def test_fact_5_csr_access_from_the_api_obeys_the_current_privilege():
    uc = engine(words(SPIN))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MEDELEG, 0x100))
    uc.reg_write(rc.UC_RISCV_REG_MEDELEG, 0xB1FF)              # from S: dropped
    assert as_m(uc, lambda: uc.reg_read(rc.UC_RISCV_REG_MEDELEG)) == 0x100
    # Read from S, an M-level CSR gives whatever the binding's buffer held: two reads of
    # registers whose values differ give the same number, neither of them right.
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MSCRATCH, 0x1111))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MTVEC, RAM_BASE + 0x400))
    from_s = {uc.reg_read(rc.UC_RISCV_REG_MSCRATCH), uc.reg_read(rc.UC_RISCV_REG_MTVEC)}
    assert not from_s & {0x1111, RAM_BASE + 0x400}
    uc.reg_write(rc.UC_RISCV_REG_STVEC, RAM_BASE + 0x100)      # S-level CSRs work from S
    assert uc.reg_read(rc.UC_RISCV_REG_STVEC) == RAM_BASE + 0x100


def test_fact_6_fp_csrs_are_refused_while_the_fpu_is_off():
    uc = engine(words(SPIN), PRIV_M)
    assert not uc.reg_read(rc.UC_RISCV_REG_MSTATUS) & MSTATUS_FS
    uc.reg_write(rc.UC_RISCV_REG_FCSR, 0x41)
    assert uc.reg_read(rc.UC_RISCV_REG_FCSR) != 0x41
    uc.reg_write(rc.UC_RISCV_REG_MSTATUS, uc.reg_read(rc.UC_RISCV_REG_MSTATUS) | MSTATUS_FS)
    assert uc.reg_read(rc.UC_RISCV_REG_FCSR) == 0               # the write above was lost
    uc.reg_write(rc.UC_RISCV_REG_FCSR, 0x41)
    assert uc.reg_read(rc.UC_RISCV_REG_FCSR) == 0x41


@pytest.mark.parametrize("switch", [False, True])
def test_fact_7_a_privilege_write_clears_the_reservation(switch):
    uc = engine(words(*LR_D_SC_D, SPIN))
    uc.reg_write(rc.UC_RISCV_REG_A5, RAM_BASE + 0x800)
    uc.reg_write(rc.UC_RISCV_REG_A3, 0x5A)
    run(uc, 1, RAM_BASE)                                        # the lr
    if switch:
        uc.reg_write(rc.UC_RISCV_REG_PRIV, PRIV_S)              # to the mode it is already in
    run(uc, 1)                                                  # the sc
    assert uc.reg_read(rc.UC_RISCV_REG_A2) == (1 if switch else 0)   # 1: the sc failed


def test_fact_8_mip_takes_only_the_bits_below_m():
    uc = engine(words(SPIN), PRIV_M)
    uc.reg_write(rc.UC_RISCV_REG_MIP, 0xFFF)
    mip = uc.reg_read(rc.UC_RISCV_REG_MIP)
    assert mip & MIP_DELEGABLE == MIP_DELEGABLE
    assert mip & 0x888 == 0                                     # MSIP, MTIP, MEIP stay clear


# --- 9-10: interrupts -------------------------------------------------------------------

def _stip_enabled_engine(code: bytes) -> Uc:
    uc = engine(code + bytes(0x100 - len(code)) + words(SPIN))   # handler: a spin at +0x100
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_STVEC, RAM_BASE + 0x100))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MIDELEG, MIP_STIP))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MIE, MIP_STIP))
    return uc


def test_fact_9_an_interrupt_raised_in_a_callback_waits_for_the_block_end():
    straight = 6
    uc = _stip_enabled_engine(words(LUI_A1_MMIO, SW_A0_A1, *[ADDI_T0] * straight, SPIN))
    uc.reg_write(rc.UC_RISCV_REG_SSTATUS, SSTATUS_SIE)

    def raise_stip(uc_, _offset, _size, _value, _user) -> None:
        as_m(uc_, lambda: uc_.reg_write(rc.UC_RISCV_REG_MIP, MIP_STIP))
    uc.mmio_map(MMIO, 0x1000, lambda *_: 0, None, raise_stip, None)
    run(uc, 20, RAM_BASE)
    assert as_m(uc, lambda: uc.reg_read(rc.UC_RISCV_REG_SCAUSE)) == SCAUSE_SUPERVISOR_TIMER
    # Taken after the rest of the block ran, not after the store that raised it.
    assert uc.reg_read(rc.UC_RISCV_REG_T0) == straight
    assert as_m(uc, lambda: uc.reg_read(rc.UC_RISCV_REG_SEPC)) == RAM_BASE + 8 + 4 * straight


@pytest.mark.parametrize("rewrite_mip", [False, True])
def test_fact_10_a_restored_context_keeps_the_interrupt_request_of_before(rewrite_mip):
    uc = _stip_enabled_engine(words(*LOOP))
    uc.ctl(UC_CTL_CONTEXT_MODE, UC_CTL_IO_WRITE, ctypes.c_int(UC_CTL_CONTEXT_CPU))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MIP, MIP_STIP))   # pending, SIE off
    run(uc, 4, RAM_BASE)
    pending = uc.context_save()
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MIP, 0))
    run(uc, 4)
    uc.context_restore(pending)
    assert as_m(uc, lambda: uc.reg_read(rc.UC_RISCV_REG_MIP)) == MIP_STIP
    if rewrite_mip:
        as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MIP, MIP_STIP))
    uc.reg_write(rc.UC_RISCV_REG_SSTATUS, SSTATUS_SIE)
    run(uc, 4)
    taken = as_m(uc, lambda: uc.reg_read(rc.UC_RISCV_REG_SCAUSE)) == SCAUSE_SUPERVISOR_TIMER
    assert taken == rewrite_mip


# --- 11-13: counters, wfi, the instruction count ----------------------------------------

def test_fact_11_rdtime_traps_and_the_other_counters_do_not():
    for insn, traps in ((RDTIME_A0, True), (RDCYCLE_A0, False), (RDINSTRET_A0, False)):
        uc = engine(words(insn, SPIN))
        as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MCOUNTEREN, 0))
        seen = exceptions_seen(uc)
        run(uc, 1, RAM_BASE)
        if traps:
            assert seen == [(CAUSE_ILLEGAL_INSTRUCTION, RAM_BASE + 4)]
        else:
            assert seen == [] and uc.reg_read(rc.UC_RISCV_REG_A0) > 0   # host ticks


def test_fact_12_wfi_ends_the_run_without_error_after_itself():
    uc = engine(words(NOP, INSN_WFI, NOP, SPIN))
    run(uc, 10, RAM_BASE)
    assert uc.reg_read(rc.UC_RISCV_REG_PC) == RAM_BASE + 8
    assert counter(uc) == 2


def test_fact_13_the_instruction_counter_of_a_count_bounded_run():
    assert counter_offset() == UC_EMU_COUNTER_OFFSET
    uc = engine(words(*LOOP))
    for count in (1, 1000, 77):
        run(uc, count, RAM_BASE)
        assert counter(uc) == count + 1            # the next instruction's hook ran too
    uc.reg_write(rc.UC_RISCV_REG_T0, 0)
    run(uc, 1001, RAM_BASE)
    assert uc.reg_read(rc.UC_RISCV_REG_T0) == 501   # ...but only count of them executed


# --- 14-18: translation, memory, hooks --------------------------------------------------

def test_fact_14_a_code_hook_added_later_misses_translated_blocks():
    uc = engine(words(*LOOP))
    run(uc, 100, RAM_BASE)
    hits: list[int] = []
    uc.hook_add(UC_HOOK_CODE, lambda _uc, address, _size, _user: hits.append(address),
                begin=RAM_BASE + 4, end=RAM_BASE + 4)
    run(uc, 100, RAM_BASE)
    assert hits == []
    uc.ctl_flush_tb()
    run(uc, 100, RAM_BASE)
    assert len(hits) == 50


def test_fact_16_memory_access_from_the_api_is_physical():
    uc = engine(words(SPIN))
    root = RAM_BASE + 0x1000                         # Sv39: VA 0 -> RAM (a gigapage)
    uc.mem_write(root, struct.pack("<Q", (RAM_BASE >> 12) << 10 | LEAF))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_SATP,
                                  SATP_MODE_SV39 << SATP_MODE_SHIFT | root >> 12))
    with pytest.raises(UcError) as error:
        uc.mem_read(0, 4)
    assert error.value.errno == UC_ERR_READ_UNMAPPED
    assert not any(hasattr(uc, name) for name in ("vmem_read", "mem_read_virtual"))


def test_fact_17_memory_hooks_see_physical_addresses_before_the_store():
    uc = engine(words(SD_A0_A1, SPIN))
    root = RAM_BASE + 0x1000                         # Sv39: VA 1 GiB -> RAM
    uc.mem_write(root, struct.pack("<QQ", 0, (RAM_BASE >> 12) << 10 | LEAF))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_SATP,
                                  SATP_MODE_SV39 << SATP_MODE_SHIFT | root >> 12))
    uc.reg_write(rc.UC_RISCV_REG_A0, 0x1122)
    uc.reg_write(rc.UC_RISCV_REG_A1, 0x4000_0800)
    seen = []
    uc.hook_add(UC_HOOK_MEM_WRITE, lambda uc_, _access, address, size, value, _user: seen.append(
        (address, size, value, bytes(uc_.mem_read(RAM_BASE + 0x800, 8)))))
    run(uc, 1, 0x4000_0000)
    assert seen == [(RAM_BASE + 0x800, 8, 0x1122, bytes(8))]
    assert bytes(uc.mem_read(RAM_BASE + 0x800, 8)) == (0x1122).to_bytes(8, "little")


def test_fact_18_satp_takes_sv57():
    uc = engine(words(SPIN), PRIV_M)
    uc.reg_write(rc.UC_RISCV_REG_SATP, SATP_MODE_SV57 << SATP_MODE_SHIFT | 0x80100)
    assert uc.reg_read(rc.UC_RISCV_REG_SATP) >> SATP_MODE_SHIFT == SATP_MODE_SV57


# --- 19-21: contexts, MMIO, the ISA -----------------------------------------------------

def test_fact_19_cpu_only_contexts_leave_memory_alone():
    uc = engine(words(SPIN))
    uc.ctl(UC_CTL_CONTEXT_MODE, UC_CTL_IO_WRITE, ctypes.c_int(UC_CTL_CONTEXT_CPU))
    saved = uc.context_save()
    uc.mem_write(RAM_BASE + 0x800, b"\x42")
    uc.reg_write(rc.UC_RISCV_REG_A0, 7)
    uc.context_restore(saved)
    assert uc.reg_read(rc.UC_RISCV_REG_A0) == 0 and bytes(uc.mem_read(RAM_BASE + 0x800, 1)) == b"\x42"


def test_fact_19_memory_snapshots_form_a_stack():
    uc = engine(words(SPIN))
    uc.ctl(UC_CTL_CONTEXT_MODE, UC_CTL_IO_WRITE,
           ctypes.c_int(UC_CTL_CONTEXT_CPU | UC_CTL_CONTEXT_MEMORY))
    older = uc.context_save()
    uc.mem_write(RAM_BASE + 0x800, b"\x01")
    newer = uc.context_save()
    uc.mem_write(RAM_BASE + 0x800, b"\x02")
    uc.context_restore(older)
    assert bytes(uc.mem_read(RAM_BASE + 0x800, 1)) == b"\x00"
    # Restoring the same snapshot again, and taking new ones, is safe; restoring
    # ``newer`` now (discarded by the restore of the older one) is undefined
    # behaviour inside unicorn (it crashed the process), so the test never does.
    uc.mem_write(RAM_BASE + 0x800, b"\x03")
    uc.context_restore(older)
    assert bytes(uc.mem_read(RAM_BASE + 0x800, 1)) == b"\x00"
    newest = uc.context_save()
    uc.mem_write(RAM_BASE + 0x800, b"\x04")
    uc.context_restore(newest)
    assert bytes(uc.mem_read(RAM_BASE + 0x800, 1)) == b"\x00"
    del newer


def test_fact_20_stopping_inside_an_mmio_callback_repeats_the_access():
    uc = engine(words(LUI_A1_MMIO, SW_A0_A1, ADDI_T0, SPIN))
    calls: list[int] = []

    def on_write(uc_, offset, _size, _value, _user) -> None:
        calls.append(offset)
        if len(calls) == 1:
            uc_.emu_stop()
    uc.mmio_map(MMIO, 0x1000, lambda *_: 0, None, on_write, None)
    run(uc, 10, RAM_BASE)
    assert calls == [0] and uc.reg_read(rc.UC_RISCV_REG_PC) == RAM_BASE + 4   # at the store
    run(uc, 2)
    assert calls == [0, 0] and uc.reg_read(rc.UC_RISCV_REG_T0) == 1


def test_fact_21_no_hypervisor_extension_and_no_stimecmp():
    uc = engine(words(csrr_a0(0x14D), SPIN))        # csrr a0, stimecmp
    misa = as_m(uc, lambda: uc.reg_read(rc.UC_RISCV_REG_MISA))
    assert "".join(chr(ord("A") + bit) for bit in range(26) if misa >> bit & 1) == "ACDFIMSU"
    seen = exceptions_seen(uc)
    run(uc, 1, RAM_BASE)
    assert seen == [(CAUSE_ILLEGAL_INSTRUCTION, RAM_BASE + 4)]


@pytest.mark.parametrize("csr, priv", [(0x14D, PRIV_M), (0x30A, PRIV_M), (0x10A, PRIV_S)],
                         ids=["stimecmp-in-M", "menvcfg", "senvcfg"])
def test_fact_21_no_sstc_control_either(csr, priv):
    """Not even M-mode has stimecmp, nor the envcfg registers (menvcfg.STCE enables Sstc):
    the CPU predates them, and the API has no register ids for them."""
    uc = engine(words(csrr_a0(csr), SPIN), priv)
    seen = exceptions_seen(uc)
    run(uc, 1, RAM_BASE)
    assert seen == [(CAUSE_ILLEGAL_INSTRUCTION, RAM_BASE + 4)]
    assert not any("STIMECMP" in name or "ENVCFG" in name for name in dir(rc))


# --- 22: trapping virtual memory --------------------------------------------------------

CSRW_SATP_A0 = 0x1805_1073       # csrw satp, a0
SFENCE_VMA = 0x1200_0073


@pytest.mark.parametrize("insn", [CSRW_SATP_A0, csrr_a0(0x180), SFENCE_VMA],
                         ids=["satp-write", "satp-read", "sfence.vma"])
def test_fact_22_tvm_makes_satp_accesses_and_sfence_trap(insn):
    uc = engine(words(insn, SPIN))
    run(uc, 1, RAM_BASE)                            # TVM off: no trap
    assert uc.reg_read(rc.UC_RISCV_REG_PC) == RAM_BASE + 4
    mstatus = as_m(uc, lambda: uc.reg_read(rc.UC_RISCV_REG_MSTATUS))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MSTATUS, mstatus | MSTATUS_TVM))
    seen = exceptions_seen(uc)
    run(uc, 1, RAM_BASE)
    assert seen == [(CAUSE_ILLEGAL_INSTRUCTION, RAM_BASE + 4)]


def test_fact_22_tvm_also_refuses_satp_to_the_api_in_s_mode():
    uc = engine(words(SPIN))
    satp = SATP_MODE_SV39 << SATP_MODE_SHIFT | 0x80100
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_SATP, satp))
    assert uc.reg_read(rc.UC_RISCV_REG_SATP) == satp          # S-mode, TVM off: readable
    mstatus = as_m(uc, lambda: uc.reg_read(rc.UC_RISCV_REG_MSTATUS))
    as_m(uc, lambda: uc.reg_write(rc.UC_RISCV_REG_MSTATUS, mstatus | MSTATUS_TVM))
    assert uc.reg_read(rc.UC_RISCV_REG_SATP) != satp
    assert as_m(uc, lambda: uc.reg_read(rc.UC_RISCV_REG_SATP)) == satp


def test_fact_23_a_cpu_context_holds_frm_but_not_the_accrued_fp_flags():
    uc = engine(words(SPIN), priv=PRIV_M)
    uc.ctl(UC_CTL_CONTEXT_MODE, UC_CTL_IO_WRITE, ctypes.c_int(UC_CTL_CONTEXT_CPU))
    fs_initial = 1 << 13
    uc.reg_write(rc.UC_RISCV_REG_MSTATUS, fs_initial)
    uc.reg_write(rc.UC_RISCV_REG_FCSR, 0x5F)         # frm 2, fflags 0x1f
    # Writing them marks the FPU dirty: a write is no way to put them back unseen.
    assert uc.reg_read(rc.UC_RISCV_REG_MSTATUS) & MSTATUS_FS == MSTATUS_FS
    uc.reg_write(rc.UC_RISCV_REG_MSTATUS, fs_initial)
    saved = uc.context_save()
    uc.reg_write(rc.UC_RISCV_REG_FCSR, 0)
    uc.context_restore(saved)
    assert uc.reg_read(rc.UC_RISCV_REG_MSTATUS) & MSTATUS_FS == fs_initial
    assert uc.reg_read(rc.UC_RISCV_REG_FRM) == 2
    assert uc.reg_read(rc.UC_RISCV_REG_FFLAGS) == 0
