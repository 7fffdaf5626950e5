/* Tiny freestanding support library shared by the rrvm guests. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>

/* ---- board (QEMU virt) ---- */
#define UART_BASE	0x10000000UL	/* NS16550A, reg-shift 0, irq 10 */
#define UART_IRQ	10
#define UART_RBR	0	/* receive buffer (read) */
#define UART_THR	0	/* transmit holding (write) */
#define UART_IER	1
#define UART_IIR	2
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_LSR_DR	0x01
#define UART_LSR_THRE	0x20

#define PLIC_BASE		0x0c000000UL
#define PLIC_PRIORITY(src)	(PLIC_BASE + 4 * (src))
#define PLIC_PENDING		(PLIC_BASE + 0x1000)
#define PLIC_SENABLE		(PLIC_BASE + 0x2080)	/* context 1 = hart 0 S-mode */
#define PLIC_STHRESHOLD		(PLIC_BASE + 0x201000)
#define PLIC_SCLAIM		(PLIC_BASE + 0x201004)

#define TEST_BASE	0x100000UL	/* sifive,test0 */
#define TEST_PASS	0x5555
#define TEST_RESET	0x7777
#define TEST_FAIL	0x3333

#define RTC_BASE	0x101000UL	/* goldfish RTC: TIME_LOW (+0) latches TIME_HIGH (+4) */

#define TIMEBASE_HZ	10000000UL	/* rdtime frequency on virt */

/* ---- CSRs ---- */
#define SSTATUS_SIE	(1UL << 1)
#define SSTATUS_SPIE	(1UL << 5)
#define SSTATUS_SPP	(1UL << 8)
#define SSTATUS_SUM	(1UL << 18)
#define SIE_SSIE	(1UL << 1)
#define SIE_STIE	(1UL << 5)
#define SIE_SEIE	(1UL << 9)
#define SCAUSE_INTR	(1UL << 63)
#define IRQ_S_SOFT	1
#define IRQ_S_TIMER	5
#define IRQ_S_EXT	9

#define csr_read(csr) ({ unsigned long __v; \
	__asm__ __volatile__("csrr %0, " #csr : "=r"(__v) :: "memory"); __v; })
#define csr_write(csr, val) \
	__asm__ __volatile__("csrw " #csr ", %0" :: "rK"(val) : "memory")
#define csr_set(csr, val) \
	__asm__ __volatile__("csrs " #csr ", %0" :: "rK"(val) : "memory")
#define csr_clear(csr, val) \
	__asm__ __volatile__("csrc " #csr ", %0" :: "rK"(val) : "memory")

static inline void wfi(void) { __asm__ __volatile__("wfi" ::: "memory"); }

static inline uint64_t rdtime(void)
{
	uint64_t t;
	__asm__ __volatile__("rdtime %0" : "=r"(t));
	return t;
}

/* ---- MMIO ---- */
static inline void mmio_write8(unsigned long a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline uint8_t mmio_read8(unsigned long a) { return *(volatile uint8_t *)a; }
static inline void mmio_write32(unsigned long a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint32_t mmio_read32(unsigned long a) { return *(volatile uint32_t *)a; }

/* ---- trap frame (layout fixed by trap.S) ---- */
struct trapframe {
	unsigned long regs[32];		/* x0..x31; regs[2] = interrupted sp */
	unsigned long sepc;
	unsigned long sstatus;
	unsigned long scause;
	unsigned long stval;
};
_Static_assert(sizeof(struct trapframe) == 288, "trap.S FRAME");

/* Each guest may define this; lib.c has a weak default that reports the trap
 * and fails. Returns the frame to resume. */
struct trapframe *trap_handler(struct trapframe *tf);
void trap_return(struct trapframe *tf) __attribute__((noreturn));
const char *scause_name(unsigned long scause);

/* ---- console (UART polled; '\n' is sent as "\r\n") ---- */
void uart_putc(char c);
void uart_puts(const char *s);
int kprintf(const char *fmt, ...);
int kvprintf(const char *fmt, va_list ap);

/* ---- SBI ---- */
#define SBI_EXT_LEGACY_SET_TIMER	0x00
#define SBI_EXT_LEGACY_PUTCHAR		0x01
#define SBI_EXT_LEGACY_GETCHAR		0x02
#define SBI_EXT_LEGACY_SHUTDOWN		0x08
#define SBI_EXT_BASE			0x10
#define SBI_EXT_TIME			0x54494D45
#define SBI_EXT_SRST			0x53525354
#define SBI_EXT_DBCN			0x4442434E

struct sbiret { long error; long value; };
struct sbiret sbi_ecall(long ext, long fid, long a0, long a1, long a2);
long sbi_probe_extension(long ext);
void sbi_set_timer(uint64_t deadline);
struct sbiret sbi_system_reset(unsigned long type, unsigned long reason);
void sbi_legacy_putchar(int c);

/* ---- misc ---- */
uint64_t rtc_read_ns(void);
void poweroff(void) __attribute__((noreturn));		/* sifive test 0x5555 */
void poweroff_fail(unsigned code) __attribute__((noreturn)); /* (code<<16)|0x3333 */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int strcmp(const char *a, const char *b);
size_t strlen(const char *s);

#endif
