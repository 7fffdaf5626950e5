/* nomap: turns Sv39 paging on with a root table that maps nothing, not its
 * own code and not stvec. The next fetch takes an instruction page fault,
 * delivered to stvec, whose fetch faults again: the hart takes trap after
 * trap and never completes another instruction. A monitor must stop such a
 * guest with a clear error (nothing can ever change it), and answer
 * --max-insns, Ctrl-C and a debugger's interrupt meanwhile. */
#include "lib.h"

#define SATP_SV39	(8UL << 60)

static unsigned long empty_root[512] __attribute__((aligned(4096)));

int main(void)
{
	uart_puts("nomap: start\n");
	uart_puts("nomap: paging on with an empty root table\n");
	csr_write(satp, SATP_SV39 | ((unsigned long)empty_root >> 12));
	__asm__ __volatile__("sfence.vma" ::: "memory");
	uart_puts("nomap: NOT REACHED\n");	/* this fetch already faults */
	poweroff_fail(1);
	return 0;
}
