"""Goldfish RTC (``google,goldfish-rtc``), the wall clock of QEMU virt.

The wall time is a nondeterministic input that the board logs, so the device
asks for it through ``wall_time_ns`` exactly once per guest read of
TIME_LOW (which latches the high half for TIME_HIGH, making the 64-bit read
atomic) and once per guest write of TIME_LOW or TIME_HIGH (setting the clock,
as on QEMU, stores the difference to the current time as an offset). It never
asks anywhere else: alarms are checked against the time the board passes to
``check_alarm`` at epoch boundaries, which is also when interrupt raises may
take effect (docs/unicorn-facts.md, "Interrupt timing"), so an alarm set in the past fires
at the next check instead of inside the MMIO write.

All times are nanoseconds. ``now_ns`` given to ``check_alarm`` must be on the
same base as ``wall_time_ns()``; the guest-set offset is applied here.
"""

from __future__ import annotations

from typing import Any, Callable

from rr.monitor.constants import (
    RTC_ALARM_HIGH, RTC_ALARM_LOW, RTC_ALARM_STATUS, RTC_CLEAR_ALARM, RTC_CLEAR_INTERRUPT,
    RTC_IRQ_ENABLED, RTC_SIZE, RTC_TIME_HIGH, RTC_TIME_LOW,
)
from rr.monitor.devices.device import IrqLine, MmioDevice

_MASK32 = 0xFFFF_FFFF
_MASK64 = 0xFFFF_FFFF_FFFF_FFFF


def _signed64(value: int) -> int:
    """Keep the offset in int64 range (guest time wraps at 2**64, as QEMU's uint64)."""
    value &= _MASK64
    return value - (1 << 64) if value >> 63 else value


def _with_low(value: int, low: int) -> int:
    return (value & ~_MASK32 & _MASK64) | (low & _MASK32)


def _with_high(value: int, high: int) -> int:
    return ((high & _MASK32) << 32) | (value & _MASK32)


class GoldfishRtc(MmioDevice):
    """Goldfish RTC; the interrupt is ``irq_pending and irq_enabled`` as on QEMU."""

    name = "goldfish_rtc"

    def __init__(self, base: int, irq: IrqLine, wall_time_ns: Callable[[], int],
                 size: int = RTC_SIZE) -> None:
        super().__init__(base, size)
        self._irq = irq
        self._wall_time_ns = wall_time_ns
        self.tick_offset = 0         # guest time minus wall_time_ns(), set by time writes
        self.time_high = 0           # high half latched by the last TIME_LOW read
        self.alarm_next = 0
        self.alarm_running = False
        self.irq_pending = False
        self.irq_enabled = False
        self._irq_level = False

    # ------------------------------------------------------------------ board API

    def check_alarm(self, now_ns: int) -> bool:
        """Fire the alarm if it is armed and due at ``now_ns``; True when it fired."""
        if not self.alarm_running or self.alarm_next > self._guest_time(now_ns):
            return False
        self.alarm_running = False
        self.irq_pending = True
        self._update_irq()
        return True

    def alarm_deadline_ns(self) -> int | None:
        """When the armed alarm is due, on the ``wall_time_ns`` base; None when disarmed.

        Lets the board wake an idle guest (wfi fast-forward) in time.
        """
        if not self.alarm_running:
            return None
        return self.alarm_next - self.tick_offset

    @property
    def irq_level(self) -> bool:
        return self._irq_level

    # ------------------------------------------------------------------ MMIO

    def read(self, offset: int, size: int) -> int:
        if offset == RTC_TIME_LOW:
            now = self._guest_time(self._wall_time_ns())
            self.time_high = now >> 32
            return now & _MASK32
        if offset == RTC_TIME_HIGH:
            return self.time_high
        if offset == RTC_ALARM_LOW:
            return self.alarm_next & _MASK32
        if offset == RTC_ALARM_HIGH:
            return self.alarm_next >> 32
        if offset == RTC_IRQ_ENABLED:
            return int(self.irq_enabled)
        if offset == RTC_ALARM_STATUS:
            return int(self.alarm_running)
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        value &= _MASK32
        if offset == RTC_TIME_LOW:
            self._set_time(lambda now: _with_low(now, value))
        elif offset == RTC_TIME_HIGH:
            self._set_time(lambda now: _with_high(now, value))
        elif offset == RTC_ALARM_LOW:
            # Writing the low half arms the alarm (the driver writes HIGH first).
            self.alarm_next = _with_low(self.alarm_next, value)
            self.alarm_running = True
        elif offset == RTC_ALARM_HIGH:
            self.alarm_next = _with_high(self.alarm_next, value)
        elif offset == RTC_IRQ_ENABLED:
            self.irq_enabled = bool(value & 1)
            self._update_irq()
        elif offset == RTC_CLEAR_ALARM:
            self.alarm_running = False
        elif offset == RTC_CLEAR_INTERRUPT:
            self.irq_pending = False
            self._update_irq()

    # ------------------------------------------------------------------ helpers

    def _guest_time(self, wall_ns: int) -> int:
        return (wall_ns + self.tick_offset) & _MASK64

    def _set_time(self, replace: Callable[[int], int]) -> None:
        """Set one half of the guest clock: one wall-clock read, kept as an offset."""
        current = self._guest_time(self._wall_time_ns())
        self.tick_offset = _signed64(self.tick_offset + replace(current) - current)

    def _update_irq(self) -> None:
        level = self.irq_pending and self.irq_enabled
        if level != self._irq_level:
            self._irq_level = level
            self._irq.set_level(level)

    # ------------------------------------------------------------------ snapshots

    def get_state(self) -> dict[str, Any]:
        return {
            "tick_offset": self.tick_offset, "time_high": self.time_high,
            "alarm_next": self.alarm_next, "alarm_running": self.alarm_running,
            "irq_pending": self.irq_pending, "irq_enabled": self.irq_enabled,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore; the line level is recomputed without driving it (the PLIC restores its own)."""
        self.tick_offset = state["tick_offset"]
        self.time_high = state["time_high"]
        self.alarm_next = state["alarm_next"]
        self.alarm_running = state["alarm_running"]
        self.irq_pending = state["irq_pending"]
        self.irq_enabled = state["irq_enabled"]
        self._irq_level = self.irq_pending and self.irq_enabled
