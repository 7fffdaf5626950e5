"""The harts of a board share one unicorn engine, their CPU contexts swapped in turn
(rr/monitor/hart_engine.py): each hart keeps its own registers, interrupt bits and
pending interrupts across swaps; another hart's registers are out of reach inside a
run (``Cpu.later`` waits for its end); code one hart writes is what another runs.
"""

from __future__ import annotations

import random

import pytest
from unicorn import UC_HOOK_CODE

from rr.monitor.board import Board, BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.constants import (MIP_SSIP, MIP_STIP, PRIV_M, PRIV_S, PTE_A, PTE_D, PTE_R, PTE_V,
                                  PTE_W, PTE_X, RAM_BASE, SATP_MODE_SHIFT, SATP_MODE_SV39,
                                  SSTATUS_SIE)
from rr.monitor.cpu import FPR_IDS, Cpu
from rr.monitor.hart_engine import HartSwapDuringRun
from rr.monitor.loader import parse_image

from monitor.board_fixture import SPIN as SPIN_CODE, ScriptedInputs

SPIN = 0x0000006F                     # j .
ADDI_A0 = (0x00100513, 0x00200513)    # addi a0, zero, 1 / 2
SW_T1_T0 = 0x0062A023                 # sw t1, 0(t0)
ADDI_T2 = 0x00138393                  # addi t2, t2, 1
FFLAGS_MASK = 0x1F
SUPERVISOR_SOFTWARE_INTERRUPT = (1 << 63) | 1
CSRS = ("sstatus", "stvec", "sscratch", "sepc", "scause", "stval", "mie", "mip", "medeleg",
        "mtvec", "fcsr")


def harts(count: int, ram: int = 0x1000) -> list[Cpu]:
    """``count`` harts in one engine over ``ram`` bytes of RAM."""
    first = Cpu()
    first.uc.mem_map(RAM_BASE, ram)
    return [first, *(Cpu(shares=first) for _ in range(count - 1))]


def write_code(cpu: Cpu, offset: int, *words: int) -> None:
    cpu.write_phys(RAM_BASE + offset, b"".join(word.to_bytes(4, "little") for word in words))


def random_state(rng: random.Random) -> dict:
    return {"x": [0] + [rng.getrandbits(64) for _ in range(31)],
            "f": [rng.getrandbits(64) for _ in range(32)],
            "pc": RAM_BASE + 4 * rng.randrange(1024),
            "priv": rng.choice((PRIV_S, PRIV_M)),
            "csrs": {name: rng.getrandbits(12) & ~SSTATUS_SIE for name in CSRS}}


def write_state(cpu: Cpu, state: dict) -> None:
    for n in range(32):
        cpu.set_x(n, state["x"][n])
        cpu.set_reg(FPR_IDS[n], state["f"][n])
    for name, value in state["csrs"].items():
        cpu.set_csr(name, value)
    cpu.pc = state["pc"]
    cpu.priv = state["priv"]


def read_state(cpu: Cpu) -> dict:
    return {"x": [cpu.x(n) for n in range(32)], "f": [cpu.f(n) for n in range(32)],
            "pc": cpu.pc, "priv": cpu.priv, "csrs": {name: cpu.csr(name) for name in CSRS}}


def test_every_hart_keeps_its_own_registers_across_swaps():
    rng = random.Random(20261202)
    cpus = harts(4)
    engine = cpus[0].hart_engine
    # What the engine makes of each written value (WARL fields) is read back once.
    expected = []
    for cpu in cpus:
        write_state(cpu, random_state(rng))
        expected.append(read_state(cpu))
    swaps = engine.swaps
    for _ in range(40):
        n = rng.randrange(len(cpus))
        assert read_state(cpus[n]) == expected[n]
    assert engine.swaps > swaps
    assert all(cpu.uc is cpus[0].uc for cpu in cpus)


def test_a_context_saved_and_restored_while_another_hart_is_loaded():
    """Checkpoints save and restore every hart's context, loaded or not."""
    rng = random.Random(7)
    a, b = harts(2)
    write_state(b, random_state(rng))
    saved, before = b.context_save(), read_state(b)
    write_state(b, random_state(rng))
    a.x(1)                                   # a loaded: b's context is restored unloaded
    b.restore_context(saved)
    assert not b.loaded
    after = read_state(b)
    # A context holds frm but not the accrued flags (docs/unicorn-facts.md, fact 23).
    for state in (before, after):
        state["csrs"]["fcsr"] &= ~FFLAGS_MASK
    assert after == before


