"""NS16550A behaviour the guests rely on (QEMU serial.c semantics)."""

from __future__ import annotations

import pytest

from rr.monitor.constants import (
    UART0_BASE, UART_FCR, UART_FCR_FE, UART_FCR_RFR, UART_FIFO_SIZE, UART_IER, UART_IER_RDI,
    UART_IER_THRI, UART_IIR, UART_IIR_CTI, UART_IIR_NO_INT, UART_IIR_RDI, UART_IIR_THRI,
    UART_LCR, UART_LCR_DLAB, UART_LSR, UART_LSR_DR, UART_LSR_OE, UART_LSR_TEMT,
    UART_LSR_THRE, UART_MCR, UART_MCR_LOOP, UART_MSR, UART_RBR, UART_SCR,
)
from rr.monitor.devices.uart16550 import Uart16550

from recording_line import Line



@pytest.fixture
def uart():
    line = Line()
    out: list[bytes] = []
    dev = Uart16550(UART0_BASE, line, out.append)
    return dev, line, out


def rd(dev, reg):
    return dev.read(reg, 1)


def wr(dev, reg, value):
    dev.write(reg, 1, value)


def test_reset_state(uart):
    dev, line, _ = uart
    assert rd(dev, UART_LSR) == UART_LSR_THRE | UART_LSR_TEMT
    assert rd(dev, UART_IIR) == UART_IIR_NO_INT
    assert line.history == []


def test_transmit_is_immediate_and_byte_wide(uart):
    dev, _, out = uart
    for ch in b"hi\n":
        wr(dev, UART_RBR, ch)
    dev.write(UART_RBR, 4, 0x1234_5641)   # only the low byte counts
    assert out == [b"h", b"i", b"\n", b"A"]
    assert rd(dev, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT) == UART_LSR_THRE | UART_LSR_TEMT


def test_thre_interrupt_raise_and_clear_sequence(uart):
    dev, line, out = uart
    # Enabling ETBEI with THR empty raises at once.
    wr(dev, UART_IER, UART_IER_THRI)
    assert line.history == [True]
    assert rd(dev, UART_IIR) & 0x0F == UART_IIR_THRI
    # That IIR read was the acknowledgement: line drops, IIR now empty.
    assert line.history == [True, False]
    assert rd(dev, UART_IIR) == UART_IIR_NO_INT
    # Writing THR transmits at once, so THR is empty again: THRE pends again.
    wr(dev, UART_RBR, ord("x"))
    assert out == [b"x"]
    assert line.history == [True, False, True]
    assert rd(dev, UART_IIR) & 0x0F == UART_IIR_THRI
    assert line.history[-1] is False
    # Disabling ETBEI forgets a pending THRE; re-enabling raises again.
    wr(dev, UART_RBR, ord("y"))
    assert line.level
    wr(dev, UART_IER, 0)
    assert not line.level
    assert rd(dev, UART_IIR) == UART_IIR_NO_INT
    wr(dev, UART_IER, UART_IER_THRI)
    assert line.level


def test_thre_acknowledged_even_when_disabled_between(uart):
    dev, line, _ = uart
    wr(dev, UART_IER, UART_IER_THRI)
    rd(dev, UART_IIR)
    # Re-writing the same IER value is not a rising edge: stays acknowledged.
    wr(dev, UART_IER, UART_IER_THRI)
    assert not line.level


def test_line_driven_only_on_change(uart):
    dev, line, _ = uart
    wr(dev, UART_IER, UART_IER_RDI)
    dev.receive(b"a")
    dev.receive(b"b")
    assert line.history == [True]


def test_fifo_order_and_overflow_refusal(uart):
    dev, _, _ = uart
    wr(dev, UART_FCR, UART_FCR_FE)
    data = bytes(range(0x41, 0x41 + UART_FIFO_SIZE + 4))
    assert dev.rx_space() == UART_FIFO_SIZE
    accepted = dev.receive(data)
    assert accepted == UART_FIFO_SIZE
    assert dev.rx_space() == 0
    assert dev.receive(b"z") == 0
    assert rd(dev, UART_LSR) & UART_LSR_OE == 0      # refused, not overrun
    got = bytes(rd(dev, UART_RBR) for _ in range(UART_FIFO_SIZE))
    assert got == data[:UART_FIFO_SIZE]
    assert rd(dev, UART_LSR) & UART_LSR_DR == 0
    # The board offers the rest again later: nothing is lost.
    assert dev.receive(data[accepted:]) == 4
    assert bytes(rd(dev, UART_RBR) for _ in range(4)) == data[accepted:]
    assert rd(dev, UART_RBR) == 0                      # empty FIFO reads 0


def test_without_fifo_one_byte_holding_register(uart):
    dev, _, _ = uart
    assert dev.rx_space() == 1
    assert dev.receive(b"ab") == 1
    assert dev.rx_space() == 0
    assert rd(dev, UART_LSR) & UART_LSR_DR
    assert rd(dev, UART_RBR) == ord("a")
    assert rd(dev, UART_LSR) & UART_LSR_DR == 0
    assert dev.receive(b"b") == 1
    assert rd(dev, UART_RBR) == ord("b")


