"""SBI calls served by the monitor, checked register by register."""

from __future__ import annotations

import pytest

from rr.monitor import sbi as s
from rr.monitor.constants import CAUSE_LOAD_ACCESS, MIP_SSIP, MIP_STIP
from rr.monitor.exits import ExitKind

from board_fixture import make_board

MASK = (1 << 64) - 1


def call(board, eid, fid=0, *args):
    cpu = board.cpu
    cpu.set_x(17, eid)
    cpu.set_x(16, fid)
    for n, value in enumerate(args):
        cpu.set_x(10 + n, value)
    board.sbi.handle()
    return cpu.x(10), cpu.x(11)


def signed(value):
    return value - (1 << 64) if value >> 63 else value


@pytest.fixture
def board():
    board = make_board()[0]
    board.cpu.icount = 100        # as if called from the ecall hook at instruction 100
    return board


def test_base_extension(board):
    assert call(board, s.EXT_BASE, 0) == (0, 1 << 24)            # spec v1.0
    assert call(board, s.EXT_BASE, 1) == (0, s.IMPL_ID)
    for eid in (s.EXT_TIME, s.EXT_IPI, s.EXT_RFENCE, s.EXT_HSM, s.EXT_SRST, s.EXT_DBCN, 0x01):
        assert call(board, s.EXT_BASE, 3, eid) == (0, 1), hex(eid)
    assert call(board, s.EXT_BASE, 3, 0x504D55) == (0, 0)         # PMU: not offered
    assert call(board, s.EXT_BASE, 4) == (0, 0)                   # mvendorid
    assert signed(call(board, s.EXT_BASE, 99)[0]) == s.SBI_ERR_NOT_SUPPORTED


def test_unknown_extension_is_not_supported(board):
    assert signed(call(board, 0x12345678, 0)[0]) == s.SBI_ERR_NOT_SUPPORTED


def test_set_timer_in_the_past_raises_stip_at_once(board):
    board.timer.program(10**9, 0)
    assert not board.cpu.csr("mip") & MIP_STIP
    call(board, s.EXT_TIME, 0, 0)
    assert board.cpu.csr("mip") & MIP_STIP
    call(board, s.EXT_TIME, 0, 10**9)                             # reprogramming lowers it
    assert not board.cpu.csr("mip") & MIP_STIP
    assert board.timer.deadline == 10**9


def test_ipi_to_self_sets_ssip_and_legacy_clear(board):
    call(board, s.EXT_IPI, 0, 1, 0)
    assert board.cpu.csr("mip") & MIP_SSIP
    call(board, s.LEGACY_CLEAR_IPI)
    assert not board.cpu.csr("mip") & MIP_SSIP
    call(board, s.EXT_IPI, 0, 0b10, 0)                            # hart 1 only: not us
    assert not board.cpu.csr("mip") & MIP_SSIP


def test_legacy_send_ipi_reads_the_hart_mask_from_guest_memory(board):
    """v0.1 send_ipi: a0 points to the mask (NULL: every hart); a fault reading it is
    the caller's, at the ecall (OpenSBI redirects it)."""
    mask_at = 0x8010_0000
    for mask, pending in ((0b10, False), (0b11, True)):
        board.cpu.set_csr("mip", 0)
        board.cpu.write_phys(mask_at, mask.to_bytes(8, "little"))
        assert call(board, s.LEGACY_SEND_IPI, 0, mask_at)[0] == 0
        assert bool(board.cpu.csr("mip") & MIP_SSIP) is pending, bin(mask)
    board.cpu.set_csr("mip", 0)
    call(board, s.LEGACY_SEND_IPI, 0, 0)
    assert board.cpu.csr("mip") & MIP_SSIP
    with pytest.raises(s.SbiTrap) as trap:
        call(board, s.LEGACY_REMOTE_FENCE_I, 0, 0x4000_0000)     # no memory there
    assert (trap.value.cause, trap.value.tval) == (CAUSE_LOAD_ACCESS, 0x4000_0000)


def test_hsm_single_hart(board):
    assert call(board, s.EXT_HSM, 2, 0) == (0, s.HSM_STARTED)
    assert signed(call(board, s.EXT_HSM, 2, 1)[0]) == s.SBI_ERR_INVALID_PARAM
    assert signed(call(board, s.EXT_HSM, 0, 0)[0]) == s.SBI_ERR_ALREADY_AVAILABLE


@pytest.mark.parametrize("reset_type, reason, kind, status", [
    (0, 0, ExitKind.POWEROFF, 0), (0, 1, ExitKind.FAIL, 1), (1, 0, ExitKind.REBOOT, None),
    (2, 0, ExitKind.REBOOT, None)])
def test_system_reset(reset_type, reason, kind, status):
    board = make_board()[0]
    call(board, s.EXT_SRST, 0, reset_type, reason)
    assert board.exit_request.kind == kind
    if status is not None:
        assert board.exit_request.status == status


def test_debug_console_write_and_read():
    board, output = make_board(console=b"typed")
    board.uart.write(2, 1, 1)                                     # FCR: FIFOs on
    board.cpu.write_phys(0x8100_0000, b"from memory")
    assert call(board, s.EXT_DBCN, 0, 11, 0x8100_0000, 0) == (0, 11)
    assert call(board, s.EXT_DBCN, 2, ord("!")) == (0, 0)
    assert b"".join(output) == b"from memory!"
    board.uart.receive(board.inputs.console_bytes(0, 16))
    assert call(board, s.EXT_DBCN, 1, 3, 0x8100_0100, 0) == (0, 3)
    assert board.cpu.read_phys(0x8100_0100, 3) == b"typ"
    assert signed(call(board, s.EXT_DBCN, 0, 4, 0x1_0000_0000_0000, 0)[0]) == s.SBI_ERR_INVALID_PARAM


def test_legacy_console():
    board, output = make_board()
    call(board, s.LEGACY_PUTCHAR, 0, ord("A"))
    assert output == [b"A"]
    assert signed(call(board, s.LEGACY_GETCHAR)[0]) == -1         # nothing typed
    board.uart.receive(b"z")
    assert call(board, s.LEGACY_GETCHAR)[0] == ord("z")
    call(board, s.LEGACY_SHUTDOWN)
    assert board.exit_request.kind == ExitKind.POWEROFF


def test_debug_console_write_of_gigabytes_moves_a_bounded_piece():
    """A guest asking DBCN to write 4 GiB gets SBI_DBCN_MAX_BYTES written and told so; the
    host never allocates what the guest asked for."""
    board, output = make_board()
    board.cpu.write_phys(0x8100_0000, b"x" * s.SBI_DBCN_MAX_BYTES)
    assert call(board, s.EXT_DBCN, 0, 1 << 32, 0x8100_0000, 0) == (0, s.SBI_DBCN_MAX_BYTES)
    assert b"".join(output) == b"x" * s.SBI_DBCN_MAX_BYTES
    assert call(board, s.EXT_DBCN, 1, (1 << 64) - 1, 0x8100_0100, 0) == (0, 0)   # nothing typed
