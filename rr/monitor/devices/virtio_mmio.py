"""virtio-mmio transport slots (``virtio,mmio``), eight of them as on QEMU virt.

An empty slot (``VirtioMmioSlot``) answers the identification registers with
DeviceID 0, which Linux and U-Boot take as "nothing here" and skip.
Everything else reads 0 and ignores writes.

``VirtioMmioDevice`` is the modern (version 2) transport of the virtio 1.x
specification, section 4.2.2, for a real device in a slot: feature
negotiation (VIRTIO_F_VERSION_1 always offered, required at FEATURES_OK),
queue registers, interrupt status and acknowledge, the status register with
reset on 0, and the device configuration space at 0x100. A device subclass
sets ``device_id`` and ``queue_sizes`` and implements ``device_features``,
``config_space``, ``handle_chain`` and optionally ``device_reset`` and
``device_state`` / ``set_device_state``.

Determinism (docs/unicorn-facts.md, "Interrupt timing"): buffers are completed
synchronously inside the QueueNotify write (and when DRIVER_OK is set), the
used ring is written at once, and the interrupt line is driven with
``IrqLine.set_level``, which the board applies only at the next epoch
boundary. InterruptACK lowers the line when no status bit remains.

Robustness: a malformed queue sets DEVICE_NEEDS_RESET (with a configuration
change interrupt, as QEMU does) and the device then ignores notifications
until the driver writes 0 to Status. No exception ever leaves ``read`` or
``write``: an unexpected one is treated the same way and kept in
``last_error`` for diagnosis.
"""

from __future__ import annotations

from typing import Any

from rr.errors import InputStop

from rr.monitor.constants import (
    VIRTIO_BASE, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_FEATURE_WORDS,
    VIRTIO_ID_NONE, VIRTIO_IRQ_BASE, VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_CONFIG_GENERATION,
    VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DEVICE_ID,
    VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_INT_CONFIG,
    VIRTIO_MMIO_INT_VRING, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INTERRUPT_STATUS,
    VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_QUEUE_DESC_HIGH,
    VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, VIRTIO_MMIO_QUEUE_DEVICE_LOW,
    VIRTIO_MMIO_QUEUE_DRIVER_HIGH, VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_NOTIFY,
    VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_QUEUE_READY,
    VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_SHM_BASE_HIGH, VIRTIO_MMIO_SHM_BASE_LOW,
    VIRTIO_MMIO_SHM_LEN_HIGH, VIRTIO_MMIO_SHM_LEN_LOW, VIRTIO_MMIO_STATUS,
    VIRTIO_MMIO_VENDOR_ID, VIRTIO_MMIO_VENDOR_QEMU, VIRTIO_MMIO_VERSION,
    VIRTIO_MMIO_VERSION_MODERN, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_STATUS_DRIVER_OK,
    VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_MASK, VIRTIO_STRIDE,
)
from rr.monitor.devices.device import IrqLine, MmioDevice
from rr.monitor.devices.virtio_queue import (
    DescriptorChain, GuestMemoryAccess, Virtqueue, VirtqueueError,
)

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


_MASK32 = 0xFFFF_FFFF
_NO_SHM = 0xFFFF_FFFF        # ShmLen/ShmBase of a region that does not exist: all ones
# Address registers of a queue: offset -> (attribute, shift of the 32-bit half).
_QUEUE_ADDRESS_REGISTERS = {
    VIRTIO_MMIO_QUEUE_DESC_LOW: ("desc_addr", 0), VIRTIO_MMIO_QUEUE_DESC_HIGH: ("desc_addr", 32),
    VIRTIO_MMIO_QUEUE_DRIVER_LOW: ("driver_addr", 0),
    VIRTIO_MMIO_QUEUE_DRIVER_HIGH: ("driver_addr", 32),
    VIRTIO_MMIO_QUEUE_DEVICE_LOW: ("device_addr", 0),
    VIRTIO_MMIO_QUEUE_DEVICE_HIGH: ("device_addr", 32),
}