def test_lsr_data_ready_tracks_fifo(uart):
    dev, _, _ = uart
    wr(dev, UART_FCR, UART_FCR_FE)
    dev.receive(b"12")
    assert rd(dev, UART_LSR) == UART_LSR_DR | UART_LSR_THRE | UART_LSR_TEMT
    rd(dev, UART_RBR)
    assert rd(dev, UART_LSR) & UART_LSR_DR
    rd(dev, UART_RBR)
    assert rd(dev, UART_LSR) & UART_LSR_DR == 0


def test_rx_interrupt_trigger_level_and_timeout(uart):
    dev, line, _ = uart
    # FIFO on, trigger level 4 (FCR bits 7:6 = 01).
    wr(dev, UART_FCR, UART_FCR_FE | 0x40)
    wr(dev, UART_IER, UART_IER_RDI)
    assert not line.level
    dev.receive(b"ab")
    # Below the trigger level: character timeout at once, so bytes never get stuck.
    assert rd(dev, UART_IIR) == 0xC0 | UART_IIR_CTI
    assert line.level
    dev.receive(b"cd")
    assert rd(dev, UART_IIR) == 0xC0 | UART_IIR_RDI
    for _ in range(4):
        rd(dev, UART_RBR)
    assert rd(dev, UART_IIR) == 0xC0 | UART_IIR_NO_INT
    assert not line.level


def test_rx_interrupt_has_priority_over_thre(uart):
    dev, _, _ = uart
    wr(dev, UART_IER, UART_IER_RDI | UART_IER_THRI)
    dev.receive(b"q")
    assert rd(dev, UART_IIR) & 0x0F == UART_IIR_RDI
    rd(dev, UART_RBR)
    assert rd(dev, UART_IIR) & 0x0F == UART_IIR_THRI


def test_iir_fifo_bits_and_fifo_reset(uart):
    dev, _, _ = uart
    assert rd(dev, UART_IIR) & 0xC0 == 0
    wr(dev, UART_FCR, UART_FCR_FE)
    assert rd(dev, UART_IIR) & 0xC0 == 0xC0
    dev.receive(b"xyz")
    wr(dev, UART_FCR, UART_FCR_FE | UART_FCR_RFR)
    assert rd(dev, UART_LSR) & UART_LSR_DR == 0
    assert dev.rx_space() == UART_FIFO_SIZE
    # Turning FIFOs off flushes them too.
    dev.receive(b"xyz")
    wr(dev, UART_FCR, 0)
    assert rd(dev, UART_LSR) & UART_LSR_DR == 0
    assert rd(dev, UART_IIR) & 0xC0 == 0


def test_dlab_switches_to_divisor_latch(uart):
    dev, _, out = uart
    wr(dev, UART_LCR, UART_LCR_DLAB | 0x03)
    wr(dev, UART_RBR, 0x01)
    wr(dev, UART_IER, 0x02)
    assert out == []                       # a divisor write is not a transmit
    assert rd(dev, UART_RBR) == 0x01
    assert rd(dev, UART_IER) == 0x02
    wr(dev, UART_LCR, 0x03)
    assert rd(dev, UART_IER) == 0      # the real IER was never touched
    assert dev.divider == 0x0201
    assert rd(dev, UART_LCR) == 0x03


def test_scratch_and_register_aliasing(uart):
    dev, _, _ = uart
    wr(dev, UART_SCR, 0x5A)
    assert rd(dev, UART_SCR) == 0x5A
    assert dev.read(0x8 + UART_SCR, 1) == 0x5A


def test_loopback(uart):
    dev, _, out = uart
    wr(dev, UART_MCR, UART_MCR_LOOP | 0x03)
    assert dev.rx_space() == 0              # external input waits while looped back
    wr(dev, UART_RBR, 0x55)
    assert out == []
    assert rd(dev, UART_RBR) == 0x55
    assert rd(dev, UART_MSR) & 0x30 == 0x30   # DTR->DSR, RTS->CTS
    wr(dev, UART_RBR, 1)
    wr(dev, UART_RBR, 2)                     # no FIFO: second byte overruns
    assert rd(dev, UART_LSR) & UART_LSR_OE
    assert rd(dev, UART_LSR) & UART_LSR_OE == 0   # cleared by the read


def test_state_round_trip(uart):
    dev, line, out = uart
    wr(dev, UART_FCR, UART_FCR_FE | 0x80)
    wr(dev, UART_IER, UART_IER_RDI | UART_IER_THRI)
    dev.receive(b"hello")
    state = dev.get_state()
    other_line = Line()
    other = Uart16550(UART0_BASE, other_line, out.append)
    other.set_state(state)
    assert other_line.history == []
    assert other.irq_level == dev.irq_level
    assert other.get_state() == state
    assert bytes(rd(other, UART_RBR) for _ in range(5)) == b"hello"
    # Plain data only (msgpack-friendly).
    assert all(isinstance(v, (int, bytes, bool)) for v in state.values())


def test_fifo_reset_gives_unread_bytes_back_to_the_board():
    given_back = []
    dev = Uart16550(UART0_BASE, Line(), lambda data: None, unread=given_back.append)
    dev.write(UART_FCR, 1, UART_FCR_FE)
    assert dev.receive(b"typed early") == 11
    dev.read(UART_RBR, 1)                                   # the guest read one byte
    dev.write(UART_FCR, 1, UART_FCR_FE | UART_FCR_RFR)      # then reset the FIFO
    assert given_back == [b"yped early"]
    assert not dev.read(UART_LSR, 1) & UART_LSR_DR
