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
#include "watch_page.h"

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
	build_tables();

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
