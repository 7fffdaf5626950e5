"""Routing of MMIO windows in unicorn to the board's device objects.

Unicorn calls back on every access inside a mapped window; the bus forwards
to whichever device object currently occupies the window, so a board reset
can replace devices without remapping.
"""

from __future__ import annotations

from rr.monitor.constants import PAGE_SIZE
from rr.monitor.cpu import Cpu
from rr.monitor.devices.device import MmioDevice
from rr.monitor.hart_engine import HartEngine


class _Window:
    """One mapped window; tells the hart that runs while a device runs (``Cpu.in_mmio``).

    An exception cannot cross unicorn's C callback (Python prints "Exception
    ignored" and the load gets a garbage value), so one raised by a device is
    kept on the bus, the hart is stopped before the access completes, and the
    run loop raises it (``MmioBus.take_fault``)."""

    def __init__(self, bus: "MmioBus", device: MmioDevice, hart_engine: HartEngine) -> None:
        self.bus = bus
        self.device = device
        self.hart_engine = hart_engine

    def read(self, _uc, offset: int, size: int, _user) -> int:
        cpu = self.hart_engine.loaded
        cpu.in_mmio = True
        try:
            return self.device.read(offset, size)
        except Exception as exc:  # noqa: BLE001 - re-raised by the run loop
            self.bus.stop_with(exc, cpu)
            return 0
        finally:
            cpu.in_mmio = False

    def write(self, _uc, offset: int, size: int, value: int, _user) -> None:
        cpu = self.hart_engine.loaded
        cpu.in_mmio = True
        try:
            self.device.write(offset, size, value)
        except Exception as exc:  # noqa: BLE001 - re-raised by the run loop
            self.bus.stop_with(exc, cpu)
        finally:
            cpu.in_mmio = False


class MmioBus:
    """The windows of every device, mapped into the harts' engine."""

    def __init__(self, hart_engine: HartEngine) -> None:
        self.hart_engine = hart_engine
        self._windows: dict[int, _Window] = {}
        self._fault: tuple[Exception, int] | None = None

    def stop_with(self, fault: Exception, cpu: Cpu) -> None:
        """From a device callback: stop the hart at this access and report ``fault``."""
        if self._fault is None:
            self._fault = (fault, cpu.icount_in_hook())
        cpu.stop()

    def take_fault(self) -> tuple[Exception, int] | None:
        """The exception a device raised during the last run, and the instruction count of
        the access, once. That instruction did not complete (unicorn re-executes an access
        stopped in its callback), though unicorn's counter has counted it."""
        fault, self._fault = self._fault, None
        return fault

    def attach(self, device: MmioDevice) -> None:
        """Map ``device`` at its base, or put it in place of the one already there."""
        window = self._windows.get(device.base)
        if window is not None:
            window.device = device
            return
        size = (device.size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        window = self._windows[device.base] = _Window(self, device, self.hart_engine)
        self.hart_engine.uc.mmio_map(device.base, size, window.read, None, window.write, None)

    @property
    def devices(self) -> list[MmioDevice]:
        return [window.device for window in self._windows.values()]
