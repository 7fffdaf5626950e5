/* long: half a billion instructions that write a watched variable at known
 * instruction counts (long/run.S says which): the test trace for persistent
 * checkpoints and searches split by segment. `progress` is the watched
 * variable; it holds the number of rounds done. */
#include "lib.h"

#define ROUNDS 100
#define PER_ROUND 1000000	/* 5 instructions each: 5,000,004 per round */

volatile uint64_t progress;

uint64_t long_run(uint64_t rounds, uint64_t per_round, volatile uint64_t *where,
		  uint64_t mul, uint64_t inc);

int main(void)
{
	uint64_t sum;

	uart_puts("long: start\n");
	sum = long_run(ROUNDS, PER_ROUND, &progress, 6364136223846793005ull,
		       1442695040888963407ull);
	kprintf("long: rounds=%lu checksum=0x%016lx\n", progress, sum);
	uart_puts("long: done\n");
	poweroff();
}
