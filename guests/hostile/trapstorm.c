/* trapstorm: a guest that traps on (nearly) every instruction, for ever.
 *
 * stvec points at an illegal instruction, so every trap enters a handler
 * whose first instruction traps again: one delegated illegal-instruction
 * trap per instruction, into the monitor each time. It never exits: run it
 * with --max-insns, or stop it with Ctrl-C or a debugger's interrupt, which
 * must answer within a second. */
#include "lib.h"

void storm_vector(void);
__asm__(".balign 4\n"
	"storm_vector:\n"
	"	.word 0xc0001073\n"	/* unimp (csrrw x0, cycle, x0): illegal */
	"	j storm_vector\n");

int main(void)
{
	uart_puts("trapstorm: start\n");
	uart_puts("trapstorm: every instruction traps from now on\n");
	csr_write(stvec, (unsigned long)storm_vector);
	__asm__ __volatile__(".word 0xc0001073" ::: "memory");
	uart_puts("trapstorm: NOT REACHED\n");
	poweroff_fail(1);
	return 0;
}
