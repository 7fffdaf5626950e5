"""virtio-mmio transport slots (``virtio,mmio``), eight of them as on QEMU virt.

An empty slot answers the identification registers with DeviceID 0, which
Linux and U-Boot take as "nothing here" and skip. Everything else reads 0 and
ignores writes.

Extension point for real devices (block, rng): subclass ``VirtioMmioSlot``,
set ``device_id`` and override the hooks below. The identification header
(magic, version, device id, vendor id) stays here; the rest of the modern
(version 2) register set is routed, 32-bit only, to ``read_register`` /
``write_register``, and the device-specific configuration space at 0x100 to
``read_config`` / ``write_config`` with any access width. A subclass that
raises interrupts takes an ``IrqLine`` in its own constructor (the slot's PLIC
source is ``irq_source``). Virtqueues are not implemented yet.
"""

from __future__ import annotations

from typing import Any

from rr.monitor.constants import (
    VIRTIO_BASE, VIRTIO_ID_NONE, VIRTIO_IRQ_BASE, VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_DEVICE_ID,
    VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_VENDOR_ID,
    VIRTIO_MMIO_VENDOR_QEMU, VIRTIO_MMIO_VERSION, VIRTIO_MMIO_VERSION_MODERN, VIRTIO_STRIDE,
)
from rr.monitor.devices.device import MmioDevice

_REGISTER_WIDTH = 4


class VirtioMmioSlot(MmioDevice):
    """Slot ``index`` of the virtio-mmio bank; empty unless a subclass provides a device."""

    name = "virtio_mmio"
    device_id: int = VIRTIO_ID_NONE

    def __init__(self, base: int, index: int, size: int = VIRTIO_STRIDE) -> None:
        super().__init__(base, size)
        self.index = index

    @classmethod
    def at_index(cls, index: int) -> "VirtioMmioSlot":
        """The slot at QEMU virt's address for ``index``."""
        return cls(VIRTIO_BASE + index * VIRTIO_STRIDE, index)

    @property
    def irq_source(self) -> int:
        """The PLIC source this slot's interrupt uses (1 + index on virt)."""
        return VIRTIO_IRQ_BASE + self.index

    # ------------------------------------------------------------------ MMIO

    def read(self, offset: int, size: int) -> int:
        if offset >= VIRTIO_MMIO_CONFIG:
            return self.read_config(offset - VIRTIO_MMIO_CONFIG, size)
        if size != _REGISTER_WIDTH or offset & 3:
            return 0   # transport registers are 32-bit (QEMU logs and returns 0)
        header = self._header_value(offset)
        return header if header is not None else self.read_register(offset)

    def write(self, offset: int, size: int, value: int) -> None:
        if offset >= VIRTIO_MMIO_CONFIG:
            self.write_config(offset - VIRTIO_MMIO_CONFIG, size, value)
        elif size == _REGISTER_WIDTH and not offset & 3:
            self.write_register(offset, value & 0xFFFF_FFFF)

    def _header_value(self, offset: int) -> int | None:
        """The read-only identification registers every slot answers."""
        if offset == VIRTIO_MMIO_MAGIC_VALUE:
            return VIRTIO_MMIO_MAGIC
        if offset == VIRTIO_MMIO_VERSION:
            return VIRTIO_MMIO_VERSION_MODERN
        if offset == VIRTIO_MMIO_DEVICE_ID:
            return self.device_id
        if offset == VIRTIO_MMIO_VENDOR_ID:
            return VIRTIO_MMIO_VENDOR_QEMU
        return None

    # ------------------------------------------------------------------ hooks for devices

    def read_register(self, offset: int) -> int:
        """A 32-bit transport register past the header (features, queues, status...)."""
        return 0

    def write_register(self, offset: int, value: int) -> None:
        """A 32-bit transport register write past the header."""

    def read_config(self, offset: int, size: int) -> int:
        """Device-specific configuration space, ``offset`` relative to 0x100."""
        return 0

    def write_config(self, offset: int, size: int, value: int) -> None:
        """Device-specific configuration space write."""

    # ------------------------------------------------------------------ snapshots

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass
