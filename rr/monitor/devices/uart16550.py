"""NS16550A UART, with the register semantics of QEMU's hw/char/serial.c.

Guests built for QEMU ``virt`` (OpenSBI, U-Boot, Linux's 8250 driver) talk to
this UART, so it follows QEMU's behaviour rather than a datasheet where the two
differ. Two simplifications keep it deterministic and free of timers:

* Transmission is instantaneous: a THR write hands the byte to ``output`` at
  once, the transmitter is empty again immediately (LSR.THRE and LSR.TEMT are
  always 1) and, exactly as QEMU does once its transmit finishes, the
  THR-empty interrupt becomes pending again. Linux's 8250 driver depends on
  that re-arming to keep sending.
* There is no model of character time: bytes waiting in the receive FIFO
  below the trigger level raise the character-timeout indication at once,
  so a guest that asked for a trigger level of 8 still sees a lone byte.

Receive-side input comes only from the board through ``receive``, which
accepts no more than ``rx_space`` bytes, so input is never dropped: the board
keeps the rest and offers it again later.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

from rr.monitor.constants import (
    UART0_SIZE, UART_DIVISOR_RESET, UART_FCR_FE, UART_FCR_ITL_SHIFT, UART_FCR_RFR,
    UART_FCR_STORED_MASK, UART_FCR_TRIGGER_LEVELS, UART_FCR_XFR, UART_FIFO_SIZE,
    UART_FCR, UART_IER, UART_IER_MASK, UART_IER_MSI, UART_IER_RDI, UART_IER_RLSI,
    UART_IER_THRI, UART_IIR, UART_IIR_CTI, UART_IIR_FIFO_BITS, UART_IIR_MSI,
    UART_IIR_NO_INT, UART_IIR_RDI, UART_IIR_RLSI, UART_IIR_THRI, UART_LCR,
    UART_LCR_DLAB, UART_LSR, UART_LSR_BI, UART_LSR_DR, UART_LSR_INT_ANY, UART_LSR_OE,
    UART_LSR_TEMT, UART_LSR_THRE, UART_MCR, UART_MCR_DTR, UART_MCR_LOOP, UART_MCR_MASK,
    UART_MCR_OUT1, UART_MCR_OUT2, UART_MCR_RTS, UART_MSR, UART_MSR_ANY_DELTA,
    UART_MSR_CTS, UART_MSR_DCD, UART_MSR_DSR, UART_MSR_RESET, UART_MSR_RI, UART_RBR,
    UART_REG_MASK, UART_SCR,
)
from rr.monitor.devices.device import IrqLine, MmioDevice


class Uart16550(MmioDevice):
    """The board's console UART (``ns16550a`` at 0x10000000, PLIC source 10).

    ``irq`` is driven with ``set_level`` only when the interrupt condition
    changes; ``output`` receives every transmitted byte as a one-byte string.
    """

    name = "uart16550"

    def __init__(self, base: int, irq: IrqLine, output: Callable[[bytes], None],
                 size: int = UART0_SIZE,
                 unread: Callable[[bytes], None] | None = None) -> None:
        super().__init__(base, size)
        self._irq = irq
        self._output = output
        # Receives the bytes a receive-FIFO reset throws away before the guest
        # read them, so the board can offer them again: typed input is never
        # lost to a guest (re)initialising its UART.
        self._unread = unread
        self._reset_registers()
        self._irq_level = False

    def _reset_registers(self) -> None:
        """Power-on values as QEMU's serial_reset leaves them."""
        self.ier = 0
        self.lcr = 0
        self.mcr = UART_MCR_OUT2
        self.fcr = 0
        self.scr = 0
        self.msr = UART_MSR_RESET
        self.divider = UART_DIVISOR_RESET
        self.lsr_errors = 0          # OE/PE/FE/BI; DR, THRE and TEMT are derived
        self.rbr = 0                 # last byte read, what RBR shows when empty without FIFOs
        self.rx: deque[int] = deque()
        self.thr_ipending = False

    # ------------------------------------------------------------------ board API

    def rx_space(self) -> int:
        """How many bytes ``receive`` would accept now.

        In loopback mode the serial input is disconnected, so the board keeps
        its bytes until the guest leaves loopback.
        """
        if self.mcr & UART_MCR_LOOP:
            return 0
        return max(0, self._rx_capacity() - len(self.rx))

    def receive(self, data: bytes) -> int:
        """Push bytes into the receive FIFO; return how many were accepted."""
        accepted = min(len(data), self.rx_space())
        if accepted:
            self.rx.extend(data[:accepted])
            self._update_irq()
        return accepted

    @property
    def irq_level(self) -> bool:
        """The level the UART currently drives on its interrupt line."""
        return self._irq_level

    # ------------------------------------------------------------------ MMIO

    def read(self, offset: int, size: int) -> int:
        """Read one register; wider accesses read the register at ``offset``."""
        reg = offset & UART_REG_MASK
        dlab = bool(self.lcr & UART_LCR_DLAB)
        if reg == UART_RBR:
            return self.divider & 0xFF if dlab else self._read_rbr()
        if reg == UART_IER:
            return (self.divider >> 8) & 0xFF if dlab else self.ier
        if reg == UART_IIR:
            return self._read_iir()
        if reg == UART_LCR:
            return self.lcr
        if reg == UART_MCR:
            return self.mcr
        if reg == UART_LSR:
            return self._read_lsr()
        if reg == UART_MSR:
            return self._read_msr()
        return self.scr

    def write(self, offset: int, size: int, value: int) -> None:
        """Write one register; only the low byte of ``value`` counts."""
        reg = offset & UART_REG_MASK
        value &= 0xFF
        dlab = bool(self.lcr & UART_LCR_DLAB)
        if reg == UART_RBR:
            if dlab:
                self.divider = (self.divider & 0xFF00) | value
            else:
                self._write_thr(value)
        elif reg == UART_IER:
            if dlab:
                self.divider = (self.divider & 0x00FF) | (value << 8)
            else:
                self._write_ier(value)
        elif reg == UART_FCR:
            self._write_fcr(value)
        elif reg == UART_LCR:
            self.lcr = value
        elif reg == UART_MCR:
            self.mcr = value & UART_MCR_MASK
            self._update_irq()
        elif reg == UART_SCR:
            self.scr = value
        # LSR and MSR are read-only: writes are ignored, as on QEMU.

    # ------------------------------------------------------------------ registers

    def _read_rbr(self) -> int:
        """Pop the oldest received byte (0 from an empty FIFO, as QEMU returns)."""
        if self.rx:
            self.rbr = self.rx.popleft()
            value = self.rbr
        else:
            value = 0 if self._fifo_enabled() else self.rbr
        if not self.rx:
            self.lsr_errors &= ~UART_LSR_BI
        self._update_irq()
        return value

    def _read_iir(self) -> int:
        """Identify the pending interrupt; reading it acknowledges a THRE interrupt."""
        ident = self._interrupt_id()
        value = ident | (UART_IIR_FIFO_BITS if self._fifo_enabled() else 0)
        if ident == UART_IIR_THRI:
            self.thr_ipending = False
            self._update_irq()
        return value

    def _read_lsr(self) -> int:
        """Line status; reading clears the overrun and break indications."""
        value = self._lsr()
        if self.lsr_errors & (UART_LSR_OE | UART_LSR_BI):
            self.lsr_errors &= ~(UART_LSR_OE | UART_LSR_BI)
            self._update_irq()
        return value

    def _read_msr(self) -> int:
        """Modem status; in loopback the outputs of MCR come back as inputs."""
        if self.mcr & UART_MCR_LOOP:
            return self._loopback_msr()
        value = self.msr
        if self.msr & UART_MSR_ANY_DELTA:
            self.msr &= ~UART_MSR_ANY_DELTA
            self._update_irq()
        return value

    def _loopback_msr(self) -> int:
        value = 0
        if self.mcr & UART_MCR_DTR:
            value |= UART_MSR_DSR
        if self.mcr & UART_MCR_RTS:
            value |= UART_MSR_CTS
        if self.mcr & UART_MCR_OUT1:
            value |= UART_MSR_RI
        if self.mcr & UART_MCR_OUT2:
            value |= UART_MSR_DCD
        return value

    def _write_thr(self, value: int) -> None:
        """Transmit at once; the holding register is then empty again.

        Writing THR clears a pending THRE interrupt, and the instantaneous
        transmission makes it pending again, as QEMU does after its transmit
        completes: the guest always sees "ready for more".
        """
        self.thr_ipending = False
        if self.mcr & UART_MCR_LOOP:
            self._loop_back(value)
        else:
            self._output(bytes([value]))
        self.thr_ipending = True
        self._update_irq()

    def _loop_back(self, value: int) -> None:
        if len(self.rx) >= self._rx_capacity():
            self.lsr_errors |= UART_LSR_OE
        else:
            self.rx.append(value)

    def _write_ier(self, value: int) -> None:
        """Enabling ETBEI while THR is empty raises THRE at once (QEMU, Windows rely on it)."""
        changed = (self.ier ^ value) & UART_IER_MASK
        self.ier = value & UART_IER_MASK
        if changed & UART_IER_THRI:
            # The transmitter is always empty here, so "THRE set" is implied.
            self.thr_ipending = bool(self.ier & UART_IER_THRI)
        if changed:
            self._update_irq()

    def _write_fcr(self, value: int) -> None:
        """FIFO control: toggling the enable bit flushes both FIFOs."""
        if (value ^ self.fcr) & UART_FCR_FE:
            value |= UART_FCR_RFR | UART_FCR_XFR
        if value & UART_FCR_RFR:
            if self.rx and self._unread is not None:
                self._unread(bytes(self.rx))
            self.rx.clear()
            self.lsr_errors &= ~UART_LSR_BI
        if value & UART_FCR_XFR:
            self.thr_ipending = True
        self.fcr = value & UART_FCR_STORED_MASK
        self._update_irq()

    # ------------------------------------------------------------------ derived state

    def _fifo_enabled(self) -> bool:
        return bool(self.fcr & UART_FCR_FE)

    def _rx_capacity(self) -> int:
        return UART_FIFO_SIZE if self._fifo_enabled() else 1

    def _trigger_level(self) -> int:
        return UART_FCR_TRIGGER_LEVELS[self.fcr >> UART_FCR_ITL_SHIFT]

    def _lsr(self) -> int:
        value = self.lsr_errors | UART_LSR_THRE | UART_LSR_TEMT
        if self.rx:
            value |= UART_LSR_DR
        return value

    def _interrupt_id(self) -> int:
        """The highest-priority pending interrupt source, in QEMU's order."""
        count = len(self.rx)
        if self.ier & UART_IER_RLSI and self.lsr_errors & UART_LSR_INT_ANY:
            return UART_IIR_RLSI
        if self.ier & UART_IER_RDI and count:
            if self._fifo_enabled() and count < self._trigger_level():
                return UART_IIR_CTI
            return UART_IIR_RDI
        if self.ier & UART_IER_THRI and self.thr_ipending:
            return UART_IIR_THRI
        if self.ier & UART_IER_MSI and self.msr & UART_MSR_ANY_DELTA:
            return UART_IIR_MSI
        return UART_IIR_NO_INT

    def _update_irq(self) -> None:
        """Drive the line when, and only when, the interrupt condition changes."""
        level = self._interrupt_id() != UART_IIR_NO_INT
        if level != self._irq_level:
            self._irq_level = level
            self._irq.set_level(level)

    # ------------------------------------------------------------------ snapshots

    def get_state(self) -> dict[str, Any]:
        return {
            "ier": self.ier, "lcr": self.lcr, "mcr": self.mcr, "fcr": self.fcr,
            "scr": self.scr, "msr": self.msr, "divider": self.divider,
            "lsr_errors": self.lsr_errors, "rbr": self.rbr, "rx": bytes(self.rx),
            "thr_ipending": self.thr_ipending,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore registers; the line level is recomputed without driving the line.

        The PLIC restores its own record of this line from the same
        checkpoint, so driving it here would only queue a spurious change.
        """
        self.ier = state["ier"]
        self.lcr = state["lcr"]
        self.mcr = state["mcr"]
        self.fcr = state["fcr"]
        self.scr = state["scr"]
        self.msr = state["msr"]
        self.divider = state["divider"]
        self.lsr_errors = state["lsr_errors"]
        self.rbr = state["rbr"]
        self.rx = deque(state["rx"])
        self.thr_ipending = state["thr_ipending"]
        self._irq_level = self._interrupt_id() != UART_IIR_NO_INT
