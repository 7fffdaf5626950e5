/* The page tables remap.c and stale.c share: one virtual page, WATCH_VA,
 * reached only through its own level-0 table (watch_pt[0]), which the guest
 * points at page_a, page_b or nothing; RAM as one identity 1 GiB page and
 * the devices as identity 2 MiB pages, so page_a and page_b are also reached
 * through their physical addresses (aliases of WATCH_VA).
 * Header-only: each guest is one C file with its own copy of the tables. */
#ifndef WATCH_PAGE_H
#define WATCH_PAGE_H

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

/* RAM and the devices identity-mapped, WATCH_VA through watch_pt (paging still off). */
static void build_tables(void)
{
	root_pt[0] = PTE_PPN(low_pt) | PTE_V;
	root_pt[2] = PTE_PPN(0x80000000UL) | PTE_RW | PTE_X;	/* 1 GiB of RAM */
	low_pt[0] = PTE_PPN(0) | PTE_RW;			/* test device, RTC */
	low_pt[WATCH_VA >> 21] = PTE_PPN(watch_pt) | PTE_V;
	low_pt[UART_BASE >> 21] = PTE_PPN(UART_BASE) | PTE_RW;
}

#endif