class VirtioMmioDevice(VirtioMmioSlot):
    """The modern virtio-mmio transport with a device behind it.

    ``irq`` is the slot's PLIC source line (``plic.source_line(slot.irq_source)``);
    ``memory`` is guest-physical memory for the virtqueues (see
    ``virtio_queue.RamDma``).
    """

    name = "virtio_device"
    # QueueNumMax of each virtqueue the device has, in queue-index order.
    queue_sizes: tuple[int, ...] = ()
    # Offer VIRTIO_F_INDIRECT_DESC (the queue code supports it).
    offers_indirect = True

    def __init__(self, base: int, index: int, irq: IrqLine, memory: GuestMemoryAccess,
                 size: int = VIRTIO_STRIDE) -> None:
        super().__init__(base, index, size)
        self._irq = irq
        self.memory = memory
        self.queues = [Virtqueue(n) for n in self.queue_sizes]
        self.last_error: str | None = None    # why the device last asked for a reset
        self._irq_level = False
        self._reset_transport()

    # ------------------------------------------------------------------ device hooks

    def device_features(self) -> int:
        """Device-specific feature bits (the transport adds VERSION_1 and INDIRECT_DESC)."""
        return 0

    def config_space(self) -> bytes:
        """The device configuration structure, little-endian, read at 0x100."""
        return b""

    def handle_chain(self, queue: int, chain: DescriptorChain) -> None:
        """Serve one available buffer of ``queue``; raise VirtqueueError if it is malformed."""

    def device_reset(self) -> None:
        """Return device-specific state to its initial value (Status written 0)."""

    def device_state(self) -> dict[str, Any]:
        return {}

    def set_device_state(self, state: dict[str, Any]) -> None:
        pass

    # ------------------------------------------------------------------ features

    def offered_features(self) -> int:
        features = self.device_features() | (1 << VIRTIO_F_VERSION_1)
        if self.offers_indirect:
            features |= 1 << VIRTIO_F_INDIRECT_DESC
        return features

    def negotiated(self, bit: int) -> bool:
        """Did the driver accept feature ``bit`` (meaningful once FEATURES_OK is set)?"""
        return bool(self.driver_features >> bit & 1)

    # ------------------------------------------------------------------ MMIO

    def read(self, offset: int, size: int) -> int:
        try:
            return super().read(offset, size)
        except InputStop:
            raise                 # not the device's failure: the bus stops the run
        except Exception as exc:  # noqa: BLE001 - nothing else may escape an MMIO callback
            self._fail(f"{type(exc).__name__} reading {offset:#x}: {exc}")
            return 0

    def write(self, offset: int, size: int, value: int) -> None:
        try:
            super().write(offset, size, value)
        except InputStop:
            raise                 # not the device's failure: the bus stops the run
        except Exception as exc:  # noqa: BLE001 - nothing else may escape an MMIO callback
            self._fail(f"{type(exc).__name__} writing {offset:#x}: {exc}")

    def read_register(self, offset: int) -> int:
        queue = self._selected_queue()
        if offset == VIRTIO_MMIO_DEVICE_FEATURES:
            if self.device_features_sel >= VIRTIO_FEATURE_WORDS:
                return 0
            return self.offered_features() >> (32 * self.device_features_sel) & _MASK32
        if offset == VIRTIO_MMIO_QUEUE_NUM_MAX:
            return queue.max_size if queue is not None else 0
        if offset == VIRTIO_MMIO_QUEUE_READY:
            return int(queue.ready) if queue is not None else 0
        if offset == VIRTIO_MMIO_INTERRUPT_STATUS:
            return self.interrupt_status
        if offset == VIRTIO_MMIO_STATUS:
            return self.status
        if offset == VIRTIO_MMIO_CONFIG_GENERATION:
            return self.config_generation
        if offset in _QUEUE_ADDRESS_REGISTERS:
            if queue is None:
                return 0
            attr, shift = _QUEUE_ADDRESS_REGISTERS[offset]
            return getattr(queue, attr) >> shift & _MASK32
        if offset in (VIRTIO_MMIO_SHM_LEN_LOW, VIRTIO_MMIO_SHM_LEN_HIGH,
                      VIRTIO_MMIO_SHM_BASE_LOW, VIRTIO_MMIO_SHM_BASE_HIGH):
            return _NO_SHM
        return 0   # write-only and reserved registers

    def write_register(self, offset: int, value: int) -> None:
        queue = self._selected_queue()
        if offset == VIRTIO_MMIO_DEVICE_FEATURES_SEL:
            self.device_features_sel = value
        elif offset == VIRTIO_MMIO_DRIVER_FEATURES:
            self._write_driver_features(value)
        elif offset == VIRTIO_MMIO_DRIVER_FEATURES_SEL:
            self.driver_features_sel = value
        elif offset == VIRTIO_MMIO_QUEUE_SEL:
            self.queue_sel = value
        elif offset == VIRTIO_MMIO_QUEUE_NUM:
            if queue is not None:
                queue.num = value
        elif offset == VIRTIO_MMIO_QUEUE_READY:
            if queue is not None:
                self._write_queue_ready(queue, bool(value & 1))
        elif offset == VIRTIO_MMIO_QUEUE_NOTIFY:
            self._notify(value & 0xFFFF)
        elif offset == VIRTIO_MMIO_INTERRUPT_ACK:
            self.interrupt_status &= ~value
            self._update_irq()
        elif offset == VIRTIO_MMIO_STATUS:
            self._write_status(value & VIRTIO_STATUS_MASK)
        elif offset in _QUEUE_ADDRESS_REGISTERS:
            if queue is not None:
                attr, shift = _QUEUE_ADDRESS_REGISTERS[offset]
                old = getattr(queue, attr)
                setattr(queue, attr, (old & ~(_MASK32 << shift)) | (value << shift))

    def read_config(self, offset: int, size: int) -> int:
        data = self.config_space()[offset:offset + size]
        return int.from_bytes(data, "little")

    # ------------------------------------------------------------------ transport logic

    def _selected_queue(self) -> Virtqueue | None:
        return self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None

    def _write_driver_features(self, value: int) -> None:
        if self.status & VIRTIO_STATUS_FEATURES_OK:
            return   # features are fixed once accepted (3.1.1)
        sel = self.driver_features_sel
        if sel < VIRTIO_FEATURE_WORDS:
            shift = 32 * sel
            self.driver_features = (self.driver_features & ~(_MASK32 << shift)) | (value << shift)

    def _write_queue_ready(self, queue: Virtqueue, ready: bool) -> None:
        if ready and not queue.ready:
            try:
                queue.validate()
            except VirtqueueError as exc:
                self._fail(str(exc))
                return
        queue.set_ready(ready)

    def _write_status(self, value: int) -> None:
        if value == 0:
            self._reset()
            return
        old = self.status
        new = (value & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
        if new & VIRTIO_STATUS_FEATURES_OK and not old & VIRTIO_STATUS_FEATURES_OK \
                and not self._features_acceptable():
            new &= ~VIRTIO_STATUS_FEATURES_OK
        self.status = new
        if new & VIRTIO_STATUS_DRIVER_OK and not old & VIRTIO_STATUS_DRIVER_OK:
            # Buffers made available before DRIVER_OK are served now.
            for number in range(len(self.queues)):
                self._notify(number)

    def _features_acceptable(self) -> bool:
        """FEATURES_OK sticks only for a subset of the offer that includes VERSION_1."""
        features = self.driver_features
        return not features & ~self.offered_features() and bool(features >> VIRTIO_F_VERSION_1 & 1)

    def _notify(self, number: int) -> None:
        """Serve queue ``number`` now, if the device is live and the queue enabled."""
        if number >= len(self.queues):
            return
        queue = self.queues[number]
        if not queue.ready or not self.status & VIRTIO_STATUS_DRIVER_OK \
                or self.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET:
            return
        before = queue.used_idx
        try:
            queue.process(self.memory, lambda chain: self.handle_chain(number, chain),
                          self.negotiated(VIRTIO_F_INDIRECT_DESC))
        except VirtqueueError as exc:
            self._fail(f"queue {number}: {exc}")
        finally:
            if queue.used_idx != before:
                self.interrupt_status |= VIRTIO_MMIO_INT_VRING
                self._update_irq()

    def _fail(self, reason: str) -> None:
        """Stop serving queues and tell the driver to reset the device (2.1.2)."""
        try:
            self.last_error = reason
            if not self.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET:
                self.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET
                self.interrupt_status |= VIRTIO_MMIO_INT_CONFIG
                self._update_irq()
        except Exception:  # noqa: BLE001 - even a broken line must not escape MMIO
            pass

    def _reset(self) -> None:
        """Status written 0: back to the power-on state, line lowered."""
        self._reset_transport()
        self.device_reset()
        self._update_irq()

    def _reset_transport(self) -> None:
        self.status = 0
        self.device_features_sel = 0
        self.driver_features = 0
        self.driver_features_sel = 0
        self.queue_sel = 0
        self.interrupt_status = 0
        self.config_generation = 0
        for queue in self.queues:
            queue.reset()

    def _update_irq(self) -> None:
        """Drive the line when, and only when, its level changes."""
        level = bool(self.interrupt_status)
        if level != self._irq_level:
            self._irq_level = level
            self._irq.set_level(level)

    @property
    def irq_level(self) -> bool:
        return self._irq_level

    # ------------------------------------------------------------------ snapshots

    def get_state(self) -> dict[str, Any]:
        return {
            "status": self.status, "device_features_sel": self.device_features_sel,
            "driver_features": self.driver_features,
            "driver_features_sel": self.driver_features_sel, "queue_sel": self.queue_sel,
            "interrupt_status": self.interrupt_status,
            "config_generation": self.config_generation,
            "queues": [queue.get_state() for queue in self.queues],
            "device": self.device_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore; the line level is recomputed without driving the line (the PLIC
        restores its own record of it from the same checkpoint)."""
        self.status = state["status"]
        self.device_features_sel = state["device_features_sel"]
        self.driver_features = state["driver_features"]
        self.driver_features_sel = state["driver_features_sel"]
        self.queue_sel = state["queue_sel"]
        self.interrupt_status = state["interrupt_status"]
        self.config_generation = state["config_generation"]
        for queue, queue_state in zip(self.queues, state["queues"]):
            queue.set_state(queue_state)
        self.set_device_state(state["device"])
        self.last_error = None
        self._irq_level = bool(self.interrupt_status)
