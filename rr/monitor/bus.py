"""Routing of MMIO windows in unicorn to the board's device objects.

Unicorn calls back on every access inside a mapped window; the bus forwards
to whichever device object currently occupies the window, so a board reset
can replace devices without remapping.
"""

from __future__ import annotations

from rr.monitor.constants import PAGE_SIZE
from rr.monitor.cpu import Cpu
from rr.monitor.devices.device import MmioDevice


class _Window:
    """One mapped window; tells the hart while a device runs (``Cpu.in_mmio``)."""

    def __init__(self, device: MmioDevice, cpu: Cpu) -> None:
        self.device = device
        self.cpu = cpu

    def read(self, _uc, offset: int, size: int, _user) -> int:
        cpu = self.cpu
        cpu.in_mmio = True
        try:
            return self.device.read(offset, size)
        finally:
            cpu.in_mmio = False

    def write(self, _uc, offset: int, size: int, value: int, _user) -> None:
        cpu = self.cpu
        cpu.in_mmio = True
        try:
            self.device.write(offset, size, value)
        finally:
            cpu.in_mmio = False


class MmioBus:
    def __init__(self, cpu: Cpu) -> None:
        self.cpu = cpu
        self._windows: dict[int, _Window] = {}

    def attach(self, device: MmioDevice) -> None:
        """Map ``device`` at its base, or put it in place of the one already there."""
        window = self._windows.get(device.base)
        if window is not None:
            window.device = device
            return
        window = _Window(device, self.cpu)
        size = (device.size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        self.cpu.uc.mmio_map(device.base, size, window.read, None, window.write, None)
        self._windows[device.base] = window

    @property
    def devices(self) -> list[MmioDevice]:
        return [w.device for w in self._windows.values()]
