"""PLIC claim/complete semantics and context outputs (QEMU virt layout)."""

from __future__ import annotations

import pytest

from rr.monitor.constants import (
    PLIC_BASE, PLIC_CONTEXT_M, PLIC_CONTEXT_S, PLIC_NUM_CONTEXTS, PLIC_NUM_SOURCES,
)
from rr.monitor.devices.plic import Plic

from recording_line import Line

PENDING = 0x1000


def enable_reg(ctx: int, word: int = 0) -> int:
    return 0x2000 + 0x80 * ctx + 4 * word


def threshold_reg(ctx: int) -> int:
    return 0x200000 + 0x1000 * ctx


def claim_reg(ctx: int) -> int:
    return 0x200004 + 0x1000 * ctx



@pytest.fixture
def plic():
    lines = [Line() for _ in range(PLIC_NUM_CONTEXTS)]
    dev = Plic(PLIC_BASE, PLIC_NUM_SOURCES, PLIC_NUM_CONTEXTS, lines)
    return dev, lines


def w(dev, off, value):
    dev.write(off, 4, value)


def r(dev, off):
    return dev.read(off, 4)


def setup_sources(dev, ctx, priorities):
    mask = 0
    for src, prio in priorities.items():
        w(dev, 4 * src, prio)
        mask |= 1 << src
    for word in range(3):
        w(dev, enable_reg(ctx, word), (mask >> (32 * word)) & 0xFFFFFFFF)


def test_pending_bits_follow_lines(plic):
    dev, _ = plic
    line10 = dev.source_line(10)
    line40 = dev.source_line(40)
    line10.set_level(True)
    line40.set_level(True)
    assert r(dev, PENDING) == 1 << 10
    assert r(dev, PENDING + 4) == 1 << 8
    line10.set_level(False)
    assert r(dev, PENDING) == 0
    w(dev, PENDING + 4, 0)                 # pending is read-only
    assert r(dev, PENDING + 4) == 1 << 8


def test_claim_orders_by_priority_then_lowest_id(plic):
    dev, lines = plic
    setup_sources(dev, PLIC_CONTEXT_S, {3: 2, 5: 6, 7: 6, 40: 1})
    for src in (3, 5, 7, 40):
        dev.source_line(src).set_level(True)
    assert lines[PLIC_CONTEXT_S].level
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 5     # prio 6, lower id than 7
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 7
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 3
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 40
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 0     # nothing left
    assert not lines[PLIC_CONTEXT_S].level


def test_claim_clears_pending_and_blocks_repending(plic):
    dev, lines = plic
    setup_sources(dev, PLIC_CONTEXT_S, {10: 1})
    line = dev.source_line(10)
    line.set_level(True)
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 10
    assert r(dev, PENDING) == 0
    assert not lines[PLIC_CONTEXT_S].level
    # In service: toggling the line does not pend it again.
    line.set_level(False)
    line.set_level(True)
    assert r(dev, PENDING) == 0
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 0


def test_complete_repends_a_still_high_line(plic):
    dev, lines = plic
    setup_sources(dev, PLIC_CONTEXT_S, {10: 1})
    dev.source_line(10).set_level(True)
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 10
    assert not lines[PLIC_CONTEXT_S].level
    w(dev, claim_reg(PLIC_CONTEXT_S), 10)
    assert r(dev, PENDING) == 1 << 10
    assert lines[PLIC_CONTEXT_S].history == [True, False, True]
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 10


def test_complete_of_a_lowered_line_stays_quiet(plic):
    dev, lines = plic
    setup_sources(dev, PLIC_CONTEXT_S, {10: 1})
    line = dev.source_line(10)
    line.set_level(True)
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 10
    line.set_level(False)
    w(dev, claim_reg(PLIC_CONTEXT_S), 10)
    assert r(dev, PENDING) == 0
    assert not lines[PLIC_CONTEXT_S].level
    # And the source works again afterwards.
    line.set_level(True)
    assert lines[PLIC_CONTEXT_S].level


def test_threshold_masks(plic):
    dev, lines = plic
    setup_sources(dev, PLIC_CONTEXT_S, {10: 3, 11: 5})
    w(dev, threshold_reg(PLIC_CONTEXT_S), 5)
    assert r(dev, threshold_reg(PLIC_CONTEXT_S)) == 5
    dev.source_line(10).set_level(True)
    dev.source_line(11).set_level(True)
    assert not lines[PLIC_CONTEXT_S].level                    # priority must exceed threshold
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 0
    w(dev, threshold_reg(PLIC_CONTEXT_S), 3)
    assert lines[PLIC_CONTEXT_S].level
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 11
    assert not lines[PLIC_CONTEXT_S].level                    # 10 has priority 3, not > 3
    w(dev, threshold_reg(PLIC_CONTEXT_S), 0)
    assert lines[PLIC_CONTEXT_S].level