def test_fp_flags_are_each_harts_own_whatever_its_fpu_state():
    """fflags live outside the context; FP instructions of one hart leave the others'."""
    a, b = harts(2)
    for cpu, flags, fpu in ((a, 0x11, 0), (b, 0x06, 3 << 13)):
        cpu.set_csr("fflags", flags)
        cpu.set_csr("mstatus", (cpu.csr("mstatus") & ~(3 << 13)) | fpu)
    statuses = [a.csr("mstatus"), b.csr("mstatus")]
    for _ in range(3):
        assert (a.csr("fflags"), b.csr("fflags")) == (0x11, 0x06)
        assert [a.csr("mstatus"), b.csr("mstatus")] == statuses    # FS untouched


def test_interrupt_bits_of_a_hart_not_loaded_are_read_and_written_without_a_swap():
    a, b = harts(2)
    b.set_csr("mideleg", MIP_SSIP)
    b.set_csr("mie", MIP_SSIP)
    a.x(1)
    swaps = a.hart_engine.swaps
    b.set_csr("mip", b.csr("mip") | MIP_SSIP)
    assert b.mip() == MIP_SSIP and b.pending_interrupts() == MIP_SSIP
    assert a.pending_interrupts() == 0
    assert a.hart_engine.swaps == swaps
    assert b.csr("mip") == MIP_SSIP and b.csr("sie") == MIP_SSIP     # now swapped in


@pytest.mark.parametrize("pending_on", ["switched in", "switched out"])
def test_a_pending_interrupt_is_taken_by_its_own_hart_only(pending_on):
    """QEMU's "interrupt requested" flag is outside the context: a hart with SSIP
    pending and enabled takes it when it runs, one with only STIP pending (not
    enabled) does not, whichever ran before."""
    a, b = harts(2)
    write_code(a, 0, ADDI_T2, SPIN)
    write_code(a, 0x100, SPIN)               # stvec
    for cpu in (a, b):
        cpu.set_csr("stvec", RAM_BASE + 0x100)
        cpu.set_csr("mideleg", MIP_SSIP | MIP_STIP)
        cpu.set_csr("mie", MIP_SSIP)
        cpu.set_csr("sstatus", SSTATUS_SIE)
        cpu.pc = RAM_BASE
        cpu.priv = PRIV_S
    taker, other = (b, a) if pending_on == "switched in" else (a, b)
    taker.set_csr("mip", MIP_SSIP)
    other.set_csr("mip", MIP_STIP)           # pending but not enabled: not taken
    other.run(2)
    assert other.csr("scause") == 0 and other.x(7) == 1
    taker.run(2)
    assert taker.csr("scause") == SUPERVISOR_SOFTWARE_INTERRUPT
    assert taker.x(7) == 0 and taker.pc == RAM_BASE + 0x100


LR_D_A4_A5, SC_D_A2_A3_A5 = 0x1007B72F, 0x18D7B62F      # lr.d a4, (a5) / sc.d a2, a3, (a5)


@pytest.mark.parametrize("dropped", [False, True])
def test_a_waiting_harts_reservation_is_dropped_in_its_saved_context(dropped):
    """The scheduler drops the reservation of a hart it switches in (smp_run_loop.py):
    written in the saved context, it needs no swap, and the hart's sc fails."""
    a, b = harts(2)
    write_code(a, 0, LR_D_A4_A5, SC_D_A2_A3_A5, SPIN)
    b.set_x(15, RAM_BASE + 0x800)
    b.set_x(13, 0x5A5A)
    b.pc = RAM_BASE
    b.priv = PRIV_S
    b.run(1)                                 # the lr
    a.x(1)
    swaps = a.hart_engine.swaps
    if dropped:
        b.drop_reservation()
    assert a.hart_engine.swaps == swaps
    b.run(1)                                 # the sc
    assert b.x(12) == int(dropped)           # 0: stored, 1: failed


