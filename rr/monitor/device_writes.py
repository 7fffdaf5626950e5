"""Guest RAM written by devices (DMA), told to whoever watches memory.

A virtio device fills guest buffers through ``RamDma``, which writes the
host buffer behind guest RAM directly: no instruction makes that store, so
unicorn's memory hooks never see it (docs/watchpoints.md, "Device DMA").
Each DMA write is announced here first, with the device that makes it, so a
watchpoint's collector can report it as that device's write. Announcing
changes nothing in the run: listeners only note.
"""

from __future__ import annotations

from typing import Callable

# (device, physical address, bytes about to be written): called before the write,
# so the listener can still read what the bytes held.
DmaListener = Callable[[str, int, bytes], None]


class DeviceWrites:
    """The board's announcer of DMA writes into guest RAM."""

    def __init__(self) -> None:
        self._listeners: list[DmaListener] = []

    def listen(self, listener: DmaListener) -> None:
        self._listeners.append(listener)

    def unlisten(self, listener: DmaListener) -> None:
        self._listeners.remove(listener)

    def announcer(self, device: str) -> Callable[[int, bytes], None]:
        """What a ``RamDma`` serving ``device`` calls before each write."""
        def announce(paddr: int, data: bytes) -> None:
            for listener in self._listeners:
                listener(device, paddr, data)
        return announce
