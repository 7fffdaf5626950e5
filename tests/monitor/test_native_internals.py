"""The unicorn 2.1.4 internals the native engine reads, one test each.

docs/native-engine.md lists them. If an upgrade of unicorn moves any of them,
one of these fails by name (the engine itself would refuse to attach and the
slower count-hook engine would run: correct, but four times slower, so it
must not go unnoticed).
"""

from __future__ import annotations

import ctypes

import pytest
from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc
from unicorn import riscv_const as rc

from rr.monitor import native_engine
from rr.monitor.clock import VirtualClock
from rr.monitor.constants import PRIV_S, RAM_BASE
from rr.monitor.native_engine import CPU_ENV_OFFSET, NativeEngine, check_internals, load_library

MMIO = 0x1000_0000


@pytest.fixture(scope="module")
def lib():
    return load_library()       # fails (not skips) when the library was not built


def scratch(code: bytes) -> Uc:
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(RAM_BASE, 0x2000)
    uc.mem_write(RAM_BASE, code)
    uc.reg_write(rc.UC_RISCV_REG_PRIV, PRIV_S)
    uc.reg_write(rc.UC_RISCV_REG_PC, RAM_BASE)
    return uc


def handle(uc: Uc) -> int:
    return ctypes.cast(uc._uch, ctypes.c_void_p).value


def words(*values: int) -> bytes:
    return b"".join(v.to_bytes(4, "little") for v in values)


ADDI_T0 = 0x00128293        # addi t0, t0, 1
LOOP = words(ADDI_T0, ADDI_T0, ADDI_T0, 0xFF5FF06F)     # three addi, j -12


def test_uc_struct_cpu_leads_to_a_cpu_state_that_points_back(lib):
    """uc_struct.cpu (offset 440) and CPUState.uc (offset 33192)."""
    uc = scratch(LOOP)
    cpu = lib.rrvm_uc_cpu(handle(uc))
    assert cpu != 0
    assert lib.rrvm_cpu_uc(cpu) == handle(uc)


def test_cpu_state_env_ptr_is_the_riscv_env(lib):
    """CPUState.env_ptr (offset 296) == cpu + 36112, where CPURISCVState starts."""
    uc = scratch(LOOP)
    cpu = lib.rrvm_uc_cpu(handle(uc))
    assert lib.rrvm_cpu_env_ptr(cpu) == cpu + CPU_ENV_OFFSET


def test_env_pc_is_the_program_counter_both_ways(lib):
    """CPURISCVState.pc (offset 512): what uc_reg_read(PC) reads and what a write sets."""
    uc = scratch(LOOP)
    env = lib.rrvm_cpu_env(lib.rrvm_uc_cpu(handle(uc)))
    uc.reg_write(rc.UC_RISCV_REG_PC, RAM_BASE + 0x124)
    assert lib.rrvm_env_pc(env) == RAM_BASE + 0x124
    lib.rrvm_set_env_pc(env, RAM_BASE + 0x88)
    assert uc.reg_read(rc.UC_RISCV_REG_PC) == RAM_BASE + 0x88


def test_env_rdtime_fn_is_unset_so_rdtime_traps(lib):
    """CPURISCVState.rdtime_fn (offset 1528) is NULL: rdtime is an illegal instruction."""
    uc = scratch(LOOP)
    env = lib.rrvm_cpu_env(lib.rrvm_uc_cpu(handle(uc)))
    assert lib.rrvm_env_rdtime_fn(env) == 0


def test_cflags_next_tb_reads_none_and_shapes_the_next_block(lib):
    """CPUState.cflags_next_tb (offset 24): -1 when idle; k gives a k-instruction block."""
    uc = scratch(LOOP)
    cpu = lib.rrvm_uc_cpu(handle(uc))
    assert lib.rrvm_cpu_cflags_next_tb(cpu) == -1
    engine = NativeEngine(lib, uc)
    stop = engine.run(RAM_BASE, 2, 0)     # the 4-instruction block is split after 2
    assert (stop.executed, stop.count_reached) == (2, True)
    assert engine.state.splits == 1
    assert uc.reg_read(rc.UC_RISCV_REG_T0) == 2
    assert uc.reg_read(rc.UC_RISCV_REG_PC) == RAM_BASE + 8
    assert lib.rrvm_cpu_cflags_next_tb(cpu) == -1       # consumed


def test_translation_block_record_sits_before_its_code(lib):
    """TranslationBlock pc (0), size (u16 at 20), icount (u16 at 22), tc.ptr (32), 192
    bytes before the host code the block hook returns into: every block validates."""
    uc = scratch(LOOP)
    engine = NativeEngine(lib, uc)
    stop = engine.run(RAM_BASE, 1000, 0)
    assert stop.executed == 1000
    assert engine.state.blocks > 0
    assert engine.state.record_misses == 0


def test_mem_io_pc_leads_back_to_the_accessing_instruction(lib):
    """CPUState.mem_io_pc (offset 33144) with cpu_restore_state: the exact position of
    an MMIO access in the middle of a block."""
    sw_t0_a1 = 0x0055A023                  # sw t0, 0(a1)
    uc = scratch(words(ADDI_T0, ADDI_T0, sw_t0_a1, ADDI_T0, 0x0000006F))   # ..., j .
    uc.reg_write(rc.UC_RISCV_REG_A1, MMIO)
    engine = NativeEngine(lib, uc)
    seen = []
    uc.mmio_map(MMIO, 0x1000, None, None,
                lambda _uc, _off, _size, value, _user: seen.append((value, engine.hook_raw(True))),
                None)
    engine.run(RAM_BASE, 10, 0)
    assert seen == [(2, 3)]                # t0 == 2, the third instruction


def test_an_untranslatable_instruction_is_a_block_of_size_zero(lib):
    """A block starting at an instruction unicorn cannot translate has size 0 and
    icount 1: it counts as one instruction, as unicorn's count hook counts it."""
    uc = scratch(words(0x0000_0000, ADDI_T0))        # c.unimp (illegal), then addi
    engine = NativeEngine(lib, uc)
    causes = []
    engine.on_exception(lambda _uc, cause, _user: causes.append(cause) or engine.stop(False))
    stop = engine.run(RAM_BASE, 10, 0)
    assert causes == [2]
    assert stop.executed == 1
    assert engine.state.record_misses == 0


def test_the_probe_program_counts_exactly(lib):
    """Everything together on a known program: what attach requires."""
    native_engine.probe.cache_clear()
    assert native_engine.probe() == ""


def test_attach_checks_pass_on_a_fresh_engine(lib):
    cpu, env = check_internals(lib, scratch(LOOP))
    assert env == cpu + CPU_ENV_OFFSET


def test_time_reads_are_answered_from_the_virtual_clock(lib):
    rdtime_a0 = 0xC0102573
    uc = scratch(words(ADDI_T0, rdtime_a0, ADDI_T0, 0x0000006F))
    engine = NativeEngine(lib, uc)
    clock = VirtualClock(insns_per_tick=2)
    clock.offset = 1000
    engine.use_clock(clock)
    engine.on_exception(lambda *_: pytest.fail("the rdtime reached the monitor"))
    engine.run(RAM_BASE, 3, 500)        # the rdtime is instruction 501
    assert uc.reg_read(rc.UC_RISCV_REG_A0) == 501 // 2 + 1000
    assert engine.state.time_reads == 1
