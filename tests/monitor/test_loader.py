"""Where the board puts the guest, its initrd and the device tree."""

from __future__ import annotations

import fdt
import pytest

from rr.errors import ImageError
from rr.monitor.board import Board, BootPayload
from rr.monitor.board_config import BoardConfig
from rr.monitor.loader import parse_image

from board_fixture import SPIN, ScriptedInputs


def chosen_u64(tree: fdt.FDT, name: str) -> int:
    high, low = tree.get_property(name, "/chosen").data
    return (high << 32) | low


def test_initrd_lands_where_the_device_tree_says():
    initrd = bytes(range(256)) * 64
    board = Board(BoardConfig(bootargs="console=ttyS0"),
                  BootPayload(parse_image("k", SPIN), initrd=initrd), ScriptedInputs(), print)
    a1 = board.cpu.x(11)
    assert a1 == board.dtb_addr and a1 % (2 << 20) == 0
    tree = fdt.parse_dtb(board.cpu.read_phys(a1, len(board.dtb)))
    start, end = chosen_u64(tree, "linux,initrd-start"), chosen_u64(tree, "linux,initrd-end")
    assert end - start == len(initrd)
    assert board.cpu.read_phys(start, len(initrd)) == initrd
    assert tree.get_property("bootargs", "/chosen").value == "console=ttyS0"
    assert board.cpu.pc == 0x8020_0000 and board.cpu.x(10) == 0


def test_initrd_too_large_for_ram_is_refused():
    with pytest.raises(ImageError, match="initrd .* does not fit"):
        Board(BoardConfig(ram_size=16 << 20),
              BootPayload(parse_image("k", SPIN), initrd=bytes(15 << 20)), ScriptedInputs(), print)


def test_given_dtb_replaces_the_generated_one():
    blob = fdt.FDT().to_dtb(version=17)
    board = Board(BoardConfig(), BootPayload(parse_image("k", SPIN), dtb=blob),
                  ScriptedInputs(), print)
    assert board.cpu.read_phys(board.cpu.x(11), len(blob)) == blob


def test_debugger_reads_never_touch_device_registers():
    from rr.monitor import mmu
    board = Board(BoardConfig(), BootPayload(parse_image("k", SPIN)), ScriptedInputs(), print)
    board.uart.write(2, 1, 1)                      # FIFOs on
    board.uart.receive(b"typed")
    with pytest.raises(mmu.PageFault, match="not RAM"):
        board.memory.read(0x1000_0000, 1)          # the UART's receive register
    assert board.uart.rx_space() == 16 - 5         # nothing was popped
    assert board.memory.read(0x8020_0000, 4) == SPIN
