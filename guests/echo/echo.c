/* echo: UART receive interrupts through the PLIC S-mode context. Each
 * complete input line is printed back as "echo: <line>"; "quit" prints "bye"
 * and powers off. \r and \n both end a line, empty lines are ignored. */
#include "lib.h"

#define RING_SIZE	256		/* power of two */
#define LINE_MAX	120

static volatile uint8_t ring[RING_SIZE];
static volatile unsigned ring_head, ring_tail;	/* head: writer (irq), tail: reader */
static volatile unsigned long dropped;

static void uart_rx_irq(void)
{
	while (mmio_read8(UART_BASE + UART_LSR) & UART_LSR_DR) {
		uint8_t c = mmio_read8(UART_BASE + UART_RBR);
		if (ring_head - ring_tail < RING_SIZE) {
			ring[ring_head % RING_SIZE] = c;
			ring_head++;
		} else {
			dropped++;
		}
	}
}

struct trapframe *trap_handler(struct trapframe *tf)
{
	if (tf->scause == (SCAUSE_INTR | IRQ_S_EXT)) {
		uint32_t irq = mmio_read32(PLIC_SCLAIM);
		if (irq == UART_IRQ)
			uart_rx_irq();
		else if (irq)
			kprintf("echo: unexpected PLIC source %u\n", irq);
		if (irq)
			mmio_write32(PLIC_SCLAIM, irq);	/* complete */
		return tf;
	}
	kprintf("echo: unexpected trap: %s scause=0x%lx sepc=0x%lx stval=0x%lx\n",
		scause_name(tf->scause), tf->scause, tf->sepc, tf->stval);
	poweroff_fail(2);
}

/* Next received byte; sleeps in wfi until one arrives. */
static uint8_t getc_blocking(void)
{
	for (;;) {
		csr_clear(sstatus, SSTATUS_SIE);
		if (ring_tail != ring_head)
			break;
		wfi();				/* wakes on a pending enabled interrupt */
		csr_set(sstatus, SSTATUS_SIE);	/* ... which is taken here */
	}
	uint8_t c = ring[ring_tail % RING_SIZE];
	ring_tail++;
	csr_set(sstatus, SSTATUS_SIE);
	return c;
}

static void handle_line(const char *line)
{
	if (strcmp(line, "quit") == 0) {
		uart_puts("bye\n");
		poweroff();
	}
	kprintf("echo: %s\n", line);
}

int main(void)
{
	uart_puts("echo: start\n");

	/* UART: 8N1 as left by firmware; enable the received-data interrupt.
	 * MCR.OUT2 gates the interrupt line on PC-style 16550 boards. */
	mmio_write8(UART_BASE + UART_MCR, 0x0b);	/* DTR | RTS | OUT2 */
	mmio_write8(UART_BASE + UART_IER, 0x01);

	/* PLIC: source 10 priority 1, enabled for hart 0 S-mode, threshold 0 */
	mmio_write32(PLIC_PRIORITY(UART_IRQ), 1);
	mmio_write32(PLIC_SENABLE, 1u << UART_IRQ);
	mmio_write32(PLIC_STHRESHOLD, 0);

	csr_set(sie, SIE_SEIE);
	csr_set(sstatus, SSTATUS_SIE);

	uart_puts("echo: type lines, 'quit' powers off\n");

	char line[LINE_MAX + 1];
	unsigned len = 0;
	for (;;) {
		uint8_t c = getc_blocking();
		if (c == '\r' || c == '\n') {
			if (len) {
				line[len] = 0;
				handle_line(line);
				len = 0;
			}
		} else if (c == 0x7f || c == 0x08) {	/* backspace */
			if (len)
				len--;
		} else if (c >= 0x20 && len < LINE_MAX) {
			line[len++] = (char)c;
		}
	}
}
