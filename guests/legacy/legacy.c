/* legacy: the SBI v0.1 IPI and remote fence calls on several harts.
 *
 * sbi_send_ipi (EID 0x04), sbi_remote_fence_i (0x05), sbi_remote_sfence_vma
 * (0x06) and sbi_remote_sfence_vma_asid (0x07) take in a0 the address of an
 * unsigned long hart mask in the caller's address space (bit h: hart h), or
 * NULL for all harts. The boot hart starts the others with HSM and then:
 *
 * 1. sends an IPI to the odd harts, then one with NULL (every hart, itself
 *    included: its sip.SSIP shows it; legacy clear_ipi clears it), and prints
 *    how many IPIs each hart took;
 * 2. has hart 1 call patchable(), rewrites patchable's code, and sends
 *    sbi_remote_fence_i to hart 1 only: hart 1's next call runs the new code;
 * 3. sends both remote sfence.vma calls (they return 0);
 * 4. turns on Sv39 with the RAM mapped twice (identity and an alias 1 GiB up)
 *    and sends an IPI through the alias of its mask; then passes a mask
 *    pointer that is not mapped (a load page fault) and, with paging off, one
 *    where no memory is (a load access fault): the SBI redirects the fault to
 *    the caller's trap handler at the ecall, scause and stval as for a load;
 * 5. stops the other harts, sends an IPI to all of them while they are
 *    stopped, restarts hart 1 and has it report sip.SSIP: a stopped hart takes
 *    no IPI.
 *
 * Each hart's IPIs are counted by the hart itself (it waits in wfi with
 * sie.SSIE set and sstatus.SIE clear, then clears sip.SSIP). */
#include "lib.h"

#define MAX_HARTS	8
#define STACK_SIZE	4096
#define SBI_EXT_HSM	0x48534D
#define LEGACY_CLEAR_IPI		0x03
#define LEGACY_SEND_IPI			0x04
#define LEGACY_REMOTE_FENCE_I		0x05
#define LEGACY_REMOTE_SFENCE_VMA	0x06
#define LEGACY_REMOTE_SFENCE_VMA_ASID	0x07
#define HSM_STOPPED	1
#define ALIAS_OFFSET	0x40000000UL	/* RAM at 0x80000000 is mapped again at 0xC0000000 */
#define UNMAPPED	0x40000000UL	/* no mapping under Sv39 here */
#define NO_MEMORY	0x90000000UL	/* past the 128 MiB of RAM: nothing answers */
#define PTE_VRWXAD	0xCFUL
#define SATP_SV39	(8UL << 60)

enum command { IDLE, COUNT, CALL, STOP, REPORT_SIP };

void secondary_entry(void);
long patchable(void);

static uint8_t stacks[MAX_HARTS][STACK_SIZE] __attribute__((aligned(16)));
static uint64_t page_table[512] __attribute__((aligned(4096)));
static unsigned long nharts;
static volatile unsigned long command[MAX_HARTS];
static volatile unsigned long ipis[MAX_HARTS];		/* IPIs each hart took */
static volatile unsigned long acks;			/* IPIs handled, all harts */
static volatile long result[MAX_HARTS];
static volatile unsigned long ready;
static unsigned long mask;
static volatile unsigned long trap_cause, trap_value, trap_epc;

