"""virtio-rng (device id 4, virtio 1.x section 5.4): entropy for the guest.

One request queue of device-writable buffers. Each buffer is filled, inside
the guest's QueueNotify write, with bytes from ``entropy(n)``, asked once per
buffer for at most ``VIRTIO_RNG_MAX_REQUEST`` bytes (a device may fill less
than offered; the used length says how much). The board's ``entropy`` goes
through ``InputSource.entropy`` with the instruction count, so every random
byte the guest sees is logged and replayed. No configuration space, no
device-specific features.
"""

from __future__ import annotations

from typing import Callable

from rr.monitor.constants import (
    VIRTIO_ID_RNG, VIRTIO_RNG_MAX_REQUEST, VIRTIO_RNG_QUEUE_SIZE, VIRTIO_STRIDE,
)
from rr.monitor.devices.device import IrqLine
from rr.monitor.devices.virtio_mmio import VirtioMmioDevice
from rr.monitor.devices.virtio_queue import DescriptorChain, GuestMemoryAccess


class VirtioRng(VirtioMmioDevice):
    """An entropy source in virtio-mmio slot ``index``."""

    name = "virtio_rng"
    device_id = VIRTIO_ID_RNG
    queue_sizes = (VIRTIO_RNG_QUEUE_SIZE,)

    def __init__(self, base: int, index: int, irq: IrqLine, memory: GuestMemoryAccess,
                 entropy: Callable[[int], bytes], max_request: int = VIRTIO_RNG_MAX_REQUEST,
                 size: int = VIRTIO_STRIDE) -> None:
        self._entropy = entropy
        self.max_request = max_request
        super().__init__(base, index, irq, memory, size)

    def handle_chain(self, queue: int, chain: DescriptorChain) -> None:
        wanted = min(chain.writable_len, self.max_request)
        if wanted <= 0:
            return           # nothing to fill: completed with length 0
        data = bytes(self._entropy(wanted))[:wanted]
        chain.write(0, data)
