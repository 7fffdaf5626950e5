"""sifive,test0 finisher codes."""

from __future__ import annotations

import pytest

from rr.monitor.constants import SIFIVE_TEST_BASE
from rr.monitor.devices.sifive_test import SifiveTest


@pytest.fixture
def dev_and_calls():
    calls: list[tuple[str, int]] = []
    return SifiveTest(SIFIVE_TEST_BASE, lambda kind, code: calls.append((kind, code))), calls


@pytest.mark.parametrize("value, expected", [
    (0x5555, ("poweroff", 0)),
    (0x7777, ("reboot", 0)),
    (0x3333, ("fail", 0)),
    (0x0001_3333, ("fail", 1)),
    (0xABCD_3333, ("fail", 0xABCD)),
])
def test_finisher_codes(dev_and_calls, value, expected):
    dev, calls = dev_and_calls
    dev.write(0, 4, value)
    assert calls == [expected]


@pytest.mark.parametrize("value", [0, 0x1234, 0x5556, 0x3334])
def test_other_values_ignored(dev_and_calls, value):
    dev, calls = dev_and_calls
    dev.write(0, 4, value)
    assert calls == []


def test_other_offsets_ignored_and_reads_zero(dev_and_calls):
    dev, calls = dev_and_calls
    dev.write(4, 4, 0x5555)
    assert calls == []
    assert dev.read(0, 4) == 0
    assert dev.get_state() == {}
