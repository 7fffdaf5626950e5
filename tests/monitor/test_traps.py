"""Trap delivery into S-mode and counter emulation, run through real guest code."""

from __future__ import annotations

import pytest

from rr.monitor.constants import (
    CAUSE_BREAKPOINT, CAUSE_ILLEGAL_INSTRUCTION, CAUSE_USER_ECALL,
    PRIV_S, PRIV_U, SSTATUS_SIE, SSTATUS_SPIE, SSTATUS_SPP)
from rr.monitor.run_loop import RunLoop
from rr.errors import GuestFault

from board_fixture import make_board

ENTRY = 0x8020_0000
HANDLER = 0x8020_0100


def asm(*words: int) -> bytes:
    return b"".join(w.to_bytes(4, "little") for w in words)


RDTIME_A0 = 0xC0102573          # rdtime a0
ECALL = 0x00000073
EBREAK = 0x00100073
ILLEGAL = 0xFFFFFFFF
LD_A0_0_A1 = 0x0005B503         # ld a0, 0(a1)
SPIN = 0x0000006F               # j .


def run_code(code: bytes, insns: int, priv: int = PRIV_S, sie: bool = True):
    board, _ = make_board(code + bytes(0x100 - len(code)) + asm(SPIN))
    cpu = board.cpu
    cpu.set_csr("stvec", HANDLER)
    if sie:
        cpu.set_csr("sstatus", cpu.csr("sstatus") | SSTATUS_SIE)
    cpu.priv = priv
    RunLoop(board).run_until(insns)
    return board


def test_time_reads_are_emulated_from_the_instruction_count():
    board = run_code(asm(0x00000013, RDTIME_A0, 0x00000013, 0xC01025F3, SPIN), 5)  # rdtime a1
    cpu = board.cpu
    assert (cpu.x(10), cpu.x(11)) == (1, 3)                  # one tick per instruction
    assert cpu.pc == ENTRY + 16 and cpu.priv == PRIV_S


def test_time_read_after_idle_includes_the_skipped_time():
    board, _ = make_board(asm(RDTIME_A0, SPIN))
    board.clock.skip_to(5000, 0)
    from rr.monitor.run_loop import RunLoop as Loop
    Loop(board).run_until(1)
    assert board.cpu.x(10) == 5000


def test_user_ecall_is_delivered_to_s_mode():
    board = run_code(asm(0x00000013, ECALL), 3, priv=PRIV_U)
    cpu = board.cpu
    assert cpu.priv == PRIV_S and cpu.pc == HANDLER
    assert cpu.csr("scause") == CAUSE_USER_ECALL and cpu.csr("sepc") == ENTRY + 4
    status = cpu.csr("sstatus")
    assert not status & SSTATUS_SPP and status & SSTATUS_SPIE and not status & SSTATUS_SIE


def test_illegal_instruction_carries_its_bits_in_stval():
    board = run_code(asm(ILLEGAL), 2)
    cpu = board.cpu
    assert cpu.csr("scause") == CAUSE_ILLEGAL_INSTRUCTION and cpu.csr("stval") == ILLEGAL
    assert cpu.csr("sstatus") & SSTATUS_SPP and cpu.pc == HANDLER


def test_user_counter_read_denied_by_scounteren_is_illegal():
    board = run_code(asm(RDTIME_A0), 2, priv=PRIV_U)
    assert board.cpu.csr("scause") == CAUSE_ILLEGAL_INSTRUCTION
    assert board.cpu.csr("stval") == RDTIME_A0


def test_ebreak_is_a_breakpoint_at_its_own_pc():
    board = run_code(asm(0x00000013, EBREAK), 3)
    cpu = board.cpu
    assert cpu.csr("scause") == CAUSE_BREAKPOINT and cpu.csr("sepc") == ENTRY + 4
    assert cpu.pc == HANDLER              # the handler (a spin loop) is running


def test_fetch_page_fault_reports_the_pc_in_stval():
    # Sv39 on with an empty root table: every access faults, the handler too.
    board, _ = make_board(asm(LD_A0_0_A1, SPIN))
    cpu = board.cpu
    cpu.set_csr("stvec", HANDLER)
    cpu.set_x(11, 0x1234_5678)
    traps = board.traps
    seen = []
    original = traps.deliver

    def spy(cause, epc, tval, priv):
        seen.append((cause, epc, tval))
        original(cause, epc, tval, priv)
        cpu.stop()
    traps.deliver = spy
    cpu.set_csr("satp", (8 << 60) | (0x8100_0000 >> 12))
    cpu.icount = 0
    # Execute from the identity address through an unmapped page: the fetch faults first.
    with pytest.raises(GuestFault):
        RunLoop(board, max_insns=50).run_until(None)
    assert seen and seen[0][0] == 12 and seen[0][2] == ENTRY   # fetch page fault, stval = pc


def test_unmapped_physical_access_stops_with_a_diagnostic():
    board, _ = make_board(asm(0x200005B7, LD_A0_0_A1, SPIN))      # lui a1, 0x20000; ld a0, 0(a1)
    with pytest.raises(GuestFault, match=r"unmapped physical address 0x20000000.*pc 0x80200004"):
        RunLoop(board).run_until(None)
