/* remap: one virtual page, WATCH_VA, backed by two physical pages in turn.
 *
 * The kernel writes the 8-byte word at WATCH_VA through each mapping, writes
 * the same physical words through their other address (the identity map of
 * RAM, or the physical address with paging off), and turns paging off and on.
 * A watchpoint on the virtual address WATCH_VA must see exactly the stores
 * marked HIT below, in this order (tests/replay/test_virtual_watch.py):
 *
 *   HIT 1  old 0x11  new 0x22   (WATCH_VA -> page_a)
 *   HIT 2  old 0x0   new 0x44   (WATCH_VA -> page_b)
 *   HIT 3  old 0x66  new 0x77   (paging on again, WATCH_VA -> page_b)
 *   HIT 4  old 0x55  new 0x88   (WATCH_VA -> page_a again)
 *
 * The stores marked "alias" touch the same memory through another address,
 * and "unmapped" ones happen while WATCH_VA is not mapped at all. */
#include "lib.h"

#define PAGE_SIZE	4096UL
#define PTE_V	(1UL << 0)
#define PTE_R	(1UL << 1)
#define PTE_W	(1UL << 2)
#define PTE_X	(1UL << 3)
#define PTE_A	(1UL << 6)
#define PTE_D	(1UL << 7)
#define PTE_PPN(pa)	(((unsigned long)(pa) >> 12) << 10)
#define SATP_SV39	(8UL << 60)
#define PTE_RW	(PTE_R | PTE_W | PTE_A | PTE_D | PTE_V)

#define WATCH_VA	0x400000UL	/* below RAM: only ever reached through the tables */
#define WORD_OFFSET	0x10UL		/* the watched word inside the page */

typedef unsigned long pte_t;

static pte_t root_pt[512] __attribute__((aligned(4096)));	/* level 2 */
static pte_t low_pt[512] __attribute__((aligned(4096)));	/* level 1: VA 0..1 GiB */
static pte_t watch_pt[512] __attribute__((aligned(4096)));	/* level 0: VA 0x400000.. */
static uint8_t page_a[PAGE_SIZE] __attribute__((aligned(4096)));
static uint8_t page_b[PAGE_SIZE] __attribute__((aligned(4096)));

static volatile unsigned long *word_of(uint8_t *page)
{
	return (volatile unsigned long *)(page + WORD_OFFSET);
}

static volatile unsigned long *const watched = (volatile unsigned long *)(WATCH_VA + WORD_OFFSET);

static void flush(void)
{
	__asm__ __volatile__("sfence.vma" ::: "memory");
}

static void paging_on(void)
{
	csr_write(satp, SATP_SV39 | ((unsigned long)root_pt >> 12));
	flush();
}

static void paging_off(void)
{
	csr_write(satp, 0);
	flush();
}

static void map_watch(uint8_t *page)
{
	watch_pt[0] = page ? PTE_PPN(page) | PTE_RW : 0;
	flush();
}

int main(void)
{
	uart_puts("remap: start\n");
	/* RAM and the devices identity-mapped, WATCH_VA through watch_pt. */
	root_pt[0] = PTE_PPN(low_pt) | PTE_V;
	root_pt[2] = PTE_PPN(0x80000000UL) | PTE_RW | PTE_X;	/* 1 GiB of RAM */
	low_pt[0] = PTE_PPN(0) | PTE_RW;			/* test device, RTC */
	low_pt[WATCH_VA >> 21] = PTE_PPN(watch_pt) | PTE_V;
	low_pt[UART_BASE >> 21] = PTE_PPN(UART_BASE) | PTE_RW;

	*word_of(page_a) = 0x11;	/* paging off: physical, not WATCH_VA */
	map_watch(page_a);
	paging_on();
	*watched = 0x22;		/* HIT 1 */
	*word_of(page_a) = 0x33;	/* alias of WATCH_VA: identity map */
	map_watch(page_b);
	*watched = 0x44;		/* HIT 2 */
	*word_of(page_a) = 0x55;	/* page_a is no longer behind WATCH_VA */
	paging_off();
	*word_of(page_b) = 0x66;	/* paging off: physical */
	paging_on();
	*watched = 0x77;		/* HIT 3 */
	map_watch(page_a);
	*watched = 0x88;		/* HIT 4 */
	map_watch(0);
	*word_of(page_a) = 0x99;	/* unmapped */
	paging_off();

	kprintf("remap: page_a 0x%lx page_b 0x%lx\n", *word_of(page_a), *word_of(page_b));
	uart_puts("remap: done\n");
	poweroff();
}
