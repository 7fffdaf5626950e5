/* sstc: the S-mode timer compare register (Sstc), on every hart.
 *
 * Each hart (the boot hart, then each other hart in turn, started with HSM)
 * reads stimecmp. Where the hart has no Sstc the read is an illegal
 * instruction, which the trap handler notes and steps over: the hart then
 * says so and does nothing more. Otherwise it programs stimecmp 500 ms ahead,
 * reads it back, waits in wfi for the supervisor timer interrupt (taken with
 * sstatus.SIE clear: pending and enabled in sie wakes wfi), checks that time
 * has reached the compare value, and clears the interrupt by writing
 * stimecmp far in the future (sip.STIP is read-only under Sstc). Then one
 * SBI set_timer in the past raises it again, as on hardware whose SBI
 * programs stimecmp. */
#include "lib.h"

#define MAX_HARTS	8
#define STACK_SIZE	4096
#define SBI_EXT_HSM	0x48534D
#define DELAY		(TIMEBASE_HZ / 2)	/* 500 ms: more than a QEMU vCPU time slice */

void secondary_entry(void);

static uint8_t stacks[MAX_HARTS][STACK_SIZE] __attribute__((aligned(16)));
static volatile unsigned long illegal[MAX_HARTS];
static volatile unsigned long turn;

struct trapframe *trap_handler(struct trapframe *tf)
{
	unsigned long hart;
	__asm__ __volatile__("mv %0, tp" : "=r"(hart));
	if (tf->scause != 2) {
		kprintf("sstc: unexpected trap: %s\n", scause_name(tf->scause));
		poweroff_fail(2);
	}
	illegal[hart]++;
	tf->regs[10] = 0;
	tf->sepc += 4;
	return tf;
}

static unsigned long read_stimecmp(void)
{
	register unsigned long a0 __asm__("a0");
	__asm__ __volatile__("csrr a0, 0x14D" : "=r"(a0) :: "memory");
	return a0;
}

static void write_stimecmp(unsigned long value)
{
	__asm__ __volatile__("csrw 0x14D, %0" :: "r"(value) : "memory");
}

static unsigned long stip(void)
{
	return (csr_read(sip) >> IRQ_S_TIMER) & 1;
}

static void timer_on(unsigned long hart)
{
	__asm__ __volatile__("mv tp, %0" :: "r"(hart));
	read_stimecmp();
	if (illegal[hart]) {
		kprintf("sstc: hart %lu: reading stimecmp is an illegal instruction\n", hart);
		return;
	}
	unsigned long deadline = rdtime() + DELAY;
	write_stimecmp(deadline);
	kprintf("sstc: hart %lu: stimecmp reads back %s, sip.STIP %lu\n", hart,
		read_stimecmp() == deadline ? "the value written" : "something else", stip());
	csr_set(sie, SIE_STIE);
	while (!stip())
		wfi();
	kprintf("sstc: hart %lu: timer interrupt pending %s the deadline\n", hart,
		rdtime() >= deadline ? "at or after" : "before");
	write_stimecmp(~0UL);
	kprintf("sstc: hart %lu: stimecmp far ahead: sip.STIP %lu\n", hart, stip());
	sbi_set_timer(0);
	unsigned long pending = stip();
	kprintf("sstc: hart %lu: SBI set_timer(0): sip.STIP %lu, stimecmp %s\n", hart, pending,
		read_stimecmp() == 0 ? "0" : "not 0");
	write_stimecmp(~0UL);
	csr_clear(sie, SIE_STIE);
}

void secondary_main(unsigned long hart)
{
	while (turn != hart)
		;
	timer_on(hart);
	turn = hart + 1;
	sbi_ecall(SBI_EXT_HSM, 1, 0, 0, 0);
}

int main(unsigned long boot_hart)
{
	kprintf("sstc: start\n");
	timer_on(boot_hart);
	unsigned long nharts = 1;
	while (nharts < MAX_HARTS && !sbi_ecall(SBI_EXT_HSM, 2, (long)nharts, 0, 0).error)
		nharts++;
	turn = 1;
	for (unsigned long h = 1; h < nharts; h++)
		sbi_ecall(SBI_EXT_HSM, 0, (long)h, (long)secondary_entry,
			  (long)(stacks[h] + STACK_SIZE));
	while (turn != nharts)
		;
	kprintf("sstc: %lu harts done\n", nharts);
	return 0;
}
