/* hello: console output three ways, then power off through the sifive test
 * device. */
#include "lib.h"

static const char dbcn_msg[] = "hello: line via SBI DBCN write\n";
static const char byte_msg[] = "hello: line via SBI DBCN write_byte\n";
static const char legacy_msg[] = "hello: line via SBI legacy putchar\n";

/* SBI legacy console putchar (EID 0x01) */
static void legacy_puts(const char *s)
{
	while (*s)
		sbi_legacy_putchar(*s++);
}

/* SBI DBCN console_write (FID 0): a0 = num_bytes, a1 = base_lo, a2 = base_hi.
 * Returns the SBI error; the byte count written is handled in a loop. */
static long dbcn_write(const char *s, unsigned long n)
{
	while (n) {
		unsigned long pa = (unsigned long)s;	/* paging is off: VA == PA */
		struct sbiret r = sbi_ecall(SBI_EXT_DBCN, 0, (long)n, (long)pa, 0);
		if (r.error)
			return r.error;
		if (r.value <= 0 || (unsigned long)r.value > n)
			return -1000;
		s += r.value;
		n -= r.value;
	}
	return 0;
}

/* SBI DBCN console_write_byte (FID 2) */
static long dbcn_write_bytes(const char *s)
{
	for (; *s; s++) {
		struct sbiret r = sbi_ecall(SBI_EXT_DBCN, 2, (unsigned char)*s, 0, 0);
		if (r.error)
			return r.error;
	}
	return 0;
}

int main(void)
{
	uart_puts("hello: start\n");
	uart_puts("hello: line via UART\n");

	if (sbi_probe_extension(SBI_EXT_DBCN)) {
		long e = dbcn_write(dbcn_msg, sizeof(dbcn_msg) - 1);
		if (e)
			kprintf("hello: DBCN write failed, error %ld\n", e);
		e = dbcn_write_bytes(byte_msg);
		if (e)
			kprintf("hello: DBCN write_byte failed, error %ld\n", e);
	} else {
		/* QEMU 7.2's OpenSBI 1.1 predates DBCN (SBI v2.0): print the
		 * same text through the legacy console so the output matches. */
		legacy_puts(dbcn_msg);
		legacy_puts(byte_msg);
	}
	legacy_puts(legacy_msg);

	uart_puts("hello: powering off\n");
	poweroff();
}
