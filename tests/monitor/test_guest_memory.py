"""Debugger access to guest memory: as far as it is readable, and writes all or nothing."""

from __future__ import annotations

import pytest

from rr.monitor import mmu
from rr.monitor.constants import PAGE_SIZE, RAM_BASE

from board_fixture import make_board


def test_read_prefix_stops_at_the_first_unreadable_page():
    board, _ = make_board()
    memory = board.memory
    ram_end = RAM_BASE + board.ram.size
    memory.write(ram_end - 8, b"12345678")
    data, fault = memory.read_prefix(ram_end - 8, 24)
    assert data == b"12345678"
    assert fault is not None and "not RAM" in fault.reason
    data, fault = memory.read_prefix(RAM_BASE + PAGE_SIZE - 4, 8)   # across a page, all RAM
    assert len(data) == 8 and fault is None
    assert data == memory.read(RAM_BASE + PAGE_SIZE - 4, 8)
    data, fault = memory.read_prefix(0x1000_0000, 4)                # the UART: nothing read
    assert data == b"" and fault is not None


def test_a_write_that_cannot_complete_changes_nothing():
    board, _ = make_board()
    memory = board.memory
    ram_end = RAM_BASE + board.ram.size
    memory.write(ram_end - PAGE_SIZE, b"\xaa" * PAGE_SIZE)
    with pytest.raises(mmu.PageFault, match="not RAM"):
        memory.write(ram_end - 4, b"\x55" * 8)                    # its second page is no RAM
    assert memory.read(ram_end - PAGE_SIZE, PAGE_SIZE) == b"\xaa" * PAGE_SIZE
    memory.write(ram_end - 4, b"\x55" * 4)
    assert memory.read(ram_end - 8, 8) == b"\xaa" * 4 + b"\x55" * 4
