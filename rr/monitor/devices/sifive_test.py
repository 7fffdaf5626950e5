"""The ``sifive,test0`` finisher: how guests on QEMU virt power off, reboot or report failure.

Linux reaches it through the syscon-poweroff / syscon-reboot nodes of the
device tree, bare-metal tests write it directly. Like QEMU, only the low 16
bits select the action and, for a failure, the next 16 bits are the exit code.
The device only reports the request; what "exit" means is the board's call.
"""

from __future__ import annotations

from typing import Callable

from rr.monitor.constants import (
    SIFIVE_TEST_CODE_SHIFT, SIFIVE_TEST_FAIL, SIFIVE_TEST_FINISHER, SIFIVE_TEST_PASS,
    SIFIVE_TEST_RESET, SIFIVE_TEST_SIZE, SIFIVE_TEST_STATUS_MASK,
)
from rr.monitor.devices.device import MmioDevice

_REGISTER_MASK = 0xFFFF_FFFF


class SifiveTest(MmioDevice):
    """Calls ``on_exit(kind, code)`` with kind "poweroff", "reboot" or "fail"."""

    name = "sifive_test"

    def __init__(self, base: int, on_exit: Callable[[str, int], None],
                 size: int = SIFIVE_TEST_SIZE) -> None:
        super().__init__(base, size)
        self._on_exit = on_exit

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset != SIFIVE_TEST_FINISHER:
            return
        value &= _REGISTER_MASK
        status = value & SIFIVE_TEST_STATUS_MASK
        if status == SIFIVE_TEST_PASS:
            self._on_exit("poweroff", 0)
        elif status == SIFIVE_TEST_RESET:
            self._on_exit("reboot", 0)
        elif status == SIFIVE_TEST_FAIL:
            self._on_exit("fail", value >> SIFIVE_TEST_CODE_SHIFT)