/* The legacy calls: one value back in a0. */
static long legacy(long eid, unsigned long arg)
{
	register long a0 __asm__("a0") = (long)arg;
	register long a1 __asm__("a1") = 0;
	register long a2 __asm__("a2") = 0;
	register long a3 __asm__("a3") = 0;
	register long a7 __asm__("a7") = eid;
	__asm__ __volatile__("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a7) : "memory");
	return a0;
}

/* A legacy call that should fault: the address of its ecall, to compare with sepc. */
static unsigned long faulting_send_ipi(unsigned long pointer)
{
	unsigned long at;
	register long a0 __asm__("a0") = (long)pointer;
	register long a7 __asm__("a7") = LEGACY_SEND_IPI;
	__asm__ __volatile__("lla %0, 1f\n1: ecall" : "=&r"(at), "+r"(a0) : "r"(a7) : "memory");
	return at;
}

struct trapframe *trap_handler(struct trapframe *tf)
{
	if (tf->scause & SCAUSE_INTR) {
		kprintf("legacy: unexpected interrupt %lx\n", tf->scause);
		poweroff_fail(2);
	}
	trap_cause = tf->scause;
	trap_value = tf->stval;
	trap_epc = tf->sepc;
	tf->sepc += 4;			/* past the ecall */
	return tf;
}

static long hart_status(unsigned long hart)
{
	struct sbiret r = sbi_ecall(SBI_EXT_HSM, 2, (long)hart, 0, 0);
	return r.error ? -1 : r.value;
}

static unsigned long sip_ssip(void)
{
	return (csr_read(sip) >> IRQ_S_SOFT) & 1;
}

void secondary_main(unsigned long hart)
{
	if (command[hart] == REPORT_SIP) {	/* restarted after a stop */
		result[hart] = (long)sip_ssip();
		__atomic_fetch_add(&acks, 1, __ATOMIC_SEQ_CST);
		sbi_ecall(SBI_EXT_HSM, 1, 0, 0, 0);
	}
	csr_set(sie, SIE_SSIE);
	__atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		while (!sip_ssip())
			wfi();
		csr_clear(sip, 1UL << IRQ_S_SOFT);
		ipis[hart]++;
		switch (command[hart]) {
		case CALL:
			result[hart] = patchable();
			break;
		case STOP:
			command[hart] = REPORT_SIP;
			__atomic_fetch_add(&acks, 1, __ATOMIC_SEQ_CST);
			sbi_ecall(SBI_EXT_HSM, 1, 0, 0, 0);
			kprintf("legacy: hart %lu did not stop\n", hart);
			poweroff_fail(3);
		default:
			break;
		}
		__atomic_fetch_add(&acks, 1, __ATOMIC_SEQ_CST);
	}
}

static void wait_acks(unsigned long expected)
{
	while (acks != expected)
		;
}

static void print_ipis(const char *after)
{
	kprintf("legacy: IPIs taken after %s:", after);
	for (unsigned long h = 1; h < nharts; h++)
		kprintf(" hart %lu: %lu", h, ipis[h]);
	kprintf("\n");
}

static void ipis_to_masks(void)
{
	unsigned long expected = 0;
	mask = 0;
	for (unsigned long h = 1; h < nharts; h += 2) {
		mask |= 1UL << h;
		command[h] = COUNT;
		expected++;
	}
	long ret = legacy(LEGACY_SEND_IPI, (unsigned long)&mask);
	wait_acks(expected);
	kprintf("legacy: send_ipi(odd harts) returned %ld\n", ret);
	print_ipis("the odd harts' IPI");

	for (unsigned long h = 1; h < nharts; h++)
		command[h] = COUNT;
	ret = legacy(LEGACY_SEND_IPI, 0);
	unsigned long self = sip_ssip();
	wait_acks(expected + nharts - 1);
	kprintf("legacy: send_ipi(NULL) returned %ld; hart 0 sip.SSIP %lu\n", ret, self);
	legacy(LEGACY_CLEAR_IPI, 0);
	kprintf("legacy: after clear_ipi hart 0 sip.SSIP %lu\n", sip_ssip());
	print_ipis("the IPI to all");
}

static void remote_fence_i(void)
{
	unsigned long base = acks;
	mask = 1UL << 1;
	command[1] = CALL;
	legacy(LEGACY_SEND_IPI, (unsigned long)&mask);
	wait_acks(base + 1);
	kprintf("legacy: hart 1 calls patchable(): %ld\n", result[1]);
	*(volatile uint32_t *)(unsigned long)patchable = 0x00200513;	/* li a0, 2 */
	__asm__ __volatile__("fence.i" ::: "memory");
	long ret = legacy(LEGACY_REMOTE_FENCE_I, (unsigned long)&mask);
	legacy(LEGACY_SEND_IPI, (unsigned long)&mask);
	wait_acks(base + 2);
	kprintf("legacy: remote_fence_i(hart 1) returned %ld; hart 1 calls patchable(): %ld\n",
		ret, result[1]);
	command[1] = IDLE;
}

