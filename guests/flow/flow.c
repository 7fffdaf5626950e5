/* flow: a value travels a known path, so the data-flow walk back (rrvm origin)
 * has an answer written down from this source.
 *
 * run_flow (path.S) reads one console byte from the UART and sends it through
 * memory (inbox), a function call (add_key adds KEY), a register kept across
 * a trap (through_trap: the value waits in s2 while an ebreak traps, and
 * trap_entry saves s2 in the trap frame and restores it) and memory again
 * (outbox). Then the goldfish RTC is read into `stamp` and one of two
 * functions runs, as it is odd or even: runs with different clocks take
 * different branches and print the same lines (expected/flow.out, for the
 * input in expected/flow.in). */
#include "lib.h"

#define SCAUSE_BREAKPOINT	3
#define EBREAK_SIZE		4	/* path.S is assembled without compressed instructions */

uint64_t inbox, outbox, stamp;
unsigned long odd_clocks, even_clocks;

void run_flow(void);

struct trapframe *trap_handler(struct trapframe *tf)
{
	if (tf->scause == SCAUSE_BREAKPOINT) {
		tf->sepc += EBREAK_SIZE;	/* through_trap's ebreak: go on after it */
		return tf;
	}
	kprintf("flow: unexpected trap: %s scause=0x%lx sepc=0x%lx\n",
		scause_name(tf->scause), tf->scause, tf->sepc);
	poweroff_fail(2);
}

__attribute__((noinline)) void clock_odd(void)
{
	odd_clocks++;
}

__attribute__((noinline)) void clock_even(void)
{
	even_clocks++;
}

int main(void)
{
	uart_puts("flow: start\n");
	uart_puts("flow: type a character\n");
	run_flow();
	kprintf("flow: outbox 0x%lx\n", outbox);
	stamp = rtc_read_ns();
	if (stamp & 1)
		clock_odd();
	else
		clock_even();
	uart_puts("flow: done\n");
	poweroff();
}
