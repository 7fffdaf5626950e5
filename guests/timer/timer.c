/* timer: take NTICKS supervisor timer interrupts programmed through the SBI
 * TIME extension, waiting in wfi, then shut down through SBI SRST. */
#include "lib.h"

#define NTICKS		5
#define INTERVAL	(TIMEBASE_HZ / 100)	/* 10 ms */

static volatile unsigned long ticks;
static volatile uint64_t deadline;
static volatile unsigned long early;		/* interrupts before the deadline */

struct trapframe *trap_handler(struct trapframe *tf)
{
	if (tf->scause == (SCAUSE_INTR | IRQ_S_TIMER)) {
		if (rdtime() < deadline)
			early++;
		ticks++;
		sbi_set_timer(~0UL);		/* clears sip.STIP */
		return tf;
	}
	kprintf("timer: unexpected trap: %s scause=0x%lx sepc=0x%lx stval=0x%lx\n",
		scause_name(tf->scause), tf->scause, tf->sepc, tf->stval);
	poweroff_fail(2);
}

int main(void)
{
	uart_puts("timer: start\n");
	csr_set(sie, SIE_STIE);

	for (unsigned long i = 1; i <= NTICKS; i++) {
		deadline = rdtime() + INTERVAL;
		sbi_set_timer(deadline);
		/* Check and sleep with SIE off so the interrupt cannot slip in
		 * between the check and the wfi; it is taken when SIE is set. */
		for (;;) {
			csr_clear(sstatus, SSTATUS_SIE);
			if (ticks >= i)
				break;
			wfi();
			csr_set(sstatus, SSTATUS_SIE);
		}
		csr_set(sstatus, SSTATUS_SIE);
		kprintf("tick %lu\n", i);
	}
	csr_clear(sstatus, SSTATUS_SIE);
	if (early) {
		kprintf("timer: ERROR: %lu interrupts arrived before their deadline\n", early);
		poweroff_fail(3);
	}

	uart_puts("timer: shutting down via SBI SRST\n");
	struct sbiret r = sbi_system_reset(0, 0);	/* shutdown, no reason */
	kprintf("timer: SRST returned error %ld\n", r.error);
	poweroff_fail(2);
}
