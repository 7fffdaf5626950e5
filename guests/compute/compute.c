/* compute: a compute-bound loop for benchmarks. The iteration count lives in
 * the data symbol `iterations` (patch it in the ELF or from gdb); each
 * iteration is 5 instructions, so the default runs 500 million. */
#include "lib.h"

volatile uint64_t iterations = 100000000;	/* 1e8 iterations = 5e8 instructions */
volatile uint64_t checksum;			/* result, also printed */

uint64_t compute_loop(uint64_t n);

int main(void)
{
	uint64_t n = iterations;
	uart_puts("compute: start\n");
	kprintf("compute: iterations=%lu\n", n);
	checksum = n ? compute_loop(n) : 0;
	kprintf("compute: checksum=0x%016lx\n", checksum);
	uart_puts("compute: done\n");
	poweroff();
}
