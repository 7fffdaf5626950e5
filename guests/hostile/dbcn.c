/* dbcn: SBI debug-console calls with lengths no console write needs: 4 GiB,
 * 2^63 and all ones from the start of RAM, and a buffer that runs off the end
 * of RAM. The SBI must refuse or cut each one (the host allocates at most its
 * documented bound) and return; the guest prints each call's error and
 * count, then powers off. */
#include "lib.h"

#define DBCN_EID	0x4442434EUL
#define RAM_END		0x88000000UL	/* the default 128 MiB */

/* What the calls write: printable text, so the console shows what was cut. */
static char text[8192];

static void try_write(const char *what, unsigned long len, unsigned long addr)
{
	struct sbiret r = sbi_ecall(DBCN_EID, 0, (long)len, (long)addr, 0);
	kprintf("\ndbcn: %s: error %d, wrote %u\n", what, (int)r.error,
		r.error ? 0UL : (unsigned long)r.value);
}

int main(void)
{
	unsigned long i;

	uart_puts("dbcn: start\n");
	for (i = 0; i < sizeof(text); i++)
		text[i] = (i % 64 == 63) ? '\n' : 'a' + (i / 64) % 26;
	try_write("4 GiB", 1UL << 32, (unsigned long)text);
	try_write("2^63 bytes", 1UL << 63, (unsigned long)text);
	try_write("all ones", ~0UL, (unsigned long)text);
	try_write("past the end of RAM", 1UL << 20, RAM_END - 64);
	uart_puts("dbcn: done\n");
	return 0;
}
