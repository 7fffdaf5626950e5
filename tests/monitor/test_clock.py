"""The two guest clocks answer the run loop's questions themselves."""

from __future__ import annotations

import pytest

from rr.monitor.clock import ClockKind, HostClock, VirtualClock, make_clock

from board_fixture import ScriptedInputs


def test_virtual_time_jumps_to_a_deadline_while_idle():
    clock = make_clock("virtual", ScriptedInputs())
    assert isinstance(clock, VirtualClock) and clock.kind is ClockKind.VIRTUAL
    assert clock.instruction_driven
    assert clock.now(500) == 500
    assert clock.skip_to(2_000, 500) is True
    assert clock.now(500) == 2_000 and clock.now(501) == 2_001
    assert clock.skip_to(10, 600) is True and clock.now(600) == 2_100    # never backwards


def test_host_time_cannot_jump():
    inputs = ScriptedInputs()                     # host time: 100 ns per instruction
    clock = make_clock(ClockKind.HOST, inputs)
    assert isinstance(clock, HostClock) and clock.kind == "host"
    assert not clock.instruction_driven
    before = clock.now(1_000)
    assert clock.skip_to(before + 10_000, 1_000) is False
    assert clock.now(1_000) == before
    assert clock.seconds_until(before + 10, 1_000) == pytest.approx(10 / 10_000_000)


def test_an_unknown_clock_is_refused():
    with pytest.raises(ValueError, match="unknown clock 'sundial'"):
        make_clock("sundial", ScriptedInputs())