def test_priority_zero_never_interrupts(plic):
    dev, lines = plic
    setup_sources(dev, PLIC_CONTEXT_S, {10: 0})
    dev.source_line(10).set_level(True)
    assert r(dev, PENDING) == 1 << 10
    assert not lines[PLIC_CONTEXT_S].level


def test_contexts_are_independent(plic):
    dev, lines = plic
    setup_sources(dev, PLIC_CONTEXT_M, {1: 1})
    setup_sources(dev, PLIC_CONTEXT_S, {10: 1})
    dev.source_line(10).set_level(True)
    assert lines[PLIC_CONTEXT_S].level and not lines[PLIC_CONTEXT_M].level
    assert r(dev, claim_reg(PLIC_CONTEXT_M)) == 0
    dev.source_line(1).set_level(True)
    assert lines[PLIC_CONTEXT_M].level
    assert dev.context_level(PLIC_CONTEXT_M) and dev.context_level(PLIC_CONTEXT_S)
    # A source enabled in both contexts: one claim takes it away from both.
    w(dev, enable_reg(PLIC_CONTEXT_M), (1 << 1) | (1 << 10))
    assert r(dev, claim_reg(PLIC_CONTEXT_M)) == 1
    assert r(dev, claim_reg(PLIC_CONTEXT_M)) == 10
    assert not lines[PLIC_CONTEXT_S].level


def test_enable_controls_output(plic):
    dev, lines = plic
    w(dev, 4 * 10, 1)
    dev.source_line(10).set_level(True)
    assert not lines[PLIC_CONTEXT_S].level
    w(dev, enable_reg(PLIC_CONTEXT_S), 1 << 10)
    assert lines[PLIC_CONTEXT_S].level
    w(dev, enable_reg(PLIC_CONTEXT_S), 0)
    assert not lines[PLIC_CONTEXT_S].level


def test_register_masks_and_source_zero(plic):
    dev, _ = plic
    w(dev, 4 * 10, 0xFF)
    assert r(dev, 4 * 10) == 7
    w(dev, 0, 5)
    assert r(dev, 0) == 0                   # source 0 does not exist
    w(dev, enable_reg(PLIC_CONTEXT_S), 0xFFFFFFFF)
    assert r(dev, enable_reg(PLIC_CONTEXT_S)) == 0xFFFFFFFE
    w(dev, enable_reg(PLIC_CONTEXT_S, 3), 0xFFFFFFFF)   # beyond 96 sources
    assert r(dev, enable_reg(PLIC_CONTEXT_S, 3)) == 0
    with pytest.raises(ValueError):
        dev.source_line(0)
    with pytest.raises(ValueError):
        dev.source_line(PLIC_NUM_SOURCES)


def test_non_word_access_has_no_side_effect(plic):
    dev, _ = plic
    setup_sources(dev, PLIC_CONTEXT_S, {10: 1})
    dev.source_line(10).set_level(True)
    assert dev.read(claim_reg(PLIC_CONTEXT_S), 1) == 0
    assert dev.read(claim_reg(PLIC_CONTEXT_S), 8) == 0
    assert r(dev, PENDING) == 1 << 10       # still pending: the odd reads did not claim
    dev.write(4 * 10, 1, 5)
    assert r(dev, 4 * 10) == 1


def test_state_round_trip(plic):
    dev, lines = plic
    setup_sources(dev, PLIC_CONTEXT_S, {10: 2, 70: 3})
    w(dev, threshold_reg(PLIC_CONTEXT_S), 1)
    dev.source_line(10).set_level(True)
    dev.source_line(70).set_level(True)
    assert r(dev, claim_reg(PLIC_CONTEXT_S)) == 70
    state = dev.get_state()
    new_lines = [Line() for _ in range(PLIC_NUM_CONTEXTS)]
    other = Plic(PLIC_BASE, PLIC_NUM_SOURCES, PLIC_NUM_CONTEXTS, new_lines)
    other.set_state(state)
    assert all(line.history == [] for line in new_lines)
    assert other.get_state() == state
    assert other.context_level(PLIC_CONTEXT_S)
    # 96-bit masks are stored as 32-bit words, within msgpack's integer range.
    assert all(0 <= word < 2**32 for word in state["claimed"] + state["levels"])
    w(other, claim_reg(PLIC_CONTEXT_S), 70)
    assert r(other, claim_reg(PLIC_CONTEXT_S)) == 70
    assert r(other, claim_reg(PLIC_CONTEXT_S)) == 10
