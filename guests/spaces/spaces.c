/* spaces: two harts, each in its own address space, storing through one
 * virtual address that each maps to a page of its own.
 *
 * Both harts turn on Sv39 with their own page tables: RAM and the devices
 * identity-mapped by gigapages, and WATCH_VA mapped by a 4 KiB page to
 * page[hart] (so the same virtual word is a different physical word on each
 * hart). In turn:
 *
 *   1. hart 1 stores 101 at WATCH_VA            (hit: hart 1, 0 -> 101)
 *   2. hart 0 stores 100 at WATCH_VA            (hit: hart 0, 0 -> 100)
 *   3. hart 0 stores 7 into page[1] through the identity map
 *                                               (not a hit: another address)
 *   4. hart 1 stores 102 at WATCH_VA            (hit: hart 1, 7 -> 102)
 *
 * A watch on WATCH_VA follows the address space of the hart that accesses
 * it, so it sees 1, 2 and 4 (docs/watchpoints.md). Then hart 0 prints what it
 * reads at WATCH_VA and in both pages, and powers off; hart 1 stops. */
#include "lib.h"

#define STACK_SIZE	4096
#define SBI_EXT_HSM	0x48534D
#define HSM_STOPPED	1
#define WATCH_VA	0x40000000UL
#define PTE_V		0x01UL
#define PTE_LEAF	0xCFUL		/* V R W X A D */
#define SATP_SV39	(8UL << 60)

void secondary_entry(void);

typedef uint64_t table_t[512] __attribute__((aligned(4096)));
static table_t root[2], middle[2], leaf[2];
static volatile table_t page[2];
static uint8_t stack1[STACK_SIZE] __attribute__((aligned(16)));
static volatile unsigned long turn;

static uint64_t pte(unsigned long paddr, unsigned long flags)
{
	return (paddr >> 12) << 10 | flags;
}

/* This hart's page tables: gigapages for the devices and RAM, WATCH_VA -> page[hart]. */
static void enter_own_space(unsigned long hart)
{
	root[hart][0] = pte(0x00000000UL, PTE_LEAF);
	root[hart][2] = pte(0x80000000UL, PTE_LEAF);
	root[hart][WATCH_VA >> 30] = pte((unsigned long)middle[hart], PTE_V);
	middle[hart][(WATCH_VA >> 21) & 511] = pte((unsigned long)leaf[hart], PTE_V);
	leaf[hart][(WATCH_VA >> 12) & 511] = pte((unsigned long)page[hart], PTE_LEAF);
	csr_write(satp, SATP_SV39 | ((unsigned long)root[hart] >> 12));
	__asm__ __volatile__("sfence.vma" ::: "memory");
}

static void store_at_watch(unsigned long value)
{
	*(volatile unsigned long *)WATCH_VA = value;
}

static void wait_turn(unsigned long n)
{
	while (turn != n)
		;
}

static void next_turn(void)
{
	__atomic_fetch_add(&turn, 1, __ATOMIC_SEQ_CST);
}

void secondary_main(unsigned long hart)
{
	enter_own_space(hart);
	store_at_watch(101);			/* 1 */
	next_turn();
	wait_turn(2);
	store_at_watch(102);			/* 4 */
	next_turn();
	sbi_ecall(SBI_EXT_HSM, 1, 0, 0, 0);
	poweroff_fail(3);
}

int main(unsigned long boot_hart)
{
	kprintf("spaces: start\n");
	struct sbiret r = sbi_ecall(SBI_EXT_HSM, 0, 1, (long)secondary_entry,
				    (long)(stack1 + STACK_SIZE));
	if (boot_hart != 0 || r.error) {
		kprintf("spaces: needs two harts (hart_start(1): error %ld)\n", r.error);
		poweroff_fail(4);
	}
	kprintf("spaces: 2 harts\n");
	wait_turn(1);
	enter_own_space(0);
	store_at_watch(100);			/* 2 */
	page[1][0] = 7;				/* 3 */
	next_turn();
	wait_turn(3);
	while (sbi_ecall(SBI_EXT_HSM, 2, 1, 0, 0).value != HSM_STOPPED)
		;
	kprintf("spaces: hart 0 reads %lu at the watched address; page 0 holds %lu, page 1 %lu\n",
		*(volatile unsigned long *)WATCH_VA, page[0][0], page[1][0]);
	return 0;
}
