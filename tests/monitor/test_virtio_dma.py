"""virtio-blk on a real board: a guest store to QueueNotify fills RAM, and stale code goes.

unicorn 2.1.4 keeps translated blocks of RAM mapped by pointer even when the
bytes change behind it, and ``ctl_remove_cache`` translates its address with
the guest's MMU. This runs a guest in S-mode with Sv39 paging (RAM mapped at
a virtual address different from its physical one), has it execute a
function, read new code for it from the disk with one store, and call it
again: the second call must run the code from the disk.
"""

from __future__ import annotations

import struct

from rr.monitor.constants import (
    PRIV_S, PTE_A, PTE_D, PTE_R, PTE_V, PTE_W, PTE_X, RAM_BASE, SATP_MODE_SHIFT, SATP_MODE_SV39,
    VIRTIO_BASE, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN, VIRTIO_IRQ_BASE, VIRTIO_STRIDE,
    VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
)
from rr.monitor.devices.virtio_blk import VirtioBlk
from rr.monitor.devices.virtio_queue import RamDma, unicorn_code_invalidator
from rr.monitor.disk_image import DiskImage
from rr.monitor.run_loop import RunLoop

from board_fixture import make_board
from test_virtio_driver import BUFFER_AREA, DESC_AREA, FakeDriver

SLOT = 7
VA_OFFSET = 0x4000_0000            # RAM appears at PA - 0x40000000
ENTRY = 0x8020_0000
TARGET = ENTRY + 0x1000            # the function the disk overwrites
PAGE_TABLE = 0x8040_0000


def jal_ra(offset: int) -> int:
    imm = offset & 0x1F_FFFF
    return (((imm >> 20) & 1) << 31 | ((imm >> 1) & 0x3FF) << 21 | ((imm >> 11) & 1) << 20
            | ((imm >> 12) & 0xFF) << 12 | 1 << 7 | 0x6F)


def addi_a0(imm: int) -> int:
    return (imm & 0xFFF) << 20 | 10 << 15 | 10 << 7 | 0x13


RET = 0x0000_8067                  # jalr x0, 0(ra)
SW_ZERO_NOTIFY_T0 = (0x50 >> 5) << 25 | 5 << 15 | 2 << 12 | (0x50 & 0x1F) << 7 | 0x23
SPIN = 0x0000_006F


def words(*values: int) -> bytes:
    return b"".join(v.to_bytes(4, "little") for v in values)


def run_guest(tmp_path, invalidate: bool) -> int:
    main = words(jal_ra(0x1000), SW_ZERO_NOTIFY_T0, jal_ra(0x1000 - 8), SPIN)
    code = main.ljust(0x1000, b"\0") + words(addi_a0(1), RET)
    board, _ = make_board(code)
    disk_path = tmp_path / "code.img"
    disk_path.write_bytes(words(addi_a0(100), RET).ljust(4096, b"\0"))
    dma = RamDma(board.ram.map, RAM_BASE,
                 unicorn_code_invalidator(board.hart_engine) if invalidate else None)
    blk = VirtioBlk(VIRTIO_BASE + SLOT * VIRTIO_STRIDE, SLOT,
                    board.plic.source_line(VIRTIO_IRQ_BASE + SLOT), dma, DiskImage(disk_path))
    board.bus.attach(blk)                 # in place of the empty slot

    drv = FakeDriver(blk, dma, queue_size=8)
    drv.start()
    header, status = BUFFER_AREA, BUFFER_AREA + 0x100
    dma.write(header, struct.pack("<IIQ", VIRTIO_BLK_T_IN, 0, 0))
    drv.write_desc(DESC_AREA, 0, header, 16, VIRTQ_DESC_F_NEXT, 1)
    drv.write_desc(DESC_AREA, 1, TARGET, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2)
    drv.write_desc(DESC_AREA, 2, status, 1, VIRTQ_DESC_F_WRITE, 0)
    drv.publish(0)                        # the guest's store does the notify

    cpu = board.cpu
    leaf = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    cpu.write_phys(PAGE_TABLE, struct.pack("<QQ", 0 << 10 | leaf,          # VA 0 -> devices
                                           (RAM_BASE >> 12) << 10 | leaf))  # VA 1 GiB -> RAM
    cpu.set_csr("satp", SATP_MODE_SV39 << SATP_MODE_SHIFT | PAGE_TABLE >> 12)
    cpu.priv = PRIV_S
    cpu.set_x(5, VIRTIO_BASE + SLOT * VIRTIO_STRIDE)          # t0
    cpu.pc = ENTRY - VA_OFFSET
    cpu.invalidate_caches()
    RunLoop(board).run_until(12)
    assert blk.last_error is None
    assert dma.read(status, 1) == bytes([VIRTIO_BLK_S_OK])
    assert drv.used() == [(0, 513)]
    assert cpu.pc == ENTRY - VA_OFFSET + 12 and cpu.priv == PRIV_S
    return cpu.x(10)


def test_disk_read_replaces_translated_code(tmp_path):
    assert run_guest(tmp_path, invalidate=True) == 1 + 100


def test_without_invalidation_unicorn_runs_stale_code(tmp_path):
    """The fact the invalidator exists for (unicorn 2.1.4)."""
    assert run_guest(tmp_path, invalidate=False) == 1 + 1
