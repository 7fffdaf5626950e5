/* stale: page-table edits without sfence.vma, and what a watchpoint makes of them.
 *
 * The architecture leaves the translation a hart uses after a PTE is edited,
 * and before it runs sfence.vma, unspecified: the old one or the new one. QEMU's
 * TLB keeps a translation it has cached until sfence.vma (so a cached page is
 * still reached through the old PTE), and caches no invalid entry (so an
 * address that was unmapped is reached through the new PTE at once). This
 * guest does both and prints which page each store reached (the same on QEMU
 * and rrvm, tests/test_guests_differential.py).
 *
 * A watchpoint on the virtual address WATCH_VA follows the translation the
 * last satp write or sfence.vma made current (docs/watchpoints.md, "Page-table
 * edits"), so it must see exactly the stores marked HIT, in this order, and
 * not the one marked MISSED (tests/replay/test_virtual_watch.py):
 *
 *   HIT 1   old 0x0  new 0x1   (WATCH_VA -> page_a, fenced)
 *   HIT 2   old 0x1  new 0x2   (PTE now page_b, no fence: the cached page_a)
 *   HIT 3   old 0x0  new 0x3   (fenced: page_b)
 *   MISSED            new 0x4  (PTE from invalid to page_a, no fence: the hart
 *                               walks the new PTE, the watch still has it unmapped)
 *   HIT 4   old 0x4  new 0x5   (fenced: page_a)
 */
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

/* The leaf PTE of WATCH_VA, written with no sfence.vma after it. */
static void edit_pte(uint8_t *page)
{
	*(volatile pte_t *)&watch_pt[0] = page ? PTE_PPN(page) | PTE_RW : 0;
}

static void show(const char *after)
{
	kprintf("stale: after %s: page_a 0x%lx page_b 0x%lx\n", after, *word_of(page_a),
		*word_of(page_b));
}

int main(void)
{
	uart_puts("stale: start\n");
	/* RAM and the devices identity-mapped, WATCH_VA through watch_pt. */
	root_pt[0] = PTE_PPN(low_pt) | PTE_V;
	root_pt[2] = PTE_PPN(0x80000000UL) | PTE_RW | PTE_X;	/* 1 GiB of RAM */
	low_pt[0] = PTE_PPN(0) | PTE_RW;			/* test device, RTC */
	low_pt[WATCH_VA >> 21] = PTE_PPN(watch_pt) | PTE_V;
	low_pt[UART_BASE >> 21] = PTE_PPN(UART_BASE) | PTE_RW;
	edit_pte(page_a);
	csr_write(satp, SATP_SV39 | ((unsigned long)root_pt >> 12));
	flush();

	*watched = 0x1;			/* HIT 1: page_a, now in the TLB */
	edit_pte(page_b);
	*watched = 0x2;			/* HIT 2: still page_a (cached) */
	show("an unfenced remap");
	flush();
	*watched = 0x3;			/* HIT 3: page_b */
	edit_pte(0);
	flush();
	edit_pte(page_a);
	*watched = 0x4;			/* MISSED: page_a (nothing was cached) */
	show("an unfenced map");
	flush();
	*watched = 0x5;			/* HIT 4: page_a */
	show("the fence");

	csr_write(satp, 0);
	flush();
	uart_puts("stale: done\n");
	poweroff();
}