def test_another_harts_registers_wait_for_the_end_of_the_run():
    a, b = harts(2)
    write_code(a, 0, ADDI_T2, ADDI_T2, SPIN)
    a.pc = RAM_BASE
    seen: list[object] = []

    def hook(_uc, _address, _size, _user) -> None:
        if seen:
            return
        try:
            b.x(5)
        except HartSwapDuringRun as exc:
            seen.append(exc)
        b.later(lambda: b.set_x(5, a.icount))
        seen.append(b.x(5) if b.loaded else "waiting")

    a.uc.hook_add(UC_HOOK_CODE, hook)
    a.run(2)
    assert isinstance(seen[0], HartSwapDuringRun) and seen[1] == "waiting"
    assert b.x(5) == 2                       # set after the run: a's count by then
    assert a.x(7) == 2


def test_code_one_hart_writes_is_what_another_runs_without_a_fence():
    """Translated code is the engine's: a store by any hart drops what was translated
    from its page, so a remote fence.i has nothing to do (hart_control.py)."""
    a, b = harts(2)
    write_code(a, 0, ADDI_A0[0], SPIN)
    write_code(a, 0x100, SW_T1_T0, SPIN)
    a.pc = RAM_BASE
    a.run(2)
    assert a.x(10) == 1
    b.pc = RAM_BASE + 0x100
    b.set_x(5, RAM_BASE)
    b.set_x(6, ADDI_A0[1])
    b.run(1)
    a.pc = RAM_BASE
    a.run(1)
    assert a.x(10) == 2


def test_a_board_runs_every_hart_in_one_engine():
    board = Board(BoardConfig(harts=4), BootPayload(parse_image("test", SPIN_CODE)),
                  ScriptedInputs(), lambda data: None)
    assert {id(hart.cpu.uc) for hart in board.harts} == {id(board.hart_engine.uc)}
    assert board.hart_engine.loaded is board.cpu


# Two address spaces for test_harts_in_other_address_spaces_do_not_share_tlb_entries.
# Root A maps VA 1 GiB up as a gigapage onto RAM; root B maps its first two 4 KiB
# pages to the same code but VA + 0x3000 to the page after A's.
CODE_VA, DATA_VA = 0x4000_0000, 0x4000_3000
ROOT_A, ROOT_B, L1_B, L0_B = 0x1000, 0x2000, 0x5000, 0x6000
LD_A0_A1 = 0x0005B503                 # ld a0, 0(a1)
LEAF = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D


def pte(offset: int, flags: int) -> bytes:
    return ((RAM_BASE + offset) >> 12 << 10 | flags).to_bytes(8, "little")


def satp(root: int) -> int:
    return SATP_MODE_SV39 << SATP_MODE_SHIFT | (RAM_BASE + root) >> 12


def load_through(cpu: Cpu, root: int) -> int:
    """What ``ld`` at DATA_VA gives the hart in S-mode under the page table at ``root``."""
    cpu.set_csr("satp", satp(root))
    cpu.priv = PRIV_S
    cpu.pc = CODE_VA
    cpu.set_x(11, DATA_VA)
    cpu.run(1)
    return cpu.x(10)


def test_harts_in_other_address_spaces_do_not_share_tlb_entries():
    """The engine's TLB is kept across a switch only between harts that translate alike
    (the same satp); a remote sfence.vma to a waiting hart still flushes it."""
    a, b, c = harts(3, ram=0x8000)
    write_code(a, 0, LD_A0_A1, SPIN)
    a.write_phys(RAM_BASE + 0x3000, (0x1111).to_bytes(8, "little"))
    a.write_phys(RAM_BASE + 0x4000, (0x2222).to_bytes(8, "little"))
    a.write_phys(RAM_BASE + ROOT_A + 8, pte(0, LEAF))                   # VA 1 GiB: RAM
    a.write_phys(RAM_BASE + ROOT_B + 8, pte(L1_B, PTE_V))
    a.write_phys(RAM_BASE + L1_B, pte(L0_B, PTE_V))
    a.write_phys(RAM_BASE + L0_B, pte(0, LEAF))                         # code
    a.write_phys(RAM_BASE + L0_B + 3 * 8, pte(0x4000, LEAF))            # data: 0x2222
    assert load_through(a, ROOT_A) == 0x1111
    assert load_through(b, ROOT_B) == 0x2222
    assert load_through(a, ROOT_A) == 0x1111
    assert load_through(c, ROOT_B) == 0x2222                            # c's entries now
    a.write_phys(RAM_BASE + L0_B + 3 * 8, pte(0x3000, LEAF))            # remapped, and
    b.flush_tlb()                                                       # b is told
    assert b.tlb_stale and not b.loaded
    assert load_through(b, ROOT_B) == 0x1111
