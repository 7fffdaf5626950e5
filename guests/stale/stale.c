/* stale: page-table edits without sfence.vma, and what a watchpoint makes of them
 * (the page tables of remap.c, common/watch_page.h).
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
#include "watch_page.h"

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
	build_tables();
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
