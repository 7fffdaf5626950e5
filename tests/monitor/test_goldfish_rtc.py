"""Goldfish RTC: latching, single clock read per TIME_LOW, time setting and alarms."""

from __future__ import annotations

import pytest

from rr.monitor.constants import (
    RTC_ALARM_HIGH, RTC_ALARM_LOW, RTC_ALARM_STATUS, RTC_BASE, RTC_CLEAR_ALARM,
    RTC_CLEAR_INTERRUPT, RTC_IRQ_ENABLED, RTC_TIME_HIGH, RTC_TIME_LOW,
)
from rr.monitor.devices.goldfish_rtc import GoldfishRtc

from recording_line import Line


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.now



NOW = 0x1234_5678_9ABC_DEF0


@pytest.fixture
def rtc():
    clock = Clock(NOW)
    line = Line()
    return GoldfishRtc(RTC_BASE, line, clock), clock, line


def read_time(dev) -> int:
    low = dev.read(RTC_TIME_LOW, 4)
    return (dev.read(RTC_TIME_HIGH, 4) << 32) | low


def test_time_low_latches_high_with_one_clock_call(rtc):
    dev, clock, _ = rtc
    assert dev.read(RTC_TIME_HIGH, 4) == 0       # nothing latched yet, no clock read
    assert clock.calls == 0
    assert dev.read(RTC_TIME_LOW, 4) == NOW & 0xFFFF_FFFF
    assert clock.calls == 1
    clock.now += 1 << 32                         # the clock moves on...
    assert dev.read(RTC_TIME_HIGH, 4) == NOW >> 32   # ...but the latched half does not
    assert dev.read(RTC_TIME_HIGH, 4) == NOW >> 32
    assert clock.calls == 1
    assert read_time(dev) == NOW + (1 << 32)
    assert clock.calls == 2


def test_other_registers_never_read_the_clock(rtc):
    dev, clock, _ = rtc
    for off in (RTC_TIME_HIGH, RTC_ALARM_LOW, RTC_ALARM_HIGH, RTC_IRQ_ENABLED, RTC_ALARM_STATUS):
        dev.read(off, 4)
    dev.write(RTC_ALARM_HIGH, 4, 1)
    dev.write(RTC_ALARM_LOW, 4, 2)
    dev.write(RTC_IRQ_ENABLED, 4, 1)
    dev.check_alarm(NOW)
    dev.get_state()
    assert clock.calls == 0


def test_writing_time_sets_an_offset(rtc):
    dev, clock, _ = rtc
    target = 1_700_000_000 * 10**9
    dev.write(RTC_TIME_HIGH, 4, target >> 32)
    dev.write(RTC_TIME_LOW, 4, target & 0xFFFF_FFFF)
    assert clock.calls == 2                     # one clock read per time write
    assert read_time(dev) == target
    clock.now += 5_000
    assert read_time(dev) == target + 5_000


def test_alarm_fires_when_due_and_enabled(rtc):
    dev, _, line = rtc
    alarm = NOW + 1_000_000
    dev.write(RTC_IRQ_ENABLED, 4, 1)
    dev.write(RTC_ALARM_HIGH, 4, alarm >> 32)
    dev.write(RTC_ALARM_LOW, 4, alarm & 0xFFFF_FFFF)
    assert dev.read(RTC_ALARM_STATUS, 4) == 1
    assert dev.read(RTC_ALARM_LOW, 4) == alarm & 0xFFFF_FFFF
    assert dev.read(RTC_ALARM_HIGH, 4) == alarm >> 32
    assert dev.alarm_deadline_ns() == alarm
    assert not dev.check_alarm(NOW)
    assert line.history == []
    assert dev.check_alarm(alarm)
    assert line.history == [True]
    assert dev.read(RTC_ALARM_STATUS, 4) == 0
    assert dev.alarm_deadline_ns() is None
    assert not dev.check_alarm(alarm + 1)       # fires once
    dev.write(RTC_CLEAR_INTERRUPT, 4, 1)
    assert line.history == [True, False]


def test_alarm_while_disabled_raises_on_enable(rtc):
    dev, _, line = rtc
    dev.write(RTC_ALARM_HIGH, 4, NOW >> 32)
    dev.write(RTC_ALARM_LOW, 4, NOW & 0xFFFF_FFFF)
    assert dev.check_alarm(NOW)
    assert line.history == []
    dev.write(RTC_IRQ_ENABLED, 4, 1)
    assert line.history == [True]
    dev.write(RTC_IRQ_ENABLED, 4, 0)
    assert line.history == [True, False]


def test_clear_alarm_disarms(rtc):
    dev, _, line = rtc
    dev.write(RTC_IRQ_ENABLED, 4, 1)
    dev.write(RTC_ALARM_LOW, 4, 5)
    dev.write(RTC_CLEAR_ALARM, 4, 1)
    assert dev.read(RTC_ALARM_STATUS, 4) == 0
    assert not dev.check_alarm(NOW)
    assert line.history == []


def test_alarm_follows_guest_clock_offset(rtc):
    dev, _, _ = rtc
    dev.write(RTC_TIME_HIGH, 4, 0)
    dev.write(RTC_TIME_LOW, 4, 1000)            # guest time is now 1000 at wall NOW
    dev.write(RTC_ALARM_HIGH, 4, 0)
    dev.write(RTC_ALARM_LOW, 4, 1500)
    assert dev.alarm_deadline_ns() == NOW + 500
    assert not dev.check_alarm(NOW + 499)
    assert dev.check_alarm(NOW + 500)


def test_state_round_trip(rtc):
    dev, clock, _ = rtc
    dev.write(RTC_TIME_LOW, 4, 42)
    dev.write(RTC_IRQ_ENABLED, 4, 1)
    dev.write(RTC_ALARM_LOW, 4, 7)
    dev.read(RTC_TIME_LOW, 4)
    state = dev.get_state()
    line = Line()
    other = GoldfishRtc(RTC_BASE, line, clock)
    other.set_state(state)
    assert other.get_state() == state
    assert line.history == []
    assert other.read(RTC_TIME_HIGH, 4) == dev.read(RTC_TIME_HIGH, 4)
    assert read_time(other) == read_time(dev)
