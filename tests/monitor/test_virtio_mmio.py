"""Empty virtio-mmio slots: identification registers only."""

from __future__ import annotations

from rr.monitor.constants import VIRTIO_BASE, VIRTIO_COUNT, VIRTIO_STRIDE
from rr.monitor.devices.virtio_mmio import VirtioMmioSlot


def test_identification_registers():
    slot = VirtioMmioSlot(VIRTIO_BASE, 0)
    assert slot.read(0x000, 4) == 0x74726976
    assert slot.read(0x004, 4) == 2
    assert slot.read(0x008, 4) == 0
    assert slot.read(0x00C, 4) == 0x554D4551


def test_everything_else_reads_zero_and_ignores_writes():
    slot = VirtioMmioSlot(VIRTIO_BASE, 0)
    for off in (0x010, 0x034, 0x070, 0x0FC, 0x100, 0x1FC):
        slot.write(off, 4, 0xFFFF_FFFF)
        assert slot.read(off, 4) == 0
    slot.write(0x000, 4, 0)
    assert slot.read(0x000, 4) == 0x74726976
    assert slot.read(0x000, 1) == 0           # registers are 32-bit only
    assert slot.get_state() == {}


def test_slot_placement():
    slots = [VirtioMmioSlot.at_index(n) for n in range(VIRTIO_COUNT)]
    assert [s.base for s in slots] == [VIRTIO_BASE + n * VIRTIO_STRIDE for n in range(VIRTIO_COUNT)]
    assert [s.irq_source for s in slots] == list(range(1, 9))
    assert all(s.size == VIRTIO_STRIDE for s in slots)


class _FakeRng(VirtioMmioSlot):
    """How a later device plugs in: device id plus register and config hooks."""

    device_id = 4

    def __init__(self, base: int, index: int) -> None:
        super().__init__(base, index)
        self.status = 0

    def read_register(self, offset: int) -> int:
        return self.status if offset == 0x070 else 0

    def write_register(self, offset: int, value: int) -> None:
        if offset == 0x070:
            self.status = value

    def read_config(self, offset: int, size: int) -> int:
        return 0xAB if offset == 0 else 0


def test_subclass_hooks():
    dev = _FakeRng(VIRTIO_BASE, 0)
    assert dev.read(0x008, 4) == 4
    assert dev.read(0x000, 4) == 0x74726976       # header stays with the transport
    dev.write(0x070, 4, 0x0F)
    assert dev.read(0x070, 4) == 0x0F
    assert dev.read(0x100, 1) == 0xAB
