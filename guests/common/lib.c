/* Tiny freestanding support library shared by the rrvm guests. */
#include "lib.h"

/* ---------------- UART ---------------- */

void uart_putc(char c)
{
	if (c == '\n')
		uart_putc('\r');
	while (!(mmio_read8(UART_BASE + UART_LSR) & UART_LSR_THRE))
		;
	mmio_write8(UART_BASE + UART_THR, (uint8_t)c);
}

void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

/* ---------------- printf ---------------- */

static void put_num(unsigned long v, unsigned base, int width, char pad, int neg)
{
	char buf[24];
	int i = 0;
	do {
		unsigned d = v % base;
		buf[i++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		buf[i++] = '-';
	while (i < width--)
		uart_putc(pad);
	while (i)
		uart_putc(buf[--i]);
}

/* Supports %c %s %d %i %u %x %p %%, the 'l'/'z' size modifiers, a '0' flag
 * and a width. */
int kvprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			uart_putc(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'c':
			uart_putc((char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = (int)strlen(s);
			while (n < width--)
				uart_putc(' ');
			uart_puts(s);
			break;
		}
		case 'd':
		case 'i': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);
			put_num(v < 0 ? -(unsigned long)v : (unsigned long)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
			put_num(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, width, pad, 0);
			break;
		case 'x':
			put_num(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, width, pad, 0);
			break;
		case 'p':
			uart_puts("0x");
			put_num((unsigned long)va_arg(ap, void *), 16, width, pad, 0);
			break;
		case '%':
			uart_putc('%');
			break;
		case 0:
			return 0;
		default:
			uart_putc('%');
			uart_putc(*fmt);
		}
	}
	return 0;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	return 0;
}

/* ---------------- SBI ---------------- */

struct sbiret sbi_ecall(long ext, long fid, long a0, long a1, long a2)
{
	register long r_a0 __asm__("a0") = a0;
	register long r_a1 __asm__("a1") = a1;
	register long r_a2 __asm__("a2") = a2;
	register long r_a6 __asm__("a6") = fid;
	register long r_a7 __asm__("a7") = ext;
	__asm__ __volatile__("ecall"
			     : "+r"(r_a0), "+r"(r_a1)
			     : "r"(r_a2), "r"(r_a6), "r"(r_a7)
			     : "memory");
	struct sbiret r = { r_a0, r_a1 };
	return r;
}

long sbi_probe_extension(long ext)
{
	struct sbiret r = sbi_ecall(SBI_EXT_BASE, 3, ext, 0, 0);
	return r.error ? 0 : r.value;
}

void sbi_set_timer(uint64_t deadline)
{
	sbi_ecall(SBI_EXT_TIME, 0, (long)deadline, 0, 0);
}

struct sbiret sbi_system_reset(unsigned long type, unsigned long reason)
{
	return sbi_ecall(SBI_EXT_SRST, 0, (long)type, (long)reason, 0);
}

void sbi_legacy_putchar(int c)
{
	sbi_ecall(SBI_EXT_LEGACY_PUTCHAR, 0, c, 0, 0);
}

/* ---------------- devices ---------------- */

uint64_t rtc_read_ns(void)
{
	uint32_t lo = mmio_read32(RTC_BASE + 0);	/* latches TIME_HIGH */
	uint32_t hi = mmio_read32(RTC_BASE + 4);
	return ((uint64_t)hi << 32) | lo;
}

void poweroff(void)
{
	mmio_write32(TEST_BASE, TEST_PASS);
	for (;;)
		wfi();
}

void poweroff_fail(unsigned code)
{
	mmio_write32(TEST_BASE, (code << 16) | TEST_FAIL);
	for (;;)
		wfi();
}

/* ---------------- traps ---------------- */

const char *scause_name(unsigned long scause)
{
	static const char *const exc[] = {
		"instruction address misaligned", "instruction access fault",
		"illegal instruction", "breakpoint", "load address misaligned",
		"load access fault", "store address misaligned", "store access fault",
		"ecall from U-mode", "ecall from S-mode", "reserved", "reserved",
		"instruction page fault", "load page fault", "reserved",
		"store page fault",
	};
	if (scause & SCAUSE_INTR) {
		switch (scause & ~SCAUSE_INTR) {
		case IRQ_S_SOFT: return "supervisor software interrupt";
		case IRQ_S_TIMER: return "supervisor timer interrupt";
		case IRQ_S_EXT: return "supervisor external interrupt";
		default: return "interrupt";
		}
	}
	return scause < 16 ? exc[scause] : "exception";
}

__attribute__((weak)) struct trapframe *trap_handler(struct trapframe *tf)
{
	kprintf("unexpected trap: %s scause=0x%lx sepc=0x%lx stval=0x%lx\n",
		scause_name(tf->scause), tf->scause, tf->sepc, tf->stval);
	poweroff_fail(2);
}

/* ---------------- string ---------------- */

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}