static void remote_sfences(void)
{
	mask = (1UL << nharts) - 1;
	register long a0 __asm__("a0") = (long)&mask;
	register long a1 __asm__("a1") = 0;
	register long a2 __asm__("a2") = -1L;		/* the whole address space */
	register long a3 __asm__("a3") = 0;		/* ASID 0 */
	register long a7 __asm__("a7") = LEGACY_REMOTE_SFENCE_VMA;
	__asm__ __volatile__("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a7) : "memory");
	long vma = a0;
	a0 = (long)&mask;
	a7 = LEGACY_REMOTE_SFENCE_VMA_ASID;
	__asm__ __volatile__("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a3), "r"(a7) : "memory");
	kprintf("legacy: remote_sfence_vma returned %ld, remote_sfence_vma_asid returned %ld\n",
		vma, a0);
}

static void report_fault(const char *what, unsigned long pointer)
{
	trap_cause = trap_value = trap_epc = 0;
	unsigned long at = faulting_send_ipi(pointer);
	kprintf("legacy: send_ipi(%s) trapped: %s, stval %s, sepc %s\n", what,
		scause_name(trap_cause), trap_value == pointer ? "the pointer" : "other",
		trap_epc == at ? "the ecall" : "elsewhere");
}

static void masks_in_virtual_memory(void)
{
	unsigned long base = acks;
	page_table[0] = (0x00000000UL >> 12) << 10 | PTE_VRWXAD;	/* devices */
	page_table[2] = (0x80000000UL >> 12) << 10 | PTE_VRWXAD;	/* RAM */
	page_table[3] = (0x80000000UL >> 12) << 10 | PTE_VRWXAD;	/* RAM again */
	csr_write(satp, SATP_SV39 | ((unsigned long)page_table >> 12));
	__asm__ __volatile__("sfence.vma" ::: "memory");
	mask = 1UL << (nharts - 1);
	command[nharts - 1] = COUNT;
	long ret = legacy(LEGACY_SEND_IPI, (unsigned long)&mask + ALIAS_OFFSET);
	wait_acks(base + 1);
	kprintf("legacy: send_ipi(mask through an alias) returned %ld\n", ret);
	print_ipis("the IPI through the alias");
	report_fault("an unmapped pointer", UNMAPPED);
	csr_write(satp, 0);
	__asm__ __volatile__("sfence.vma" ::: "memory");
	report_fault("a pointer to no memory", NO_MEMORY);
}

static void stopped_harts_take_no_ipi(void)
{
	unsigned long base = acks;
	for (unsigned long h = 1; h < nharts; h++)
		command[h] = STOP;
	mask = ((1UL << nharts) - 1) & ~1UL;
	legacy(LEGACY_SEND_IPI, (unsigned long)&mask);
	wait_acks(base + nharts - 1);
	for (unsigned long h = 1; h < nharts; h++)
		while (hart_status(h) != HSM_STOPPED)
			;
	kprintf("legacy: other harts stopped\n");
	legacy(LEGACY_SEND_IPI, (unsigned long)&mask);
	legacy(LEGACY_SEND_IPI, 0);
	legacy(LEGACY_CLEAR_IPI, 0);
	base = acks;
	sbi_ecall(SBI_EXT_HSM, 0, 1, (long)secondary_entry, (long)(stacks[1] + STACK_SIZE));
	wait_acks(base + 1);
	kprintf("legacy: hart 1 restarted after IPIs sent while stopped: sip.SSIP %ld\n", result[1]);
	while (hart_status(1) != HSM_STOPPED)
		;
}

int main(unsigned long boot_hart)
{
	kprintf("legacy: start\n");
	while (nharts < MAX_HARTS && hart_status(nharts) >= 0)
		nharts++;
	kprintf("legacy: %lu harts\n", nharts);
	if (boot_hart != 0 || nharts < 2) {
		kprintf("legacy: needs two harts or more, booted on hart 0\n");
		poweroff_fail(4);
	}
	for (unsigned long h = 1; h < nharts; h++)
		sbi_ecall(SBI_EXT_HSM, 0, (long)h, (long)secondary_entry,
			  (long)(stacks[h] + STACK_SIZE));
	while (ready != nharts - 1)
		;
	ipis_to_masks();
	remote_fence_i();
	remote_sfences();
	masks_in_virtual_memory();
	stopped_harts_take_no_ipi();
	kprintf("legacy: done\n");
	return 0;
}
